"""Crystallographic point groups as sets of orthogonal 3×3 matrices.

A group is generated from a few generators by closure (repeated products until no new element
appears; elements compared after rounding), so its correctness is testable: every product lies
in the set (closure), every element is orthogonal, the identity and inverses are present, and
the order is the crystallographic one.

* ``"cubic"`` — Oₕ (m3̄m), order 48: all signed permutation matrices; generators: 4-fold about
  z, 3-fold about [111], inversion.
* ``"hexagonal"`` — D₆ₕ (6/mmm), order 24, 6-fold axis along z: generators 6-fold about z,
  2-fold about x, inversion.
* ``"trivial"`` — {I} (triclinic 1; no material symmetry), and ``"triclinic"`` = {I, −I} (1̄).

Isotropy (the full O(3)) is not a finite group: isotropic laws are written in invariants instead
(:mod:`jaxhybrid.constitutive.invariant_net`). For symmetric-tensor-valued responses −I acts
trivially, so the proper and full groups give the same constraint; both are provided.
"""

from __future__ import annotations

import numpy as np
import jax.numpy as jnp

__all__ = ["point_group", "generate_group", "rotation_matrix", "GROUP_ORDERS"]

GROUP_ORDERS = {"trivial": 1, "triclinic": 2, "cubic": 48, "cubic_proper": 24, "hexagonal": 24, "hexagonal_proper": 12}


def rotation_matrix(axis, angle: float) -> np.ndarray:
    """Rodrigues' rotation by ``angle`` (rad) about ``axis``."""
    a = np.asarray(axis, np.float64)
    a = a / np.linalg.norm(a)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def generate_group(generators, max_order: int = 200) -> np.ndarray:
    """Closure of ``generators`` under matrix products (float64, (n, 3, 3), identity first)."""
    elems = [np.eye(3)]
    keys = {tuple(np.round(np.eye(3), 8).ravel())}
    frontier = list(elems)
    gens = [np.asarray(g, np.float64) for g in generators]
    while frontier:
        new = []
        for a in frontier:
            for g in gens:
                p = g @ a
                k = tuple(np.round(p, 8).ravel() + 0.0)
                if k not in keys:
                    keys.add(k)
                    elems.append(p)
                    new.append(p)
                    if len(elems) > max_order:
                        raise ValueError("generate_group: the generators do not close into a finite group of "
                                         f"order <= {max_order}; check the rotation angles.")
        frontier = new
    return np.stack(elems)


def point_group(name: str, dtype=None) -> jnp.ndarray:
    """The matrices of point group ``name`` (see module docstring) as a (n, 3, 3) array."""
    inv = -np.eye(3)
    if name == "trivial":
        g = np.eye(3)[None]
    elif name == "triclinic":
        g = generate_group([inv])
    elif name in ("cubic", "cubic_proper"):
        gens = [rotation_matrix([0, 0, 1], np.pi / 2), rotation_matrix([1, 1, 1], 2 * np.pi / 3)]
        g = generate_group(gens + ([inv] if name == "cubic" else []))
    elif name in ("hexagonal", "hexagonal_proper"):
        gens = [rotation_matrix([0, 0, 1], np.pi / 3), rotation_matrix([1, 0, 0], np.pi)]
        g = generate_group(gens + ([inv] if name == "hexagonal" else []))
    else:
        raise ValueError(f"point_group: unknown group {name!r}; choose one of {sorted(GROUP_ORDERS)}.")
    g = np.where(np.abs(g) < 1e-12, 0.0, g)
    return jnp.asarray(g, dtype or jnp.zeros(()).dtype)
