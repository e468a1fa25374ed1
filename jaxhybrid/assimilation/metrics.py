"""Verification scores of an assimilation run (truth ``x`` of shape ``(K, d)``).

* :func:`rmse` — time mean of the instantaneous RMSE ``√(mean_i (x̂_i − x_i)²)`` (DAPPER's
  ``rmse.a``/``rmse.f``), optionally after ``burn_in`` cycles.
* :func:`crps_ensemble` — continuous ranked probability score of an ensemble (Gneiting &
  Raftery 2007): ``CRPS = E|X − x| − ½ E|X − X'|``, averaged over sites and cycles.
* :func:`rank_histogram` — counts of the rank of the truth among the ``N`` members (Anderson
  1996; Talagrand et al. 1997): flat for a calibrated ensemble (``N + 1`` bins).
* :func:`coverage` — fraction of truth components inside ``mean ± z·std`` (:func:`jaxhybrid.metrics.coverage`).
* :func:`scores` — the usual summary of an :class:`~jaxhybrid.assimilation.AssimilationResult`
  (``rmse_a``, ``rmse_f``, ``spread_a`` and, with kept ensembles, ``crps_a``).
* :func:`lead_rmse` — forecast RMSE per lead time of a batch of forecasts.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxhybrid.metrics import coverage  # the one coverage (re-exported here)

__all__ = ["rmse", "rmse_series", "crps_ensemble", "rank_histogram", "coverage", "scores", "lead_rmse"]


def _check(est, truth):
    if np.shape(est) != np.shape(truth):
        raise ValueError(f"estimate shape {np.shape(est)} differs from truth shape {np.shape(truth)}.")


def rmse_series(est, truth):
    """Instantaneous RMSE per cycle ``(K,)``."""
    _check(est, truth)
    return jnp.sqrt(jnp.mean((jnp.asarray(est) - jnp.asarray(truth)) ** 2, -1))


def rmse(est, truth, burn_in: int = 0):
    """Time-mean RMSE over cycles ``burn_in..K-1``."""
    if burn_in < 0 or burn_in >= np.shape(truth)[0]:
        raise ValueError(f"rmse: burn_in must be in [0, K), got {burn_in} for K = {np.shape(truth)[0]}.")
    return jnp.mean(rmse_series(est, truth)[burn_in:])


def crps_ensemble(ens, truth):
    """Mean CRPS of ensembles ``(K, N, d)`` against ``truth`` ``(K, d)``."""
    ens, truth = jnp.asarray(ens), jnp.asarray(truth)
    if ens.ndim != 3 or ens.shape[::2] != truth.shape:
        raise ValueError(f"crps_ensemble: need ens (K, N, d) and truth (K, d), got {ens.shape}, {truth.shape}.")
    t1 = jnp.mean(jnp.abs(ens - truth[:, None]), 1)
    t2 = jnp.mean(jnp.abs(ens[:, :, None] - ens[:, None, :]), (1, 2))
    return jnp.mean(t1 - 0.5 * t2)


def rank_histogram(ens, truth):
    """Counts ``(N + 1,)`` of the rank of each truth component among the members."""
    ens, truth = np.asarray(ens), np.asarray(truth)
    if ens.ndim != 3 or ens.shape[::2] != truth.shape:
        raise ValueError(f"rank_histogram: need ens (K, N, d) and truth (K, d), got {ens.shape}, {truth.shape}.")
    ranks = np.sum(ens < truth[:, None], 1)
    return np.bincount(ranks.ravel(), minlength=ens.shape[1] + 1)


def scores(result, truth, burn_in: int = 0) -> dict:
    """Time means over cycles ``burn_in..K-1`` of an assimilation run against ``truth`` (K, d):
    ``rmse_a``, ``rmse_f`` (analysis and forecast mean), ``spread_a`` (analysis spread) and,
    when the run kept its ensembles, ``crps_a`` (:func:`crps_ensemble`). Python floats; a
    non-finite RMSE (a lost filter) is reported as ``inf``."""
    def finite(v):
        v = float(v)
        return v if np.isfinite(v) else float("inf")

    out = {"rmse_a": finite(rmse(result.mean_a, truth, burn_in)),
           "rmse_f": finite(rmse(result.mean_f, truth, burn_in)),
           "spread_a": float(jnp.mean(jnp.asarray(result.spread_a)[burn_in:]))}
    if result.ensemble is not None:
        out["crps_a"] = float(crps_ensemble(result.ensemble[burn_in:], jnp.asarray(truth)[burn_in:]))
    return out


def lead_rmse(pred, ref):
    """RMSE over forecasts and sites at each lead: ``pred``, ``ref`` (M, L, d) -> (L,)."""
    _check(pred, ref)
    if np.ndim(pred) != 3:
        raise ValueError(f"lead_rmse: need (M, L, d) forecasts, got shape {np.shape(pred)}.")
    return np.sqrt(np.mean((np.asarray(pred) - np.asarray(ref)) ** 2, axis=(0, 2)))
