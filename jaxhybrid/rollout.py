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
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

PyTree = Any

__all__ = ["rollout", "RolloutResult", "DivergenceError", "raise_if_diverged", "nonfinite"]


class RolloutResult(NamedTuple):
    """Outcome of :func:`rollout`.

    final: state after the last accepted step.
    saved: ``observe(state)`` every ``save_every`` steps, stacked on a leading axis
        (``n_steps // save_every`` entries; ``n_steps // save_every + 1`` with
        ``include_initial=True``, the initial state first).
    steps_done: int32 array, number of accepted steps (``n_steps`` unless ``is_bad`` fired).
    """

    final: PyTree
    saved: PyTree
    steps_done: jax.Array


class DivergenceError(RuntimeError):
    """A run produced a bad state. ``step`` is the first failing step (1-based count of steps
    attempted), ``state`` the last good state, kept so that nothing is lost."""

    def __init__(self, message: str, step: int, state: PyTree):
        super().__init__(message)
        self.step = step
        self.state = state


def nonfinite(state: PyTree) -> jax.Array:
    """True when any inexact leaf of ``state`` holds a NaN or an infinity."""
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


def rollout(
    step: Callable[..., PyTree],
    state: PyTree,
    n_steps: int,
    *,
    save_every: int = 1,
    observe: Optional[Callable[[PyTree], PyTree]] = None,
    inputs: PyTree = None,
    checkpoint: bool = False,
    is_bad: Optional[Callable[[PyTree], jax.Array]] = None,
    include_initial: bool = False,
    unroll: int = 1,
) -> RolloutResult:
    """Advance ``state`` by ``n_steps`` applications of ``step``.

    Args:
        step: ``state -> state``, or ``(state, x) -> state`` when ``inputs`` is given.
        state: initial state (any pytree).
        n_steps: number of steps; a multiple of ``save_every``.
        save_every: save ``observe(state)`` after every ``save_every`` steps.
        observe: what to save (default: the whole state).
        inputs: optional per-step inputs (pytree with leading axis ``n_steps``): forcings,
            observations, PRNG keys.
        checkpoint: rematerialise each block of ``save_every`` steps in the backward pass.
        is_bad: optional predicate ``state -> bool``; bad steps are rejected and the state is
            frozen at the last good one (see :func:`raise_if_diverged`). :func:`nonfinite` is
            the usual choice.
        include_initial: also save ``observe(state)`` before the first step.
        unroll: unroll factor of the inner scan (speed knob for cheap steps).

    Returns:
        :class:`RolloutResult` ``(final, saved, steps_done)``. Works under ``jit``, ``vmap``
        and ``grad``.
    """
    _check_args(n_steps, save_every, inputs)
    observe = (lambda s: s) if observe is None else observe
    n_blocks = n_steps // save_every
    with_inputs = inputs is not None

    def one(carry, x):
        s, done, ok = carry
        new = step(s, x) if with_inputs else step(s)
        if is_bad is None:
            return (new, done + 1, ok), None
        accept = jnp.logical_and(ok, jnp.logical_not(is_bad(new)))
        s = jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), new, s)
        return (s, done + accept.astype(done.dtype), accept), None

    def block(carry, xs):
        carry, _ = jax.lax.scan(one, carry, xs, length=save_every, unroll=unroll)
        return carry, observe(carry[0])

    if checkpoint:
        block = jax.checkpoint(block, prevent_cse=False)

    if with_inputs:
        xs = jax.tree_util.tree_map(
            lambda a: jnp.reshape(a, (n_blocks, save_every) + jnp.shape(a)[1:]), inputs
        )
    else:
        xs = None

    carry0 = (state, jnp.asarray(0, jnp.int32), jnp.asarray(True))
    (final, done, _), saved = jax.lax.scan(block, carry0, xs, length=n_blocks)
    if include_initial:
        first = observe(state)
        saved = jax.tree_util.tree_map(
            lambda a, b: jnp.concatenate([jnp.asarray(a)[None], b], axis=0), first, saved
        )
    return RolloutResult(final, saved, done)


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
