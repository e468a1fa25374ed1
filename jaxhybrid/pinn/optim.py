r"""Optimisers for PINNs: a first-order phase (Adam) followed by L-BFGS, float32 or float64.

:func:`descend` runs any optax transformation on a deterministic loss in compiled chunks
(the role of :func:`jaxhybrid.train.fit`, whose step counter is int32 and does not trace under
``jax.enable_x64``; :func:`descend` is dtype-agnostic and keeps the same NaN/Inf guard).

:func:`lbfgs` runs ``optax.lbfgs`` (two-loop recursion with ``memory_size`` pairs and the zoom
line search enforcing the strong Wolfe conditions; Nocedal & Wright 2006, Alg. 7.4 and 3.5) on a
deterministic loss ``L(θ)``. ``optax.value_and_grad_from_state`` reuses the value and gradient
the line search already computed at the accepted point, so an iteration costs one
value-and-gradient evaluation plus the extra line-search trials. Iterations run in compiled
chunks of ``log_every`` inside ``lax.scan``. A non-finite loss or gradient freezes the iterate in
the chunk and the host raises :class:`jaxhybrid.rollout.DivergenceError` with the step and the
last good parameters. Runs stop early once the loss stops decreasing for a whole chunk.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple, Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.rollout import DivergenceError

__all__ = ["lbfgs", "LBFGSResult", "descend"]

PyTree = Any


class LBFGSResult(NamedTuple):
    params: PyTree
    step: int
    history: list


def lbfgs(loss: Callable[[PyTree], jax.Array], params: PyTree, steps: int, *, memory_size: int = 50,
          log_every: int = 200, progress: bool = True, desc: str = "lbfgs", stop_stalled: bool = True,
          callback: Optional[Callable[[int, PyTree], None]] = None) -> LBFGSResult:
    """Minimise ``loss(params) -> scalar`` with optax L-BFGS for at most ``steps`` iterations.

    ``callback(step, params)`` runs on the host after every chunk of ``log_every`` iterations
    (e.g. to keep the iterate with the best validation error).
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"lbfgs: steps must be a non-negative int, got {steps!r}.")
    if log_every < 1:
        raise ValueError(f"lbfgs: log_every must be >= 1, got {log_every}.")
    trainable, static = eqx.partition(params, eqx.is_inexact_array)
    if not jax.tree_util.tree_leaves(trainable):
        raise ValueError("lbfgs: `params` has no floating-point arrays to train.")

    def f(tr):
        return loss(eqx.combine(tr, static))

    opt = optax.lbfgs(memory_size=memory_size)
    vg = optax.value_and_grad_from_state(f)
    state = opt.init(trainable)

    @eqx.filter_jit
    def chunk(tr, state, length):
        def body(carry, _):
            tr, state, ok = carry
            value, grad = vg(tr, state=state)
            updates, new_state = opt.update(grad, state, tr, value=value, grad=grad, value_fn=f)
            new_tr = optax.apply_updates(tr, updates)
            finite = jnp.isfinite(value) & jax.tree_util.tree_reduce(
                jnp.logical_and, jax.tree_util.tree_map(lambda x: jnp.all(jnp.isfinite(x)), (grad, new_tr)), True)
            good = ok & finite
            sel = lambda a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(good, x, y), a, b)
            return (sel(new_tr, tr), sel(new_state, state), good), jnp.where(ok, value, jnp.nan)

        (tr, state, ok), values = jax.lax.scan(body, (tr, state, jnp.asarray(True)), None, length=length)
        return tr, state, ok, values

    bar = None
    if progress and steps:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=desc, leave=False, dynamic_ncols=True)
    history, step, t0, best = [], 0, time.perf_counter(), np.inf
    try:
        while step < steps:
            length = min(log_every, steps - step)
            trainable, state, ok, values = chunk(trainable, state, length)
            values = np.asarray(values)
            if not bool(ok):
                bad = step + int(np.argmax(~np.isfinite(values))) + 1
                raise DivergenceError(f"lbfgs: loss or gradient became NaN/Inf at iteration {bad}; the last good "
                                      "parameters are in `.state`.", step=bad, state=eqx.combine(trainable, static))
            step += length
            last = float(values[-1])
            history.append({"step": step, "loss": last, "wall_s": round(time.perf_counter() - t0, 4)})
            if bar is not None:
                bar.update(length)
                bar.set_postfix(loss=f"{last:.3e}")
            if callback is not None:
                callback(step, eqx.combine(trainable, static))
            if stop_stalled and not last < best:
                break
            best = min(best, last)
    finally:
        if bar is not None:
            bar.close()
    return LBFGSResult(eqx.combine(trainable, static), step, history)


def descend(loss: Callable[[PyTree], jax.Array], params: PyTree, optimizer: optax.GradientTransformation, steps: int, *,
            log_every: int = 500, progress: bool = True, desc: str = "adam") -> LBFGSResult:
    """``θ ← θ + optimizer(∇L(θ))`` for ``steps`` steps on a deterministic ``loss(params)``."""
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"descend: steps must be a non-negative int, got {steps!r}.")
    trainable, static = eqx.partition(params, eqx.is_inexact_array)
    if not jax.tree_util.tree_leaves(trainable):
        raise ValueError("descend: `params` has no floating-point arrays to train.")

    def f(tr):
        return loss(eqx.combine(tr, static))

    vg = jax.value_and_grad(f)
    state = optimizer.init(trainable)

    @eqx.filter_jit
    def chunk(tr, state, length):
        # carry the parameters one step back: when the loss at the current ones is non-finite,
        # they are replaced by the previous ones (whose loss was finite)
        def body(carry, _):
            tr, state, prev, ok = carry
            value, grad = vg(tr)
            updates, new_state = optimizer.update(grad, state, tr)
            new_tr = optax.apply_updates(tr, updates)
            finite = jnp.isfinite(value) & jax.tree_util.tree_reduce(
                jnp.logical_and, jax.tree_util.tree_map(lambda x: jnp.all(jnp.isfinite(x)), grad), True)
            good, fail = ok & finite, ok & ~finite
            sel = lambda c, a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(c, x, y), a, b)
            out = (sel(good, new_tr, sel(fail, prev, tr)), sel(good, new_state, state), sel(good, tr, prev), good)
            return out, jnp.where(good, value, jnp.nan)

        (tr, state, _, ok), values = jax.lax.scan(body, (tr, state, tr, jnp.asarray(True)), None, length=length)
        return tr, state, ok, values

    bar = None
    if progress and steps:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=desc, leave=False, dynamic_ncols=True)
    history, step, t0 = [], 0, time.perf_counter()
    try:
        while step < steps:
            length = min(log_every, steps - step)
            trainable, state, ok, values = chunk(trainable, state, length)
            values = np.asarray(values)
            if not bool(ok):
                bad = step + int(np.argmax(~np.isfinite(values))) + 1
                raise DivergenceError(f"descend: loss or gradient became NaN/Inf at step {bad}; the last good "
                                      "parameters are in `.state`.", step=bad, state=eqx.combine(trainable, static))
            step += length
            history.append({"step": step, "loss": float(values[-1]), "wall_s": round(time.perf_counter() - t0, 4)})
            if bar is not None:
                bar.update(length)
                bar.set_postfix(loss=f"{values[-1]:.3e}")
    finally:
        if bar is not None:
            bar.close()
    return LBFGSResult(eqx.combine(trainable, static), step, history)
