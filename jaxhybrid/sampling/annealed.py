"""Annealed Langevin dynamics over a noise schedule.

Song & Ermon (2019), *Generative modeling by estimating gradients of the data distribution*
(NeurIPS), Algorithm 1: for noise levels σ_1 > σ_2 > … > σ_L and T steps per level,

    α_i = ε σ_i² / σ_L²,
    x ← x + α_i s(x, σ_i) + √(2α_i) ξ,        ξ ~ N(0, I),

with ``s(x, σ) ≈ ∇log π_σ(x)`` the score of the data smoothed at noise σ (a noise-conditional
score network). Large σ first lets chains move between modes; the last level samples π_{σ_L}.
For posterior sampling pass ``s(x, σ) = s_prior(x, σ) + ∇log p(y|x)``.

The step counter lives in the state, so ``step`` is one Langevin move and the whole schedule is
``len(sigmas) * n_steps_each`` calls of it (then the chain stays at the last level).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.random import normal as fused_normal

from .base import check_positive

__all__ = ["AnnealedState", "annealed_langevin", "geometric_sigmas"]


class AnnealedState(NamedTuple):
    """``position``: current sample; ``count``: steps done, which selects the noise level (a
    schedule position, not a diagnostic)."""

    position: jax.Array
    count: jax.Array  # number of steps done (int32)


def geometric_sigmas(sigma_max: float, sigma_min: float, n_levels: int) -> jax.Array:
    """``σ_i`` geometric from ``sigma_max`` down to ``sigma_min`` (Song & Ermon's schedule)."""
    if not (sigma_max > sigma_min > 0) or n_levels < 1:
        raise ValueError(f"geometric_sigmas: need sigma_max > sigma_min > 0 and n_levels >= 1, got "
                         f"{sigma_max}, {sigma_min}, {n_levels}.")
    return jnp.asarray(np.geomspace(sigma_max, sigma_min, n_levels), jnp.float32)


def annealed_langevin(score_fn: Callable, sigmas, eps: float, n_steps_each: int) -> Algorithm:
    """Annealed Langevin dynamics for one chain: ``init(position) -> AnnealedState``,
    ``step(state, key) -> (AnnealedState, {})``.

    Args:
        score_fn: ``s(x, σ)``.
        sigmas: decreasing noise levels, shape ``(L,)``.
        eps: base step ε > 0 (the step at the last level).
        n_steps_each: T >= 1 steps per level.
    """
    if jnp.ndim(sigmas) != 1 or jnp.shape(sigmas)[0] < 1:
        raise ValueError(f"annealed_langevin: sigmas must be a 1-D array of noise levels, got shape {jnp.shape(sigmas)}.")
    if not isinstance(sigmas, jax.core.Tracer):  # checked on the host (the sampler may be built under jit)
        sg = np.asarray(sigmas)
        if not (np.all(sg > 0) and np.all(np.diff(sg) <= 0)):
            raise ValueError("annealed_langevin: sigmas must be positive and non-increasing (largest first).")
    sigmas = jnp.asarray(sigmas)
    check_positive("annealed_langevin", "eps", eps)
    if not isinstance(n_steps_each, (int, np.integer)) or n_steps_each < 1:
        raise ValueError(f"annealed_langevin: n_steps_each must be a positive int, got {n_steps_each!r}.")
    L = sigmas.shape[0]

    def init(position):
        return AnnealedState(jnp.asarray(position), jnp.asarray(0, jnp.int32))

    def step(state: AnnealedState, key) -> tuple[AnnealedState, dict]:
        level = jnp.minimum(state.count // n_steps_each, L - 1)
        sigma = sigmas[level]
        a = eps * (sigma / sigmas[-1]) ** 2
        x = state.position
        x = x + a * score_fn(x, sigma) + jnp.sqrt(2.0 * a) * fused_normal(key, x.shape, x.dtype)
        return AnnealedState(x, state.count + 1), {}

    return Algorithm(init, step)
