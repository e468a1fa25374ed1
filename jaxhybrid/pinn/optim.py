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

:func:`levenberg_marquardt` minimises a sum of squared **pointwise** residuals
``F(θ) = ½ Σ_k Σ_i r_k(θ; x_{k,i})²`` by damped Gauss–Newton steps
``(JᵀJ + μ I) δ = −Jᵀr`` (Levenberg 1944, Marquardt 1963) with Nielsen's damping update
(Madsen, Nielsen & Tingleff 2004, *Methods for non-linear least squares problems*, Alg. 3.16):
with the gain ratio ``ρ = (F(θ) − F(θ + δ)) / (½ δᵀ(μ δ − Jᵀr))`` a step is accepted when
``ρ > 0`` and then ``μ ← μ · max(1/3, 1 − (2ρ − 1)³)``, ``ν ← 2``; otherwise ``μ ← μ ν``,
``ν ← 2ν``. Each residual is written for **one** row (point, observation) and the Jacobian is
assembled row by row (``vmap`` of a per-row gradient), so its cost is that of one batched
gradient, not ``m`` reverse passes over the whole batch. For the small networks of PINNs
(10²–10³ parameters) the dense ``P × P`` solve is cheap, and in float64 the method reaches
residuals many orders of magnitude below what first-order methods or L-BFGS reach in the same
time (a second-order method on a least-squares loss).
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Any, Callable, Mapping, NamedTuple, Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxhybrid.rollout import DivergenceError
from jaxhybrid.train import fit

__all__ = ["lbfgs", "LBFGSResult", "descend", "levenberg_marquardt"]

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
    """``θ ← θ + optimizer(∇L(θ))`` for ``steps`` steps on a deterministic ``loss(params)``:
    :func:`jaxhybrid.train.fit` without data (compiled chunks of ``log_every`` steps, NaN/Inf
    guard raising :class:`~jaxhybrid.rollout.DivergenceError` with the last good parameters),
    returned in the form of :func:`lbfgs`'s result for the Adam → L-BFGS pipelines."""
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"descend: steps must be a non-negative int, got {steps!r}.")
    res = fit(lambda p, _: loss(p), params, None, optimizer, steps=steps, log_every=log_every, progress=progress, desc=desc)
    history = [{"step": h["step"], "loss": h["loss"], "wall_s": h["wall_s"]} for h in res.history]
    return LBFGSResult(res.params, res.step, history)


RowResidual = Callable[[PyTree, Any], jax.Array]


def _one_blas_thread():
    """Limit BLAS/LAPACK (which the CPU Cholesky calls) to one thread. The ``P × P`` factorisations
    are small, and OpenBLAS threads spinning against XLA's own thread pool made them 5–40× slower
    on a shared 2-core machine (``import jaxhybrid`` also defaults ``OPENBLAS_NUM_THREADS`` to 1;
    this covers a numpy imported first). The limit only holds while the context is open, so the
    caller blocks on the result inside it. A no-op without ``threadpoolctl``."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1)


def levenberg_marquardt(terms: Mapping[str, tuple[RowResidual, PyTree]], params: PyTree, steps: int, *,
                        mu0: float = 1e-3, log_every: int = 50, progress: bool = True, desc: str = "lm",
                        tol: float = 0.0, callback: Optional[Callable[[int, PyTree], None]] = None) -> LBFGSResult:
    """Minimise ``½ Σ_k Σ_i r_k(params, rows_k[i])²`` by Levenberg–Marquardt.

    ``terms``: name → ``(r, rows)`` with ``r(params, row) -> scalar`` the residual of one row and
    ``rows`` a pytree of arrays whose leading axis indexes the rows (e.g. points ``(n, d)``, or
    ``(points, values)``). Weights go inside ``r`` (multiply by ``√w``). At most ``steps``
    iterations (accepted or rejected trial steps) in compiled chunks of ``log_every``; stops
    early when the loss falls below ``tol`` or ``μ`` grows past 1e16 (no descent left).
    ``history`` records ``loss`` (``Σ r²``, the unhalved sum) and ``mu`` per chunk;
    ``callback(step, params)`` runs on the host after each chunk.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"levenberg_marquardt: steps must be a non-negative int, got {steps!r}.")
    if log_every < 1 or not mu0 > 0:
        raise ValueError(f"levenberg_marquardt: need log_every >= 1 and mu0 > 0, got {log_every}, {mu0}.")
    if not terms:
        raise ValueError("levenberg_marquardt: `terms` is empty; pass name -> (residual(params, row), rows).")
    for k, t in terms.items():
        if not (isinstance(t, tuple) and len(t) == 2 and callable(t[0])):
            raise ValueError(f"levenberg_marquardt: term {k!r} must be a pair (residual(params, row), rows).")
    trainable, static = eqx.partition(params, eqx.is_inexact_array)
    if not jax.tree_util.tree_leaves(trainable):
        raise ValueError("levenberg_marquardt: `params` has no floating-point arrays to train.")
    theta0, unravel = ravel_pytree(trainable)
    theta0 = jnp.asarray(theta0)
    fns = [t[0] for t in terms.values()]
    rows = [t[1] for t in terms.values()]

    def row_fn(fn):
        return lambda th, row: jnp.reshape(fn(eqx.combine(unravel(th), static), row), ())

    def residuals(th, rows):
        return jnp.concatenate([jax.vmap(row_fn(fn), (None, 0))(th, rw) for fn, rw in zip(fns, rows)])

    m = sum(int(jax.tree_util.tree_leaves(rw)[0].shape[0]) for rw in rows)
    dual = m < theta0.shape[0]  # fewer rows than parameters: factorise the m × m matrix J Jᵀ + μ I

    def normal_eq(th, rows):
        # primal: (Σr², JᵀJ, Jᵀr); dual: (Σr², J, r)
        rs, gs = zip(*[jax.vmap(jax.value_and_grad(row_fn(fn)), (None, 0))(th, rw) for fn, rw in zip(fns, rows)])
        r, J = jnp.concatenate(rs), jnp.concatenate(gs)
        return (jnp.sum(r * r), J, r) if dual else (jnp.sum(r * r), J.T @ J, J.T @ r)

    def lm_step(M, v, mu):
        # (JᵀJ + μI) δ = −Jᵀr, or in the dual form δ = −Jᵀ (JJᵀ + μI)⁻¹ r (the same δ); returns (δ, Jᵀr)
        tri = jax.scipy.linalg.solve_triangular
        if dual:
            K = M @ M.T
            L = jnp.linalg.cholesky(K + mu * jnp.eye(K.shape[0], dtype=K.dtype))
            return -M.T @ tri(L.T, tri(L, v, lower=True), lower=False), M.T @ v
        L = jnp.linalg.cholesky(M + mu * jnp.eye(M.shape[0], dtype=M.dtype))
        return -tri(L.T, tri(L, v, lower=True), lower=False), v

    @jax.jit
    def start(th, rows):
        return normal_eq(th, rows)

    @functools.partial(jax.jit, static_argnums=2)
    def chunk(carry, rows, length):
        def body(c, _):
            th, loss, M, v, mu, nu, ok = c
            delta, g = lm_step(M, v, mu)
            new_th = th + delta
            r_new = residuals(new_th, rows)
            new_loss = jnp.sum(r_new * r_new)
            pred = jnp.dot(delta, mu * delta - g)  # = 2 (L(0) − L(δ)) of the linear model
            rho = (loss - new_loss) / jnp.where(pred > 0, pred, 1.0)
            finite = jnp.isfinite(new_loss) & jnp.all(jnp.isfinite(delta))
            accept = ok & finite & (rho > 0) & (pred > 0)
            loss2, M2, v2 = jax.lax.cond(accept, lambda: normal_eq(new_th, rows), lambda: (loss, M, v))
            mu_acc = mu * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            mu2 = jnp.where(accept, mu_acc, mu * nu)
            nu2 = jnp.where(accept, 2.0, 2.0 * nu)
            ok2 = ok & jnp.isfinite(loss2)
            th2 = jnp.where(accept & ok2, new_th, th)
            return (th2, jnp.where(ok2, loss2, loss), M2, v2, mu2, nu2, ok2), (loss2, mu2)

        carry, (losses, mus) = jax.lax.scan(body, carry, None, length=length)
        return carry, losses, mus

    loss, M, v = start(theta0, rows)
    if not bool(jnp.isfinite(loss)):
        raise DivergenceError("levenberg_marquardt: the initial loss is NaN/Inf.", step=0, state=params)
    one = jnp.ones((), theta0.dtype)
    carry = (theta0, loss, M, v, mu0 * one, 2.0 * one, jnp.asarray(True))
    bar = None
    if progress and steps:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=desc, leave=False, dynamic_ncols=True)
    history, step, t0 = [], 0, time.perf_counter()
    try:
        while step < steps:
            length = min(log_every, steps - step)
            with _one_blas_thread():  # block inside: the dispatch is asynchronous
                carry, losses, mus = jax.block_until_ready(chunk(carry, rows, length))
            if not bool(carry[-1]):
                bad = step + int(np.argmax(~np.isfinite(np.asarray(losses)))) + 1
                raise DivergenceError(f"levenberg_marquardt: loss became NaN/Inf at iteration {bad}; the last good "
                                      "parameters are in `.state`.", step=bad,
                                      state=eqx.combine(unravel(carry[0]), static))
            step += length
            loss, mu = float(carry[1]), float(carry[4])
            history.append({"step": step, "loss": loss, "mu": mu, "wall_s": round(time.perf_counter() - t0, 4)})
            if bar is not None:
                bar.update(length)
                bar.set_postfix(loss=f"{loss:.3e}", mu=f"{mu:.1e}")
            if callback is not None:
                callback(step, eqx.combine(unravel(carry[0]), static))
            if loss <= tol or mu > 1e16:
                break
    finally:
        if bar is not None:
            bar.close()
    return LBFGSResult(eqx.combine(unravel(carry[0]), static), step, history)
