"""The Lennard-Jones liquid protocol: melt a lattice, thermalise it, run NVE, and summarise the run.

The standard way to prepare and measure a simple liquid with :func:`~jaxhybrid.md.simulate`
(e.g. the LJ triple-point liquid, ``ρ = 0.8442``, ``T = 0.72``, ``r_c = 2.5σ``; Verlet, Phys. Rev.
159, 98 (1967)):

* :func:`lj_liquid_run` — an fcc lattice at the density (:func:`~jaxhybrid.md.lj_liquid_box`)
  started with Maxwell–Boltzmann momenta at a melting temperature (the lattice melts at once),
  cooled to ``kT`` by a Langevin BAOAB bath, then an NVE production run (velocity Verlet) from the
  bath's last state, its wall time measured on the host;
* :func:`liquid_rdf` — ``g(r)`` of the production's saved frames up to half the box (the largest
  distance free of periodic images in a cubic box) or ``r_max``;
* :func:`nve_summary` — the figures of a production run: the relative energy drift
  ``max_t |E(t) − E(0)| / |E(0)|`` (a conservation test of the integrator), and the means of the
  temperature, the pressure and the potential energy per atom.
"""

from __future__ import annotations

import time
from typing import Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .configurations import lj_liquid_box, maxwell_boltzmann
from .observables import rdf
from .pair import lennard_jones
from .simulate import SimulationResult, simulate
from .space import Box

__all__ = ["LJLiquidRun", "lj_liquid_run", "liquid_rdf", "nve_summary"]


class LJLiquidRun(NamedTuple):
    """The bath run (``equilibration``), the NVE run (``production``), the periodic box and the
    production's host wall seconds."""

    equilibration: SimulationResult
    production: SimulationResult
    box: Box
    production_wall_s: float


def lj_liquid_run(n_atoms: int, density: float, kT: float, dt: float, n_equilibrate: int, n_production: int, *,
                  key_melt: jax.Array, key_bath: jax.Array, cutoff: float = 2.5, kT_melt: float = 3.0,
                  gamma: float = 2.0, bath_thermo_every: int = 100, thermo_every: int = 50,
                  save_every: Optional[int] = 100, trajectory_path=None, symbols: str = "Ar") -> LJLiquidRun:
    """Melt → Langevin bath at ``kT`` for ``n_equilibrate`` steps (friction ``gamma``, thermo
    every ``bath_thermo_every`` steps, no pressure) → NVE for ``n_production`` steps (thermo every
    ``thermo_every``, pressure by the virial, positions every ``save_every`` steps, optionally
    written to ``trajectory_path`` as extended XYZ) with the LJ potential shifted at ``cutoff``
    (reduced units). ``key_melt`` draws the melting momenta at ``kT_melt``, ``key_bath`` the bath
    noise."""
    if n_equilibrate < 1 or n_production < 1 or not kT > 0 or not dt > 0:
        raise ValueError(f"lj_liquid_run: need n_equilibrate, n_production >= 1 and kT, dt > 0; got {n_equilibrate}, "
                         f"{n_production}, {kT}, {dt}.")
    R, box = lj_liquid_box(n_atoms, density)
    lj = lennard_jones(cutoff=cutoff)  # shifted at r_c
    P_hot = maxwell_boltzmann(key_melt, 1.0, kT_melt, n_atoms, R.dtype)
    eq = simulate(lj, R, box, n_steps=n_equilibrate, dt=dt, temperature=kT, momenta=P_hot, ensemble="langevin",
                  gamma=gamma, thermo_every=bath_thermo_every, key=key_bath, progress=False, compute_pressure=False)
    t_prod = time.perf_counter()
    prod = simulate(lj, eq.state.positions, box, n_steps=n_production, dt=dt, momenta=eq.state.momenta,
                    thermo_every=thermo_every, save_every=save_every, progress=False, compute_pressure=True,
                    trajectory_path=trajectory_path, symbols=symbols)
    return LJLiquidRun(eq, prod, box, time.perf_counter() - t_prod)


def liquid_rdf(run: LJLiquidRun, n_bins: int = 160, r_max: float = 4.0) -> tuple[jax.Array, jax.Array]:
    """``(r, g)``: :func:`~jaxhybrid.md.rdf` of the production trajectory on ``n_bins`` bins up to
    ``min(L/2, r_max)`` (``L`` the first box edge)."""
    if run.production.trajectory is None:
        raise ValueError("liquid_rdf: the production run saved no frames; run it with save_every set.")
    r_max = min(0.5 * float(run.box.matrix[0, 0]), r_max)
    return rdf(jnp.asarray(run.production.trajectory), run.box, r_max=r_max, n_bins=n_bins)


def nve_summary(thermo: Mapping[str, np.ndarray], n_atoms: int) -> dict:
    """``energy_drift_rel``, ``temperature_reduced``, ``pressure_reduced`` and
    ``potential_energy_per_atom_reduced`` of a run's thermo record (module docstring); floats."""
    if n_atoms < 1 or len(thermo["total"]) == 0:
        raise ValueError(f"nve_summary: need n_atoms >= 1 and a non-empty thermo record, got {n_atoms}.")
    return {"energy_drift_rel": float(abs(thermo["total"] - thermo["total"][0]).max() / abs(thermo["total"][0])),
            "temperature_reduced": float(thermo["temperature"].mean()),
            "pressure_reduced": float(thermo["pressure"].mean()),
            "potential_energy_per_atom_reduced": float(thermo["potential"].mean() / n_atoms)}
