"""Image restoration tasks ready for posterior sampling: the operator, the data, the likelihood score
with the data as an argument, and a start for the chains.

Two tasks on a clean image ``x`` with Gaussian noise of std σ:

* ``"deblur"`` — ``y = k ⋆ x + σ η`` (circular blur by the PSF ``k``, :func:`~jaxhybrid.inverse.blur`);
* ``"inpaint"`` — ``y = m ⊙ (x + σ η)`` with a random binary mask ``m`` of ``missing`` fraction
  zeros (:func:`~jaxhybrid.inverse.inpainting`).

``likelihood_score(z, data)`` is ``∇_z log p(y | z) = Aᵀ(y − A z)/σ²`` with ``y`` (and, for
inpainting, the mask) read from ``data``, so one compiled sampler serves any observation
(:func:`~jaxhybrid.inverse.score_pnp_posterior`). The start is the Tikhonov estimate with a
fixed gradient-penalty weight (a cheap warm start that shortens burn-in; not a tuned baseline).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from .likelihood import gaussian_likelihood
from .map import tikhonov
from .operators import LinearOperator, blur, inpainting, random_mask

__all__ = ["ImageTask", "image_task"]


class ImageTask(NamedTuple):
    """``op`` (A), observations ``y``, ``likelihood_score(z, data)``, the chains' ``start`` and ``data``
    (``y`` for deblurring, ``(y, mask)`` for inpainting)."""

    op: LinearOperator
    y: jax.Array
    likelihood_score: Callable
    start: jax.Array
    data: Any


def image_task(kind: str, x, noise: float, key, *, psf=None, mask_key=None, missing: float = 0.5,
               start_weight: float = 0.03) -> ImageTask:
    """The ``kind`` (``"deblur"`` or ``"inpaint"``) problem on the clean image ``x`` ``(H, W)``
    (module docstring). ``key`` draws the noise; deblurring needs ``psf``, inpainting ``mask_key``."""
    x = jnp.asarray(x)
    if not noise > 0:
        raise ValueError(f"image_task: noise must be a std > 0, got {noise}.")
    if kind == "deblur":
        if psf is None:
            raise ValueError("image_task: 'deblur' needs a psf (e.g. gaussian_psf(9, 1.5)).")
        op = blur(psf, x.shape)
        y = op.apply(x) + noise * jax.random.normal(key, x.shape)
        return ImageTask(op, y, lambda z, d: gaussian_likelihood(op, d, noise).score(z),
                         tikhonov(op, y, start_weight), y)
    if kind == "inpaint":
        if mask_key is None:
            raise ValueError("image_task: 'inpaint' needs a mask_key for the random mask.")
        mask = random_mask(mask_key, x.shape, missing)
        op = inpainting(mask)
        y = op.apply(x + noise * jax.random.normal(key, x.shape))
        return ImageTask(op, y, lambda z, d: gaussian_likelihood(inpainting(d[1]), d[0], noise).score(z),
                         tikhonov(op, y, start_weight), (y, mask))
    raise ValueError(f"image_task: kind must be 'deblur' or 'inpaint', got {kind!r}.")
