"""Element-specific set-up of a bulk crystal, from the element's symbol.

What an experiment on a metal needs to know about its element — the ground-state structure and
lattice constant, the atomic mass — comes from ASE's tables (``ase.data.reference_states``,
``ase.data.atomic_masses``: the lattice constants of Kittel, *Introduction to Solid State
Physics*, and IUPAC standard atomic weights), so that one script serves every element:

* :func:`lattice_constant`, :func:`atomic_mass` — the numbers;
* :func:`crystal` — the conventional cubic cell repeated ``cells`` times, as ASE ``Atoms``
  (the configuration reference MD and labellers take);
* :func:`crystal_positions` — the same crystal as MD-engine arrays ``(positions, Box)``,
  optionally rattled (a perfect lattice has zero forces and a symmetric neighbour list);
* :func:`crystal_data` — labelled reference-MD frames (:func:`~.labellers.reference_md`) of
  several supercells at several (temperature, strain) conditions, cached on disk;
  :func:`crystal_data_from_config` — the frames a training configuration selects.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .data import System

__all__ = ["lattice_constant", "atomic_mass", "crystal", "crystal_positions", "crystal_data",
           "crystal_data_from_config"]

#: structures with a cubic conventional cell that ``ase.build.bulk(..., cubic=True)`` builds
CUBIC = ("fcc", "bcc", "sc", "diamond")


def _reference_state(element: str) -> dict:
    from ase.data import atomic_numbers, reference_states

    if element not in atomic_numbers:
        raise ValueError(f"unknown element {element!r}; use a chemical symbol such as 'Cu'.")
    state = reference_states[atomic_numbers[element]]
    if not state or state.get("symmetry") not in CUBIC:
        raise ValueError(f"{element}: its reference state {state} is not a cubic crystal {CUBIC}; pass the lattice "
                         "explicitly.")
    return state


def lattice_constant(element: str) -> float:
    """Cubic lattice constant ``a`` (Å) of the element's ground-state crystal (ASE's reference
    states; e.g. Cu, fcc: 3.61 Å)."""
    return float(_reference_state(element)["a"])


def atomic_mass(element: str) -> float:
    """Standard atomic mass (amu) of ``element`` (ASE's table; e.g. Cu: 63.546)."""
    from ase.data import atomic_masses, atomic_numbers

    if element not in atomic_numbers:
        raise ValueError(f"unknown element {element!r}; use a chemical symbol such as 'Cu'.")
    return float(atomic_masses[atomic_numbers[element]])


def crystal(element: str, cells: Sequence[int], a: Optional[float] = None):
    """ASE ``Atoms``: the conventional cubic cell of the element's ground-state structure with
    lattice constant ``a`` (default :func:`lattice_constant`) repeated ``cells`` = (n1, n2, n3)
    times (periodic)."""
    from ase.build import bulk

    cells = tuple(int(n) for n in cells)
    if len(cells) != 3 or min(cells) < 1:
        raise ValueError(f"crystal: cells must be three positive repetitions, got {cells}.")
    a = lattice_constant(element) if a is None else float(a)
    return bulk(element, _reference_state(element)["symmetry"], a=a, cubic=True).repeat(cells)


def crystal_positions(element: str, n_cells: int, a: Optional[float] = None, *, rattle: float = 0.0, key=None):
    """``(positions (N, 3), Box)`` of the MD engine for the ``n_cells``³ crystal of
    :func:`crystal` (fcc: :func:`jaxhybrid.md.fcc_lattice`'s atom order), each coordinate
    displaced by ``rattle`` Å × a standard normal drawn from ``key``."""
    import jax
    import jax.numpy as jnp

    from jaxhybrid import md

    a = lattice_constant(element) if a is None else float(a)
    if _reference_state(element)["symmetry"] == "fcc":
        R, box = md.fcc_lattice(n_cells, a)
    else:
        atoms = crystal(element, (n_cells,) * 3, a)
        R = jnp.asarray(atoms.get_positions(), jnp.zeros(()).dtype)
        box = md.make_box(jnp.asarray(np.asarray(atoms.get_cell()), R.dtype))
    if rattle:
        if key is None:
            raise ValueError("crystal_positions: pass key= to rattle the positions.")
        R = R + rattle * jax.random.normal(key, R.shape, R.dtype)
    return R, box


def crystal_data(labeller, element: str, sizes: Sequence[Sequence[int]], conditions: Sequence[Sequence[float]], *,
                 a: Optional[float] = None, **reference_md_kw) -> list[System]:
    """Labelled frames of ``labeller`` (one :class:`~.data.System` per trajectory): reference
    Langevin MD (:func:`~.labellers.reference_md`, cached) of the :func:`crystal` of every cell
    repetition of ``sizes``, at every (temperature K, isotropic strain) of ``conditions``, in
    that order (sizes outer). ``reference_md_kw``: :func:`~.labellers.reference_md`'s
    ``n_frames``, ``every``, ``equilibrate``, ``seed``, ``name``, ``log``, …"""
    from .labellers import reference_md

    return [s for rep in sizes for T, eps in conditions
            for s in reference_md(labeller, crystal(element, rep, a), temperatures=[T], strains=[eps],
                                  **reference_md_kw)]


def crystal_data_from_config(labeller, element: str, config: Mapping, *, name: str, **reference_md_kw) -> list[System]:
    """The frames of :func:`crystal_data` that a training configuration selects (as
    :mod:`.configured` reads a network's): the cells of every ``sizes`` entry at every
    (temperature, strain) of ``temperatures`` × ``strains`` (temperatures outer),
    ``frames_per_traj`` frames a trajectory kept every ``every`` steps after ``equilibrate``,
    seed ``seed``, lattice constant ``a0`` (Å) where given, cached under ``name``."""
    missing = [k for k in ("sizes", "temperatures", "strains", "frames_per_traj", "every", "equilibrate", "seed")
               if k not in config]
    if missing:
        raise ValueError(f"crystal_data_from_config: the configuration lacks {missing} (has {sorted(config)}).")
    conditions = [[T, e] for T in config["temperatures"] for e in config["strains"]]  # (temperature K, strain) pairs
    return crystal_data(labeller, element, config["sizes"], conditions, a=config.get("a0"),
                        n_frames=config["frames_per_traj"], every=config["every"], equilibrate=config["equilibrate"],
                        seed=config["seed"], name=name, **reference_md_kw)
