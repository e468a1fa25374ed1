"""jaxhybrid.assimilation — data assimilation and hybrid forecasting (paradigm 3, ``alternate``).

A physics model forecasts, observations correct it, the analysis starts the next forecast.
Every method is a :class:`Filter` — an :class:`~jaxhybrid.algorithm.Algorithm` whose step is one
forecast ↔ analysis cycle (:func:`jaxhybrid.paradigms.cycle`): ``state = filt.init(x0, std0,
key=k)``, ``state, info = filt.step(state, key, y)``; ``filt.forecast`` and ``filt.analysis``
are its halves. :func:`assimilate` runs ``K`` cycles through :func:`jaxhybrid.rollout.evolve`
(on the host in chunks through :func:`jaxhybrid.driver.drive`, with a progress bar and a
divergence guard; under ``jit``/``vmap`` as one ``lax.scan``); :func:`experiments` runs batches
of experiments through :func:`jaxhybrid.ensemble.ensemble` (sharded over devices).

Models (pure step functions): lorenz63, lorenz96, two_scale_l96 (Wilks 2005), pde_model (KS,
2D Navier–Stokes from :mod:`jaxhybrid.pde`). Observations: full, partial, nonlinear; HMM,
simulate. Filters: enkf (perturbed obs), etkf, letkf (Gaspari–Cohn), particle_filter, var3d,
var4d (adjoint by JAX, L-BFGS), ssls (score-based sequential Langevin). Metrics: rmse, crps_ensemble,
rank_histogram, coverage, scores, lead_rmse. Closures and MOS (closure.py): subgrid_tendency,
two_scale_truth, coarse_model, LocalClosure, poly_closure, forecast_batch, linear_mos, ResidualMOS,
trajectory_windows, lead_targets. Twin experiments
(experiment.py): twin, run_filter, free_run; comparisons (comparison.py): compare_filters, twin_baselines,
twin_comparison, invert_arctan. Closure and MOS fitting (closure_training.py): fit_poly_closure, fit_regression,
fit_through_solver, closure_lead_rmse, persistence_lead_rmse, mos_pairs, fit_mos, mos_skill. Figure panels:
:mod:`.plots`.
"""

from .models import (rk4, lorenz63, lorenz63_rhs, lorenz96, lorenz96_rhs, two_scale_l96, two_scale_l96_rhs,
                     pde_model, forecast)
from .observations import HMM, Observation, climatology, full, gaussian_loglik, nonlinear, partial, simulate
from .base import (AssimilationResult, EnsembleState, Filter, assimilate, ensemble_forecast, experiments, inflate,
                   init_ensemble, make_filter, weighted_mean, weighted_spread)
from .ensemble_kf import (enkf, enkf_update, etkf, etkf_update, gaspari_cohn, letkf, mean_preserving_rotation,
                          periodic_distance)
from .particle import effective_sample_size, normalise_log_weights, particle_filter, systematic_resample
from .variational import obs_windows, var3d, var4d, var4d_cost
from .ssls import ssls
from .metrics import coverage, crps_ensemble, lead_rmse, rank_histogram, rmse, rmse_series, scores
from .closure import (LocalClosure, ResidualMOS, coarse_model, forecast_batch, lead_targets, linear_mos, poly_closure,
                      stencil, subgrid_tendency, trajectory_windows, two_scale_truth)
from .experiment import Twin, free_run, run_filter, twin
from .comparison import Comparison, compare_filters, invert_arctan, twin_baselines, twin_comparison
from .closure_training import (closure_lead_rmse, fit_mos, fit_poly_closure, fit_regression, fit_through_solver,
                               mos_pairs, mos_skill, persistence_lead_rmse)

__all__ = [
    "rk4", "lorenz63", "lorenz63_rhs", "lorenz96", "lorenz96_rhs", "two_scale_l96", "two_scale_l96_rhs",
    "pde_model", "forecast", "HMM", "Observation", "full", "partial", "nonlinear", "gaussian_loglik", "simulate",
    "climatology",
    "AssimilationResult", "EnsembleState", "Filter", "make_filter", "assimilate", "experiments", "ensemble_forecast",
    "inflate", "init_ensemble",
    "weighted_mean", "weighted_spread", "enkf", "enkf_update", "etkf", "etkf_update", "gaspari_cohn", "letkf",
    "mean_preserving_rotation", "periodic_distance", "effective_sample_size", "normalise_log_weights",
    "particle_filter", "systematic_resample", "obs_windows", "var3d", "var4d", "var4d_cost", "coverage",
    "crps_ensemble", "rank_histogram", "rmse", "rmse_series", "scores", "lead_rmse", "ssls", "LocalClosure",
    "coarse_model", "forecast_batch", "linear_mos", "poly_closure", "stencil", "subgrid_tendency", "two_scale_truth",
    "Twin", "twin", "run_filter", "free_run", "ResidualMOS", "trajectory_windows", "lead_targets",
    "compare_filters", "twin_baselines", "Comparison", "twin_comparison", "invert_arctan", "fit_poly_closure",
    "fit_regression", "fit_through_solver",
    "closure_lead_rmse", "persistence_lead_rmse", "mos_pairs", "fit_mos", "mos_skill",
]
