"""Force functions: the one signature every integrator consumes.

    force_fn(positions, aux) -> (potential_energy, forces, aux)

``aux`` is whatever the force evaluation needs to carry between steps — usually the
:class:`~jaxhybrid.md.neighbours.NeighborList`, updated *at the positions where the force is
evaluated* (so a Verlet list is never used beyond its skin), or ``None``. Integrators store it
in their state. This is how a learned potential plugs into the mechanism: any
``energy_fn(positions, neighbours, box, species)`` becomes a force function through
:func:`neighbor_force_fn` (autodiff forces) and pair potentials use their analytic fast path.
"""

from __future__ import annotations

from typing import Callable

import jax

from .neighbours import NeighborListFn, poison
from .pair import energy_and_forces
from .space import make_box

__all__ = ["neighbor_force_fn", "energy_force_fn"]


def neighbor_force_fn(energy_fn: Callable, neighbor_fn: NeighborListFn, box, species=None) -> Callable:
    """``force_fn(R, nbrs) -> (E, F, nbrs)`` for ``energy_fn(R, nbrs, box, species)``:
    refresh the Verlet list if needed, then energy and forces (analytic when the potential
    provides ``energy_and_forces``, else ``-∂E/∂R`` by autodiff). Energy and forces are NaN
    when the refreshed list overflowed or a position is NaN/Inf
    (:func:`~jaxhybrid.md.neighbours.poison`), whatever ``energy_fn`` is — a learned energy
    included — so an integrator never advances on a truncated list unnoticed."""
    box = make_box(box)
    ef = energy_and_forces(energy_fn)

    def force_fn(positions, nbrs):
        nbrs = neighbor_fn.update(positions, nbrs, box)
        e, f = poison(ef(positions, nbrs, box, species), positions, nbrs)
        return e, f, nbrs

    return force_fn


def energy_force_fn(energy_fn: Callable) -> Callable:
    """``force_fn(R, aux) -> (E, -∂E/∂R, aux)`` for a neighbour-free ``energy_fn(R)``."""

    def force_fn(positions, aux=None):
        e, g = jax.value_and_grad(energy_fn)(positions)
        return e, -g, aux

    return force_fn
