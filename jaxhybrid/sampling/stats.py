"""Running moments (Welford) so that chains never store their samples.

Per chain, after n samples x_1..x_n (Welford 1962):

    n ← n + 1,   δ = x − μ,   μ ← μ + δ/n,   M₂ ← M₂ + δ (x − μ),     var = M₂ / n.

Chains (or any split of the samples) are merged with Chan, Golub & LeVeque's (1979) pairwise
formula, used by :func:`pool` over the chain axis:

    μ = (n_a μ_a + n_b μ_b)/(n_a + n_b),   M₂ = M₂ₐ + M₂ᵦ + δ² n_a n_b/(n_a + n_b),  δ = μ_b − μ_a.

Because independent chains give independent per-chain means, the spread of ``chain_mean`` across
chains is a direct Monte-Carlo error estimate of the pooled mean (no autocorrelation fit):
``se = std(chain_means)/√n_chains`` — see :func:`mc_standard_error`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["RunningMoments", "moments_init", "moments_update", "pool", "mc_standard_error"]


class RunningMoments(NamedTuple):
    count: jax.Array  # number of samples folded in (float, shared by all entries)
    mean: jax.Array
    m2: jax.Array  # sum of squared deviations from the mean

    @property
    def variance(self) -> jax.Array:
        """Population variance ``M₂/n`` (0 before the first sample)."""
        return self.m2 / jnp.maximum(self.count, 1.0)


def moments_init(like: jax.Array) -> RunningMoments:
    z = jnp.zeros_like(like)
    return RunningMoments(jnp.zeros((), z.dtype), z, z)


def moments_update(m: RunningMoments, x: jax.Array) -> RunningMoments:
    n = m.count + 1.0
    d = x - m.mean
    mean = m.mean + d / n
    return RunningMoments(n, mean, m.m2 + d * (x - mean))


def pool(m: RunningMoments, axis: int = 0) -> RunningMoments:
    """Merge moments along ``axis`` (e.g. the chain axis); every slice has the same count."""
    k = m.mean.shape[axis]
    n = jnp.max(m.count) if jnp.ndim(m.count) else m.count
    mean = jnp.mean(m.mean, axis=axis)
    between = jnp.sum((m.mean - jnp.expand_dims(mean, axis)) ** 2, axis=axis) * n
    return RunningMoments(n * k, mean, jnp.sum(m.m2, axis=axis) + between)


def mc_standard_error(chain_values: jax.Array, axis: int = 0) -> jax.Array:
    """Standard error of the average over independent chains: ``std(v, ddof=1)/√k``."""
    k = chain_values.shape[axis]
    if k < 2:
        raise ValueError("mc_standard_error: need at least 2 independent chains.")
    return jnp.std(chain_values, axis=axis, ddof=1) / jnp.sqrt(k)
