"""DP-MD of a crystal against reference MD: the same thermostat and cell, the structure compared.

A learned potential with small force errors can still sample the wrong structure (an error that
accumulates, a missing repulsion). :func:`crystal_md_check` runs both dynamics of the
``n_cells``³ crystal of an element (:mod:`.crystals`) at one temperature with the same Langevin
thermostat — time step ``dt``, friction ``γ``, ``equilibrate`` steps, then ``n_steps`` steps with
a frame kept every ``every``:

* the learned energy in the MD engine (:func:`jaxhybrid.md.simulate`, BAOAB, METAL units, the
  element's atomic mass), from the perfect lattice;
* the reference labeller's calculator in ASE's Langevin integrator
  (:func:`~.labellers.timed_reference_md`), whose wall time per step is the reference's MD cost;

and compares their radial distribution functions (:func:`jaxhybrid.md.compare_rdf`:
``∫|g_DP − g_ref| dr`` up to ``r_max``, at most half the box).

:func:`crystal_md_cost` is DP-MD's cost per atom-step on the element's crystals of several sizes
(:func:`jaxhybrid.md.cost_per_atom_step`: NVE, compilation excluded, sizes timed interleaved),
each rattled off the perfect lattice so that the forces and the neighbour list are generic: equal
figures at every size mean the cost is linear in N. :func:`crystal_md_scaling` gives the record's
figures of it: the cost at a small and a large size, their ratio, and DP-MD's speed against the
reference MD of a :func:`crystal_md_check`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

from jaxhybrid.md.analysis import RDFComparison

from .crystals import atomic_mass, crystal, crystal_positions
from .labellers import timed_reference_md

__all__ = ["CrystalMDCheck", "crystal_md_check", "crystal_md_cost", "crystal_md_scaling"]


class CrystalMDCheck(NamedTuple):
    """``rdf``: the :class:`jaxhybrid.md.RDFComparison` (``g`` DP-MD, ``g_ref`` reference);
    ``temperature``: DP-MD's instantaneous temperatures (K) at the compared frames;
    ``reference_step_s``: wall seconds per reference-MD step; ``n_atoms``."""

    rdf: RDFComparison
    temperature: np.ndarray
    reference_step_s: float
    n_atoms: int


def crystal_md_check(energy_fn: Callable, labeller, element: str, n_cells: int, *, temperature: float, n_steps: int,
                     equilibrate: int, dt_ps: float, every: int, gamma_per_ps: float = 10.0, seed: int = 0,
                     r_max: float = 6.0, n_bins: int = 120, a: Optional[float] = None, mass: Optional[float] = None,
                     skin: float = 0.5) -> CrystalMDCheck:
    """DP-MD of ``energy_fn`` (the MD engine's energy contract with a ``cutoff``, e.g. a
    :class:`~.model.DeepPot` in :class:`jaxhybrid.md.CompiledEnergy`) against reference MD of
    ``labeller`` (module docstring). ``a``: lattice constant (default the element's), ``mass``
    (amu, default the element's); ``seed`` keys both thermostats. The g(r) of each uses its last
    ``n_steps // every`` frames, ``n_bins`` bins up to ``min(r_max, half the box)`` Å."""
    import jax

    from jaxhybrid import md

    if n_steps < every or every < 1 or equilibrate < 0:
        raise ValueError(f"crystal_md_check: need 1 <= every <= n_steps and equilibrate >= 0; got every={every}, "
                         f"n_steps={n_steps}, equilibrate={equilibrate}.")
    k = n_steps // every
    R, box = crystal_positions(element, n_cells, a)
    mass = atomic_mass(element) if mass is None else mass
    res = md.simulate(energy_fn, R, box, n_steps=equilibrate + n_steps, dt=dt_ps, ensemble="langevin",
                      temperature=temperature, gamma=gamma_per_ps, masses=mass, units=md.METAL, skin=skin,
                      progress=False, compute_pressure=False, thermo_every=every, save_every=every,
                      key=jax.random.PRNGKey(seed))
    traj_ref, cell_ref, ref_step_s = timed_reference_md(
        labeller, crystal(element, (n_cells,) * 3, a), temperature=temperature, n_steps=n_steps, every=every,
        equilibrate=equilibrate, dt_fs=dt_ps * 1000, friction_per_fs=gamma_per_ps * 1e-3, seed=seed)
    r_max = min(0.5 * float(box.matrix[0, 0]), r_max)  # a cubic box: its side
    cmp = md.compare_rdf(np.asarray(res.trajectory)[-k:], box, traj_ref, cell_ref, r_max=r_max, n_bins=n_bins)
    return CrystalMDCheck(cmp, np.asarray(res.thermo["temperature"])[-k:], ref_step_s, int(R.shape[0]))


def crystal_md_cost(energy_fn: Callable, element: str, n_cells: Sequence[int], *, n_steps: int, dt_ps: float,
                    temperature: float, rattle: float = 0.05, seed: int = 0, a: Optional[float] = None,
                    mass: Optional[float] = None) -> list[float]:
    """Best wall seconds per atom-step of ``n_steps`` NVE steps of ``energy_fn`` (METAL units)
    on the ``n``³ crystal of ``element`` for each ``n`` of ``n_cells`` (module docstring): the
    positions rattled by ``rattle`` Å with ``PRNGKey(seed)``, Maxwell–Boltzmann momenta at
    ``temperature`` (K) from ``PRNGKey(seed + 1)``, ``mass`` in amu (default the element's)."""
    import jax

    from jaxhybrid import md

    starts = [crystal_positions(element, n, a, rattle=rattle, key=jax.random.PRNGKey(seed)) for n in n_cells]
    return md.cost_per_atom_step(energy_fn, starts, n_steps=n_steps, dt=dt_ps,
                                 mass=atomic_mass(element) if mass is None else mass, temperature=temperature,
                                 key=jax.random.PRNGKey(seed + 1))


def crystal_md_scaling(energy_fn: Callable, element: str, n_cells: Sequence[int], check: CrystalMDCheck,
                       check_cells: int, *, n_steps: int, dt_ps: float, temperature: float, reference: str = "reference",
                       a: Optional[float] = None) -> dict:
    """Record figures of DP-MD's cost per atom-step (:func:`crystal_md_cost`, sizes timed
    interleaved) on the crystals of a small and a large size ``n_cells = (n_small, n_large)`` and,
    where it is neither, of the size ``check_cells`` of ``check`` (:func:`crystal_md_check`):
    ``n_atoms_small``, ``n_atoms_large``, ``us_per_atom_step_small``, ``us_per_atom_step_large``
    (µs), ``cost_ratio_large_vs_small`` (1 when the cost is linear in N) and
    ``speed_vs_{reference}_md``, the reference MD's wall time per atom-step (``check``) over
    DP-MD's at the check's size."""
    if len(n_cells) != 2:
        raise ValueError(f"crystal_md_scaling: n_cells is (small, large), got {n_cells}.")
    sizes = list(n_cells) + ([] if check_cells in n_cells else [check_cells])
    costs = crystal_md_cost(energy_fn, element, sizes, n_steps=n_steps, dt_ps=dt_ps, temperature=temperature, a=a)
    cost_small, cost_large = costs[:2]
    n_small, n_large = (len(crystal(element, (n,) * 3, a)) for n in n_cells)
    return {"n_atoms_small": n_small, "n_atoms_large": n_large, "us_per_atom_step_small": cost_small * 1e6,
            "us_per_atom_step_large": cost_large * 1e6, "cost_ratio_large_vs_small": cost_large / cost_small,
            f"speed_vs_{reference}_md": check.reference_step_s / check.n_atoms / costs[sizes.index(check_cells)]}
