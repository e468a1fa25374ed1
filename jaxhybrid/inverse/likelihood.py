"""Gaussian likelihoods ``y = F(x) + η``, ``η ~ N(0, σ² I)``:

    log p(y|x) = −‖y − F(x)‖² / (2σ²) + const,
    ∇ log p(y|x) = Aᵀ(y − A x)/σ²           (linear F = A, explicit adjoint; no autodiff)
                 = J_F(x)ᵀ(y − F(x))/σ²      (nonlinear F, by JAX's VJP).

:func:`noisy_observations` draws data from this model for a batch of unknowns;
:func:`point_observations` from point values of one field at randomly chosen nodes (sensors),
with σ a fraction of the field's RMS over all nodes (a "1% noise" level).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from .operators import LinearOperator

__all__ = ["GaussianLikelihood", "gaussian_likelihood", "noisy_observations", "point_observations"]


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


def point_observations(key: jax.Array, points: jax.Array, u: Callable, n_obs: int, noise_rel: float) -> tuple:
    """Observations of the field ``u`` (a function of one point) at ``n_obs`` distinct nodes drawn
    at random from ``points`` ``(n, d)``: ``y_j = u(x_j) + σ η_j`` with ``σ = noise_rel · RMS_i u(p_i)``
    over all ``points``. ``key`` splits into the choice of nodes and the noise.

    Returns ``(index, x, y, σ)``: the chosen rows of ``points`` ``(n_obs,)``, their coordinates
    ``(n_obs, d)``, the noisy values ``(n_obs,)`` and σ (a float)."""
    points = jnp.asarray(points)
    if points.ndim != 2 or not 1 <= n_obs <= points.shape[0]:
        raise ValueError(f"point_observations: need points (n, d) and 1 <= n_obs <= n, got {points.shape}, {n_obs}.")
    if not noise_rel >= 0:
        raise ValueError(f"point_observations: noise_rel must be >= 0, got {noise_rel}.")
    k1, k2 = jax.random.split(key)
    index = jax.random.choice(k1, points.shape[0], (n_obs,), replace=False)
    x = points[index]
    clean = jax.vmap(u)(x)
    sigma = noise_rel * float(jnp.sqrt(jnp.mean(jax.vmap(u)(points) ** 2)))
    return index, x, clean + sigma * jax.random.normal(k2, clean.shape, clean.dtype), sigma
