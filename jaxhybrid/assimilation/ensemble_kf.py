"""Ensemble Kalman filters: stochastic EnKF, ETKF and LETKF with Gaspari–Cohn localisation.

Notation: ensemble ``E`` (N × d, one member per row), mean ``x̄``, anomalies ``A = E − x̄``;
observed ensemble ``h(E)`` with mean ``ȳ`` and anomalies ``Y``; ``R = diag(σ²)``.

* **Stochastic EnKF** (Burgers, van Leeuwen & Evensen 1998; DAPPER's ``'PertObs'``): with
  ``X = A/√(N−1)``, ``Ŷ = Y/√(N−1)``, ``K = Xᵀ Ŷ (Ŷᵀ Ŷ + R)⁻¹`` and centred perturbations
  ``D`` drawn from ``N(0, R)``:  ``E_a = E + (y + D − h(E)) Kᵀ``.
* **ETKF** (Bishop et al. 2001; Hunt, Kostelich & Szunyogh 2007; the symmetric square root of
  Sakov & Oke 2008): ``S = Y R^{-1/2}``, ``C = S Sᵀ + (N−1) I = V Λ Vᵀ``;
  ``w̄ = C⁻¹ S R^{-1/2}(y − ȳ)``, ``T = √(N−1) C^{-1/2}`` (symmetric);
  ``E_a = x̄ + (1 w̄ᵀ + T) A``. For a linear ``h`` the mean and covariance
  ``A_aᵀ A_a/(N−1)`` are exactly the Kalman update with ``P_f = AᵀA/(N−1)``.
* **LETKF** (Hunt et al. 2007): the ETKF weights computed for every state site ``i`` from the
  observations near it, with ``R⁻¹`` tapered by the Gaspari–Cohn function of the distance
  (R-localisation); site ``i`` is updated with its own weights.

Inflation is multiplicative on the analysis anomalies (``A_a ← λ A_a``, as in DAPPER) and the
optional random rotation (Sakov & Oke 2008) multiplies the anomalies by a random orthogonal
matrix that keeps the ensemble mean (it fixes the vector of ones).
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .base import EnsembleState, Filter, _init, ensemble_forecast, inflate, make_filter
from .observations import Observation

__all__ = ["etkf", "enkf", "letkf", "etkf_update", "enkf_update", "gaspari_cohn", "mean_preserving_rotation",
           "periodic_distance", "spd_solve"]


def _check(N, infl):
    if N < 2:
        raise ValueError(f"ensemble filters need N >= 2 members, got {N}.")
    if isinstance(infl, (int, float)) and infl <= 0:
        raise ValueError(f"inflation must be positive, got {infl}.")


def _ones_basis(N: int) -> np.ndarray:
    """Orthonormal basis whose first column is ``1/√N`` (QR of ``[1, I]``)."""
    M = np.concatenate([np.ones((N, 1)), np.eye(N)[:, : N - 1]], 1)
    Q, _ = np.linalg.qr(M)
    return Q * np.sign(Q[0, 0])


def mean_preserving_rotation(key, N: int, dtype=jnp.float32):
    """Random orthogonal ``Q`` (N × N) with ``Q 1 = 1``: Haar on the complement of ``1``."""
    U = jnp.asarray(_ones_basis(N), dtype)
    G = jax.random.normal(key, (N - 1, N - 1), dtype)
    O, Rm = jnp.linalg.qr(G)
    O = O * jnp.sign(jnp.diag(Rm))[None, :]
    B = jnp.zeros((N, N), dtype).at[0, 0].set(1.0).at[1:, 1:].set(O)
    return U @ B @ U.T


def etkf_update(E, HE, y, std):
    """One ETKF analysis (no inflation): returns ``E_a`` (see the module docstring)."""
    N = E.shape[0]
    xbar, ybar = jnp.mean(E, 0), jnp.mean(HE, 0)
    A = E - xbar
    S = (HE - ybar) / std
    dn = (y - ybar) / std
    w, T = _etkf_weights(S, dn, N)
    return xbar + (w[None, :] + T) @ A


def _etkf_weights(S, dn, N):
    C = S @ S.T + (N - 1) * jnp.eye(N, dtype=S.dtype)
    lam, V = jnp.linalg.eigh(C)
    w = V @ ((V.T @ (S @ dn)) / lam)
    T = (V * jnp.sqrt((N - 1) / lam)) @ V.T
    return w, T


def enkf_update(E, HE, y, std, key):
    """One stochastic (perturbed-observation) EnKF analysis, perturbations centred."""
    N = E.shape[0]
    X = (E - jnp.mean(E, 0)) / jnp.sqrt(N - 1.0)
    Y = (HE - jnp.mean(HE, 0)) / jnp.sqrt(N - 1.0)
    D = std * jax.random.normal(key, HE.shape, HE.dtype)
    D = D - jnp.mean(D, 0)
    C = Y.T @ Y + jnp.diag(std**2)
    K_T = spd_solve(C, Y.T @ X)                  # (p, d) = Kᵀ
    return E + (y + D - HE) @ K_T


def spd_solve(C, B):
    """``C⁻¹ B`` for symmetric positive-definite ``C`` through ``eigh`` (on CPU, XLA's
    triangular solves are far slower than a small symmetric eigendecomposition)."""
    lam, V = jnp.linalg.eigh(C)
    return V @ ((V.T @ B) / lam[:, None])


def _post(E, infl, rotate, key):
    E = inflate(E, infl)
    if rotate:
        m = jnp.mean(E, 0)
        E = m + mean_preserving_rotation(key, E.shape[0], E.dtype) @ (E - m)
    return E


def etkf(model: Callable, obs: Observation, N: int, infl=1.0, rotate: bool = False) -> Filter:
    """Ensemble transform Kalman filter with ``N`` members.

    ``model``: one state to the next observation time (e.g. ``hmm.forecast``)."""
    _check(N, infl)

    def analysis(s: EnsembleState, key, y):
        E = etkf_update(s.E, jax.vmap(obs.h)(s.E), y, obs.std)
        return s._replace(E=_post(E, infl, rotate, key)), {}

    return make_filter(_init(N), ensemble_forecast(model), analysis)


def enkf(model: Callable, obs: Observation, N: int, infl=1.0, rotate: bool = False) -> Filter:
    """Stochastic EnKF (perturbed observations) with ``N`` members."""
    _check(N, infl)

    def analysis(s: EnsembleState, key, y):
        k1, k2 = jax.random.split(key)
        E = enkf_update(s.E, jax.vmap(obs.h)(s.E), y, obs.std, k1)
        return s._replace(E=_post(E, infl, rotate, k2)), {}

    return make_filter(_init(N), ensemble_forecast(model), analysis)


def gaspari_cohn(r, c):
    """Gaspari & Cohn (1999, eq. 4.10) compactly supported fifth-order correlation of the
    distance ``r`` with half-width ``c`` (zero beyond ``2c``, 1 at ``r = 0``)."""
    z = jnp.abs(r) / c
    inner = ((-0.25 * z + 0.5) * z + 0.625) * z**3 - (5.0 / 3.0) * z**2 + 1.0
    zs = jnp.where(z > 1.0, z, 1.0)
    outer = (((1.0 / 12.0 * zs - 0.5) * zs + 0.625) * zs + 5.0 / 3.0) * zs**2 - 5.0 * zs + 4.0 - 2.0 / (3.0 * zs)
    return jnp.where(z <= 1.0, inner, jnp.where(z < 2.0, outer, 0.0))


def periodic_distance(a, b, length):
    """Distance between sites ``a`` and ``b`` on a ring of ``length`` sites."""
    d = jnp.abs(a - b) % length
    return jnp.minimum(d, length - d)


def letkf(model: Callable, obs: Observation, N: int, obs_sites, radius: float, infl=1.0,
          rotate: bool = False, domain: Optional[float] = None) -> Filter:
    """Local ETKF: every state site ``i`` (coordinate ``i``) is analysed with the observations
    at ``obs_sites`` (coordinates of the observed components) weighted by
    ``gaspari_cohn(dist, radius)``; ``domain`` makes distances periodic (default: the state
    length, as for Lorenz-96)."""
    _check(N, infl)
    obs_sites = jnp.asarray(obs_sites, jnp.result_type(float))
    if obs_sites.shape != obs.std.shape:
        raise ValueError(f"letkf: obs_sites has shape {obs_sites.shape}, expected one site per observed "
                         f"component {obs.std.shape}.")
    if not radius > 0:
        raise ValueError(f"letkf: radius must be positive, got {radius}.")

    def analysis(s: EnsembleState, key, y):
        E = s.E
        d = E.shape[1]
        L = float(d) if domain is None else domain
        HE = jax.vmap(obs.h)(E)
        xbar, ybar = jnp.mean(E, 0), jnp.mean(HE, 0)
        A = E - xbar
        S = (HE - ybar) / obs.std
        dn = (y - ybar) / obs.std
        sites = jnp.arange(d, dtype=obs_sites.dtype)

        def local(i, a_i):
            rho = gaspari_cohn(periodic_distance(i, obs_sites, L), radius)
            sq = jnp.sqrt(rho)
            w, T = _etkf_weights(S * sq, dn * sq, N)
            return (w[None, :] + T) @ a_i

        Ea = xbar + jax.vmap(local, in_axes=(0, 1), out_axes=1)(sites, A)
        return s._replace(E=_post(Ea, infl, rotate, key)), {}

    return make_filter(_init(N), ensemble_forecast(model), analysis)
