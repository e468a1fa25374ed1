"""Run many chains of a sampler and summarise them without storing samples.

:func:`run_chains` ``vmap``-s a :class:`SamplingAlgorithm` over a leading chain axis and advances
it with the project's one time loop, :func:`jaxhybrid.rollout.rollout`, passing one PRNG key per
step as ``inputs`` (split into one key per chain inside the step). After ``burn_in`` steps,
every ``thin``-th state's ``observe(state)`` (default: the position) is folded into running
moments (:mod:`jaxhybrid.sampling.stats`), and a state field ``accept_prob`` (MALA) is averaged
into the acceptance rate. Memory is O(n_chains · d), independent of the number of steps.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.rollout import rollout

from .base import SamplingAlgorithm
from .stats import RunningMoments, moments_init, moments_update, pool

__all__ = ["ChainSummary", "run_chains"]


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


def _check_int(name, v, lo):
    if not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"run_chains: {name} must be an int >= {lo}, got {v!r}.")


def run_chains(
    algorithm: SamplingAlgorithm,
    key: jax.Array,
    positions: jax.Array,
    n_samples: int,
    *,
    burn_in: int = 0,
    thin: int = 1,
    observe: Optional[Callable] = None,
    init_state=None,
) -> ChainSummary:
    """Run ``positions.shape[0]`` chains: ``burn_in`` steps, then ``n_samples * thin`` steps
    keeping every ``thin``-th.

    Args:
        algorithm: ``(init, step)`` for one chain.
        key: PRNG key.
        positions: initial positions with a leading chain axis ``(n_chains, ...)``.
        n_samples: number of kept samples per chain (>= 1).
        burn_in, thin: discarded initial steps; steps between kept samples.
        observe: ``state -> array`` to average (default ``state.position``).
        init_state: optional already-initialised (batched) state, e.g. to continue a run.

    Works under ``jit`` (``algorithm``, ints and ``observe`` static).
    """
    _check_int("n_samples", n_samples, 1)
    _check_int("burn_in", burn_in, 0)
    _check_int("thin", thin, 1)
    positions = jnp.asarray(positions)
    if positions.ndim < 1 or positions.shape[0] < 1:
        raise ValueError(f"run_chains: positions need a leading chain axis, got shape {positions.shape}.")
    n_chains = positions.shape[0]
    observe = (lambda s: s.position) if observe is None else observe
    states = jax.vmap(algorithm.init)(positions) if init_state is None else init_state
    vstep = jax.vmap(algorithm.step)

    def step(s, k):
        return vstep(s, jax.random.split(k, n_chains))

    k_burn, k_run = jax.random.split(key)
    if burn_in:
        states = rollout(step, states, burn_in, inputs=jax.random.split(k_burn, burn_in)).final

    has_acc = hasattr(states, "accept_prob")
    obs0 = observe(states)
    carry0 = (states, moments_init(obs0), jnp.zeros((n_chains,), jnp.float32))

    def block(carry, keys):
        s, m, acc = carry
        if thin == 1:
            s = step(s, keys[0])
            a = s.accept_prob.astype(jnp.float32) if has_acc else jnp.ones((n_chains,), jnp.float32)
        else:
            # accumulate acceptance over the thinned steps too
            def inner(c, k):
                s_, a_ = c
                s_ = step(s_, k)
                return (s_, a_ + (s_.accept_prob.astype(jnp.float32) if has_acc else 1.0))

            s, a = rollout(inner, (s, jnp.zeros((n_chains,), jnp.float32)), thin, inputs=keys).final
            a = a / thin
        return (s, moments_update(m, observe(s)), acc + a)

    keys = jax.random.split(k_run, n_samples * thin).reshape((n_samples, thin) + k_run.shape)
    final, m, acc = rollout(block, carry0, n_samples, inputs=keys).final
    pooled = pool(RunningMoments(m.count, m.mean, m.m2), axis=0)
    chain_acc = acc / n_samples
    return ChainSummary(pooled.mean, pooled.variance, m.mean, m.variance, jnp.mean(chain_acc), chain_acc,
                        final, n_samples)
