"""jaxhybrid.inverse — Bayesian inverse problems ``y = F(x) + η`` (hybrid application layer).

Forward operators (with adjoints where linear):
    LinearOperator, blur, gaussian_psf, inpainting, random_mask, subsampling, poisson_source,
    compose, dot_product_test, operator_norm
Likelihood:      GaussianLikelihood, gaussian_likelihood
MAP baselines:   tikhonov (CG), tv_map (FISTA + Chambolle), total_variation, grad2d, div2d, tv_prox,
                 denoising_psnr (a denoiser against TV denoising)
Data:            load_images (scikit-image samples), extract_patches, random_source_fields, psnr
Posterior:       pnp_posterior (PnP-ULA + Tweedie error bar), annealed_posterior (annealed Langevin
                 with the noise-level-aware likelihood), linear_gaussian_posterior (closed form),
                 PosteriorSummary

Posterior sampling is paradigm 1 (``refine``): the mechanism's likelihood score plus a learned
prior score, fed to a sampler of :mod:`jaxhybrid.sampling` (see ``examples/prior_deblur.py``,
``examples/prior_poisson_source.py``).
"""

from .operators import (LinearOperator, blur, gaussian_psf, inpainting, random_mask, subsampling,
                        poisson_source, compose, dot_product_test, operator_norm)
from .likelihood import GaussianLikelihood, gaussian_likelihood
from .map import grad2d, div2d, total_variation, tikhonov, tv_prox, tv_map, denoising_psnr
from .data import IMAGE_NAMES, load_images, extract_patches, random_source_fields, psnr
from .posterior import PosteriorSummary, pnp_posterior, annealed_posterior, linear_gaussian_posterior

__all__ = [
    "LinearOperator", "blur", "gaussian_psf", "inpainting", "random_mask", "subsampling",
    "poisson_source", "compose", "dot_product_test", "operator_norm", "GaussianLikelihood",
    "gaussian_likelihood", "grad2d", "div2d", "total_variation", "tikhonov", "tv_prox", "tv_map", "denoising_psnr",
    "IMAGE_NAMES", "load_images", "extract_patches", "random_source_fields", "psnr",
    "PosteriorSummary", "pnp_posterior", "annealed_posterior", "linear_gaussian_posterior",
]
