"""Labelled DFT-MD data of a molecule from one level-of-theory dictionary: its trajectories, the
key of a stored held-out set, and that set read back.

A *level* dictionary names the reference and its dynamics (:data:`LEVEL_KEYS`): ``xc``,
``basis`` and ``grid_level`` of the :class:`~.labellers.PySCFLabeller` (Kohn–Sham DFT), and
``dt_fs``, ``gamma_per_ps`` and ``temperatures`` of the DFT-MD: DFT as the force function of the
MD engine's BAOAB Langevin integrator (:func:`~.dft_md.dft_md`; every step a labelled frame,
cached on disk, each trajectory started from the molecule in a random orientation drawn from its
seed). A training and a held-out set are the same recipe with different seeds (hence different
orientations and noise), one trajectory per temperature (:func:`molecule_dft_md`);
:class:`MoleculeDFTMD` holds a molecule's two.

Labelling is the expensive part — PBE/6-31G DFT-MD of a water molecule costs ~0.2 s a step — so a
held-out set can ship beside a package as one label file (:mod:`.label_file`), keyed by the
level, the trajectory length, the seed, the molecule and its start geometry
(:meth:`MoleculeDFTMD.test_key`): :meth:`MoleculeDFTMD.held_out` reads it when it is there and
runs the DFT-MD (cached) otherwise. The molecule sits in a non-periodic cubic vacuum cell of
:data:`~.dft_md.VACUUM_CELL` Å, which the first shipped files leave implicit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from .data import System

__all__ = ["LEVEL_KEYS", "dft_labeller", "molecule_dft_md", "MoleculeDFTMD"]

#: the keys of a level-of-theory dictionary (module docstring)
LEVEL_KEYS = ("xc", "basis", "grid_level", "dt_fs", "gamma_per_ps", "temperatures")


def dft_labeller(type_map: Sequence[str], level: Mapping):
    """The :class:`~.labellers.PySCFLabeller` of ``type_map`` at ``level``'s ``xc``, ``basis``
    and ``grid_level``."""
    from .labellers import PySCFLabeller

    return PySCFLabeller(type_map, xc=level["xc"], basis=level["basis"], grid_level=level["grid_level"])


def molecule_dft_md(type_map: Sequence[str], symbols: Sequence[str], positions, masses: Sequence[float],
                    level: Mapping, n_steps: int, *, seed: int, name: str,
                    log: Optional[Callable[[str], None]] = None) -> list[System]:
    """One labelled DFT-MD trajectory of ``n_steps`` steps per temperature of ``level`` (K, in its
    order): :func:`~.dft_md.dft_md` of the molecule ``symbols`` (start ``positions`` Å,
    ``masses`` amu) with :func:`dft_labeller` and ``level``'s ``dt_fs`` and ``gamma_per_ps``,
    seed ``seed``, cached under ``name``."""
    from .dft_md import dft_md

    lab = dft_labeller(type_map, level)
    return [dft_md(lab, symbols, positions, masses, T, n_steps, dt_fs=level["dt_fs"],
                   gamma_per_ps=level["gamma_per_ps"], seed=seed, name=name, log=log) for T in level["temperatures"]]


class MoleculeDFTMD(NamedTuple):
    """A molecule's DFT-MD data sets: training trajectories (seed ``seed``), held-out ones (seed
    ``test_seed_offset + seed``: other orientations and noise), each one trajectory per
    temperature of a level dictionary (:func:`molecule_dft_md`, cached as ``<name>-train`` and
    ``<name>-test``), and the held-out sets stored as label files
    ``<labels>-<hash of the key>.npz`` (``labels``: folder and file-name stem).

    ``type_map``: the Deep Potential's element names; ``symbols``, start ``positions`` (N, 3) Å
    and ``masses`` (amu): the molecule."""

    type_map: tuple
    symbols: tuple
    positions: np.ndarray
    masses: tuple
    name: str
    labels: Path
    test_seed_offset: int = 1000

    def trajectories(self, level: Mapping, seed: int, split: str,
                     log: Optional[Callable[[str], None]] = None) -> list[System]:
        """The ``split`` (``"train"``: ``level["train_steps"]`` steps, seed ``seed``; ``"test"``:
        ``level["test_steps"]``, the held-out seed) trajectories at ``level``."""
        if split not in ("train", "test"):
            raise ValueError(f"MoleculeDFTMD.trajectories: split is 'train' or 'test', got {split!r}.")
        steps, s = (level["train_steps"], seed) if split == "train" else (level["test_steps"],
                                                                          self.test_seed_offset + seed)
        return molecule_dft_md(self.type_map, self.symbols, self.positions, self.masses, level, steps, seed=s,
                               name=f"{self.name}-{split}", log=log)

    def test_key(self, level: Mapping, seed: int) -> dict:
        """The key (JSON header) of the held-out set at ``level`` for ``seed``: the
        :data:`LEVEL_KEYS` and ``test_steps`` of ``level``, the held-out seed, the ``symbols``,
        ``masses`` and the start geometry (``start``: the positions rounded to 10⁻⁶ Å)."""
        return dict({k: level[k] for k in LEVEL_KEYS + ("test_steps",)}, seed=self.test_seed_offset + seed,
                    symbols=list(self.symbols), masses=[float(m) for m in self.masses],
                    start=np.asarray(self.positions).round(6).tolist())

    def held_out(self, level: Mapping, seed: int,
                 log: Optional[Callable[[str], None]] = None) -> tuple[list[System], Optional[Path]]:
        """The held-out set of :meth:`test_key`: its stored label file when there is one
        (:func:`~.label_file.stored_labels`; the molecule's types, the vacuum cell and
        ``pbc=False`` stand in for fields a first shipped file lacks), else DFT-MD (cached).
        Returns ``(systems, the file read or None)``."""
        from .dft_md import VACUUM_CELL
        from .label_file import stored_labels

        return stored_labels(self.labels.parent, self.labels.name, self.test_key(level, seed),
                             lambda: self.trajectories(level, seed, "test", log), type_map=tuple(self.type_map),
                             types=[list(self.type_map).index(s) for s in self.symbols],
                             box=np.eye(3) * VACUUM_CELL, pbc=False)

    def write_held_out(self, level: Mapping, seed: int) -> Path:
        """Write the held-out set of :meth:`test_key` (from the label cache; DFT-MD if absent) to
        its label file (:func:`~.label_file.write_label_file`); returns the path."""
        from .label_file import keyed_label_file, write_label_file

        key = self.test_key(level, seed)
        return write_label_file(keyed_label_file(self.labels.parent, self.labels.name, key),
                                self.trajectories(level, seed, "test"), key)
