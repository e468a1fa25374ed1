"""Molecular dynamics engine (mechanism layer): periodic space, cell-list Verlet neighbour
lists with automatic overflow recovery and multi-image small boxes, pair (LJ, Morse, any φ)
and EAM energies, a plug-in contract for learned energies, integrators that are
:class:`~jaxhybrid.algorithm.Algorithm` objects (velocity Verlet, Langevin BAOAB, Nosé–Hoover chain,
FIRE: ``init(positions, momenta=None, mass=1.0, aux=None)``, ``step(state, key) -> (state,
info)``), observables, extended XYZ and setfl I/O, and the high-level :func:`simulate` driver
built on the shared :func:`~jaxhybrid.rollout.evolve` and :func:`~jaxhybrid.driver.drive`;
batched Langevin programs of small systems (:func:`langevin_program`) and the per-atom-step cost
of an energy function (:func:`cost_per_atom_step`). Also: the per-step cost of a force
function in the Langevin program (:func:`langevin_step_cost`), an energy whose forces are one
compiled call (:class:`CompiledEnergy`), and the structure of an MD run against a reference
run (:func:`compare_rdf`, :func:`compare_distributions` with its sampling floor).

Quick start::

    import jax
    from jaxhybrid import md
    R, box = md.lj_liquid_box(4000, density=0.8442)
    lj = md.lennard_jones(cutoff=2.5)
    out = md.simulate(lj, R, box, n_steps=1000, dt=0.005, temperature=0.72, key=jax.random.PRNGKey(0))
    out.thermo["total"], out.thermo["temperature"]
    # any integrator: a factory force_fn -> Algorithm
    md.simulate(lj, R, box, n_steps=1000, dt=0.005, temperature=0.72, key=jax.random.PRNGKey(1),
                integrator=lambda f: md.langevin(f, 0.005, 0.72, 2.0))

Energy-function contract: ``E(positions (N,3), neighbours: NeighborList, box: Box,
species (N,) | None) -> scalar``; forces by autodiff, or an ``energy_and_forces`` method for an
analytic fast path. Force-function contract of the integrators:
``force_fn(positions, aux) -> (E, F, aux)`` (see :mod:`jaxhybrid.md.forces`).
"""

from .configurations import fcc_lattice, lj_liquid_box, maxwell_boltzmann, random_positions
from .eam import EAM, eam_analytic, eam_from_setfl, hermite_table
from .fire import FIREState, fire
from .forces import energy_force_fn, neighbor_force_fn
from .io import SetflTables, read_extxyz, read_setfl, write_extxyz, write_setfl
from .langevin import langevin
from .neighbours import NeighborList, NeighborListFn, invalid, neighbor_list, pair_vectors, poison, to_sparse
from .nose_hoover import NHCState, conserved_energy, nose_hoover_chain
from .nve import MDState, nve
from .batch import Program, langevin_program, langevin_trajectory
from .observables import (bond_lengths, histogram_edges, histogram_l1, kinetic_energy, msd, pressure_kinetic, rdf,
                          rdf_peak, temperature)
from .pair import (
    PairPotential,
    brute_force_energy,
    energy_and_forces,
    lennard_jones,
    morse,
    pair_components,
    pair_potential,
    pressure,
    stress,
)
from .simulate import SimulationResult, minimize, simulate
from .lj_liquid import LJLiquidRun, liquid_rdf, lj_liquid_run, nve_summary
from .timing import cost_per_atom_step, langevin_step_cost
from .compiled import CompiledEnergy
from .analysis import (DistributionComparison, RDFComparison, compare_distributions, compare_rdf,
                       distribution_metrics, distributions_vs_reference)
from .space import Box, displacement, make_box, min_image_ok, orthorhombic, perpendicular_widths, triclinic, volume, wrap
from .units import LJ, METAL, Units

__all__ = [
    "Box", "make_box", "orthorhombic", "triclinic", "displacement", "wrap", "volume", "perpendicular_widths", "min_image_ok",
    "NeighborList", "NeighborListFn", "neighbor_list", "pair_vectors", "to_sparse", "invalid", "poison",
    "PairPotential", "lennard_jones", "morse", "pair_potential", "pair_components", "energy_and_forces", "stress", "pressure",
    "brute_force_energy", "EAM", "eam_analytic", "eam_from_setfl", "hermite_table",
    "MDState", "nve", "langevin", "NHCState", "nose_hoover_chain", "conserved_energy",
    "FIREState", "fire", "neighbor_force_fn", "energy_force_fn",
    "kinetic_energy", "temperature", "pressure_kinetic", "rdf", "rdf_peak", "msd", "bond_lengths", "histogram_edges", "histogram_l1",
    "langevin_program", "langevin_trajectory", "Program", "cost_per_atom_step", "langevin_step_cost", "CompiledEnergy",
    "compare_rdf", "RDFComparison", "compare_distributions", "DistributionComparison", "distributions_vs_reference",
    "distribution_metrics",
    "write_extxyz", "read_extxyz", "read_setfl", "write_setfl", "SetflTables",
    "simulate", "SimulationResult", "minimize", "lj_liquid_run", "LJLiquidRun", "liquid_rdf", "nve_summary",
    "fcc_lattice", "lj_liquid_box", "maxwell_boltzmann", "random_positions",
    "Units", "LJ", "METAL",
]
