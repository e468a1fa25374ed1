"""Bootstrap particle filter with systematic resampling and regularisation.

Gordon, Salmond & Smith (1993): particles are forecast by the model; the analysis multiplies the
weights by the likelihood, ``log w_i ← log w_i + log p(y | x_i)``, and normalises. When the
effective sample size ``ESS = 1/Σ w_i²`` falls below ``ner · N`` the particles are resampled
(systematic resampling, Kitagawa 1996: ``u_i = (U + i)/N``, ``U ~ U[0, 1)``, particle ``j`` is
copied ``#{i : C_{j−1} ≤ u_i < C_j}`` times, ``C`` the cumulative weights — unbiased,
``E[n_j] = N w_j``, and ``n_j ∈ {⌊N w_j⌋, ⌈N w_j⌉}``) and jittered (the regularised PF of
Musso, Oudjane & Le Gland 2001): ``x_i += reg · h · Σ^{1/2} ξ_i`` with ``Σ`` the weighted
covariance before resampling and ``h = (4/(N(d + 2)))^{1/(d+4)}`` the Gaussian-kernel bandwidth.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from .base import EnsembleState, Filter, _init, ensemble_forecast, make_filter
from .observations import Observation, gaussian_loglik

__all__ = ["particle_filter", "systematic_resample", "effective_sample_size", "normalise_log_weights"]


def normalise_log_weights(logw):
    """``log w − logsumexp(log w)``: log-weights that sum to one."""
    return logw - jax.scipy.special.logsumexp(logw)


def effective_sample_size(logw):
    """``ESS = 1/Σ w_i²`` of (possibly unnormalised) log-weights (Kong 1992)."""
    w = jnp.exp(normalise_log_weights(logw))
    return 1.0 / jnp.sum(w * w)


def systematic_resample(key, logw):
    """Indices of ``N`` particles drawn by systematic resampling from normalised log-weights."""
    N = logw.shape[0]
    c = jnp.cumsum(jnp.exp(normalise_log_weights(logw)))
    c = c.at[-1].set(1.0)
    u = (jax.random.uniform(key, (), c.dtype) + jnp.arange(N, dtype=c.dtype)) / N
    return jnp.minimum(jnp.searchsorted(c, u, side="right"), N - 1)


def particle_filter(model: Callable, obs: Observation, N: int, ner: float = 0.5, reg: float = 1.0) -> Filter:
    """Bootstrap PF with ``N`` particles; resample when ESS < ``ner·N``; jitter scale ``reg``.

    The analysis info holds ``ess`` (the effective sample size after the weight update, before
    any resampling) and ``resampled`` (whether this cycle resampled)."""
    if N < 2:
        raise ValueError(f"particle_filter: need N >= 2 particles, got {N}.")
    if not 0 < ner <= 1 or reg < 0:
        raise ValueError(f"particle_filter: need 0 < ner <= 1 and reg >= 0, got {ner}, {reg}.")

    def analysis(s: EnsembleState, key, y):
        E = s.E
        logw = normalise_log_weights(s.logw + jax.vmap(lambda x: gaussian_loglik(obs, x, y))(E))
        w = jnp.exp(logw)
        k1, k2 = jax.random.split(key)
        d = E.shape[1]
        h = (4.0 / (N * (d + 2.0))) ** (1.0 / (d + 4.0))
        Aw = jnp.sqrt(w)[:, None] * (E - w @ E)      # Awᵀ Aw = weighted covariance Σ
        lam, V = jnp.linalg.eigh(Aw.T @ Aw)
        sqrt_cov = (V * jnp.sqrt(jnp.maximum(lam, 0.0))) @ V.T
        idx = systematic_resample(k1, logw)
        jitter = reg * h * jax.random.normal(k2, (N, d), E.dtype) @ sqrt_cov
        E_rs = E[idx] + jitter
        ess = effective_sample_size(logw)
        do = ess < ner * N
        E_new = jnp.where(do, E_rs, E)
        logw_new = jnp.where(do, jnp.full_like(logw, -jnp.log(N)), logw)
        return s._replace(E=E_new, logw=logw_new), {"ess": ess, "resampled": do}

    return make_filter(_init(N), ensemble_forecast(model), analysis)
