"""jaxhybrid.pinn — physics-informed neural networks (paradigm 2: data constrained by physics).

Geometry and collocation (``geometry``, ``sampling``):
    Box, Disk, Union, Difference            — shapes with sdf, interior/boundary samplers, CSG
    resample, rar, rad, failure_informed, gaussian_mixture, fit_gmm, sample_gmm
                                            — fixed/resampled/adaptive collocation
Operators on networks (``operators``, forward/Taylor mode):
    gradient, divergence, laplacian, value_and_laplacian, partial, time_derivative, on_points
Problems and losses (``losses``; built on :func:`jaxhybrid.paradigms.constrain`):
    Problem, least_squares, grad_norm_weights, causal_weights, causal_loss, rel_l2
Optimisation (``optim``; every optimiser runs through :func:`jaxhybrid.train.fit`):
    levenberg_marquardt (a Trainer: damped Gauss–Newton on residual rows, float64 least squares),
    until_lm_converged, until_stalled (``fit(..., until=...)`` stops; Adam → L-BFGS pipelines use
    ``optax.adam``/``optax.lbfgs`` directly), one_blas_thread.
Spectral bases for unknown fields (``bases``): Chebyshev2D.
Multi-stage networks (``multistage``, Wang & Lai 2024): SinMLP, MultiStage,
    dominant_frequency.

Hard boundary conditions use :class:`jaxhybrid.paradigms.HardConstraint`.
"""

from .geometry import Box, Disk, Union, Difference, Shape
from .operators import gradient, divergence, laplacian, value_and_laplacian, partial, time_derivative, on_points
from .sampling import resample, rar, rad, failure_informed, FailureInformed, gaussian_mixture, fit_gmm, sample_gmm, GMM
from .losses import Problem, least_squares, grad_norm_weights, causal_weights, causal_loss, rel_l2
from .multistage import SinMLP, MultiStage, dominant_frequency
from .bases import Chebyshev2D
from .optim import LMState, levenberg_marquardt, one_blas_thread, until_lm_converged, until_stalled

__all__ = [
    "Box", "Disk", "Union", "Difference", "Shape",
    "gradient", "divergence", "laplacian", "value_and_laplacian", "partial", "time_derivative", "on_points",
    "resample", "rar", "rad", "failure_informed", "FailureInformed", "gaussian_mixture", "fit_gmm", "sample_gmm", "GMM",
    "Problem", "least_squares", "grad_norm_weights", "causal_weights", "causal_loss", "rel_l2",
    "levenberg_marquardt", "LMState", "until_lm_converged", "until_stalled", "one_blas_thread",
    "SinMLP", "MultiStage", "dominant_frequency", "Chebyshev2D",
]
