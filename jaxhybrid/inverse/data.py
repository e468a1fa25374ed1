"""Data for the learned-prior inverse problems.

* :func:`load_images` — grey-level sample images that ship inside scikit-image (no download),
  as float32 in [0, 1].
* :func:`extract_patches` — random square patches (training data of a patch prior), with
  random flips / 90° rotations (the statistics of natural images are invariant to them);
  :func:`textured_patches` keeps the most textured of many (a hard test set for a denoiser).
* :func:`random_source_fields` — random source fields for the Poisson inverse-source problem:
  a sum of ``K`` Gaussian bumps with random centres, widths and signed amplitudes, vanishing
  near the boundary. Sparse, localised, non-Gaussian: a learned prior can exploit that
  structure, a quadratic (Tikhonov) regulariser cannot.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["IMAGE_NAMES", "load_images", "extract_patches", "textured_patches", "random_source_fields", "psnr"]

#: sample images that ship with scikit-image (converted to grey; "motorcycle" is the left view of
#: ``stereo_motorcycle``) and, for "grace_hopper", with matplotlib (``mpl-data/sample_data``)
IMAGE_NAMES = ("camera", "astronaut", "coins", "moon", "text", "page", "brick", "grass", "gravel",
               "clock", "coffee", "chelsea", "rocket", "cell", "motorcycle", "grace_hopper")


def load_images(names: Sequence[str] = IMAGE_NAMES) -> dict:
    """``{name: float32 array (H, W) in [0, 1]}`` from ``skimage.data`` or matplotlib's sample data
    (colour → luminance)."""
    import skimage.data
    from skimage.color import rgb2gray

    out = {}
    for n in names:
        if n not in IMAGE_NAMES:
            raise ValueError(f"load_images: unknown image {n!r}; choose from {IMAGE_NAMES}.")
        if n == "motorcycle":
            im = skimage.data.stereo_motorcycle()[0]
        elif n == "grace_hopper":
            import matplotlib.cbook
            import matplotlib.image

            with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
                im = matplotlib.image.imread(f, format="jpg")
        else:
            im = getattr(skimage.data, n)()
        if im.ndim == 3:
            im = rgb2gray(im[..., :3])
        else:
            im = im.astype(np.float64) / (255.0 if im.dtype == np.uint8 else 1.0)
        out[n] = np.asarray(im, np.float32)
    return out


def extract_patches(images: Sequence[np.ndarray], size: int, n: int, seed: int = 0, augment: bool = True) -> np.ndarray:
    """``n`` random ``size × size`` patches drawn uniformly over the given images."""
    if size < 1 or n < 1:
        raise ValueError(f"extract_patches: need size >= 1 and n >= 1, got {size}, {n}.")
    images = [np.asarray(im, np.float32) for im in images]
    for im in images:
        if im.ndim != 2 or min(im.shape) < size:
            raise ValueError(f"extract_patches: images must be 2-D and at least {size} wide, got {im.shape}.")
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(images), n)
    out = np.empty((n, size, size), np.float32)
    for j, w in enumerate(which):
        im = images[w]
        i0 = rng.integers(0, im.shape[0] - size + 1)
        j0 = rng.integers(0, im.shape[1] - size + 1)
        p = im[i0:i0 + size, j0:j0 + size]
        if augment:
            p = np.rot90(p, rng.integers(0, 4))
            if rng.random() < 0.5:
                p = p[:, ::-1]
        out[j] = p
    return out


def textured_patches(image: np.ndarray, size: int, n: int, n_candidates: int, seed: int = 0) -> np.ndarray:
    """The ``n`` patches of largest pixel standard deviation among ``n_candidates`` random
    ``size × size`` patches of ``image`` (no flips or rotations), ordered by increasing std."""
    if not 1 <= n <= n_candidates:
        raise ValueError(f"textured_patches: need 1 <= n <= n_candidates, got n={n}, n_candidates={n_candidates}.")
    cand = extract_patches([image], size, n_candidates, seed=seed, augment=False)
    return cand[np.argsort(cand.std(axis=(1, 2)))[-n:]]


def random_source_fields(key, n: int, shape: Sequence[int], n_bumps: int = 4, width=(0.04, 0.12),
                         amplitude=(-1.0, 1.0), margin: float = 0.15) -> jax.Array:
    """``n`` source fields on the interior grid of the unit square (Dirichlet nodes
    ``x_i = (i+1)/(N+1)``): ``f(x) = Σ_k a_k exp(−‖x − c_k‖²/(2 w_k²))``,
    ``c_k ~ U[margin, 1 − margin]²``, ``w_k ~ U(width)``, ``a_k ~ U(amplitude)``, scaled by 10."""
    if n < 1 or n_bumps < 1:
        raise ValueError(f"random_source_fields: need n >= 1 and n_bumps >= 1, got {n}, {n_bumps}.")
    return _bump_fields(key, int(n), tuple(int(s) for s in shape), int(n_bumps), tuple(map(float, width)),
                        tuple(map(float, amplitude)), float(margin))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5, 6))
def _bump_fields(key, n, shape, n_bumps, width, amplitude, margin):
    axes = [jnp.arange(1, s + 1, dtype=jnp.float32) / (s + 1) for s in shape]
    X, Y = jnp.meshgrid(*axes, indexing="ij")
    kc, kw, ka = jax.random.split(key, 3)
    c = jax.random.uniform(kc, (n, n_bumps, 2), minval=margin, maxval=1 - margin)
    w = jax.random.uniform(kw, (n, n_bumps), minval=width[0], maxval=width[1])
    a = jax.random.uniform(ka, (n, n_bumps), minval=amplitude[0], maxval=amplitude[1])
    d2 = (X[None, None] - c[..., 0, None, None]) ** 2 + (Y[None, None] - c[..., 1, None, None]) ** 2
    return 10.0 * jnp.sum(a[..., None, None] * jnp.exp(-d2 / (2 * w[..., None, None] ** 2)), axis=1)


def psnr(x, ref, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(range² / MSE)`` in dB."""
    mse = float(jnp.mean((jnp.asarray(x) - jnp.asarray(ref)) ** 2))
    return 10.0 * np.log10(data_range**2 / max(mse, 1e-30))
