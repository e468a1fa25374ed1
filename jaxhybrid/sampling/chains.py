"""Run many chains of a sampler and summarise them without storing samples.

The per-step work is one :class:`~jaxhybrid.algorithm.Algorithm` over all chains,
:func:`chains_algorithm`: it ``vmap``-s a single-chain sampler (``step(state, key) -> (state,
info)``) over a leading chain axis (the step's key split into one key per chain), and after
``burn_in`` steps folds every ``thin``-th state's ``observe(state)`` (default: the position)
into running moments (:mod:`jaxhybrid.sampling.stats`) and the sampler's ``info["accept_prob"]``
(MALA; 1 for unadjusted samplers) into per-chain acceptance sums. Memory is O(n_chains · d),
independent of the number of steps. Two drivers run it, with the same keys (global step ``n``
draws from ``fold_in(key, n)``, :func:`jaxhybrid.rollout.evolve`) and hence the same numbers:

* :func:`chains_summary` — pure, one :func:`~jaxhybrid.rollout.evolve` over all steps; use it
  inside ``jit``/``vmap`` (a batch of inverse problems, a sampler inside a loss). A chain that
  diverges makes the moments NaN (no host check is possible there).
* :func:`run_chains` — the host driver: compiled chunks through :func:`jaxhybrid.driver.drive`
  (the chains split over all devices by :func:`jaxhybrid.ensemble.shard_batch`) with a progress bar (postfix: the acceptance rate so far) and a divergence guard — a step that
  leaves any chain's position non-finite raises :class:`~jaxhybrid.rollout.DivergenceError`
  with that step and the last good chain states.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.driver import chunked, drive
from jaxhybrid.ensemble import shard_batch
from jaxhybrid.random import check_key
from jaxhybrid.rollout import evolve, nonfinite

from .stats import RunningMoments, moments_init, moments_update, pool

__all__ = ["ChainSummary", "ChainsState", "chains_algorithm", "chains_summary", "run_chains"]


class ChainSummary(NamedTuple):
    """``mean``/``var``: pooled over chains and kept samples; ``chain_mean``/``chain_var``: per
    chain (leading chain axis); ``accept_rate``: mean acceptance probability (1 for unadjusted
    samplers), ``chain_accept`` per chain; ``final``: last state of every chain; ``n_kept``:
    samples per chain in the moments."""

    mean: jax.Array
    var: jax.Array
    chain_mean: jax.Array
    chain_var: jax.Array
    accept_rate: jax.Array
    chain_accept: jax.Array
    final: object
    n_kept: int


class ChainsState(NamedTuple):
    """State of :func:`chains_algorithm`: the chains' states (leading chain axis), the running
    moments of ``observe``, the per-chain sum of acceptance probabilities after burn-in, and the
    number of steps done (which decides burn-in and thinning)."""

    chains: object
    moments: RunningMoments
    accept_sum: jax.Array
    count: jax.Array


def _check_int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"run_chains: {name} must be an int >= {lo}, got {v!r}.")


def _position(states):
    return getattr(states, "position", states)


def chains_algorithm(algorithm: Algorithm, *, burn_in: int = 0, thin: int = 1,
                     observe: Optional[Callable] = None) -> Algorithm:
    """Many chains of a single-chain sampler, with running moments, as one algorithm.

    ``init(positions, init_state=None) -> ChainsState`` (``positions``: leading chain axis;
    ``init_state``: already-initialised batched states, e.g. to continue a run) and
    ``step(cs, key) -> (cs, {"accept_prob": mean over chains})``. Step ``n`` (0-based, counted
    in the state) advances every chain with ``split(key, n_chains)``; when ``n ≥ burn_in`` it
    adds the chains' acceptance probabilities, and when ``(n − burn_in + 1) mod thin = 0`` it
    folds ``observe(states)`` into the Welford moments.
    """
    _check_int("burn_in", burn_in, 0)
    _check_int("thin", thin, 1)
    if not callable(getattr(algorithm, "step", None)):
        raise TypeError(f"run_chains: expected a sampler Algorithm (init, step), got {type(algorithm).__name__}.")
    observe = (lambda s: s.position) if observe is None else observe
    vstep = jax.vmap(algorithm.step)

    def init(positions, init_state=None) -> ChainsState:
        positions = jnp.asarray(positions)
        if positions.ndim < 1 or positions.shape[0] < 1:
            raise ValueError(f"run_chains: positions need a leading chain axis, got shape {positions.shape}.")
        states = jax.vmap(algorithm.init)(positions) if init_state is None else init_state
        n_chains = positions.shape[0]
        return ChainsState(states, moments_init(observe(states)), jnp.zeros((n_chains,), jnp.float32),
                           jnp.asarray(0, jnp.int32))

    def step(cs: ChainsState, key) -> tuple[ChainsState, dict]:
        n_chains = cs.accept_sum.shape[0]
        states, info = vstep(cs.chains, jax.random.split(key, n_chains))
        acc = jnp.asarray(info.get("accept_prob", jnp.ones((n_chains,))), jnp.float32)
        n = cs.count
        sampling = n >= burn_in
        keep = sampling & ((n - burn_in + 1) % thin == 0)
        moments = jax.lax.cond(keep, lambda m: moments_update(m, observe(states)), lambda m: m, cs.moments)
        accept_sum = cs.accept_sum + jnp.where(sampling, acc, 0.0)
        return ChainsState(states, moments, accept_sum, n + 1), {"accept_prob": jnp.mean(acc)}

    return Algorithm(init, step)


def _summary(cs: ChainsState, n_samples: int, thin: int) -> ChainSummary:
    m = cs.moments
    pooled = pool(RunningMoments(m.count, m.mean, m.m2), axis=0)
    chain_acc = cs.accept_sum / (n_samples * thin)
    return ChainSummary(pooled.mean, pooled.variance, m.mean, m.variance, jnp.mean(chain_acc), chain_acc,
                        cs.chains, n_samples)


def _setup(algorithm, positions, n_samples, burn_in, thin, observe, init_state):
    _check_int("n_samples", n_samples, 1)
    algo = chains_algorithm(algorithm, burn_in=burn_in, thin=thin, observe=observe)
    return algo, algo.init(positions, init_state), burn_in + n_samples * thin


def chains_summary(
    algorithm: Algorithm,
    key: jax.Array,
    positions: jax.Array,
    n_samples: int,
    *,
    burn_in: int = 0,
    thin: int = 1,
    observe: Optional[Callable] = None,
    init_state=None,
) -> ChainSummary:
    """Pure version of :func:`run_chains` (same arguments, same numbers): one
    :func:`~jaxhybrid.rollout.evolve` of :func:`chains_algorithm`, usable inside ``jit`` and
    ``vmap`` (``algorithm``, the ints and ``observe`` static). No progress bar and no divergence
    check: a diverging chain turns the moments into NaN."""
    algo, cs, total = _setup(algorithm, positions, n_samples, burn_in, thin, observe, init_state)
    final = evolve(algo, cs, total, key=key, save_every=total, observe=lambda c: None).final
    return _summary(final, n_samples, thin)


def _default_chunk(total: int, n_chunks: int = 10) -> int:
    """The smallest divisor of ``total`` that is at least ``total / n_chunks`` (so every chunk
    has the same length and compiles once; a prime ``total`` runs as one chunk)."""
    lo = max(1, math.ceil(total / n_chunks))
    return next(c for c in range(lo, total + 1) if total % c == 0)


def _check_host_inputs(algorithm, key, positions) -> None:
    """Host-side checks of :func:`run_chains`: a sampler, one PRNG key, and finite real
    positions with a leading chain axis (a NaN start would only show up as a divergence)."""
    if not callable(getattr(algorithm, "step", None)) or not callable(getattr(algorithm, "init", None)):
        raise TypeError(f"run_chains: expected a sampler Algorithm (init, step), got {type(algorithm).__name__}.")
    check_key(key, "run_chains")
    try:
        x = np.asarray(positions)
    except Exception:
        x = np.asarray(None, object)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"run_chains: positions must be a float array (n_chains, ...), got dtype {x.dtype}.")
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"run_chains: positions need a leading chain axis, got shape {x.shape}.")
    if x.size == 0:
        raise ValueError(f"run_chains: positions of shape {x.shape} hold no numbers.")
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"run_chains: the start of chain {int(np.argwhere(bad)[0][0])} has NaN/Inf; start every chain "
                         "at finite positions.")


def run_chains(
    algorithm: Algorithm,
    key: jax.Array,
    positions: jax.Array,
    n_samples: int,
    *,
    burn_in: int = 0,
    thin: int = 1,
    observe: Optional[Callable] = None,
    init_state=None,
    chunk_size: Optional[int] = None,
    progress: bool = True,
    desc: str = "chains",
) -> ChainSummary:
    """Run ``positions.shape[0]`` chains on the host: ``burn_in`` steps, then ``n_samples * thin``
    steps keeping every ``thin``-th (module docstring).

    Args:
        algorithm: a single-chain sampler, ``step(state, key) -> (state, info)``.
        key: PRNG key; global step ``n`` draws from ``fold_in(key, n)``.
        positions: initial positions with a leading chain axis ``(n_chains, ...)``.
        n_samples: number of kept samples per chain (>= 1).
        burn_in, thin: discarded initial steps; steps between kept samples.
        observe: ``state -> array`` to average (default ``state.position``).
        init_state: optional already-initialised (batched) state, e.g. to continue a run.
        chunk_size: steps per compiled chunk (default: about a tenth of the run, a divisor of
            it so that one compilation serves every chunk).
        progress: show a progress bar (``desc``; postfix: acceptance rate).

    Returns:
        :class:`ChainSummary`; the same numbers as :func:`chains_summary` (use that inside
        ``jit``).

    Raises:
        DivergenceError: a step left some chain's position NaN/Inf; ``.step`` is that global step
            (1-based) and ``.state`` the chains' last good states.
    """
    if isinstance(key, jax.core.Tracer) or isinstance(positions, jax.core.Tracer):
        raise ValueError("run_chains: called under a JAX transformation (jit/vmap/grad); it is the host "
                         "driver. Use jaxhybrid.sampling.chains_summary there (same arguments, same numbers).")
    _check_host_inputs(algorithm, key, positions)
    try:
        algo, cs, total = _setup(algorithm, positions, n_samples, burn_in, thin, observe, init_state)
    except (TypeError, ValueError) as e:
        if isinstance(e, ValueError) and str(e).startswith("run_chains:"):
            raise
        raise ValueError(f"run_chains: the sampler cannot start from positions of shape {np.shape(positions)} (one chain: "
                         f"{np.shape(positions)[1:]}): {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}. "
                         "Check that positions[i] has the shape the log-density / score expects.") from e
    cs = shard_batch(cs, jnp.shape(positions)[0])   # chains split over all devices (one device: as is)
    chunk = _default_chunk(total) if chunk_size is None else chunk_size
    _check_int("chunk_size", chunk, 1)
    run_chunk = chunked(algo, key=key, observe=lambda c: None,
                        is_bad=lambda c, info: nonfinite(_position(c.chains)))
    out = drive(run_chunk, cs, total, chunk_size=chunk, what=desc, progress=progress,
                state_of=lambda c: c.chains, hint="reduce the step size or check the log-density/score",
                on_chunk=lambda step, r: {"accept": float(np.mean(np.asarray(r.info["accept_prob"])))},
                keep_outputs=False)
    return _summary(out.carry, n_samples, thin)
