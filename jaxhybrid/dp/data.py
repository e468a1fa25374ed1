"""Labelled configurations: DeePMD-kit's numpy format, ASE ``Atoms`` in/out, and padded
neighbour tables for training.

DeePMD-kit system directory (https://docs.deepmodeling.com/projects/deepmd/ "Data format")::

    type.raw        N integers, the type of each atom (one per line)
    type_map.raw    element names, one per line (optional in DeePMD-kit, written here)
    set.000/        coord.npy (F, 3N) Å, box.npy (F, 9) Å (rows = cell vectors),
                    energy.npy (F,) eV, force.npy (F, 3N) eV/Å, [virial.npy (F, 9) eV]
    set.001/ ...

Units are DeePMD-kit's: Å, eV, eV/Å; ``virial = −∂E/∂ε`` (= −stress·volume, dpdata's sign).
A non-periodic molecule is stored with a large cubic box and ``nopbc`` (an empty file), as
DeePMD-kit does.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional, Sequence

import numpy as np

__all__ = ["System", "read_deepmd", "write_deepmd", "to_ase", "from_ase", "concat", "neighbour_table", "pack", "Packed"]


class System(NamedTuple):
    """Frames of one composition. ``types`` (N,), ``coord`` (F, N, 3), ``box`` (F, 3, 3),
    ``energy`` (F,), ``force`` (F, N, 3), ``virial`` (F, 3, 3) or None; ``pbc``: periodic."""

    type_map: tuple
    types: np.ndarray
    coord: np.ndarray
    box: np.ndarray
    energy: np.ndarray
    force: np.ndarray
    virial: Optional[np.ndarray] = None
    pbc: bool = True

    @property
    def n_frames(self) -> int:
        return int(self.coord.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.types.shape[0])

    def subset(self, index) -> "System":
        index = np.asarray(index)
        return self._replace(coord=self.coord[index], box=self.box[index], energy=self.energy[index], force=self.force[index],
                             virial=None if self.virial is None else self.virial[index])

    def validate(self) -> "System":
        """Check shapes and finiteness; raise ``ValueError`` saying what is wrong."""
        n, f = self.n_atoms, self.n_frames
        if self.types.ndim != 1 or n == 0:
            raise ValueError(f"System: types must be a non-empty 1-D array, got shape {self.types.shape}.")
        if self.types.min() < 0 or self.types.max() >= len(self.type_map):
            raise ValueError(f"System: types must lie in [0, {len(self.type_map)}) (the type_map {self.type_map}); got "
                             f"[{self.types.min()}, {self.types.max()}].")
        want = {"coord": (f, n, 3), "box": (f, 3, 3), "energy": (f,), "force": (f, n, 3)}
        if self.virial is not None:
            want["virial"] = (f, 3, 3)
        for name, shape in want.items():
            arr = getattr(self, name)
            if arr.shape != shape:
                raise ValueError(f"System: {name} has shape {arr.shape}, expected {shape} (F={f} frames, N={n} atoms).")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"System: {name} contains NaN or Inf.")
        if f == 0:
            raise ValueError("System: no frames.")
        if self.pbc:
            prob = _box_problem(np.asarray(self.box, np.float64))
            if prob is not None:
                raise ValueError(f"System: frame {prob[0]} has a cell with determinant {prob[1]:.6g}; {_BOX_FIX}.")
        return self


def _box_problem(box: np.ndarray) -> Optional[tuple[int, float]]:
    """``(frame, det)`` of the first cell (F, 3, 3) that is singular, left-handed or not finite,
    else ``None``. "Singular" is relative: ``det / (|a| |b| |c|) < 1e-8``."""
    det = np.linalg.det(box) if box.size else np.zeros(0)
    norms = np.prod(np.linalg.norm(box, axis=-1), axis=-1) if box.size else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = ~np.isfinite(det) | ~(det > 1e-8 * norms)
    if bad.any():
        k = int(np.argmax(bad))
        return k, float(det[k])
    return None


_BOX_FIX = ("the cell vectors (rows of box) must span a positive volume: a zero cell is not periodic (store a "
            "molecule with a large box and nopbc), a left-handed one needs two cell vectors swapped")


def write_deepmd(directory, system: System, set_size: int = 5000) -> Path:
    """Write ``system`` as a DeePMD-kit system directory (sets of ``set_size`` frames).

    Atomic as a whole: everything is written into a temporary folder beside ``directory``
    (each file through :func:`jaxhybrid.store.atomic_write`, so its bytes are on disk), which is
    then renamed onto ``directory``; an existing directory is first moved aside and deleted
    after the rename, and files in it that are not DeePMD data (not ``type.raw``,
    ``type_map.raw``, ``nopbc`` or ``set.*``) are carried over. Why a folder rather than
    atomic files one by one: a reader — or a crash — then sees the old system or the new one,
    never new ``type.raw`` with old sets, or three sets of five. The one window is the instant
    between the two renames, when ``directory`` does not exist (a crash there leaves the old
    data under ``.<name>.old-*`` beside it)."""
    system.validate()
    if not isinstance(set_size, (int, np.integer)) or set_size < 1:
        raise ValueError(f"write_deepmd: set_size must be a positive int, got {set_size!r}.")
    import os
    import shutil
    import uuid

    from jaxhybrid.store import atomic_write, sync_dir

    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise ValueError(f"write_deepmd: {d} exists and is not a directory.")
    d.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = d.parent / f".{d.name}.tmp-{tag}"
    tmp.mkdir()
    try:
        def npy(path, a):
            atomic_write(path, lambda f: np.save(f, a))

        atomic_write(tmp / "type.raw", "".join(f"{int(t)}\n" for t in system.types))
        atomic_write(tmp / "type_map.raw", "\n".join(system.type_map) + "\n")
        if not system.pbc:
            atomic_write(tmp / "nopbc", "")
        f = system.n_frames
        for k, start in enumerate(range(0, f, set_size)):
            s = slice(start, min(start + set_size, f))
            sd = tmp / f"set.{k:03d}"
            sd.mkdir()
            npy(sd / "coord.npy", system.coord[s].reshape(-1, 3 * system.n_atoms))
            npy(sd / "box.npy", system.box[s].reshape(-1, 9))
            npy(sd / "energy.npy", system.energy[s])
            npy(sd / "force.npy", system.force[s].reshape(-1, 3 * system.n_atoms))
            if system.virial is not None:
                npy(sd / "virial.npy", system.virial[s].reshape(-1, 9))
        old = None
        if d.exists():
            for entry in d.iterdir():  # carry over what is not DeePMD data (e.g. a cache's done.json)
                if entry.name in ("type.raw", "type_map.raw", "nopbc") or entry.name.startswith("set."):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, tmp / entry.name, symlinks=True)
                else:
                    shutil.copy2(entry, tmp / entry.name, follow_symlinks=False)
            old = d.parent / f".{d.name}.old-{tag}"
            os.rename(d, old)
        os.rename(tmp, d)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        sync_dir(d.parent)  # make the renames durable
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return d


def _load(path: Path, cols: Optional[int], what: str) -> np.ndarray:
    if not path.exists():
        raise ValueError(f"read_deepmd: missing {path} ({what}).")
    try:
        a = np.load(path, allow_pickle=False)
    except Exception as e:  # a text file, a truncated file, a pickle
        raise ValueError(f"read_deepmd: {path} is not a NumPy .npy file of numbers ({type(e).__name__}: {e}); write it "
                         "with numpy.save (a text file needs numpy.loadtxt and numpy.save first).") from None
    if not isinstance(a, np.ndarray):  # an .npz archive
        raise ValueError(f"read_deepmd: {path} is an .npz archive, not a .npy array; save each array with numpy.save.")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"read_deepmd: {path} holds {a.dtype} values; {what} must be real numbers.")
    if cols is None:
        a = a.reshape(-1) if a.ndim == 2 and 1 in a.shape else a
        if a.ndim != 1:
            raise ValueError(f"read_deepmd: {path} must be 1-D (one {what} per frame), got shape {a.shape}.")
        return a.astype(np.float64)
    if a.ndim == 1 and a.size % cols == 0:
        a = a.reshape(-1, cols)
    if a.ndim != 2 or a.shape[1] != cols:
        raise ValueError(f"read_deepmd: {path} must have shape (frames, {cols}) for {what}, got {a.shape}.")
    return a.astype(np.float64)


def _set_order(p: Path):
    """``set.2`` before ``set.10`` (numeric suffix), then any other names alphabetically."""
    suffix = p.name[4:]
    return (0, int(suffix), p.name) if suffix.isdigit() else (1, 0, p.name)


def _read_types(path: Path) -> np.ndarray:
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ValueError(f"read_deepmd: {path} is not a text file; it must hold one integer atom type per line.") from None
    toks = text.split()
    if not toks:
        raise ValueError(f"read_deepmd: {path} is empty; it must hold one integer atom type (0, 1, ...) per atom.")
    out = []
    for k, t in enumerate(toks):
        try:
            v = int(t)
        except ValueError:
            raise ValueError(f"read_deepmd: {path}: entry {k} is {t!r}, not an integer type index; type.raw holds "
                             "integers (0, 1, ...) indexing type_map.raw, not element names.") from None
        if v < 0:
            raise ValueError(f"read_deepmd: {path}: entry {k} is {v}; types must lie in [0, number of types).")
        out.append(v)
    return np.asarray(out, np.int64)


def read_deepmd(directory, type_map: Optional[Sequence[str]] = None) -> System:
    """Read a DeePMD-kit system directory (all ``set.*``, in numeric order: ``set.2`` before
    ``set.10``), validating every file. Raises ``ValueError`` naming the file, the set and the
    frame (0-based within the set) for: a missing, empty or non-integer ``type.raw``; a file
    that is not a ``.npy`` array of numbers; arrays whose shapes or frame counts disagree;
    NaN/Inf values; a singular or left-handed cell (periodic systems); ``virial.npy`` in some
    sets but not in others."""
    d = Path(directory)
    if not d.is_dir():
        raise ValueError(f"read_deepmd: {d} is not a directory; give a DeePMD-kit system directory.")
    if not (d / "type.raw").exists():
        raise ValueError(f"read_deepmd: {d} has no type.raw; is it a DeePMD-kit system directory?")
    types = _read_types(d / "type.raw")
    if (d / "type_map.raw").exists():
        try:
            tm = tuple(x.strip() for x in (d / "type_map.raw").read_text().split() if x.strip())
        except UnicodeDecodeError:
            raise ValueError(f"read_deepmd: {d / 'type_map.raw'} is not a text file (one element name per line).") from None
        source = f"the {len(tm)} names in {d / 'type_map.raw'}"
    elif type_map is not None:
        tm = tuple(type_map)
        source = f"the {len(tm)} names of type_map={tm}"
    else:
        tm = tuple(f"T{k}" for k in range(int(types.max()) + 1))
        source = "no type_map"
    if int(types.max()) >= len(tm):
        k = int(np.argmax(types >= len(tm)))
        raise ValueError(f"read_deepmd: {d / 'type.raw'}: types must lie in [0, {len(tm)}) ({source}); atom {k} has "
                         f"type {int(types[k])}. Fix type.raw or name every type in type_map.raw.")
    sets = sorted((p for p in d.glob("set.*") if p.is_dir()), key=_set_order)
    if not sets:
        raise ValueError(f"read_deepmd: {d} has no set.* directories.")
    n = types.shape[0]
    pbc = not (d / "nopbc").exists()
    with_virial = [s for s in sets if (s / "virial.npy").exists()]
    if with_virial and len(with_virial) != len(sets):
        missing = [s.name for s in sets if s not in with_virial]
        raise ValueError(f"read_deepmd: {d}: virial.npy is in {[s.name for s in with_virial]} but missing from {missing}; "
                         "either every set has virials or none (delete the virial.npy files, or label the sets "
                         "without them).")
    has_virial = bool(with_virial)
    parts = {k: [] for k in ("coord", "box", "energy", "force", "virial")}
    for s in sets:
        arrays = {"coord": _load(s / "coord.npy", 3 * n, "coordinates, 3N per frame"),
                  "box": _load(s / "box.npy", 9, "cell, 9 per frame"),
                  "energy": _load(s / "energy.npy", None, "energy"),
                  "force": _load(s / "force.npy", 3 * n, "forces, 3N per frame")}
        if has_virial:
            arrays["virial"] = _load(s / "virial.npy", 9, "virial, 9 per frame")
        frames = {len(a) for a in arrays.values()}
        if len(frames) != 1:
            raise ValueError(f"read_deepmd: {s} arrays disagree on the number of frames: "
                             + ", ".join(f"{k} {len(a)}" for k, a in arrays.items()) + ".")
        for name, a in arrays.items():
            bad = ~np.isfinite(a)
            if bad.any():
                f, c = (int(x) for x in np.argwhere(bad.reshape(len(a), -1))[0])
                atom = f", atom {c // 3}" if name in ("coord", "force") else ""
                raise ValueError(f"read_deepmd: {s / (name + '.npy')} contains NaN/Inf: set {s.name}, frame {f}{atom}. "
                                 "Relabel or drop that frame.")
        box = arrays["box"].reshape(-1, 3, 3)
        if pbc:
            prob = _box_problem(box)
            if prob is not None:
                raise ValueError(f"read_deepmd: {s / 'box.npy'}: set {s.name}, frame {prob[0]} has a cell with "
                                 f"determinant {prob[1]:.6g}; {_BOX_FIX}.")
        parts["coord"].append(arrays["coord"].reshape(-1, n, 3))
        parts["box"].append(box)
        parts["energy"].append(arrays["energy"])
        parts["force"].append(arrays["force"].reshape(-1, n, 3))
        if has_virial:
            parts["virial"].append(arrays["virial"].reshape(-1, 3, 3))
    sysm = System(tm, types, *(np.concatenate(parts[k]) for k in ("coord", "box", "energy", "force")),
                  virial=np.concatenate(parts["virial"]) if has_virial else None, pbc=pbc)
    return sysm.validate()


def concat(systems: Sequence[System]) -> System:
    """Concatenate frames of systems with the same atoms."""
    a = systems[0]
    for b in systems[1:]:
        if b.type_map != a.type_map or not np.array_equal(b.types, a.types):
            raise ValueError("concat: systems must have the same type_map and atom types.")
    vir = None if any(s.virial is None for s in systems) else np.concatenate([s.virial for s in systems])
    return a._replace(coord=np.concatenate([s.coord for s in systems]), box=np.concatenate([s.box for s in systems]),
                      energy=np.concatenate([s.energy for s in systems]), force=np.concatenate([s.force for s in systems]),
                      virial=vir)


def from_ase(frames, type_map: Sequence[str]) -> System:
    """Frames (ASE ``Atoms`` with energies/forces from an attached calculator, same atoms)
    → :class:`System`. The virial is taken from ``get_stress`` when the frames are periodic."""
    frames = list(frames)
    if not frames:
        raise ValueError("from_ase: no frames.")
    tm = tuple(type_map)
    sym = frames[0].get_chemical_symbols()
    unknown = sorted(set(sym) - set(tm))
    if unknown:
        raise ValueError(f"from_ase: elements {unknown} are not in type_map {tm}.")
    types = np.array([tm.index(s) for s in sym])
    pbc = bool(np.all(frames[0].pbc))
    coord, box, energy, force, virial = [], [], [], [], []
    for a in frames:
        if a.get_chemical_symbols() != sym:
            raise ValueError("from_ase: all frames must have the same atoms in the same order.")
        coord.append(a.get_positions())
        cell = np.asarray(a.get_cell())
        box.append(cell if pbc else np.eye(3) * 100.0)
        energy.append(a.get_potential_energy())
        force.append(a.get_forces())
        if pbc:
            s = a.get_stress(voigt=False)
            virial.append(-s * a.get_volume())
    return System(tm, types, np.asarray(coord), np.asarray(box), np.asarray(energy), np.asarray(force),
                  np.asarray(virial) if pbc else None, pbc).validate()


def to_ase(system: System):
    """:class:`System` → list of ASE ``Atoms`` carrying the labels in a SinglePointCalculator."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    sym = [system.type_map[t] for t in system.types]
    for k in range(system.n_frames):
        a = Atoms(sym, positions=system.coord[k], cell=system.box[k] if system.pbc else None, pbc=system.pbc)
        kw = dict(energy=float(system.energy[k]), forces=system.force[k])
        if system.virial is not None and system.pbc:
            kw["stress"] = -system.virial[k] / abs(np.linalg.det(system.box[k]))
        a.calc = SinglePointCalculator(a, **kw)
        out.append(a)
    return out


# ---------------------------------------------------------------------------------------------
# padded neighbour tables for training


def neighbour_table(coord: np.ndarray, cell: np.ndarray, rcut: float, pbc: bool = True):
    """All neighbours within ``rcut`` of every atom (all periodic images when ``pbc``):
    returns ``(idx (N, K), shifts (N, K, 3))`` padded with ``N``, ``K`` = largest count, such
    that ``d_ij = r_j − r_i + shift @ cell``. Vectorised brute force over the images within
    reach (``⌈r_c / w_k⌉`` cells along each lattice direction, ``w_k`` the perpendicular
    widths); meant for the small frames of training sets."""
    coord = np.asarray(coord, np.float64)
    cell = np.asarray(cell, np.float64)
    n = coord.shape[0]
    if pbc:
        inv = np.linalg.inv(cell)
        a = np.floor(coord @ inv)
        rw = coord - a @ cell
        widths = 1.0 / np.linalg.norm(inv, axis=0)
        m = [int(np.ceil(rcut / w)) for w in widths]
        img = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in m], indexing="ij"), -1).reshape(-1, 3)
    else:
        a = np.zeros_like(coord)
        rw = coord
        img = np.zeros((1, 3), int)
    d = rw[None, :, None, :] - rw[:, None, None, :] + (img @ cell)[None, None]  # (N, N, I, 3)
    r2 = np.einsum("ijkl,ijkl->ijk", d, d)
    keep = (r2 < rcut * rcut) & (r2 > 1e-20)
    i, j, k = np.nonzero(keep)
    S = img[k] + a[i].astype(int) - a[j].astype(int)
    counts = np.bincount(i, minlength=n)
    width = max(int(counts.max()) if len(counts) else 0, 1)
    idx = np.full((n, width), n, np.int32)
    sh = np.zeros((n, width, 3), np.int8)
    slot = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    idx[i, slot] = j
    sh[i, slot] = S
    return idx, sh


class Packed(NamedTuple):
    """Frames padded to common sizes for batched training (a pytree of arrays with a leading
    frame axis, as :func:`jaxhybrid.train.fit` wants). ``types`` = −1 and ``idx`` = N_max mark
    padding; ``natoms`` real atoms; ``has_virial`` 1.0 where ``virial`` is a label."""

    coord: np.ndarray
    cell: np.ndarray
    types: np.ndarray
    idx: np.ndarray
    shifts: np.ndarray
    energy: np.ndarray
    force: np.ndarray
    virial: np.ndarray
    has_virial: np.ndarray
    natoms: np.ndarray


def pack(systems: Sequence[System], rcut: float, n_max: Optional[int] = None, k_max: Optional[int] = None) -> Packed:
    """Pad every frame of ``systems`` to ``n_max`` atoms and ``k_max`` neighbour slots (default:
    the largest found) and precompute the neighbour tables within ``rcut``."""
    systems = [s for s in systems if s.n_frames]
    if not systems:
        raise ValueError("pack: no frames.")
    tables = []
    for s in systems:
        for f in range(s.n_frames):
            tables.append(neighbour_table(s.coord[f], s.box[f], rcut, s.pbc))
    n_max = n_max or max(s.n_atoms for s in systems)
    k_found = max(t[0].shape[1] for t in tables)
    k_max = k_max or k_found
    if k_found > k_max or max(s.n_atoms for s in systems) > n_max:
        raise ValueError(f"pack: frames need n_max >= {max(s.n_atoms for s in systems)} and k_max >= {k_found}.")
    F = sum(s.n_frames for s in systems)
    out = dict(coord=np.zeros((F, n_max, 3)), cell=np.zeros((F, 3, 3)), types=np.full((F, n_max), -1, np.int32),
               idx=np.full((F, n_max, k_max), n_max, np.int32), shifts=np.zeros((F, n_max, k_max, 3), np.int8),
               energy=np.zeros(F), force=np.zeros((F, n_max, 3)), virial=np.zeros((F, 3, 3)), has_virial=np.zeros(F),
               natoms=np.zeros(F))
    f = 0
    t = iter(tables)
    for s in systems:
        n = s.n_atoms
        for k in range(s.n_frames):
            idx, sh = next(t)
            out["coord"][f, :n] = s.coord[k]
            out["cell"][f] = s.box[k]
            out["types"][f, :n] = s.types
            out["idx"][f, :n, : idx.shape[1]] = np.where(idx >= n, n_max, idx)
            out["shifts"][f, :n, : idx.shape[1]] = sh
            out["energy"][f] = s.energy[k]
            out["force"][f, :n] = s.force[k]
            if s.virial is not None:
                out["virial"][f] = s.virial[k]
                out["has_virial"][f] = 1.0
            out["natoms"][f] = n
            f += 1
    return Packed(**out)
