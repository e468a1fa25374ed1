"""jaxhybrid.inverse — Bayesian inverse problems ``y = F(x) + η`` (hybrid application layer).

Forward operators (with adjoints where linear):
    LinearOperator, blur, gaussian_psf, inpainting, random_mask, subsampling, poisson_source,
    compose, dot_product_test, operator_norm
Likelihood:      GaussianLikelihood, gaussian_likelihood, noisy_observations (a batch of y = F(x) + σ η),
                 point_observations (a field at random nodes, noise relative to its RMS)
MAP baselines:   tikhonov (CG), tv_map (FISTA + Chambolle), total_variation, grad2d, div2d, tv_prox,
                 denoising_psnr (a denoiser against TV denoising), tune_weight (oracle λ),
                 tuned_map (oracle-tuned Tikhonov / TV, one compiled program, batches by vmap),
                 gradient_precision (dense ∇ᵀ∇, Tikhonov's prior precision)
Data:            load_images (scikit-image samples), extract_patches, textured_patches,
                 random_source_fields, psnr
Learned prior:   train_patch_prior, TrainedPrior (DSM on image patches), patch_prior_from_config (the
                 same from a configuration naming its images), score_network_like (its network's shapes),
                 prior_denoising_psnr, textured_denoising_psnr (its denoiser on the most textured patches
                 of an unseen image); a Gaussian fitted to samples plus a DSM-trained correction:
                 conv_correction, train_residual_correction, validate_correction_weight (the correction's
                 weight on validation fields), heldout_dsm (the correction against its base)
Tasks:           image_task, ImageTask (deblurring / inpainting with data-as-argument likelihood score),
                 task_posterior (PnP-ULA on a task with the stability-rule step), validate_pnp (σ, α on a
                 validation task)
Source problem:  source_problem, SourceProblem (−Δu = f observed at random nodes: operator, generator
                 training fields, fitted Gaussian, noise level), random_nodes
Data-only:       train_regressor (a network from observations to the unknown), train_patch_regressor (the
                 prior's patches and architecture, trained to undo F), deblur_regressor_from_config,
                 residual_estimate, observation_mlp, train_observation_mlp (an MLP from few observations)
Gradients:       fd_gradient (central finite differences as a custom_vjp, the no-adjoint baseline)
Plots:           show_images (truth / estimate / std / error panels), posterior_panels (the panels of a
                 truth / baselines / posterior mean / std / error comparison)
Posterior:       pnp_posterior (PnP-ULA + Tweedie error bar), score_pnp_posterior (a score network as
                 the prior), annealed_posterior (annealed Langevin with the noise-level-aware
                 likelihood), annealed_sampler (it compiled once for a batch of observations),
                 linear_gaussian_posterior (closed form), tikhonov_posterior (Tikhonov's own error bar),
                 PosteriorSummary

Posterior sampling is paradigm 1 (``refine``): the mechanism's likelihood score plus a learned
prior score, fed to a sampler of :mod:`jaxhybrid.sampling` (see ``examples/prior_deblur.py``,
``examples/prior_poisson_source.py``).
"""

from .operators import (LinearOperator, blur, gaussian_psf, inpainting, random_mask, subsampling,
                        poisson_source, compose, dot_product_test, operator_norm)
from .likelihood import GaussianLikelihood, gaussian_likelihood, noisy_observations, point_observations
from .map import (grad2d, div2d, total_variation, tikhonov, tv_prox, tv_map, denoising_psnr, tune_weight,
                  tuned_map, gradient_precision)
from .data import IMAGE_NAMES, load_images, extract_patches, textured_patches, random_source_fields, psnr
from .priors import (TrainedPrior, train_patch_prior, patch_prior_from_config, score_network_like,
                     prior_denoising_psnr, textured_denoising_psnr)
from .residual_prior import conv_correction, train_residual_correction, validate_correction_weight, heldout_dsm
from .source_problem import SourceProblem, source_problem, random_nodes
from .tasks import ImageTask, image_task
from .regression import (train_regressor, residual_estimate, train_patch_regressor, deblur_regressor_from_config,
                         observation_mlp, train_observation_mlp)
from .pnp_tasks import task_posterior, validate_pnp
from .gradients import fd_gradient
from .plots import show_images, posterior_panels
from .posterior import (PosteriorSummary, pnp_posterior, score_pnp_posterior, annealed_posterior, annealed_sampler,
                        linear_gaussian_posterior, tikhonov_posterior)

__all__ = [
    "LinearOperator", "blur", "gaussian_psf", "inpainting", "random_mask", "subsampling",
    "poisson_source", "compose", "dot_product_test", "operator_norm", "GaussianLikelihood",
    "gaussian_likelihood", "noisy_observations", "point_observations", "grad2d", "div2d", "total_variation",
    "tikhonov", "tv_prox", "tv_map", "denoising_psnr", "tune_weight", "gradient_precision", "IMAGE_NAMES",
    "load_images",
    "extract_patches", "textured_patches", "random_source_fields", "psnr", "TrainedPrior", "train_patch_prior",
    "train_regressor", "fd_gradient", "show_images",
    "PosteriorSummary", "pnp_posterior", "score_pnp_posterior", "annealed_posterior", "linear_gaussian_posterior",
    "prior_denoising_psnr", "ImageTask", "image_task", "residual_estimate", "train_patch_regressor",
    "task_posterior", "validate_pnp", "annealed_sampler", "tuned_map", "patch_prior_from_config",
    "textured_denoising_psnr", "conv_correction", "train_residual_correction", "validate_correction_weight",
    "SourceProblem", "source_problem", "random_nodes", "deblur_regressor_from_config", "observation_mlp",
    "train_observation_mlp", "tikhonov_posterior", "score_network_like", "posterior_panels",
    "heldout_dsm",
]
