r"""Collocation strategies: fixed, resampled, and residual-driven adaptive sampling.

All functions are pure; they take a PRNG key and (for the adaptive ones) a residual function
``residual(points) -> (n,)`` evaluated on a batch of points.

* fixed — draw once with ``shape.sample_interior`` and keep.
* :func:`resample` — draw afresh every ``k`` steps (uniform; unbiased Monte-Carlo estimate of the
  residual integral).
* :func:`rar` — residual-based adaptive refinement (Lu, Meng, Mao & Karniadakis 2021, DeepXDE):
  evaluate the residual on a dense candidate set and **add** the ``k`` candidates with the
  largest ``|r|``.
* :func:`rad` — residual-based adaptive distribution (Wu, Zhu, Tan, Kartha & Lu 2023): draw ``n``
  points from the candidates with probability ``∝ |r|^k / mean|r|^k + c``.
* :func:`failure_informed` — failure-informed adaptive sampling (Gao, Yan & Zhou 2023, FI-PINNs):
  the failure region is ``Ω_F = {x : |r(x)| > ε}``; its probability ``P_F`` (uniform measure) is
  estimated by Monte Carlo and serves as the stopping rule (``P_F < tol``). New points are drawn
  from a truncated Gaussian kernel mixture centred at the failure candidates (bandwidth
  ``h``), kept only where they lie in the domain *and* in ``Ω_F``.
* :func:`gaussian_mixture` — Gaussian-mixture adaptive sampling (in the spirit of Jiang et al.
  2023, GAS): fit a ``K``-component Gaussian mixture to the candidates weighted by ``r²`` with
  weighted EM, then draw new points from it (rejecting those outside the domain). A uniform share
  ``uniform_frac`` keeps the whole domain covered.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from .geometry import Shape

__all__ = ["resample", "rar", "rad", "failure_informed", "FailureInformed", "fit_gmm", "GMM", "sample_gmm", "gaussian_mixture"]

Residual = Callable[[jax.Array], jax.Array]


def _check_shape(shape):
    if not isinstance(shape, Shape):
        raise ValueError(f"expected a jaxhybrid.pinn geometry (Box, Disk, Union, Difference), got {type(shape).__name__}.")


def resample(shape: Shape, key: jax.Array, n: int) -> jax.Array:
    """``n`` fresh uniform interior points (call with a new key every few steps)."""
    _check_shape(shape)
    return shape.sample_interior(key, n)


def rar(points: jax.Array, candidates: jax.Array, residual: Residual, k: int) -> jax.Array:
    """Residual-based adaptive refinement: ``points ∪ {k candidates with the largest |r|}``.

    Returns an array of ``len(points) + k`` points (the old points first).
    """
    if not (1 <= k <= candidates.shape[0]):
        raise ValueError(f"rar: k must be in [1, {candidates.shape[0]}] (number of candidates), got {k}.")
    if points.shape[-1] != candidates.shape[-1]:
        raise ValueError(f"rar: points have dimension {points.shape[-1]}, candidates {candidates.shape[-1]}.")
    r = jnp.abs(residual(candidates))
    _, idx = jax.lax.top_k(r, k)
    return jnp.concatenate([points, candidates[idx]], axis=0)


def rad(key: jax.Array, candidates: jax.Array, residual: Residual, n: int, k: float = 1.0, c: float = 1.0) -> jax.Array:
    """Residual-based adaptive distribution: ``n`` candidates drawn (without replacement) with
    probability ``∝ |r|^k / mean(|r|^k) + c``."""
    if n > candidates.shape[0]:
        raise ValueError(f"rad: n={n} exceeds the number of candidates {candidates.shape[0]}.")
    rk = jnp.abs(residual(candidates)) ** k
    p = rk / jnp.mean(rk) + c
    idx = jax.random.choice(key, candidates.shape[0], (n,), replace=False, p=p / jnp.sum(p))
    return candidates[idx]


class FailureInformed(NamedTuple):
    """``points``: new points in the failure region; ``p_fail``: Monte-Carlo estimate of
    ``P(|r| > ε)`` under the uniform distribution on the domain; ``n_valid``: how many of
    ``points`` are genuine (the rest repeat valid ones when the region is tiny)."""

    points: jax.Array
    p_fail: jax.Array
    n_valid: jax.Array


def failure_informed(key: jax.Array, shape: Shape, residual: Residual, n: int, eps: float,
                     n_candidates: int = 4096, bandwidth: float = 0.05, oversample: int = 8) -> FailureInformed:
    """Failure-informed adaptive sampling (FI-PINNs, Gao, Yan & Zhou 2023).

    1. Uniform candidates ``x_j``; failure indicator ``I_j = |r(x_j)| > ε``;
       ``P_F ≈ mean(I_j)`` (stop refining once it is below a tolerance).
    2. Proposal: mixture of Gaussians ``N(x_j, h² I)`` over the failure candidates.
    3. Truncation: keep proposals inside the domain with ``|r| > ε``; return the first ``n``.
    """
    _check_shape(shape)
    if eps <= 0 or bandwidth <= 0:
        raise ValueError(f"failure_informed: eps and bandwidth must be > 0, got {eps}, {bandwidth}.")
    k1, k2, k3, k4 = jax.random.split(key, 4)
    cand = shape.sample_interior(k1, n_candidates)
    fail = jnp.abs(residual(cand)) > eps
    p_fail = jnp.mean(fail)
    m = n * oversample
    logits = jnp.where(fail, 0.0, -jnp.inf)
    logits = jnp.where(jnp.any(fail), logits, 0.0)  # no failure: fall back to all candidates
    centres = cand[jax.random.categorical(k2, logits, shape=(m,))]
    prop = centres + bandwidth * jax.random.normal(k3, centres.shape, centres.dtype)
    ok = shape.contains(prop) & (jnp.abs(residual(prop)) > eps)
    order = jnp.argsort(~ok, stable=True)
    n_valid = jnp.minimum(jnp.sum(ok), n)
    # fill the tail by cycling over the valid proposals (or the failure centres if none)
    idx = order[jnp.arange(n) % jnp.maximum(n_valid, 1)]
    pts = jnp.where((n_valid > 0), prop[idx].T, centres[:n].T).T
    return FailureInformed(pts, p_fail, n_valid)


class GMM(NamedTuple):
    """Gaussian mixture ``Σ_k π_k N(μ_k, Σ_k)``: ``weights (K,)``, ``means (K, d)``, ``covs (K, d, d)``."""

    weights: jax.Array
    means: jax.Array
    covs: jax.Array


def _gmm_logpdf_components(gmm: GMM, x):
    d = x.shape[-1]
    chol = jnp.linalg.cholesky(gmm.covs)
    diff = x[:, None, :] - gmm.means[None]
    z = jax.vmap(lambda L, df: jax.scipy.linalg.solve_triangular(L, df.T, lower=True).T, in_axes=(0, 1), out_axes=1)(chol, diff)
    logdet = 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
    return -0.5 * jnp.sum(z**2, -1) - 0.5 * logdet - 0.5 * d * jnp.log(2 * jnp.pi) + jnp.log(gmm.weights)


def fit_gmm(key: jax.Array, x: jax.Array, w: jax.Array, n_components: int, n_iter: int = 50, reg: float = 1e-4) -> GMM:
    """Weighted EM for a Gaussian mixture: maximise ``Σ_j w_j log Σ_k π_k N(x_j; μ_k, Σ_k)``.

    Means start at ``n_components`` points drawn with probability ``∝ w``; ``reg·I`` is added to
    the covariances (keeps them positive definite).
    """
    if n_components < 1 or x.shape[0] < n_components:
        raise ValueError(f"fit_gmm: need 1 <= n_components <= number of points, got {n_components} and {x.shape[0]}.")
    d = x.shape[-1]
    w = w / jnp.sum(w)
    mu0 = x[jax.random.choice(key, x.shape[0], (n_components,), replace=False, p=w)]
    var = jnp.sum(w[:, None] * (x - jnp.sum(w[:, None] * x, 0)) ** 2, 0)
    cov0 = jnp.broadcast_to(jnp.diag(var / n_components + reg), (n_components, d, d))
    gmm = GMM(jnp.full(n_components, 1.0 / n_components, x.dtype), mu0, cov0)

    def em(gmm, _):
        logp = _gmm_logpdf_components(gmm, x)
        resp = jax.nn.softmax(logp, axis=1) * w[:, None]  # (n, K)
        nk = jnp.sum(resp, 0) + 1e-12
        mu = resp.T @ x / nk[:, None]
        diff = x[:, None, :] - mu[None]
        cov = jnp.einsum("nk,nki,nkj->kij", resp, diff, diff) / nk[:, None, None] + reg * jnp.eye(d, dtype=x.dtype)
        return GMM(nk / jnp.sum(nk), mu, cov), None

    gmm, _ = jax.lax.scan(em, gmm, None, length=n_iter)
    return gmm


def sample_gmm(key: jax.Array, gmm: GMM, n: int) -> jax.Array:
    """``n`` draws from a :class:`GMM`."""
    k1, k2 = jax.random.split(key)
    comp = jax.random.categorical(k1, jnp.log(gmm.weights), shape=(n,))
    chol = jnp.linalg.cholesky(gmm.covs)[comp]
    z = jax.random.normal(k2, (n, gmm.means.shape[-1]), gmm.means.dtype)
    return gmm.means[comp] + jnp.einsum("nij,nj->ni", chol, z)


def gaussian_mixture(key: jax.Array, shape: Shape, residual: Residual, n: int, n_components: int = 8,
                     n_candidates: int = 4096, uniform_frac: float = 0.2, power: float = 2.0, oversample: int = 4) -> jax.Array:
    """Gaussian-mixture adaptive sampling: ``n`` points, a share ``uniform_frac`` uniform and the
    rest from a mixture fitted by weighted EM to candidates weighted by ``|r|^power``."""
    _check_shape(shape)
    if not 0 <= uniform_frac < 1:
        raise ValueError(f"gaussian_mixture: uniform_frac must be in [0, 1), got {uniform_frac}.")
    k1, k2, k3, k4 = jax.random.split(key, 4)
    cand = shape.sample_interior(k1, n_candidates)
    w = jnp.abs(residual(cand)) ** power + 1e-30
    gmm = fit_gmm(k2, cand, w, n_components)
    n_uni = int(round(uniform_frac * n))
    m = (n - n_uni) * oversample
    prop = sample_gmm(k3, gmm, m)
    ok = shape.contains(prop)
    order = jnp.argsort(~ok, stable=True)
    n_ok = jnp.maximum(jnp.sum(ok), 1)
    adaptive = prop[order[jnp.arange(n - n_uni) % n_ok]]
    return jnp.concatenate([shape.sample_interior(k4, n_uni), adaptive], 0) if n_uni else adaptive
