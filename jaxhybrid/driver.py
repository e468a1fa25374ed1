"""The one chunked host driver of jaxhybrid: :func:`drive`.

Long runs (training, MD, sampling, assimilation, PINN optimisers) execute as a sequence of
compiled chunks; between chunks the host updates a progress bar, checks the divergence guard,
writes records or checkpoints and decides whether to stop. :func:`drive` is that loop, written
once::

    for each chunk [n, n + L):
        result = run_chunk(carry, n, L)          # compiled; a RolloutResult (final, saved, steps_done, info)
        if recover(carry, result) gives a carry: rerun the chunk from it (neighbour-list overflow)
        if result.steps_done < L: raise DivergenceError(step, last good state)
        carry = result.final; on_chunk(n + L, result); stop if until(n + L, result)

Design choices
--------------
* ``run_chunk`` is the caller's compiled function — usually a ``jax.jit`` of
  :func:`jaxhybrid.rollout.evolve` with a traced ``start`` so that every chunk of the same length
  reuses one compilation; :func:`chunked` builds it.
* **Divergence** is reported with the global 1-based step that failed and the last good state
  (``state_of(carry)``; the carry is frozen there by the rollout's guard). ``on_diverge`` runs
  first, so callers save what they have (fit writes a checkpoint).
* **Ctrl-C** calls ``on_interrupt(carry, step)`` (fit saves its checkpoint) and re-raises.
* **Progress** is a ``tqdm`` bar (``TQDM_DISABLE=1`` silences it) whose postfix is whatever
  ``on_chunk`` returns.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.rollout import DivergenceError, evolve

__all__ = ["drive", "DriveResult", "chunked"]

PyTree = Any


class DriveResult(NamedTuple):
    """``carry``: state after the last step; ``outputs``: each chunk's ``saved`` (host NumPy);
    ``infos``: each chunk's block-averaged ``info``; ``step``: global steps done;
    ``n_recoveries``: chunks re-run after ``recover``."""

    carry: PyTree
    outputs: list
    infos: list
    step: int
    n_recoveries: int


def chunked(algorithm: Any, *, key: Optional[jax.Array] = None, save_every: int = 1,
            observe: Optional[Callable] = None, is_bad: Optional[Callable] = None,
            inputs: Optional[Callable[[jax.Array, int], PyTree]] = None, jit: bool = True) -> Callable:
    """``run_chunk(state, start, length)`` for :func:`drive`: ``evolve`` of ``length`` steps from
    global step ``start``, compiled once per ``length`` (``start`` is traced). ``inputs(start,
    length)``, if given, returns the chunk's per-step inputs."""
    cache: dict = {}

    def run_chunk(state, start, length):
        if length not in cache:
            def run(s, n0, xs):
                return evolve(algorithm, s, length, key=key, start=n0, save_every=save_every, observe=observe,
                              is_bad=is_bad, inputs=xs)

            cache[length] = jax.jit(run) if jit else run
        xs = None if inputs is None else inputs(start, length)
        return cache[length](state, jnp.asarray(start, jnp.int32), xs)

    return run_chunk


def drive(
    run_chunk: Callable[[PyTree, int, int], Any],
    carry: PyTree,
    n_steps: int,
    *,
    chunk_size: int,
    start: int = 0,
    what: str = "run",
    hint: str = "reduce the step size or check the inputs",
    progress: bool = True,
    unit: str = "step",
    on_chunk: Optional[Callable[[int, Any], Optional[dict]]] = None,
    until: Optional[Callable[[int, Any], bool]] = None,
    recover: Optional[Callable[[PyTree, Any], Optional[PyTree]]] = None,
    max_recoveries: int = 50,
    state_of: Callable[[PyTree], PyTree] = lambda c: c,
    on_diverge: Optional[Callable[[int, PyTree], None]] = None,
    on_interrupt: Optional[Callable[[PyTree, int], None]] = None,
    keep_outputs: bool = True,
) -> DriveResult:
    """Advance ``carry`` from global step ``start`` to ``n_steps`` in chunks (module docstring).

    Args:
        run_chunk: ``(carry, start, length) -> result`` with ``result.final``,
            ``result.saved``, ``result.steps_done`` (and optionally ``result.info``).
        carry: initial carry.
        n_steps: total number of steps (the run ends at global step ``n_steps``).
        chunk_size: steps per chunk; chunk boundaries sit at multiples of ``chunk_size``, so a
            run resumed at a boundary executes the same chunks as an uninterrupted one.
        start: global step of ``carry`` (a resumed run).
        what, hint: named in the progress bar and in the divergence message.
        on_chunk: ``(step, result) -> postfix dict | None`` after each accepted chunk (records,
            checkpoints, trajectory files); the dict is shown in the progress bar.
        until: ``(step, result) -> bool``; stop early when true (convergence, stalls).
        recover: ``(carry before the chunk, result) -> new carry | None``; a carry means "this
            chunk is invalid, run it again from the returned carry" (e.g. a neighbour list
            re-allocated after an overflow); at most ``max_recoveries`` per run.
        state_of: the user-facing state of a carry (for :class:`DivergenceError`).
        on_diverge: ``(failing step, last good carry)`` before the error is raised.
        on_interrupt: ``(carry, step)`` on ``KeyboardInterrupt`` before it propagates.
        keep_outputs: keep every chunk's ``saved``/``info`` on the host (else only the last).

    Raises:
        DivergenceError: a chunk accepted fewer steps than it ran; ``.step`` is the first
            failing global step (1-based), ``.state`` the last good state.
    """
    for name, v, lo in (("n_steps", n_steps, 0), ("chunk_size", chunk_size, 1), ("start", start, 0)):
        if not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{what}: {name} must be an int >= {lo}, got {v!r}.")
    bar = None
    if progress and n_steps > start:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, initial=start, desc=what, unit=unit, leave=False, dynamic_ncols=True)
    step, outputs, infos, n_rec = int(start), [], [], 0
    try:
        while step < n_steps:
            length = min(chunk_size - step % chunk_size, n_steps - step)
            result = run_chunk(carry, step, length)
            if recover is not None:
                fixed = recover(carry, result)
                if fixed is not None:
                    n_rec += 1
                    if n_rec > max_recoveries:
                        raise RuntimeError(f"{what}: chunk at step {step} still invalid after {max_recoveries} "
                                           "recoveries.")
                    carry = fixed
                    continue
            done = np.asarray(result.steps_done)
            if done.ndim:
                raise ValueError(f"{what}: run_chunk returned batched steps_done {done.shape}; reduce it to one "
                                 "count (e.g. the minimum over the batch).")
            if int(done) < length:
                bad = step + int(done) + 1
                carry = result.final
                if on_diverge is not None:
                    on_diverge(bad, carry)
                raise DivergenceError(
                    f"{what}: the state became invalid (NaN/Inf or failed check) at step {bad} of {n_steps}. "
                    f"The last good state (after step {bad - 1}) is in `.state`; {hint}.",
                    step=bad, state=state_of(carry)) from None
            carry = result.final
            step += length
            saved = jax.tree_util.tree_map(np.asarray, result.saved)
            info = jax.tree_util.tree_map(np.asarray, getattr(result, "info", None))
            if keep_outputs:
                outputs.append(saved)
                infos.append(info)
            else:
                outputs[:], infos[:] = [saved], [info]
            postfix = on_chunk(step, result) if on_chunk is not None else None
            if bar is not None:
                bar.update(length)
                if postfix:
                    bar.set_postfix({k: (f"{v:.3e}" if isinstance(v, float) else v) for k, v in postfix.items()})
            if until is not None and until(step, result):
                break
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt(carry, step)
        raise
    finally:
        if bar is not None:
            bar.close()
    return DriveResult(carry, outputs, infos, step, n_rec)
