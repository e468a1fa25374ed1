"""Cost of an MD step per atom: the linear-scaling check of an energy function.

:func:`cost_per_atom_step` compiles ``n_steps`` velocity-Verlet steps (:func:`~jaxhybrid.md.nve.nve`,
Verlet list refreshed inside the force function, :func:`~jaxhybrid.rollout.evolve`) for each
configuration, runs each once (compilation excluded from the clock), then times them
``repeats`` times *interleaved* — so a load change on a shared machine touches every size alike —
and returns the best wall time per atom-step of each. An energy function whose cost is linear
in N gives the same figure at every size.

:func:`langevin_step_cost` is the cost of one MD step of a neighbour-free force function (a
molecule; a host-callback reference such as DFT) in the compiled BAOAB Langevin program of
:func:`~jaxhybrid.md.batch.langevin_program`: called for a learned potential and for its
reference with the same settings, it compares the cost of identical dynamics, integrator and
loop included, and nothing else.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import jax
import numpy as np

from jaxhybrid.rollout import evolve

from .batch import langevin_program
from .configurations import maxwell_boltzmann
from .forces import neighbor_force_fn
from .neighbours import neighbor_list
from .nve import nve
from .simulate import _cutoff_of
from .units import METAL, Units

__all__ = ["cost_per_atom_step", "langevin_step_cost"]


def cost_per_atom_step(energy_fn: Callable, configurations: Sequence[tuple], *, n_steps: int, dt: float, mass: float,
                       temperature: float, key: jax.Array, units: Units = METAL, skin: float = 0.5, repeats: int = 5,
                       cutoff: float | None = None) -> list[float]:
    """Best-of-``repeats`` wall seconds per atom-step of ``n_steps`` NVE steps of ``energy_fn``
    for each ``(positions, box)`` of ``configurations`` (module docstring). Momenta are
    Maxwell–Boltzmann at ``temperature`` from ``key``; ``mass`` in the units' mass unit."""
    if n_steps < 1 or repeats < 1 or not configurations:
        raise ValueError(f"cost_per_atom_step: need n_steps >= 1, repeats >= 1 and at least one configuration; got "
                         f"{n_steps}, {repeats}, {len(configurations)}.")
    rc = _cutoff_of(energy_fn, cutoff, "cost_per_atom_step")
    m = units.mass(mass)
    runs = []
    for R, box in configurations:
        nl = neighbor_list(rc, skin)
        integ = nve(neighbor_force_fn(energy_fn, nl, box), dt)
        s0 = integ.init(R, maxwell_boltzmann(key, m, units.kT(temperature), R.shape[0]), m, nl.allocate(R, box))
        run = jax.jit(lambda s, integ=integ: evolve(integ, s, n_steps).final)
        jax.block_until_ready(run(s0))
        runs.append((run, s0, R.shape[0]))
    best = [np.inf] * len(runs)
    for _ in range(repeats):
        for i, (run, s0, _) in enumerate(runs):
            t = time.perf_counter()
            jax.block_until_ready(run(s0))
            best[i] = min(best[i], time.perf_counter() - t)
    return [b / (n_steps * n) for b, (_, _, n) in zip(best, runs)]


def langevin_step_cost(force_fn: Callable, positions, temperature: float, n_steps: int, *, dt: float, gamma: float,
                       mass, seed: int, repeats: int = 1, units: Units = METAL) -> float:
    """Wall seconds per step of ``n_steps`` Langevin steps of ``force_fn(R, aux) -> (E, F, aux)``
    from ``positions`` at ``temperature`` (module docstring): the best of ``repeats`` runs of the
    program compiled beforehand (:meth:`~jaxhybrid.md.batch.Program.best_time`), divided by
    ``n_steps``. ``dt``, ``gamma``, ``mass``, ``seed`` and ``units`` are
    :func:`~jaxhybrid.md.batch.langevin_program`'s."""
    prog = langevin_program(force_fn, positions, temperature, n_steps, dt=dt, gamma=gamma, mass=mass, seeds=[seed],
                            units=units)
    return prog.best_time(repeats) / n_steps
