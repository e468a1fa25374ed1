"""The one time loop of jaxhybrid.

Every time-stepping engine (PDE steppers, MD integrators, Langevin samplers, assimilation
cycles) advances its state through :func:`rollout`. It is a ``lax.scan`` over blocks of
``save_every`` steps:

    s_{n+1} = step(s_n)            or   s_{n+1} = step(s_n, x_n)   (with per-step ``inputs``)
    saved_j = observe(s_{(j+1)k})  for j = 0 .. n_steps/k - 1,     k = save_every

Design choices
--------------
* **Nested scan.** The outer scan runs over blocks, the inner scan over the ``k`` steps of a
  block, so the saved trajectory has ``n_steps / k`` entries and nothing else is stored.
* **Checkpointing.** With ``checkpoint=True`` the inner block is wrapped in ``jax.checkpoint``:
  reverse-mode AD then stores only the block boundaries and recomputes each block's interior in
  the backward pass (Griewank's two-level checkpointing). Memory for a gradient through
  ``n`` steps falls from O(n) states to O(n/k + k); ``k ≈ √n`` is optimal.
* **Divergence guard.** With ``is_bad`` (a predicate on the state, e.g. "any non-finite value"),
  a step whose result is bad is *not* accepted: the state freezes at the last good one and
  ``steps_done`` records how many steps succeeded. :func:`raise_if_diverged` turns that into a
  host-side :class:`DivergenceError` carrying the step number and the last good state. Checks
  stay inside ``jit``; no callbacks.
* **Algorithms.** :func:`evolve` runs an :class:`~jaxhybrid.algorithm.Algorithm`
  (``step(state, key[, x]) -> (state, info)``) through the same loop: the key of global step
  ``n`` is ``fold_in(key, n)`` (so chunked or resumed runs draw the same numbers as one long
  run), ``is_bad`` sees ``(state, info)`` and the per-step ``info`` is averaged over each saved
  block (booleans become fractions: an acceptance rate, a fraction of overflowing steps).
* **Non-array leaves** of the state (an activation function inside an Equinox module, static
  configuration) are split off before the scan and put back in every step, as
  ``equinox.internal.scan`` does; they must not change from step to step.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

PyTree = Any

__all__ = ["rollout", "evolve", "RolloutResult", "DivergenceError", "raise_if_diverged", "nonfinite"]


class RolloutResult(NamedTuple):
    """Outcome of :func:`rollout`.

    final: state after the last accepted step.
    saved: ``observe(state)`` every ``save_every`` steps, stacked on a leading axis
        (``n_steps // save_every`` entries; ``n_steps // save_every + 1`` with
        ``include_initial=True``, the initial state first).
    steps_done: int32 array, number of accepted steps (``n_steps`` unless ``is_bad`` fired).
    info: with ``with_info=True`` (and from :func:`evolve`), the step's ``info`` averaged over
        each block of ``save_every`` steps (``n_steps // save_every`` entries); else ``None``.
    """

    final: PyTree
    saved: PyTree
    steps_done: jax.Array
    info: PyTree = None


class DivergenceError(RuntimeError):
    """A run produced a bad state. ``step`` is the first failing step (1-based count of steps
    attempted), ``state`` the last good state, kept so that nothing is lost."""

    def __init__(self, message: str, step: int, state: PyTree):
        super().__init__(message)
        self.step = step
        self.state = state


def nonfinite(state: PyTree, info: PyTree = None) -> jax.Array:
    """True when any inexact leaf of ``state`` holds a NaN or an infinity (``info`` is ignored, so
    ``is_bad=nonfinite`` serves :func:`rollout` and :func:`evolve` alike)."""
    leaves = [
        jnp.any(~jnp.isfinite(x))
        for x in jax.tree_util.tree_leaves(state)
        if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)
    ]
    if not leaves:
        return jnp.asarray(False)
    return jnp.any(jnp.stack(leaves))


def _check_args(n_steps: int, save_every: int, inputs: PyTree) -> None:
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"rollout: n_steps must be a non-negative Python int, got {n_steps!r}.")
    if not isinstance(save_every, (int, np.integer)) or save_every < 1:
        raise ValueError(f"rollout: save_every must be a positive int, got {save_every!r}.")
    if n_steps % save_every:
        raise ValueError(
            f"rollout: n_steps={n_steps} is not a multiple of save_every={save_every}; "
            "choose n_steps = m * save_every."
        )
    if inputs is not None:
        for leaf in jax.tree_util.tree_leaves(inputs):
            if jnp.ndim(leaf) == 0 or jnp.shape(leaf)[0] != n_steps:
                raise ValueError(
                    "rollout: every leaf of `inputs` needs a leading axis of length "
                    f"n_steps={n_steps}; got shape {jnp.shape(leaf)}."
                )


def _as_float(x):
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(jnp.float32)


def rollout(
    step: Callable[..., PyTree],
    state: PyTree,
    n_steps: int,
    *,
    save_every: int = 1,
    observe: Optional[Callable[[PyTree], PyTree]] = None,
    inputs: PyTree = None,
    checkpoint: bool = False,
    is_bad: Optional[Callable[..., jax.Array]] = None,
    include_initial: bool = False,
    unroll: int = 1,
    with_info: bool = False,
) -> RolloutResult:
    """Advance ``state`` by ``n_steps`` applications of ``step``.

    Args:
        step: ``state -> state``, or ``(state, x) -> state`` when ``inputs`` is given; with
            ``with_info=True`` it returns ``(state, info)``.
        state: initial state (any pytree; non-array leaves are carried through unchanged).
        n_steps: number of steps; a multiple of ``save_every``.
        save_every: save ``observe(state)`` after every ``save_every`` steps.
        observe: what to save (default: the whole state).
        inputs: optional per-step inputs (pytree with leading axis ``n_steps``): forcings,
            observations, PRNG keys.
        checkpoint: rematerialise each block of ``save_every`` steps in the backward pass.
        is_bad: optional predicate ``state -> bool`` (``(state, info) -> bool`` with
            ``with_info``); bad steps are rejected and the state is frozen at the last good one
            (see :func:`raise_if_diverged`). :func:`nonfinite` is the usual choice.
        include_initial: also save ``observe(state)`` before the first step.
        unroll: unroll factor of the inner scan (speed knob for cheap steps).
        with_info: ``step`` returns ``(state, info)``; ``info`` (a pytree of arrays) is averaged
            over each block into ``RolloutResult.info``.

    Returns:
        :class:`RolloutResult` ``(final, saved, steps_done, info)``. Works under ``jit``,
        ``vmap`` and ``grad``.
    """
    _check_args(n_steps, save_every, inputs)
    observe = (lambda s: s) if observe is None else observe
    n_blocks = n_steps // save_every
    with_inputs = inputs is not None

    def call_full(s, x):
        out = step(s, x) if with_inputs else step(s)
        return out if with_info else (out, None)

    x0 = None if not with_inputs else jax.tree_util.tree_map(lambda a: a[0], inputs)
    dynamic, static, info_shape = _plan(call_full, state, x0)

    def call(s, x):
        new, info = call_full(_combine(s, static), x)
        return _partition_like(new, static), info

    def one(carry, x):
        s, done, ok, acc = carry
        new, info = call(s, x)
        if with_info:
            acc = jax.tree_util.tree_map(lambda a, i: a + _as_float(i), acc, info)
        if is_bad is None:
            return (new, done + 1, ok, acc), None
        bad = is_bad(_combine(new, static), info) if with_info else is_bad(_combine(new, static))
        accept = jnp.logical_and(ok, jnp.logical_not(bad))
        s = jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), new, s)
        return (s, done + accept.astype(done.dtype), accept, acc), None

    if with_info:
        zeros = jax.tree_util.tree_map(
            lambda a: jnp.zeros(a.shape, a.dtype if jnp.issubdtype(a.dtype, jnp.inexact) else jnp.float32),
            info_shape)
    else:
        zeros = None

    def block(carry, xs):
        s, done, ok = carry
        (s, done, ok, acc), _ = jax.lax.scan(one, (s, done, ok, zeros), xs, length=save_every, unroll=unroll)
        mean = None if acc is None else jax.tree_util.tree_map(lambda a: a / save_every, acc)
        return (s, done, ok), (_observed(observe(_combine(s, static))), mean)

    obs_static = []

    def _observed(o):   # the array leaves are stacked; the rest (e.g. a function) is kept once
        leaves, treedef = jax.tree_util.tree_flatten(o)
        is_arr = [isinstance(x, jax.Array) for x in leaves]
        obs_static[:] = [(treedef, [None if a else x for x, a in zip(leaves, is_arr)])]
        return [x for x, a in zip(leaves, is_arr) if a]

    if checkpoint:
        block = jax.checkpoint(block, prevent_cse=False)

    if with_inputs:
        xs = jax.tree_util.tree_map(
            lambda a: jnp.reshape(a, (n_blocks, save_every) + jnp.shape(a)[1:]), inputs
        )
    else:
        xs = None

    carry0 = (dynamic, jnp.asarray(0, jnp.int32), jnp.asarray(True))
    (final, done, _), (saved, info) = jax.lax.scan(block, carry0, xs, length=n_blocks)
    saved = _combine(saved, obs_static[0])
    if include_initial:
        first = observe(state)
        saved = jax.tree_util.tree_map(
            lambda a, b: jnp.concatenate([jnp.asarray(a)[None], b], axis=0), first, saved
        )
    return RolloutResult(_combine(final, static), saved, done, info)


def _plan(call_full, state, x0):
    """Split ``state`` into the leaves the step produces as arrays (scanned, cast to the dtype the
    step returns, so a Python ``0.0`` starts a float32 carry) and the rest (static: functions,
    configuration, Python numbers the step passes through). Decided from one abstract evaluation
    (``equinox.filter_eval_shape``: non-array leaves stay Python objects)."""
    import equinox as eqx

    out, info = eqx.filter_eval_shape(call_full, state, x0)
    in_leaves, in_def = jax.tree_util.tree_flatten(state)
    out_leaves, out_def = jax.tree_util.tree_flatten(out)
    if in_def != out_def:
        raise ValueError(f"rollout: the step returns a state of another structure than it was given; "
                         f"got {in_def} in and {out_def} out. A step must return the state's own structure.")
    dyn = [isinstance(o, jax.ShapeDtypeStruct) for o in out_leaves]
    dynamic = [jnp.asarray(x, o.dtype) for x, o, d in zip(in_leaves, out_leaves, dyn) if d]
    static = (in_def, [None if d else x for x, d in zip(in_leaves, dyn)])
    return dynamic, static, info


def _partition_like(tree, static):
    """The array leaves of ``tree`` at the scanned positions of ``static``."""
    leaves = jax.tree_util.tree_leaves(tree)
    return [x for x, r in zip(leaves, static[1]) if r is None]


def _combine(arrays, static):
    treedef, rest = static
    it = iter(arrays)
    return jax.tree_util.tree_unflatten(treedef, [next(it) if r is None else r for r in rest])


def evolve(
    algorithm: Any,
    state: PyTree,
    n_steps: int,
    *,
    key: Optional[jax.Array] = None,
    inputs: PyTree = None,
    start: int | jax.Array = 0,
    save_every: int = 1,
    observe: Optional[Callable[[PyTree], PyTree]] = None,
    checkpoint: bool = False,
    is_bad: Optional[Callable[[PyTree, PyTree], jax.Array]] = None,
    include_initial: bool = False,
    unroll: int = 1,
) -> RolloutResult:
    """Run ``n_steps`` steps of an :class:`~jaxhybrid.algorithm.Algorithm` (or of a bare
    ``step(state, key[, x]) -> (state, info)``) through :func:`rollout`.

    Step ``i`` of this call is global step ``n = start + i`` and gets the key
    ``fold_in(key, n)`` (``None`` when ``key`` is ``None``: deterministic algorithms), so a run
    split into chunks with the right ``start`` draws exactly the numbers of one long run.
    ``inputs`` (leading axis ``n_steps``) are passed as the step's third argument. ``is_bad``
    is ``(state, info) -> bool``; ``RolloutResult.info`` holds ``info`` averaged over each
    block of ``save_every`` steps. Works under ``jit``, ``vmap`` and ``grad``.
    """
    step = getattr(algorithm, "step", algorithm)
    if not callable(step):
        raise TypeError(f"evolve: expected an Algorithm (init, step) or a step function, got {type(algorithm).__name__}.")
    start = jnp.asarray(start, jnp.int32)

    def one(carry, x=None):
        s, n = carry
        k = None if key is None else jax.random.fold_in(key, n)
        new, info = step(s, k) if inputs is None else step(s, k, x)
        return (new, n + 1), info

    obs = (lambda s: s) if observe is None else observe
    bad = None if is_bad is None else (lambda c, info: is_bad(c[0], info))
    res = rollout(one, (state, start), n_steps, save_every=save_every, observe=lambda c: obs(c[0]),
                  inputs=inputs, checkpoint=checkpoint, is_bad=bad, include_initial=include_initial,
                  unroll=unroll, with_info=True)
    return RolloutResult(res.final[0], res.saved, res.steps_done, res.info)


def raise_if_diverged(result: RolloutResult, n_steps: int, what: str = "rollout") -> RolloutResult:
    """Host-side check of a guarded :func:`rollout`: raise :class:`DivergenceError` with the
    failing step and the last good state if fewer than ``n_steps`` steps were accepted."""
    done = np.asarray(result.steps_done)
    if done.ndim:
        bad = np.flatnonzero(done < n_steps)
        if bad.size:
            raise DivergenceError(
                f"{what}: {bad.size} of {done.size} batched runs diverged; the first bad one "
                f"(index {bad[0]}) failed at step {int(done[bad[0]]) + 1} of {n_steps}. "
                "The last good states are in `.state`; reduce the step size or check inputs.",
                step=int(done[bad[0]]) + 1,
                state=result.final,
            )
        return result
    if int(done) < n_steps:
        raise DivergenceError(
            f"{what}: the state became invalid (NaN/Inf or failed check) at step "
            f"{int(done) + 1} of {n_steps}. The last good state (after step {int(done)}) is in "
            "`.state`; reduce the step size or check the inputs.",
            step=int(done) + 1,
            state=result.final,
        )
    return result
