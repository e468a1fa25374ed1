"""A learned image prior: a score network trained by denoising score matching on image patches.

:func:`train_patch_prior` is the recipe of ``prior-deblur``: random flipped/rotated ``patch ×
patch`` crops of the training images (:func:`~jaxhybrid.inverse.extract_patches`), a network
from its configuration (:func:`~jaxhybrid.sampling.score_network`) and noise-level-conditional
DSM (Vincent 2011; σ log-uniform in ``sigma_range``, :func:`~jaxhybrid.sampling.train_score`).
The prior then enters PnP-ULA through Tweedie's denoiser ``D_σ(x) = x + σ² s_θ(x, σ)``
(:func:`~jaxhybrid.inverse.pnp_posterior`). A ``checkpoint_dir`` keyed by the configuration
(:func:`jaxhybrid.cache.cache_dir`) makes a finished training a cache hit;
:func:`patch_prior_from_config` trains it from one configuration that names its images (the
``train`` of :func:`jaxhybrid.pretrained.obtain`, which keys stored weights by that configuration;
:func:`score_network_like` is its ``like``: the network's structure without initialising it).

:func:`prior_denoising_psnr` measures the prior where it is used, as the denoiser ``D_σ``: its
PSNR against the noisy input and tuned TV denoising (:func:`~jaxhybrid.inverse.denoising_psnr`)
at several σ. A learned prior helps deblurring roughly as much as its denoiser beats TV.
:func:`textured_denoising_psnr` does so on the most textured patches of an image (a hard test set;
take an image no network trained on).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.sampling import denoiser_from_score, score_network, train_score

from .data import extract_patches, load_images, textured_patches
from .map import denoising_psnr

__all__ = ["TrainedPrior", "train_patch_prior", "patch_prior_from_config", "score_network_like",
           "prior_denoising_psnr", "textured_denoising_psnr"]

_KEYS = ("patch", "patches", "steps", "batch", "lr", "sigma_range")


class TrainedPrior(NamedTuple):
    """The trained network, its training patches ``(n, p, p)`` and the per-chunk loss records."""

    net: Any
    patches: np.ndarray
    history: list


def train_patch_prior(images: Sequence[np.ndarray], config: dict, seed: int, *, checkpoint_dir=None,
                      desc: str = "DSM prior", loop: str = "host", progress: bool = True) -> TrainedPrior:
    """Train a noise-conditional image score by DSM on patches of ``images``.

    ``config``: the network keys of :func:`~jaxhybrid.sampling.score_network` plus ``patch``
    (side), ``patches`` (count), ``steps``, ``batch``, ``lr`` (cosine-decayed Adam, clipped) and
    ``sigma_range`` ``(σ_min, σ_max)``. Patches are drawn with ``seed``, the network initialised
    with ``PRNGKey(seed)`` and trained with ``PRNGKey(seed + 1)``; ``loop="host"`` suits
    convolutional networks on a CPU (see :func:`jaxhybrid.train.fit`).
    """
    missing = [k for k in _KEYS if k not in config]
    if missing:
        raise ValueError(f"train_patch_prior: the configuration lacks {missing}.")
    patches = extract_patches(images, config["patch"], config["patches"], seed=seed)
    net = score_network(config, jax.random.PRNGKey(seed))
    res = train_score(net, patches, config["sigma_range"], steps=config["steps"], batch_size=config["batch"],
                      learning_rate=config["lr"], key=jax.random.PRNGKey(seed + 1), continuous=True, loop=loop,
                      log_every=max(1, config["steps"] // 10), desc=desc, checkpoint_dir=checkpoint_dir,
                      progress=progress)
    return TrainedPrior(res.params, patches, res.history)


def patch_prior_from_config(config: dict):
    """:func:`train_patch_prior` on the images named ``config["images"]`` (:func:`~jaxhybrid.inverse.load_images`)
    with ``seed = config["seed"]``: returns ``(network, {"final_dsm_loss": last logged DSM loss or None})``,
    the ``train`` protocol of :func:`jaxhybrid.pretrained.obtain`."""
    missing = [k for k in ("images", "seed") if k not in config]
    if missing:
        raise ValueError(f"patch_prior_from_config: the configuration lacks {missing}.")
    ims = load_images(tuple(config["images"]))
    tp = train_patch_prior([ims[n] for n in config["images"]], config, config["seed"])
    return tp.net, {"final_dsm_loss": tp.history[-1]["loss_mean"] if tp.history else None}


def score_network_like(config: dict, meta: Optional[dict] = None):
    """The structure of ``score_network(config)`` (shapes and dtypes only, ``equinox.filter_eval_shape``: no
    initialisation cost) — the ``like`` of :func:`jaxhybrid.pretrained.obtain` for the networks of
    :func:`patch_prior_from_config` and :func:`~jaxhybrid.inverse.deblur_regressor_from_config`."""
    return eqx.filter_eval_shape(score_network, config, jax.random.PRNGKey(0))


def prior_denoising_psnr(score_net, clean, sigmas: Sequence[float], key, *,
                         tv_weights: Callable[[float], Sequence[float]]) -> dict:
    """``{σ: {"noisy", "denoiser", "tv"}}`` PSNRs (dB) of Tweedie's denoiser ``D_σ(x) = x + σ² s_θ(x, σ)``
    of ``score_net`` on ``clean`` images ``(B, H, W)`` with noise σ drawn from ``key`` (the same key
    at every σ), against TV denoising with the best weight of ``tv_weights(σ)``."""
    if len(sigmas) == 0:
        raise ValueError("prior_denoising_psnr: pass at least one noise level sigma.")
    x = jnp.asarray(clean)
    return {s: denoising_psnr(lambda xn: _denoise(score_net, xn, s), x, s, key, tv_weights=tv_weights(s))
            for s in sigmas}


@eqx.filter_jit
def _denoise(net, xn, s):
    return jax.vmap(lambda a: denoiser_from_score(lambda z: net(z, s), s)(a))(xn)


def textured_denoising_psnr(score_net, image: np.ndarray, sigmas: Sequence[float], key, *, size: int, n: int,
                            n_candidates: int, patch_seed: int,
                            tv_weights: Callable[[float], Sequence[float]]) -> dict:
    """:func:`prior_denoising_psnr` (``{σ: {"noisy", "denoiser", "tv"}}``, dB) on the ``n`` most textured of
    ``n_candidates`` random ``size × size`` patches of ``image`` (:func:`~jaxhybrid.inverse.textured_patches`,
    drawn with ``patch_seed``), noise from ``key``: the prior's quality where PnP-ULA uses it, on an
    image it never saw."""
    x = textured_patches(image, size, n, n_candidates, seed=patch_seed)
    return prior_denoising_psnr(score_net, x, sigmas, key, tv_weights=tv_weights)
