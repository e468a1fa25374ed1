"""Posterior mean and pixelwise error bar of ``y = A x + η`` by Langevin sampling with a learned prior.

Both estimators run many independent chains of a sampler of :mod:`jaxhybrid.sampling` through
:func:`jaxhybrid.sampling.chains_summary` (pure: call them inside ``jit``/``vmap``, with the
network and the data as traced arguments) and return running moments — nothing is stored.

* :func:`pnp_posterior` — PnP-ULA with a denoiser ``D_σ`` (Laumont et al. 2022). The estimate
  is the chain average of ``D_σ(X_k)``, ``E[X₀ | y]`` under PnP-ULA's model ``y = A(X₀ + σZ) +
  η`` (:mod:`jaxhybrid.sampling.pnp`), and the error bar the law of total variance with the
  second-order Tweedie identity,

      std = (Var_π[D_σ(X)] + σ² diag ∂D_σ/∂x)^½,

  the Jacobian term averaged over the chains' final states (:func:`~jaxhybrid.sampling.tweedie_variance`).
  :func:`score_pnp_posterior` runs it with a score network as the prior (Tweedie's ``D_σ(x) = x +
  σ² s_θ(x, σ)``), compiled with the network and the data as arguments.
* :func:`annealed_posterior` — annealed Langevin over noise levels σ₁ > … > σ_L (Song & Ermon
  2019; for inverse problems Jalal et al. 2021) with a noise-conditional prior score
  ``s(f, σ)`` and the noise-level-aware Gaussian likelihood: at level σ the state is ``f_σ = f +
  σz``, so ``y ~ N(A f_σ, η² I + σ² AAᵀ)`` and the drift is

      s(f_σ, σ) + Aᵀ(η² I + σ² AAᵀ)⁻¹(y − A f_σ),

  evaluated with one eigendecomposition ``AAᵀ = U diag(λ) Uᵀ``. Its stiffness is at most
  ``1/σ²`` at every level, so the step ``ε σ_i²/σ_L²`` is stable from the coarsest level down.
  Chains start from ``N(0, σ₁² I)`` (independent draws), run the schedule, then keep sampling at
  σ_L; their pooled moments are the posterior mean and variance. :func:`annealed_sampler` builds
  it once for a batch of observation vectors (one compiled program, the prior an argument).

:func:`linear_gaussian_posterior` is the closed-form reference: for a Gaussian prior and a linear
operator the posterior is Gaussian (dense linear algebra in float64, for a few thousand unknowns),
given the prior's covariance ``C`` or its precision ``Q`` (e.g. Tikhonov's ``λ∇ᵀ∇``):

    m = μ + C Aᵀ(A C Aᵀ + η² I)⁻¹(y − A μ),   Σ = C − C Aᵀ(A C Aᵀ + η² I)⁻¹ A C,     or
    Σ = (AᵀA/η² + Q)⁻¹,                         m = Σ(Aᵀy/η² + Q μ).

:func:`tikhonov_posterior` is Tikhonov's own error bar: the gradient penalty ``(λη²/2)‖∇f‖²`` of
:func:`~jaxhybrid.inverse.tikhonov` (weight ``λη²``) is the MAP of the prior ``Q = λ∇ᵀ∇``, ``μ = 0``
(improper along the constants, which the data fix), whose posterior mean is Tikhonov's estimate.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.sampling import annealed_langevin, chains_summary, denoiser_from_score, pnp_ula, tweedie_variance
from jaxhybrid.sampling.base import check_positive

from .map import gradient_precision

__all__ = ["PosteriorSummary", "pnp_posterior", "score_pnp_posterior", "annealed_posterior", "annealed_sampler",
           "linear_gaussian_posterior", "tikhonov_posterior"]


class PosteriorSummary(NamedTuple):
    """Pixelwise posterior ``mean`` and standard deviation ``std`` (unpacks as ``mean, std``)."""

    mean: jax.Array
    std: jax.Array


def _check_counts(name, **counts):
    for k, v in counts.items():
        lo = 0 if k == "burn_in" else 1
        if not isinstance(v, int) or v < lo:
            raise ValueError(f"{name}: {k} must be an int >= {lo}, got {v!r}.")


def pnp_posterior(denoiser: Callable, sigma: float, step_size: float, likelihood_score_fn: Callable,
                  x_start: jax.Array, key: jax.Array, *, n_chains: int, n_samples: int, burn_in: int = 0,
                  alpha: float = 1.0, box: Optional[Tuple[float, float]] = None, lam: Optional[float] = None,
                  n_probes: int = 4) -> PosteriorSummary:
    """PnP-ULA estimate ``E[X₀ | y]`` and its error bar (module docstring).

    Args:
        denoiser: ``D_σ(x)`` (e.g. ``denoiser_from_score(lambda x: net(x, σ), σ)``).
        sigma, step_size, alpha, box, lam: PnP-ULA's settings (:func:`~jaxhybrid.sampling.pnp_ula`).
        likelihood_score_fn: ``∇log p(y|x)``.
        x_start: start of every chain (e.g. a Tikhonov estimate), the shape of ``x``.
        key: PRNG key (split into the chains' key and the Hutchinson probes' key).
        n_chains, n_samples, burn_in: chains, kept steps per chain, discarded steps.
        n_probes: Rademacher probes per final state for ``diag ∂D_σ/∂x``.

    A pixel's Hutchinson estimate of the Jacobian term can come out negative; it is clipped at 0
    (the true term is a covariance diagonal). Pure: call it inside ``jit``.
    """
    _check_counts("pnp_posterior", n_chains=n_chains, n_samples=n_samples, burn_in=burn_in)
    algo = pnp_ula(denoiser, sigma, step_size, likelihood_score_fn=likelihood_score_fn, alpha=alpha, box=box,
                   lam=lam)
    x_start = jnp.asarray(x_start)
    x0 = jnp.broadcast_to(x_start, (n_chains,) + x_start.shape)
    k_run, k_var = jax.random.split(key)
    s = chains_summary(algo, k_run, x0, n_samples, burn_in=burn_in, observe=lambda st: st.denoised)
    inner = jnp.maximum(tweedie_variance(denoiser, sigma, s.final.position, k_var, n_probes), 0.0)
    return PosteriorSummary(s.mean, jnp.sqrt(s.var + inner))


def score_pnp_posterior(score_net, sigma: float, step_size: float, likelihood_score_fn: Callable, x_start,
                        data, key: jax.Array, **kw) -> PosteriorSummary:
    """:func:`pnp_posterior` with a noise-conditional score network ``s_θ(x, σ)`` as the prior.

    The denoiser is Tweedie's ``D_σ(x) = x + σ² s_θ(x, σ)`` (:func:`~jaxhybrid.sampling.denoiser_from_score`);
    ``likelihood_score_fn(x, data)`` reads the observations (and e.g. a mask) from ``data``. The
    network, ``x_start`` and ``data`` are traced arguments of one compiled program, so a new image,
    mask or network does not bake constants into it. ``kw``: :func:`pnp_posterior`'s keywords
    (``n_chains``, ``n_samples``, ``burn_in``, ``alpha``, ``box``, ``lam``, ``n_probes``). Runs on
    the host: returns NumPy arrays.
    """
    check_positive("score_pnp_posterior", "sigma", sigma)
    out = _score_pnp(score_net, jnp.asarray(x_start), data, key, likelihood_score_fn, sigma, step_size, kw)
    return PosteriorSummary(np.asarray(out.mean), np.asarray(out.std))


@eqx.filter_jit
def _score_pnp(net, x_start, data, key, lik, sigma, step_size, kw):
    den = denoiser_from_score(lambda x: net(x, sigma), sigma)
    return pnp_posterior(den, sigma, step_size, lambda x: lik(x, data), x_start, key, **kw)


def annealed_posterior(prior_score: Callable, op, noise: float, y: jax.Array, key: jax.Array, *,
                       sigmas: jax.Array, eps: float, n_each: int, n_chains: int, n_samples: int,
                       shape: Sequence[int]) -> PosteriorSummary:
    """Posterior mean and pixelwise std of ``f`` given ``y = A f + N(0, noise² I)`` by annealed
    Langevin with the noise-level-aware likelihood (module docstring).

    Args:
        prior_score: ``s(f, σ)``, the score of the prior smoothed at noise σ.
        op: the linear forward operator, with ``op.apply`` (``A``) and ``op.adjoint`` (``Aᵀ``).
        noise: observation noise std η > 0.
        y: observations, shape ``(n_obs,)``.
        key: PRNG key (start draws and the chains).
        sigmas: decreasing noise levels σ₁ > … > σ_L; ``eps``: the step at σ_L;
            ``n_each``: steps per level (the burn-in is ``len(sigmas) · n_each``).
        n_chains, n_samples: chains, and steps kept at σ_L per chain.
        shape: shape of ``f``.
    """
    _check_counts("annealed_posterior", n_chains=n_chains, n_samples=n_samples, n_each=n_each)
    check_positive("annealed_posterior", "noise", noise)
    y = jnp.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"annealed_posterior: y must be a vector of observations, got shape {y.shape}.")
    n_obs = y.shape[0]
    cols = jax.vmap(lambda e: op.apply(op.adjoint(e)))(jnp.eye(n_obs, dtype=y.dtype))  # AAᵀ
    lam_a, U = jnp.linalg.eigh(0.5 * (cols + cols.T))
    lam_a = jnp.maximum(lam_a, 0.0)

    def score(x, s):
        w = U @ ((U.T @ (y - op.apply(x))) / (noise**2 + s**2 * lam_a))
        return prior_score(x, s) + op.adjoint(w)

    algo = annealed_langevin(score, sigmas, eps, n_each)
    k0, k1 = jax.random.split(key)
    x0 = sigmas[0] * jax.random.normal(k0, (n_chains,) + tuple(shape), y.dtype)
    s = chains_summary(algo, k1, x0, n_samples, burn_in=len(sigmas) * n_each)
    return PosteriorSummary(s.mean, jnp.sqrt(s.var))


def annealed_sampler(op, noise: float, *, sigmas: jax.Array, eps: float, n_each: int, n_chains: int,
                     n_samples: int, shape: Sequence[int]) -> Callable:
    """:func:`annealed_posterior` for a batch of observation vectors: returns ``sample(prior_score,
    ys, key) -> PosteriorSummary`` with ``ys`` ``(B, n_obs)`` and means and stds ``(B, *shape)``,
    each row sampled with its own key of ``split(key, B)``. The operator, noise and schedule are
    fixed here; the prior (an Equinox module, e.g. a :class:`~jaxhybrid.sampling.WeightedCorrection`
    of a trained score), the data and the key are arguments of one compiled program, so a new
    observation batch or prior weight reuses it."""
    _check_counts("annealed_sampler", n_chains=n_chains, n_samples=n_samples, n_each=n_each)
    check_positive("annealed_sampler", "noise", noise)
    run = eqx.filter_jit(jax.vmap(
        lambda prior, y, k: annealed_posterior(prior, op, noise, y, k, sigmas=sigmas, eps=eps, n_each=n_each,
                                               n_chains=n_chains, n_samples=n_samples, shape=shape),
        in_axes=(None, 0, 0)))

    def sample(prior_score, ys, key) -> PosteriorSummary:
        ys = jnp.asarray(ys)
        if ys.ndim != 2:
            raise ValueError(f"annealed_sampler: ys must be a batch of observation vectors (B, n_obs), got {ys.shape}.")
        return PosteriorSummary(*run(prior_score, ys, jax.random.split(key, ys.shape[0])))

    return sample


def linear_gaussian_posterior(op, noise: float, y, prior_mean, *, prior_cov=None,
                              prior_precision=None) -> PosteriorSummary:
    """Exact posterior of ``y = A f + N(0, noise² I)`` under the prior ``N(μ, C)`` (``prior_cov``)
    or ``∝ exp(−½ (f − μ)ᵀ Q (f − μ))`` (``prior_precision``, may be singular if ``AᵀA/η² + Q`` is
    not); formulas in the module docstring.

    Args:
        op: linear operator with ``op.apply`` (``A``, on arrays shaped like ``prior_mean``).
        noise: observation noise std η > 0.
        y: observations ``(n_obs,)``, or a batch ``(B, n_obs)`` sharing the prior and operator.
        prior_mean: μ, the shape of the unknown.
        prior_cov / prior_precision: exactly one, ``(d, d)`` with ``d = μ.size``.

    Returns:
        :class:`PosteriorSummary`: ``mean`` shaped like ``y``'s batch + ``μ.shape``, ``std`` shaped
        like ``μ`` (the same for every observation vector). NumPy float64.
    """
    if (prior_cov is None) == (prior_precision is None):
        raise ValueError("linear_gaussian_posterior: pass exactly one of prior_cov or prior_precision.")
    check_positive("linear_gaussian_posterior", "noise", noise)
    mu = np.asarray(prior_mean, np.float64)
    shape, d = mu.shape, mu.size
    M = np.asarray(prior_cov if prior_precision is None else prior_precision, np.float64)
    if M.shape != (d, d):
        raise ValueError(f"linear_gaussian_posterior: the prior covariance/precision must be ({d}, {d}) for "
                         f"{d} unknowns, got {M.shape}.")
    eye = jnp.eye(d, dtype=jnp.asarray(prior_mean).dtype)
    A = np.asarray(jax.vmap(lambda e: op.apply(e.reshape(shape)))(eye), np.float64).T  # (n_obs, d)
    yb = np.atleast_2d(np.asarray(y, np.float64))
    if yb.shape[-1] != A.shape[0]:
        raise ValueError(f"linear_gaussian_posterior: y has {yb.shape[-1]} observations, the operator "
                         f"{A.shape[0]}.")
    mu = mu.reshape(-1)
    if prior_precision is None:
        K = M @ A.T @ np.linalg.inv(A @ M @ A.T + noise**2 * np.eye(A.shape[0]))
        mean = mu[None] + (yb - (A @ mu)[None]) @ K.T
        var = np.diag(M - K @ A @ M)
    else:
        P = A.T @ A / noise**2 + M
        S = np.linalg.inv(0.5 * (P + P.T))
        mean = (yb @ A / noise**2 + (M @ mu)[None]) @ S.T
        var = np.diag(S)
    mean = mean.reshape((-1,) + shape)
    return PosteriorSummary(mean if np.ndim(y) > 1 else mean[0], np.sqrt(np.maximum(var, 0.0)).reshape(shape))


def tikhonov_posterior(op, noise: float, y, lam: float) -> PosteriorSummary:
    """The Gaussian posterior of ``y = A f + N(0, noise² I)`` under Tikhonov's prior precision ``lam · ∇ᵀ∇``
    (:func:`~jaxhybrid.inverse.gradient_precision` on ``op.in_shape``, a 2-D grid) and mean 0: its ``mean``
    solves Tikhonov's system with weight ``lam · noise²``, its ``std`` is Tikhonov's error bar (module
    docstring; :func:`linear_gaussian_posterior`)."""
    check_positive("tikhonov_posterior", "lam", lam)
    return linear_gaussian_posterior(op, noise, y, jnp.zeros(op.in_shape),
                                     prior_precision=lam * gradient_precision(op.in_shape))
