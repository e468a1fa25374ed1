"""jaxhybrid.pinn — physics-informed neural networks (paradigm 2: data constrained by physics).

Geometry and collocation (``geometry``, ``sampling``):
    Box, Disk, Union, Difference            — shapes with sdf, interior/boundary samplers, CSG;
    Box.grid, Rescaled                      — tensor grids; a network on [−1, 1]^d applied on a box
    resample, rar, rad, failure_informed, gaussian_mixture, fit_gmm, sample_gmm
                                            — fixed/resampled/adaptive collocation
    adaptive_fit (``adaptive``)              — Adam rounds with collocation redrawn between them, then L-BFGS
Operators on networks (``operators``, forward/Taylor mode):
    gradient, divergence, laplacian, value_and_laplacian, partial, time_derivative, on_points
Problems and losses (``losses``; built on :func:`jaxhybrid.paradigms.constrain`):
    Problem, least_squares, grad_norm_weights, causal_weights, causal_loss (errors: jaxhybrid.metrics.rel_l2)
Optimisation (``optim``; every optimiser runs through :func:`jaxhybrid.train.fit`):
    levenberg_marquardt (a Trainer: damped Gauss–Newton on residual rows, float64 least squares),
    lm_fit (it through fit in one call, with optional early stopping on held-out data: holdout),
    lm_regression (a network regressed on observations by lm_fit: a PINN's data-only baseline),
    until_lm_converged, until_stalled (``fit(..., until=...)`` stops; Adam → L-BFGS pipelines use
    ``optax.adam``/``optax.lbfgs`` directly), one_blas_thread.
Spectral bases for unknown fields (``bases``): Chebyshev2D.
Inverse source problems −Δu = f (``source``): SourceFields, source_terms, poisson_residual,
    fit_source (collocation, hold-out and LM in one call).
Manufactured test problems (submodules, each with ``u_true``, ``f_true``, its networks and errors):
    manufactured_source — the inverse source problem on the unit square (u* = s₁ + 0.2 s₂, 63² FD grid);
    manufactured_peak   — a Poisson problem with a sharp Gaussian peak on (−1, 1)² (adaptive collocation).
Plots (``plots``): show_fields (maps of fields, errors and collocation points on a 2-D box).
Multi-stage networks (``multistage``, Wang & Lai 2024): SinMLP, MultiStage,
    dominant_frequency, regression_stages, pinn_stages.

Hard boundary conditions use :class:`jaxhybrid.paradigms.HardConstraint`.
"""

from .geometry import Box, Disk, Union, Difference, Shape, Rescaled
from .operators import gradient, divergence, laplacian, value_and_laplacian, partial, time_derivative, on_points
from .sampling import resample, rar, rad, failure_informed, FailureInformed, gaussian_mixture, fit_gmm, sample_gmm, GMM
from .losses import Problem, least_squares, grad_norm_weights, causal_weights, causal_loss
from .multistage import SinMLP, MultiStage, dominant_frequency, pinn_stages, regression_stages
from .bases import Chebyshev2D
from .optim import (LMState, holdout, levenberg_marquardt, lm_fit, lm_regression, one_blas_thread, until_lm_converged,
                    until_stalled)
from .source import SourceFields, source_terms, poisson_residual, fit_source
from .plots import show_fields
from .adaptive import adaptive_fit
from . import manufactured_peak, manufactured_source

__all__ = [
    "Box", "Disk", "Union", "Difference", "Shape", "Rescaled",
    "gradient", "divergence", "laplacian", "value_and_laplacian", "partial", "time_derivative", "on_points",
    "resample", "rar", "rad", "failure_informed", "FailureInformed", "gaussian_mixture", "fit_gmm", "sample_gmm", "GMM",
    "Problem", "least_squares", "grad_norm_weights", "causal_weights", "causal_loss",
    "levenberg_marquardt", "lm_fit", "holdout", "SourceFields", "source_terms", "adaptive_fit", "LMState",
    "until_lm_converged", "until_stalled", "one_blas_thread",
    "SinMLP", "MultiStage", "dominant_frequency", "regression_stages", "pinn_stages", "Chebyshev2D",
    "lm_regression", "poisson_residual", "fit_source", "show_fields", "manufactured_peak", "manufactured_source",
]
