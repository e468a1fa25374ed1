"""Gaussian likelihoods ``y = F(x) + η``, ``η ~ N(0, σ² I)``:

    log p(y|x) = −‖y − F(x)‖² / (2σ²) + const,
    ∇ log p(y|x) = Aᵀ(y − A x)/σ²           (linear F = A, explicit adjoint; no autodiff)
                 = J_F(x)ᵀ(y − F(x))/σ²      (nonlinear F, by JAX's VJP).

:func:`noisy_observations` draws data from this model for a batch of unknowns.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from .operators import LinearOperator

__all__ = ["GaussianLikelihood", "gaussian_likelihood", "noisy_observations"]


class GaussianLikelihood(NamedTuple):
    log_density: Callable  # x -> log p(y|x)
    score: Callable  # x -> ∇ log p(y|x)
    lipschitz_over_norm2: float  # 1/σ²: the score's Lipschitz constant is ‖A‖²/σ²


def gaussian_likelihood(forward, y, sigma: float) -> GaussianLikelihood:
    """Gaussian likelihood of data ``y`` under ``forward`` (a :class:`LinearOperator` or any
    differentiable function) with noise standard deviation ``sigma``."""
    if not sigma > 0:
        raise ValueError(f"gaussian_likelihood: sigma must be > 0 (noise std), got {sigma}.")
    y = jnp.asarray(y)
    fwd = forward.apply if isinstance(forward, LinearOperator) else forward
    if isinstance(forward, LinearOperator) and tuple(y.shape) != tuple(forward.out_shape):
        raise ValueError(f"gaussian_likelihood: y has shape {y.shape}, the operator outputs {forward.out_shape}.")
    inv = 1.0 / sigma**2

    def log_density(x):
        r = y - fwd(x)
        return -0.5 * inv * jnp.sum(r * r)

    if isinstance(forward, LinearOperator):
        def score(x):
            return inv * forward.adjoint(y - forward.apply(x))
    else:
        score = jax.grad(log_density)
    return GaussianLikelihood(log_density, score, inv)


def noisy_observations(forward, xs, sigma: float, key) -> jax.Array:
    """``y_i = F(x_i) + σ η_i``, ``η_i ~ N(0, I)`` drawn with ``key``, for a batch ``xs`` ``(n, ...)``;
    ``forward`` is a :class:`LinearOperator` or any function of one unknown."""
    if not sigma >= 0:
        raise ValueError(f"noisy_observations: sigma must be >= 0 (noise std), got {sigma}.")
    fwd = forward.apply if isinstance(forward, LinearOperator) else forward
    u = jax.vmap(fwd)(jnp.asarray(xs))
    return u + sigma * jax.random.normal(key, u.shape)
