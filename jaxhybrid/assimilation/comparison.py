"""Several filters and the standard baselines on one twin experiment.

A comparison (Sakov & Oke 2008; DAPPER's benchmark tables) runs every method from the same
perturbed initial state against the same truth and observations (a :class:`~jaxhybrid.
assimilation.Twin`) and reports time-mean scores after a burn-in:

* :func:`compare_filters` — each filter through :func:`~jaxhybrid.assimilation.run_filter` (same
  initial and cycling keys for all): its scores, analysis-RMSE series and result;
* :func:`twin_baselines` — the RMSE of the methods without assimilation: ``mechanism_only``, the
  model run freely from the initial state (no observation corrects it); ``data_only``, a state
  estimate from each observation alone (default: the observations, for ``h(x) = x``);
  ``climatology``, a constant climatological mean (optional);
* :func:`twin_comparison` — the whole protocol: :func:`~jaxhybrid.assimilation.twin`, then
  :func:`compare_filters` (initial ensembles drawn with ``fold_in(key_init, 1)``, independent of
  the truth's perturbation drawn with ``key_init``) and :func:`twin_baselines`;
* :func:`invert_arctan` — the data-only estimate of observations ``y = arctan(x) + ε``:
  ``x̂ = tan(y)`` with ``y`` kept inside ``(−π/2, π/2)`` and ``x̂`` clipped to a plausible range
  (the noise pushes ``y`` past the poles of ``tan``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .base import Filter
from .experiment import Twin, free_run, run_filter, twin
from .metrics import rmse
from .observations import HMM

__all__ = ["compare_filters", "twin_baselines", "Comparison", "twin_comparison", "invert_arctan"]


def compare_filters(filters: Mapping[str, Filter], twin: Twin, init_std: float, key_init: jax.Array,
                    key_run: jax.Array, burn_in: int, *, obs: Optional[Mapping[str, Any]] = None,
                    keep_ensemble: Sequence[str] = (), progress: bool = True, verbose: bool = True
                    ) -> tuple[dict, dict, dict]:
    """Run every filter of ``filters`` (name → filter) on ``twin`` from ``twin.x_init`` (spread
    ``init_std``, ensemble drawn with ``key_init``), cycling with ``key_run``. ``obs`` overrides
    the observations per filter (e.g. 4D-Var's windows, :func:`~jaxhybrid.assimilation.obs_windows`);
    filters named in ``keep_ensemble`` keep their ensembles (rank histograms, CRPS). Returns
    ``(scores, series, results)``, each name → :func:`~jaxhybrid.assimilation.run_filter`'s part;
    ``verbose`` prints one line of scores per filter."""
    unknown = set(obs or {}).union(keep_ensemble) - set(filters)
    if unknown:
        raise ValueError(f"compare_filters: {sorted(unknown)} name no filter of {sorted(filters)}.")
    scores, series, results = {}, {}, {}
    for name, filt in filters.items():
        y = (obs or {}).get(name, twin.obs)
        scores[name], series[name], results[name] = run_filter(filt, twin.x_init, init_std, y, twin.truth, key_init,
                                                               key_run, burn_in, keep_ensemble=name in keep_ensemble,
                                                               progress=progress)
        if verbose:
            print(f"  {name:6s} " + "  ".join(f"{k} {v:.4f}" for k, v in scores[name].items()))
    return scores, series, results


def twin_baselines(hmm: HMM, twin: Twin, key: jax.Array, burn_in: int, *, data_only=None,
                   climatology=None) -> dict:
    """``{"mechanism_only", "data_only"[, "climatology"]}``: time-mean RMSEs after ``burn_in``
    against ``twin.truth`` of the free run from ``twin.x_init`` (model noise from ``key``), of
    ``data_only`` (states ``(K, d)``; default ``twin.obs``) and, when given, of the constant
    ``climatology`` mean ``(d,)``. Python floats."""
    n = twin.truth.shape[0]
    if not 0 <= burn_in < n:
        raise ValueError(f"twin_baselines: burn_in must be in [0, {n}), got {burn_in}.")
    est = {"mechanism_only": free_run(hmm, twin.x_init, key, n),
           "data_only": twin.obs if data_only is None else data_only}
    if climatology is not None:
        est["climatology"] = jnp.broadcast_to(jnp.asarray(climatology, twin.truth.dtype), twin.truth.shape)
    return {b: float(rmse(v, twin.truth, burn_in)) for b, v in est.items()}


class Comparison(NamedTuple):
    """A :func:`twin_comparison`: the twin experiment, per filter its scores, analysis-RMSE series
    and :class:`~jaxhybrid.assimilation.AssimilationResult`, and the baselines' RMSEs."""

    twin: Twin
    scores: dict
    series: dict
    results: dict
    baselines: dict


def twin_comparison(hmm: HMM, filters: Mapping[str, Filter], key_truth: jax.Array, key_init: jax.Array,
                    key_run: jax.Array, n_cycles: int, burn_in: int, init_std: float, *,
                    obs: Optional[Mapping[str, Callable]] = None, keep_ensemble: Sequence[str] = (),
                    data_only: Optional[Callable] = None, climatology=None, verbose: bool = True) -> Comparison:
    """Twin experiment of ``n_cycles`` cycles of ``hmm`` (truth perturbed by ``init_std`` with
    ``key_init``), every filter of ``filters`` on it (:func:`compare_filters`: ensembles from
    ``fold_in(key_init, 1)``, cycles with ``key_run``; ``obs[name](y)`` transforms the observations
    a filter sees, e.g. into 4D-Var windows) and :func:`twin_baselines` (free run with ``key_run``;
    ``data_only(y)`` estimates the states from the observations; ``climatology`` a mean state)."""
    tw = twin(hmm, key_truth, key_init, n_cycles, init_std)
    seen = {name: f(tw.obs) for name, f in (obs or {}).items()}
    scores, series, results = compare_filters(filters, tw, init_std, jax.random.fold_in(key_init, 1), key_run, burn_in,
                                               obs=seen, keep_ensemble=keep_ensemble, verbose=verbose)
    base = twin_baselines(hmm, tw, key_run, burn_in, data_only=None if data_only is None else data_only(tw.obs),
                          climatology=climatology)
    return Comparison(tw, scores, series, results, base)


def invert_arctan(y, bounds: tuple[float, float], margin: float = 1e-3) -> jax.Array:
    """``clip(tan(clip(y, −π/2 + margin, π/2 − margin)), *bounds)`` (module docstring)."""
    lo, hi = bounds
    if not lo < hi or not 0 < margin < np.pi / 2:
        raise ValueError(f"invert_arctan: need bounds lo < hi and 0 < margin < π/2, got {bounds}, {margin}.")
    return jnp.clip(jnp.tan(jnp.clip(y, -np.pi / 2 + margin, np.pi / 2 - margin)), lo, hi)
