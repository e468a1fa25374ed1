"""Reference labellers and cached reference-MD datasets.

A labeller turns configurations (ASE ``Atoms``) into labelled frames (:class:`~.data.System`):
``labeller.label(frames) -> System``; ``labeller.calculator()`` gives an ASE calculator for
reference MD. Two implementations:

* :class:`EMTLabeller` — ASE's effective-medium theory (Jacobsen, Stoltze & Nørskov, Surf. Sci.
  366, 394 (1996)) for Cu, Al, Ni, Ag, Au, Pd, Pt: a cheap, smooth many-body stand-in for
  first-principles labels of fcc metals.
* :class:`PySCFLabeller` — Kohn–Sham DFT with PySCF (Sun et al., WIREs Comput. Mol. Sci. 8,
  e1340 (2018)) for molecules and clusters: energies and analytic nuclear gradients.

:func:`reference_md` samples frames by ASE Langevin MD at several temperatures and strains and
caches each labelled trajectory as a DeePMD-kit system directory (``cache_dir()/<tag>``), so a
second run reads labels instead of recomputing them. :func:`timed_reference_md` is one uncached
reference Langevin run, its positions and its wall time per step (the reference's MD cost).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from jaxhybrid.cache import cache_dir as _cache_dir

from .data import System, from_ase, read_deepmd, write_deepmd

__all__ = ["EMTLabeller", "PySCFLabeller", "cache_dir", "cached_system", "publish_system", "spec_tag", "reference_md",
           "timed_reference_md", "HARTREE_EV", "BOHR_A"]

HARTREE_EV = 27.211386245988
BOHR_A = 0.529177210903
EMT_ELEMENTS = ("Cu", "Al", "Ni", "Ag", "Au", "Pd", "Pt")


def cache_dir() -> Path:
    """The label store ``jaxhybrid.cache.cache_dir("dp")`` (``$JAXHYBRID_CACHE/dp`` or
    ``~/.cache/jaxhybrid/dp``, created on demand)."""
    return _cache_dir("dp")


class EMTLabeller:
    """ASE EMT energies, forces and virials (periodic metals)."""

    name = "emt"

    def __init__(self, type_map: Sequence[str] = ("Cu",)):
        bad = sorted(set(type_map) - set(EMT_ELEMENTS))
        if bad:
            raise ValueError(f"EMTLabeller: EMT has parameters for {EMT_ELEMENTS}, not {bad}.")
        self.type_map = tuple(type_map)

    def calculator(self):
        from ase.calculators.emt import EMT

        return EMT()

    def label(self, frames) -> System:
        out = []
        for a in frames:
            a = a.copy()
            a.calc = self.calculator()
            a.get_potential_energy()
            out.append(a)
        return from_ase(out, self.type_map)


class PySCFLabeller:
    """Kohn–Sham DFT with PySCF (default PBE/6-31G): energy (eV) and forces (eV/Å) of
    non-periodic molecules. ``conv_tol`` tightens the SCF for consistent forces."""

    name = "pyscf"

    def __init__(self, type_map: Sequence[str] = ("O", "H"), xc: str = "PBE", basis: str = "6-31g", conv_tol: float = 1e-9,
                 grid_level: int = 2):
        self.type_map, self.xc, self.basis, self.conv_tol, self.grid_level = tuple(type_map), xc, basis, conv_tol, grid_level
        self._mf = None

    def energy_forces(self, symbols, positions):
        from pyscf import dft, gto, lib

        lib.logger.QUIET = 0
        mol = gto.M(atom=[(s, tuple(p)) for s, p in zip(symbols, positions)], basis=self.basis, unit="Angstrom", verbose=0)
        mf = dft.RKS(mol)
        mf.xc, mf.conv_tol, mf.grids.level = self.xc, self.conv_tol, self.grid_level
        dm0 = None
        if self._mf is not None and self._mf.mol.natm == mol.natm:
            dm0 = self._mf.make_rdm1()
        e = mf.kernel(dm0=dm0)
        if not mf.converged:
            raise RuntimeError("PySCFLabeller: SCF did not converge.")
        g = mf.nuc_grad_method().kernel()
        self._mf = mf
        return e * HARTREE_EV, -np.asarray(g) * HARTREE_EV / BOHR_A

    def calculator(self):
        from ase.calculators.calculator import Calculator, all_changes

        lab = self

        class _PySCF(Calculator):
            implemented_properties = ["energy", "forces"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                e, f = lab.energy_forces(self.atoms.get_chemical_symbols(), self.atoms.get_positions())
                self.results = {"energy": e, "forces": f}

        return _PySCF()

    def label(self, frames) -> System:
        from ase.calculators.singlepoint import SinglePointCalculator

        out = []
        for a in frames:
            a = a.copy()
            e, f = self.energy_forces(a.get_chemical_symbols(), a.get_positions())
            a.calc = SinglePointCalculator(a, energy=e, forces=f)
            out.append(a)
        return from_ase(out, self.type_map)


def publish_system(d: Path, system: System, spec: dict) -> None:
    """Write ``system`` to the cache directory ``d`` atomically: into a private temporary
    directory beside ``d`` (same file system), ``done.json`` last, then ``os.rename`` onto
    ``d``. A reader (another process, e.g. a second pytest-xdist worker) therefore sees either
    no ``d`` or a complete one. If another process published ``d`` first, its copy is kept
    (both hold the same labels); a stale ``d`` without ``done.json`` (left by an older,
    non-atomic writer) is replaced."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{d.name}.tmp-", dir=d.parent))
    try:
        write_deepmd(tmp, system)
        (tmp / "done.json").write_text(json.dumps(spec))
        for _ in range(3):
            try:
                os.rename(tmp, d)
                return
            except OSError:
                if (d / "done.json").exists():
                    return  # published by another process meanwhile
                if d.exists():  # stale, incomplete directory: move it aside, then retry
                    junk = Path(tempfile.mkdtemp(prefix=f".{d.name}.stale-", dir=d.parent))
                    try:
                        os.rename(d, junk / "old")
                    except OSError:
                        pass
                    shutil.rmtree(junk, ignore_errors=True)
        raise OSError(f"publish_system: could not publish the cache directory {d}.")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def spec_tag(spec: dict) -> str:
    """Short hash of a JSON-serialisable specification (the cache key of a labelled set)."""
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def cached_system(name: str, spec: dict, make: Callable[[], System], cache: Optional[Path] = None) -> System:
    """The labelled set ``make()`` cached under ``cache/<name>-<spec_tag(spec)>`` (default
    :func:`cache_dir`): read back if that directory is complete, otherwise computed and published
    atomically (:func:`publish_system`). ``spec`` must name everything the labels depend on
    (reference method and settings, geometry, thermostat, seeds)."""
    cache = cache_dir() if cache is None else Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    d = cache / f"{name}-{spec_tag(spec)}"
    if (d / "done.json").exists():
        return read_deepmd(d)
    system = make()
    publish_system(d, system, spec)
    return system


def _thermalize():
    try:  # ASE >= 3.29; MaxwellBoltzmannDistribution, which calls it, is deprecated there
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:  # older ASE
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta
    return thermalize_momenta


def timed_reference_md(labeller, atoms, *, temperature: float, n_steps: int, every: int, equilibrate: int = 0,
                       dt_fs: float = 2.0, friction_per_fs: float = 0.01, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """ASE Langevin MD with ``labeller``'s calculator at ``temperature`` (K): Maxwell–Boltzmann
    momenta and the thermostat noise from ``default_rng(seed)``, ``equilibrate`` steps, then
    ``n_steps`` timed steps saving the positions every ``every``. Returns ``(positions
    (n_steps // every, N, 3), cell (3, 3), wall seconds per timed step)``; nothing is cached."""
    from ase import units
    from ase.md.langevin import Langevin

    if n_steps < 1 or every < 1 or equilibrate < 0:
        raise ValueError(f"timed_reference_md: need n_steps >= 1, every >= 1, equilibrate >= 0; got {n_steps}, {every}, "
                         f"{equilibrate}.")
    a = atoms.copy()
    a.calc = labeller.calculator()
    rng = np.random.default_rng(seed)
    _thermalize()(a, temperature_K=temperature, rng=rng)
    dyn = Langevin(a, dt_fs * units.fs, temperature_K=temperature, friction=friction_per_fs / units.fs, rng=rng)
    dyn.run(equilibrate)
    frames, t0 = [], time.perf_counter()
    for _ in range(n_steps // every):
        dyn.run(every)
        frames.append(a.get_positions().copy())
    return np.asarray(frames), np.asarray(a.get_cell()), (time.perf_counter() - t0) / n_steps


def reference_md(labeller, atoms, *, temperatures: Sequence[float], strains: Sequence[float] = (0.0,), n_frames: int = 10,
                 every: int = 20, equilibrate: int = 100, dt_fs: float = 5.0, friction: float = 0.02, seed: int = 0,
                 name: str = "ref", cache: Optional[Path] = None, log=None) -> list[System]:
    """Frames from Langevin MD with ``labeller``'s calculator, one trajectory per
    (temperature, isotropic strain): ``n_frames`` frames every ``every`` steps after
    ``equilibrate`` steps. Each trajectory is cached as a DeePMD-kit system directory and read
    back on the next call with the same arguments. Returns one :class:`System` per trajectory."""
    from ase import units
    from ase.md.langevin import Langevin

    thermalize_momenta = _thermalize()
    if n_frames < 1 or every < 1:
        raise ValueError("reference_md: n_frames and every must be positive.")
    out = []
    for T in temperatures:
        for eps in strains:
            spec = dict(labeller=labeller.name, symbols=atoms.get_chemical_formula(), n=len(atoms),
                        cell=np.asarray(atoms.get_cell()).round(6).tolist(), T=float(T), strain=float(eps), n_frames=n_frames,
                        every=every, equilibrate=equilibrate, dt_fs=dt_fs, friction=friction, seed=seed,
                        xc=getattr(labeller, "xc", None), basis=getattr(labeller, "basis", None))

            def make(T=T, eps=eps):
                t0 = time.perf_counter()
                a = atoms.copy()
                if any(a.pbc):
                    a.set_cell(np.asarray(a.get_cell()) * (1 + eps), scale_atoms=True)
                a.calc = labeller.calculator()
                rng = np.random.default_rng(seed + int(T) * 7 + int(round(eps * 1e4)))
                thermalize_momenta(a, temperature_K=T, rng=rng)
                dyn = Langevin(a, dt_fs * units.fs, temperature_K=T, friction=friction, rng=rng)
                dyn.run(equilibrate)
                frames = []
                for _ in range(n_frames):
                    dyn.run(every)
                    frames.append(a.copy())
                sysm = labeller.label(frames)
                if log:
                    log(f"reference_md {name}: T={T} strain={eps} n={len(atoms)} {n_frames} frames in "
                        f"{time.perf_counter() - t0:.1f}s")
                return sysm

            out.append(cached_system(name, spec, make, cache))
    return out
