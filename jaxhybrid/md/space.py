"""Periodic simulation boxes: orthorhombic and triclinic, displacement and wrapping.

A box is a :class:`Box` holding the cell matrix ``H`` whose **rows** are the lattice vectors
``a, b, c`` (the extended-XYZ / ASE convention), so a fractional coordinate ``s`` maps to the
Cartesian ``r = s @ H`` and ``s = r @ H⁻¹``.

Minimum image (Allen & Tildesley, *Computer Simulation of Liquids*, 2nd ed., §1.6.3)::

    d = r_j - r_i,   s = d @ H⁻¹,   s ← s - round(s),   d_min = s @ H.

For a triclinic cell this is the *true* nearest image of every pair closer than half the
smallest perpendicular width ``w_min = min_k 1/|b_k|`` (``b_k`` the reciprocal vectors): then
``|s_k| = |d·b_k| ≤ |d|/w_k < 1/2``, so the rounded image is the one. Beyond that radius the
rounded image can be wrong, which is the classic silent error of small periodic boxes. This
module therefore exposes :func:`min_image_ok`; the neighbour lists use minimum image only when
``cutoff + skin < w_min / 2`` and otherwise switch to explicit image shifts (multi-image), so a
small box gives correct forces instead of a wrong answer.

Positions are kept **unwrapped** by the integrators (needed for MSD and for the image shifts
stored in multi-image neighbour lists); :func:`wrap` maps them into the cell for output.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Box",
    "make_box",
    "orthorhombic",
    "triclinic",
    "displacement",
    "wrap",
    "to_fractional",
    "to_cartesian",
    "perpendicular_widths",
    "min_image_ok",
    "volume",
]


class Box(eqx.Module):
    """Periodic cell. ``matrix``: (3, 3) with lattice vectors as rows. ``is_orthorhombic`` is
    static (decided on the host when the box is made), so the cheaper diagonal minimum image
    is chosen at trace time and survives ``jit``/``vmap``."""

    matrix: jax.Array
    is_orthorhombic: bool = eqx.field(static=True, default=False)

    @property
    def lengths(self) -> jax.Array:
        return jnp.diagonal(self.matrix, axis1=-2, axis2=-1)

    def general(self) -> "Box":
        """The same cell flagged triclinic (used when a strain may make it non-diagonal)."""
        return Box(self.matrix, False)


def make_box(box) -> Box:
    """Turn a scalar ``L`` (cube), a length-3 vector (orthorhombic) or a (3, 3) matrix (rows =
    lattice vectors) into a :class:`Box`. Raises ``ValueError`` for other shapes or a cell with
    non-positive volume."""
    if isinstance(box, Box):
        return box
    b = jnp.asarray(box)
    if not jnp.issubdtype(b.dtype, jnp.floating):
        b = b.astype(jnp.zeros(()).dtype)
    if b.ndim == 0:
        m = jnp.eye(3, dtype=b.dtype) * b
    elif b.shape == (3,):
        m = jnp.diag(b)
    elif b.shape == (3, 3):
        m = b
    else:
        raise ValueError(
            f"box must be a scalar, a (3,) vector of lengths or a (3, 3) cell matrix with lattice "
            f"vectors as rows; got shape {b.shape}."
        )
    if isinstance(m, jax.core.Tracer):
        return Box(m, False)
    mn = np.asarray(m, np.float64)
    det = float(np.linalg.det(mn))
    if not det > 0:
        raise ValueError(
            "box: the cell matrix must have positive volume (right-handed lattice vectors "
            f"as rows); got det = {det}."
        )
    return Box(m, bool(np.all(mn == np.diag(np.diagonal(mn)))))


def orthorhombic(lx, ly=None, lz=None) -> Box:
    """Orthorhombic box with edge lengths ``lx, ly, lz`` (cube if only ``lx`` is given)."""
    ly = lx if ly is None else ly
    lz = lx if lz is None else lz
    return make_box(jnp.asarray([lx, ly, lz], dtype=jnp.zeros(()).dtype))


def triclinic(a, b, c) -> Box:
    """Triclinic box from lattice vectors ``a, b, c`` (each length 3)."""
    return make_box(jnp.stack([jnp.asarray(a), jnp.asarray(b), jnp.asarray(c)]))


def volume(box) -> jax.Array:
    """Cell volume ``|det H|``."""
    return jnp.abs(jnp.linalg.det(make_box(box).matrix))


def to_fractional(r: jax.Array, box) -> jax.Array:
    """``s = r @ H⁻¹``."""
    return r @ jnp.linalg.inv(make_box(box).matrix)


def to_cartesian(s: jax.Array, box) -> jax.Array:
    """``r = s @ H``."""
    return s @ make_box(box).matrix


def displacement(ri: jax.Array, rj: jax.Array, box) -> jax.Array:
    """Minimum-image displacement ``r_j - r_i`` (any broadcastable shapes ``(..., 3)``).

    Exact (the nearest image) for pairs closer than ``perpendicular_widths(box).min() / 2``.
    """
    box = make_box(box)
    d = rj - ri
    if box.is_orthorhombic:
        L = box.lengths
        return d - L * jnp.round(d / L)
    H = box.matrix
    s = d @ jnp.linalg.inv(H)
    return (s - jnp.round(s)) @ H


def wrap(r: jax.Array, box) -> jax.Array:
    """Map positions into the cell (fractional coordinates in ``[0, 1)``)."""
    box = make_box(box)
    if box.is_orthorhombic:
        L = box.lengths
        return r - L * jnp.floor(r / L)
    s = to_fractional(r, box)
    return to_cartesian(s - jnp.floor(s), box)


def perpendicular_widths(box) -> jax.Array:
    """Distances between opposite faces of the cell, ``w_k = V / |a_l × a_m| = 1 / |b_k|``."""
    H = make_box(box).matrix
    inv = jnp.linalg.inv(H)  # columns are reciprocal vectors b_k
    return 1.0 / jnp.linalg.norm(inv, axis=0)


def min_image_ok(box, cutoff: float) -> bool:
    """Host-side: True when minimum image is exact for every pair within ``cutoff``
    (``cutoff < w_min / 2``)."""
    w = np.asarray(perpendicular_widths(box))
    return bool(cutoff < 0.5 * w.min())
