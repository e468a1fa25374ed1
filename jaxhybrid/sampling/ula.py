"""Unadjusted Langevin algorithm (ULA).

The Euler–Maruyama discretisation of the overdamped Langevin diffusion
``dX = ∇log π(X) dt + √2 dW`` (Roberts & Tweedie 1996, *Exponential convergence of Langevin
distributions and their discrete approximations*, Bernoulli 2(4)):

    X_{k+1} = X_k + δ ∇log π(X_k) + √(2δ) ξ_k,      ξ_k ~ N(0, I).

Without a Metropolis correction the chain targets π only up to an O(δ) bias. For a Gaussian
target ``N(m, σ²)`` (per eigen-direction) the stationary law is exactly
``N(m, σ² / (1 − δ/(2σ²)))`` for ``δ < 2σ²`` — the tests check this closed form. For a
Bayesian inverse problem, ``log π = log p(y|x) + log π_prior(x)`` and the drift is the sum of the
likelihood score and the (possibly learned) prior score.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.random import normal as fused_normal

from .base import check_positive, score_of

__all__ = ["ULAState", "ula"]


class ULAState(NamedTuple):
    """``position``: current sample; ``score``: ∇log π at ``position`` (reused by the next step)."""

    position: jax.Array
    score: jax.Array


def ula(logdensity_fn: Optional[Callable] = None, step_size: float = None, *,
        score_fn: Optional[Callable] = None) -> Algorithm:
    """ULA for one chain.

    Args:
        logdensity_fn: ``log π(x)`` up to a constant (differentiated by JAX), or ``None`` when
            ``score_fn`` is given.
        step_size: δ > 0 (a scalar or an array broadcastable to the position, i.e. a diagonal
            preconditioner).
        score_fn: ``∇log π(x)`` directly (e.g. a likelihood gradient plus a learned prior score).

    Returns:
        :class:`~jaxhybrid.algorithm.Algorithm` with ``init(position) -> ULAState`` and
        ``step(state, key) -> (ULAState, {})``.
    """
    if step_size is None:
        raise ValueError("ula: step_size is required (δ > 0).")
    check_positive("ula", "step_size", step_size)
    score = score_of("ula", logdensity_fn, score_fn)

    def init(position):
        position = jnp.asarray(position)
        return ULAState(position, score(position))

    def step(state: ULAState, key) -> tuple[ULAState, dict]:
        x = state.position
        noise = fused_normal(key, x.shape, x.dtype)
        x = x + step_size * state.score + jnp.sqrt(2.0 * step_size) * noise
        return ULAState(x, score(x)), {}

    return Algorithm(init, step)
