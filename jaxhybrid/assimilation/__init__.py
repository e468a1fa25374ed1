"""jaxhybrid.assimilation — data assimilation and hybrid forecasting (paradigm 3, ``alternate``).

A physics model forecasts, observations correct it, the analysis starts the next forecast.
Every method is a :class:`Filter` ``(init, forecast, analysis)``; :func:`assimilate` runs the
forecast ↔ analysis cycle as :func:`jaxhybrid.paradigms.cycle` inside one
:func:`jaxhybrid.rollout.rollout` (one ``jit``; ``vmap`` for batches of experiments).

Models (pure step functions): lorenz63, lorenz96, two_scale_l96 (Wilks 2005), pde_model (KS,
2D Navier–Stokes from :mod:`jaxhybrid.pde`). Observations: full, partial, nonlinear; HMM,
simulate. Filters: enkf (perturbed obs), etkf, letkf (Gaspari–Cohn), particle_filter, var3d,
var4d (adjoint by JAX, L-BFGS), ssls (score-based sequential Langevin). Metrics: rmse, crps_ensemble, rank_histogram, coverage.
"""

from .models import (rk4, lorenz63, lorenz63_rhs, lorenz96, lorenz96_rhs, two_scale_l96, two_scale_l96_rhs,
                     pde_model, forecast)
from .observations import HMM, Observation, full, gaussian_loglik, nonlinear, partial, simulate
from .base import (AssimilationResult, EnsembleState, Filter, assimilate, ensemble_forecast, inflate,
                   init_ensemble, weighted_mean, weighted_spread)
from .ensemble_kf import (enkf, enkf_update, etkf, etkf_update, gaspari_cohn, letkf, mean_preserving_rotation,
                          periodic_distance)
from .particle import effective_sample_size, normalise_log_weights, particle_filter, systematic_resample
from .variational import obs_windows, var3d, var4d, var4d_cost
from .ssls import ssls
from .metrics import coverage, crps_ensemble, rank_histogram, rmse, rmse_series

__all__ = [
    "rk4", "lorenz63", "lorenz63_rhs", "lorenz96", "lorenz96_rhs", "two_scale_l96", "two_scale_l96_rhs",
    "pde_model", "forecast", "HMM", "Observation", "full", "partial", "nonlinear", "gaussian_loglik", "simulate",
    "AssimilationResult", "EnsembleState", "Filter", "assimilate", "ensemble_forecast", "inflate", "init_ensemble",
    "weighted_mean", "weighted_spread", "enkf", "enkf_update", "etkf", "etkf_update", "gaspari_cohn", "letkf",
    "mean_preserving_rotation", "periodic_distance", "effective_sample_size", "normalise_log_weights",
    "particle_filter", "systematic_resample", "obs_windows", "var3d", "var4d", "var4d_cost", "coverage",
    "crps_ensemble", "rank_histogram", "rmse", "rmse_series", "ssls",
]
