"""Finite-strain kinematics and tensor notations (Holzapfel, *Nonlinear Solid Mechanics*, 2000).

For a deformation gradient ``F = ∂x/∂X`` (3×3, ``J = det F > 0``)::

    C = FᵀF  (right Cauchy–Green),   E = ½(C − I)  (Green–Lagrange),   b = FFᵀ,
    I₁ = tr C,   I₂ = ½[(tr C)² − tr C²],   I₃ = det C = J²,
    P = ∂W/∂F (first Piola–Kirchhoff),  S = F⁻¹P (second),  σ = J⁻¹PFᵀ (Cauchy).

Voigt and Mandel vectors of a symmetric tensor, order (11, 22, 33, 23, 13, 12)::

    Voigt stress  (σ11, σ22, σ33, σ23, σ13, σ12),   Voigt strain (ε11, …, 2ε23, 2ε13, 2ε12),
    Mandel        (a11, a22, a33, √2 a23, √2 a13, √2 a12)  — an isometry: a:b = â·b̂,

so a 4th-order tensor with minor symmetries becomes a 6×6 matrix that is symmetric positive
definite exactly when the tensor is (why SPD-NN works in Mandel form). 2D (plane) versions use
(11, 22, 12). All functions act on one tensor; ``vmap`` for batches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "right_cauchy_green", "left_cauchy_green", "green_lagrange", "invariants", "jacobian",
    "cauchy_from_pk1", "pk2_from_pk1", "pk1_from_pk2", "to_voigt", "from_voigt", "to_mandel",
    "from_mandel", "plane_strain_F", "random_rotation", "check_F",
]

_IDX3 = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
_IDX2 = ((0, 0), (1, 1), (0, 1))


def check_F(F) -> jax.Array:
    """Validate a (…, 3, 3) deformation gradient's shape (host-side ValueError)."""
    F = jnp.asarray(F)
    if F.shape[-2:] != (3, 3):
        raise ValueError(f"expected deformation gradients of shape (..., 3, 3), got {F.shape}; "
                         "embed 2D (plane-strain) gradients with plane_strain_F.")
    return F


def right_cauchy_green(F):
    """``C = FᵀF``."""
    return jnp.swapaxes(F, -1, -2) @ F


def left_cauchy_green(F):
    """``b = FFᵀ``."""
    return F @ jnp.swapaxes(F, -1, -2)


def green_lagrange(F):
    """``E = ½(FᵀF − I)``."""
    return 0.5 * (right_cauchy_green(F) - jnp.eye(F.shape[-1], dtype=F.dtype))


def jacobian(F):
    """``J = det F``."""
    return jnp.linalg.det(F)


def invariants(F):
    """``(I₁, I₂, J)`` of ``C = FᵀF``: ``I₁ = tr C``, ``I₂ = ½[(tr C)² − tr C²]``, ``J = det F``."""
    C = right_cauchy_green(F)
    I1 = jnp.trace(C, axis1=-2, axis2=-1)
    I2 = 0.5 * (I1**2 - jnp.sum(C * C, axis=(-2, -1)))
    return I1, I2, jacobian(F)


def cauchy_from_pk1(P, F):
    """``σ = J⁻¹ P Fᵀ``."""
    return P @ jnp.swapaxes(F, -1, -2) / jacobian(F)[..., None, None]


def pk2_from_pk1(P, F):
    """``S = F⁻¹ P``."""
    return jnp.linalg.solve(F, P)


def pk1_from_pk2(S, F):
    """``P = F S``."""
    return F @ S


def _pairs(n):
    if n == 3:
        return _IDX3
    if n == 2:
        return _IDX2
    raise ValueError(f"Voigt/Mandel maps need 2×2 or 3×3 tensors, got {n}×{n}.")


def to_voigt(A, strain: bool = False):
    """Voigt vector of a symmetric tensor (shear components doubled when ``strain``)."""
    n = A.shape[-1]
    idx = _pairs(n)
    w = jnp.asarray([1.0 if i == j else (2.0 if strain else 1.0) for i, j in idx], A.dtype)
    return jnp.stack([A[..., i, j] for i, j in idx], axis=-1) * w


def from_voigt(v, strain: bool = False):
    """Inverse of :func:`to_voigt`."""
    m = v.shape[-1]
    n = {6: 3, 3: 2}.get(m)
    if n is None:
        raise ValueError(f"Voigt vectors have 6 (3D) or 3 (2D) entries, got {m}.")
    idx = _pairs(n)
    A = jnp.zeros(v.shape[:-1] + (n, n), v.dtype)
    for k, (i, j) in enumerate(idx):
        val = v[..., k] / (2.0 if (strain and i != j) else 1.0)
        A = A.at[..., i, j].set(val).at[..., j, i].set(val)
    return A


def to_mandel(A):
    """Mandel vector (shear components × √2): ``A:B = to_mandel(A)·to_mandel(B)``."""
    n = A.shape[-1]
    idx = _pairs(n)
    w = jnp.asarray([1.0 if i == j else jnp.sqrt(2.0) for i, j in idx], A.dtype)
    return jnp.stack([A[..., i, j] for i, j in idx], axis=-1) * w


def from_mandel(v):
    """Inverse of :func:`to_mandel`."""
    m = v.shape[-1]
    n = {6: 3, 3: 2}.get(m)
    if n is None:
        raise ValueError(f"Mandel vectors have 6 (3D) or 3 (2D) entries, got {m}.")
    idx = _pairs(n)
    A = jnp.zeros(v.shape[:-1] + (n, n), v.dtype)
    for k, (i, j) in enumerate(idx):
        val = v[..., k] / (1.0 if i == j else jnp.sqrt(2.0))
        A = A.at[..., i, j].set(val).at[..., j, i].set(val)
    return A


def plane_strain_F(F2):
    """Embed a 2×2 in-plane gradient as the 3×3 plane-strain ``F`` (``F33 = 1``, no coupling)."""
    F = jnp.zeros(F2.shape[:-2] + (3, 3), F2.dtype)
    return F.at[..., :2, :2].set(F2).at[..., 2, 2].set(1.0)


def random_rotation(key, shape=(), dtype=None):
    """Haar-uniform rotations in SO(3) (QR of a Gaussian matrix with the sign fix of
    Mezzadri, Notices AMS 54 (2007) 592, then det = +1)."""
    dtype = dtype or jnp.zeros(()).dtype
    A = jax.random.normal(key, tuple(shape) + (3, 3), dtype)
    Q, R = jnp.linalg.qr(A)
    Q = Q * jnp.sign(jnp.diagonal(R, axis1=-2, axis2=-1))[..., None, :]
    d = jnp.linalg.det(Q)
    return Q.at[..., :, 0].multiply(d[..., None])
