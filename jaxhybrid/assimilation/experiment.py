"""Twin experiments: a truth run of the model, its observations, and filters scored against it.

A *twin experiment* (the standard test bed of data assimilation, e.g. Sakov & Oke 2008; DAPPER)
draws a truth trajectory from the same hidden Markov model the filters use, observes it with
noise, starts every method from the truth's initial state plus ``N(0, σ₀² I)`` and scores the
analyses against the truth after a burn-in:

* :func:`twin` — truth ``(K, d)`` at the observation times, observations ``(K, p)`` and the
  perturbed initial state;
* :func:`run_filter` — one filter from that state through :func:`~jaxhybrid.assimilation.assimilate`:
  its :func:`~jaxhybrid.assimilation.scores` (plus ``wall_s``), the analysis-RMSE series and the result;
* :func:`free_run` — the model alone from a given state (the *mechanism-only* baseline: no
  observation ever corrects it).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import numpy as np

from .base import AssimilationResult, Filter, assimilate
from .metrics import rmse_series, scores
from .observations import HMM, simulate

__all__ = ["Twin", "twin", "run_filter", "free_run"]


class Twin(NamedTuple):
    """A twin experiment's truth ``(K, d)``, observations ``(K, p)`` and initial state ``(d,)``."""

    truth: jax.Array
    obs: jax.Array
    x_init: jax.Array


def twin(hmm: HMM, key_truth, key_init, n_cycles: int, init_std: float, burn_in: int = 200) -> Twin:
    """Truth of ``n_cycles`` observation times after ``burn_in`` unobserved cycles
    (:func:`~jaxhybrid.assimilation.simulate` with the truth's time-0 state kept), its observations,
    and ``x_init = x_truth(0) + init_std · ξ``, ``ξ ~ N(0, I)`` drawn with ``key_init``."""
    if not init_std >= 0:
        raise ValueError(f"twin: init_std must be >= 0, got {init_std}.")
    truth0, obs = simulate(hmm, key_truth, n_cycles, burn_in=burn_in, include_initial=True)
    return Twin(truth0[1:], obs, truth0[0] + init_std * jax.random.normal(key_init, truth0[0].shape))


def run_filter(filt: Filter, x_init, init_std: float, obs, truth, key_init, key_run, burn_in: int, *,
               keep_ensemble: bool = False, progress: bool = True) -> tuple[dict, np.ndarray, AssimilationResult]:
    """``filt`` started by ``filt.init(x_init, init_std, key=key_init)`` and cycled over ``obs``
    (any pytree with leading axis ``K``, e.g. :func:`~jaxhybrid.assimilation.obs_windows`) with
    ``key_run``. Returns ``(scores, series, result)``: :func:`~jaxhybrid.assimilation.scores`
    after ``burn_in`` cycles plus ``wall_s`` (host seconds), the analysis RMSE per cycle ``(K,)``
    and the :class:`~jaxhybrid.assimilation.AssimilationResult`."""
    t0 = time.perf_counter()
    r = assimilate(filt, filt.init(x_init, init_std, key=key_init), obs, key_run, keep_ensemble=keep_ensemble,
                   progress=progress)
    sc = {**scores(r, truth, burn_in), "wall_s": time.perf_counter() - t0}
    return sc, np.asarray(rmse_series(r.mean_a, truth)), r


def free_run(hmm: HMM, x0, key, n_cycles: int) -> jax.Array:
    """The model alone from ``x0`` (no perturbation, no correction): states ``(n_cycles, d)`` at
    the observation times ``1..n_cycles``."""
    return simulate(hmm._replace(x0=x0, std0=0.0), key, n_cycles)[0]
