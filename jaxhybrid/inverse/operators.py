"""Forward operators ``F`` of imaging / PDE inverse problems, with adjoints where linear.

A :class:`LinearOperator` holds ``apply(x) = A x`` and ``adjoint(y) = Aᵀ y`` (the adjoint in the
Euclidean inner product of the arrays), plus the shapes. Every adjoint passes the dot-product
test ``⟨A x, y⟩ = ⟨x, Aᵀ y⟩`` (:func:`dot_product_test`, run in the tests).

* :func:`blur` — circular convolution with a point-spread function by FFT:
  ``A x = F⁻¹(K̂ · F x)``, ``Aᵀ y = F⁻¹(conj(K̂) · F y)`` (K̂: FFT of the PSF centred at 0).
* :func:`inpainting` — ``A x = m ⊙ x`` with a 0/1 mask (self-adjoint).
* :func:`subsampling` — keep every ``f``-th pixel per axis; adjoint: zero-filling.
* :func:`poisson_source` — the PDE map of the inverse-source problem: ``f ↦ u`` with
  ``−Δ_h u = f`` (homogeneous Dirichlet, second-order FD, fast sine-transform solve from
  :func:`jaxhybrid.pde.poisson_fd`), observed at given grid points. The discrete Dirichlet
  Laplacian is symmetric, so ``Aᵀ y = (−Δ_h)⁻¹ Sᵀ y`` with ``S`` the sampling operator.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.pde import poisson_fd

__all__ = ["LinearOperator", "blur", "gaussian_psf", "inpainting", "random_mask", "subsampling",
           "poisson_source", "compose", "dot_product_test", "operator_norm"]


class LinearOperator(NamedTuple):
    apply: Callable
    adjoint: Callable
    in_shape: Tuple[int, ...]
    out_shape: Tuple[int, ...]

    def __call__(self, x):
        return self.apply(x)


def _shape(name, shape):
    shape = tuple(int(s) for s in shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"{name}: shape must be a tuple of positive ints, got {shape!r}.")
    return shape


def gaussian_psf(size: int, sigma: float) -> np.ndarray:
    """Normalised ``size × size`` Gaussian point-spread function (odd ``size``)."""
    if size < 1 or size % 2 == 0 or sigma <= 0:
        raise ValueError(f"gaussian_psf: need an odd size >= 1 and sigma > 0, got {size}, {sigma}.")
    r = np.arange(size) - size // 2
    k = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return (k / k.sum()).astype(np.float32)


def blur(psf, shape: Sequence[int]) -> LinearOperator:
    """Circular convolution of images of ``shape`` with ``psf`` (centre at ``psf.shape // 2``)."""
    shape = _shape("blur", shape)
    psf = np.asarray(psf, np.float32)
    if psf.ndim != len(shape) or any(p > s for p, s in zip(psf.shape, shape)):
        raise ValueError(f"blur: psf of shape {psf.shape} does not fit images of shape {shape}.")
    pad = np.zeros(shape, np.float32)
    pad[tuple(slice(0, p) for p in psf.shape)] = psf
    pad = np.roll(pad, [-(p // 2) for p in psf.shape], axis=tuple(range(psf.ndim)))
    kh = jnp.asarray(np.fft.rfftn(pad))
    axes = tuple(range(-len(shape), 0))

    def apply(x):
        return jnp.fft.irfftn(jnp.fft.rfftn(x, axes=axes) * kh, s=shape, axes=axes).astype(x.dtype)

    def adjoint(y):
        return jnp.fft.irfftn(jnp.fft.rfftn(y, axes=axes) * jnp.conj(kh), s=shape, axes=axes).astype(y.dtype)

    return LinearOperator(apply, adjoint, shape, shape)


def random_mask(key, shape: Sequence[int], missing: float) -> jax.Array:
    """0/1 mask with a fraction ``missing`` of zeros (pixels dropped at random)."""
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"random_mask: missing must be in [0, 1), got {missing}.")
    return (jax.random.uniform(key, tuple(shape)) >= missing).astype(jnp.float32)


def inpainting(mask) -> LinearOperator:
    """``A x = m ⊙ x`` (missing pixels read as 0); ``Aᵀ = A``."""
    mask = jnp.asarray(mask, jnp.float32)
    shape = tuple(mask.shape)
    return LinearOperator(lambda x: mask * x, lambda y: mask * y, shape, shape)


def subsampling(factor: int, shape: Sequence[int]) -> LinearOperator:
    """Keep pixels ``x[::f, ::f]`` (every axis); adjoint puts them back and fills zeros."""
    shape = _shape("subsampling", shape)
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"subsampling: factor must be a positive int, got {factor!r}.")
    idx = tuple(slice(None, None, factor) for _ in shape)
    out_shape = tuple(len(range(0, s, factor)) for s in shape)

    def apply(x):
        return x[(Ellipsis,) + idx]

    def adjoint(y):
        z = jnp.zeros(y.shape[: y.ndim - len(shape)] + shape, y.dtype)
        return z.at[(Ellipsis,) + idx].set(y)

    return LinearOperator(apply, adjoint, shape, out_shape)


def poisson_source(shape: Sequence[int], extent, obs_index) -> LinearOperator:
    """``f ↦ (u_i)_{i ∈ obs}`` with ``−Δ_h u = f`` on a rectangle, ``u = 0`` on the boundary.

    Args:
        shape: interior grid ``(n_0, n_1)`` (unknowns of :func:`jaxhybrid.pde.poisson_fd`).
        extent: domain lengths, e.g. ``(1.0, 1.0)``.
        obs_index: tuple of integer index arrays (one per axis) of the observed grid points.
    """
    shape = _shape("poisson_source", shape)
    ext = tuple(float(e) for e in (extent if np.ndim(extent) else (extent,) * len(shape)))
    idx = tuple(jnp.asarray(i, jnp.int32) for i in obs_index)
    if len(idx) != len(shape) or len({int(i.shape[0]) for i in idx}) != 1:
        raise ValueError("poisson_source: obs_index must be one equally long index array per axis.")
    for i, n in zip(obs_index, shape):
        if np.any(np.asarray(i) < 0) or np.any(np.asarray(i) >= n):
            raise ValueError(f"poisson_source: observation indices must lie in [0, {n}).")
    m = int(idx[0].shape[0])

    def apply(f):
        return poisson_fd(f, ext, "dirichlet")[(Ellipsis,) + idx]

    def adjoint(y):
        z = jnp.zeros(y.shape[:-1] + shape, y.dtype).at[(Ellipsis,) + idx].add(y)
        return poisson_fd(z, ext, "dirichlet")

    return LinearOperator(apply, adjoint, shape, (m,))


def compose(outer: LinearOperator, inner: LinearOperator) -> LinearOperator:
    """``outer ∘ inner`` with adjoint ``innerᵀ ∘ outerᵀ``."""
    if tuple(inner.out_shape) != tuple(outer.in_shape):
        raise ValueError(f"compose: inner output {inner.out_shape} != outer input {outer.in_shape}.")
    return LinearOperator(lambda x: outer.apply(inner.apply(x)), lambda y: inner.adjoint(outer.adjoint(y)),
                          inner.in_shape, outer.out_shape)


def dot_product_test(op: LinearOperator, key, dtype=jnp.float32) -> jax.Array:
    """Relative mismatch ``|⟨Ax, y⟩ − ⟨x, Aᵀy⟩| / (‖Ax‖‖y‖)`` for random ``x, y``."""
    k1, k2 = jax.random.split(key)
    x = jax.random.normal(k1, op.in_shape, dtype)
    y = jax.random.normal(k2, op.out_shape, dtype)
    ax, aty = op.apply(x), op.adjoint(y)
    return jnp.abs(jnp.vdot(ax, y) - jnp.vdot(x, aty)) / (jnp.linalg.norm(ax) * jnp.linalg.norm(y))


def operator_norm(op: LinearOperator, key, n_iter: int = 50) -> jax.Array:
    """‖A‖₂ by power iteration on ``AᵀA``."""
    x = jax.random.normal(key, op.in_shape)

    def body(x, _):
        x = op.adjoint(op.apply(x))
        return x / jnp.linalg.norm(x), None

    x, _ = jax.lax.scan(body, x / jnp.linalg.norm(x), None, length=n_iter)
    return jnp.sqrt(jnp.linalg.norm(op.adjoint(op.apply(x))))
