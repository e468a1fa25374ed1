"""An energy function whose energy and forces are one compiled call.

The integrators evaluate the first forces *outside* ``jit`` (``init`` runs eagerly, and so does
:func:`~jaxhybrid.md.simulate`'s first step of each chunk size). For a network energy — a
Deep Potential, an MLP — eager evaluation dispatches, and compiles, every operation one by one,
which costs more than the whole run of a small system. :class:`CompiledEnergy` wraps the energy
function so that the engine's analytic fast path ``energy_and_forces`` (see
:func:`jaxhybrid.md.pair.energy_and_forces`) is ``(E, −∂E/∂R)`` under one
:func:`equinox.filter_jit`: the same numbers as autodiff of the wrapped function, compiled once
for every call site, eager or traced. The energy function is passed as an argument (not closed
over), so an Equinox module's arrays are traced, not baked into the program as constants.
"""

from __future__ import annotations

import functools
from typing import Callable

__all__ = ["CompiledEnergy"]


class CompiledEnergy:
    """``energy_fn(positions, nbrs, box, species)`` of the engine's contract with its
    ``cutoff`` and an ``energy_and_forces`` method ``(E, F = −∂E/∂R)`` that is one compiled
    function (module docstring). Calling it calls ``energy_fn``."""

    def __init__(self, energy_fn: Callable):
        if not callable(energy_fn):
            raise ValueError(f"CompiledEnergy: need a callable energy function, got {type(energy_fn).__name__}.")
        self.energy_fn = energy_fn
        self.cutoff = getattr(energy_fn, "cutoff", None)

    def __call__(self, positions, nbrs, box, species=None):
        return self.energy_fn(positions, nbrs, box, species)

    def energy_and_forces(self, positions, nbrs, box, species=None):
        return _energy_forces()(self.energy_fn, positions, nbrs, box, species)


@functools.cache
def _energy_forces():
    import equinox as eqx
    import jax

    @eqx.filter_jit
    def f(energy_fn, positions, nbrs, box, species):
        e, g = jax.value_and_grad(energy_fn)(positions, nbrs, box, species)
        return e, -g

    return f
