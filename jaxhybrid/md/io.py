"""File formats: extended XYZ trajectories (ASE / OVITO readable) and LAMMPS ``setfl`` EAM
tables. Every writer goes through :func:`jaxhybrid.store.atomic_write` (temporary file, fsync,
``os.replace``): a crash or a bad argument never leaves a truncated or half-written file, and
every argument is validated before anything is written.

Extended XYZ (https://github.com/libAtoms/extxyz): per frame, the atom count, a comment line
with ``Lattice="ax ay az bx by bz cx cy cz" Properties=species:S:1:pos:R:3[:masses:R:1]
[:momenta:R:3] pbc="T T T"`` plus ``key=value`` pairs, then one line per atom. Velocities are
stored the way ASE reads them (``ase.io.read`` → ``Atoms.get_velocities()``): as ``momenta``
in ASE's units (amu·Å per ASE time unit ``Å·√(amu/eV)`` ≈ 10.18 fs) together with ``masses``
(amu). From ``units.METAL`` velocities (Å/ps) that is ``p = m v √(mvv2e)`` with ``mvv2e`` =
1 amu·Å²/ps² in eV (:mod:`jaxhybrid.md.units`). Reduced LJ units have no conversion without
σ, ε and m, so they need the explicit ``velocity_scale`` (Å/ps per velocity unit).

setfl (LAMMPS ``pair_style eam/alloy``): three comment lines; ``Nelements El1 El2 ...``;
``Nrho drho Nr dr cutoff``; per element ``Z mass a lattice`` followed by ``F(ρ)`` (Nrho values)
and ``f(r)`` (Nr values); then ``r·φ(r)`` (Nr values, eV·Å) for each pair ``i ≥ j`` in the order
(1,1), (2,1), (2,2), (3,1), ... Values may be split across lines arbitrarily.

Readers raise ``ValueError`` naming the file, the frame or line, and what to fix.
"""

from __future__ import annotations

import math
import re
import shlex
import shutil
from pathlib import Path
from typing import Mapping, NamedTuple, Optional, Sequence

import numpy as np

from ..store import atomic_write
from .space import Box, make_box
from .units import METAL, Units

__all__ = ["write_extxyz", "read_extxyz", "SetflTables", "read_setfl", "write_setfl"]

#: ASE's velocity unit (Å per ASE time unit) in Å/ps: v_ASE = v[Å/ps] · ASE_VELOCITY_PER_A_PS.
ASE_VELOCITY_PER_A_PS = math.sqrt(METAL.mvv2e)

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_RESERVED = {"Lattice", "Properties", "pbc", "symbols", "positions", "lattice", "masses", "momenta", "velocities",
             "info", "species", "pos"}


def _lines(text: str) -> list:
    """``text`` split at '\\n' only (``str.splitlines`` also breaks at \\x1c-\\x1e, \\x85, \\u2028 ...,
    which may sit inside a comment-line string); a final newline ends the last line."""
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def _real_array(x, what: str) -> np.ndarray:
    try:
        a = np.asarray(x)
    except Exception as e:  # ragged nested lists, objects
        raise ValueError(f"write_extxyz: {what} must be a numeric array ({type(e).__name__}: {e}).") from None
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"write_extxyz: {what} must be real numbers, got dtype {a.dtype}.")
    return a.astype(np.float64)


def _finite(a: np.ndarray, what: str, frames: bool) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        idx = np.argwhere(bad)[0]
        where = f"frame {idx[0]}, atom {idx[1]}" if frames else f"atom {idx[0]}"
        raise ValueError(f"write_extxyz: {what} contains NaN/Inf (first at {where}); fix the data before writing.")


def _format_value(key: str, v) -> str:
    """One comment-line value: a number, T/F, a quoted string or a quoted list of numbers."""
    if isinstance(v, (str, np.str_)):
        s = str(v)
        if any(c in s for c in '"\\=') or not s.replace(" ", "").isprintable():
            raise ValueError(f"write_extxyz: the string value of {key!r} may not contain quotes, backslashes, '=', "
                             f"tabs, line breaks or other control characters; got {s!r}.")
        return f'"{s}"' if (not s or any(c.isspace() for c in s)) else s
    if isinstance(v, (bool, np.bool_)):
        return "T" if v else "F"
    try:
        a = np.asarray(v)
    except Exception:
        a = np.asarray(None, dtype=object)
    if a.dtype == bool:
        return '"' + " ".join("T" if b else "F" for b in a.ravel()) + '"' if a.ndim else ("T" if a else "F")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"write_extxyz: the value of {key!r} must be a number, a bool, a string or an array of "
                         f"numbers; got {type(v).__name__} (dtype {a.dtype}).")
    if a.size == 0:
        raise ValueError(f"write_extxyz: the value of {key!r} is an empty array; leave the key out instead.")
    fmt = (lambda x: str(int(x))) if np.issubdtype(a.dtype, np.integer) else (lambda x: repr(float(x)))
    if a.ndim == 0:
        return fmt(a)
    return '"' + " ".join(fmt(x) for x in a.ravel()) + '"'


def _check_key(key: str, where: str) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"write_extxyz: {where} key {key!r} is not a valid extxyz key (letters, digits, '_', '-'; "
                         "starting with a letter or '_').")
    if key in _RESERVED:
        raise ValueError(f"write_extxyz: {where} key {key!r} is reserved by the format or the reader; rename it.")


def check_symbols(symbols, n: int, what: str) -> list:
    """``symbols`` (one string, or one per atom) as a list of ``n`` chemical symbols that ASE
    reads (``ase.data.chemical_symbols``, any capitalisation; ``"X"`` is the dummy element);
    ``ValueError`` from ``what`` otherwise."""
    from ase.data import chemical_symbols

    if isinstance(symbols, (str, np.str_)):
        syms = [str(symbols)] * n
    else:
        try:
            syms = list(symbols)
        except TypeError:
            raise ValueError(f"{what}: symbols must be a string or a sequence of strings, got "
                             f"{type(symbols).__name__}.") from None
    if len(syms) != n:
        raise ValueError(f"{what}: {len(syms)} symbols for {n} atoms; give one symbol or one per atom.")
    known = set(chemical_symbols)
    for i, s in enumerate(syms):
        if not isinstance(s, (str, np.str_)) or str(s).capitalize() not in known:
            raise ValueError(f"{what}: symbol {i} ({s!r}) is not a chemical symbol that ASE and OVITO read; use an "
                             "element ('Ar', 'Cu', ...) or 'X' for a dummy atom.")
    return [str(s) for s in syms]


def write_extxyz(path, positions, box, symbols, *, velocities=None, masses=None, units: Optional[Units] = None,
                 velocity_scale: Optional[float] = None, append: bool = False, wrap: bool = True,
                 frame_info: Optional[Mapping] = None, **info) -> Path:
    """Write one frame (positions (N,3)) or several ((T,N,3)) to ``path`` as extended XYZ,
    atomically (module docstring); with ``append=True`` the existing frames are kept and the
    new ones added after them (the whole file is replaced atomically: the old content plus the
    new frames). Every argument is checked before anything is written.

    Args:
        positions: (N, 3) or (T, N, 3), length unit Å (or σ; the file does not say).
        box: scalar, (3,) or (3, 3) cell (rows = lattice vectors), same for every frame.
        symbols: one string, or one per atom (ASE needs chemical symbols; ``"X"`` is a dummy).
        velocities: (N, 3) (one frame) or (T, N, 3), written as ASE ``momenta`` with ``masses``
            so that ``ase.io.read(path).get_velocities()`` returns them in ASE units. Needs
            ``masses`` and the velocity unit: ``units=md.METAL`` (Å/ps) or ``velocity_scale``
            (Å/ps per your velocity unit; e.g. for argon in LJ units σ/τ = 3.405 Å / 2.156 ps).
        masses: scalar or (N,), in amu; written as the ``masses`` column.
        units: the unit system of ``velocities`` (only ``METAL`` is convertible).
        velocity_scale: Å/ps per velocity unit, for any other unit system.
        append: add frames to an existing file instead of replacing it.
        wrap: wrap positions into the cell.
        frame_info: per-frame values, ``{key: array}`` with leading length T: frame ``t`` gets
            ``value[t]`` (a scalar or an array).
        **info: values shared by every frame (numbers, bools, strings, arrays of numbers, the
            latter written as a quoted list).

    Returns:
        ``path``.
    """
    path = Path(path)
    pos = _real_array(positions, "positions")
    if pos.ndim == 2:
        pos = pos[None]
    if pos.ndim != 3 or pos.shape[-1] != 3:
        raise ValueError(f"write_extxyz: positions must be (N, 3) or (T, N, 3), got shape {np.shape(positions)}.")
    T, n, _ = pos.shape
    if T == 0 or n == 0:
        raise ValueError(f"write_extxyz: nothing to write ({T} frames of {n} atoms); pass at least one frame of one atom.")
    _finite(pos, "positions", True)
    if not isinstance(box, Box):
        _real_array(box, "box")
    try:
        H = np.asarray(make_box(box).matrix, np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"write_extxyz: invalid box: {e}") from None
    if not np.all(np.isfinite(H)):
        raise ValueError(f"write_extxyz: the box has NaN/Inf entries: {H.tolist()}.")
    syms = check_symbols(symbols, n, "write_extxyz")

    m = None
    if masses is not None:
        m = _real_array(masses, "masses")
        if m.ndim == 0:
            m = np.full(n, float(m))
        if m.shape != (n,):
            raise ValueError(f"write_extxyz: masses must be a scalar or have shape ({n},), got {m.shape}.")
        if not np.all(np.isfinite(m) & (m > 0)):
            raise ValueError(f"write_extxyz: masses must be positive and finite (amu), got {m.tolist()[:8]}...")
    mom = None
    if velocities is not None:
        v = _real_array(velocities, "velocities")
        if v.ndim == 2:
            v = v[None]
        if v.shape != (T, n, 3):
            raise ValueError(f"write_extxyz: velocities must have the shape of positions ({(T, n, 3)} or {(n, 3)} for one "
                             f"frame), got {np.shape(velocities)}.")
        _finite(v, "velocities", True)
        if m is None:
            raise ValueError("write_extxyz: velocities need masses= (amu): extxyz/ASE store momenta and masses.")
        if units is not None and velocity_scale is not None:
            raise ValueError("write_extxyz: give either units= or velocity_scale=, not both.")
        if velocity_scale is not None:
            try:
                scale = float(velocity_scale)
            except (TypeError, ValueError):
                scale = math.nan
            if not (math.isfinite(scale) and scale > 0):
                raise ValueError(f"write_extxyz: velocity_scale (Å/ps per velocity unit) must be positive, got "
                                 f"{velocity_scale}.")
        elif units is not None and getattr(units, "name", None) == METAL.name:
            scale = 1.0
        else:
            raise ValueError(
                "write_extxyz: velocities need their unit to be written in ASE's units: pass units=md.METAL (Å/ps) "
                "or velocity_scale= (Å/ps per velocity unit; reduced LJ units have no conversion without σ, ε and m, "
                f"e.g. argon: σ/τ = 3.405 Å / 2.156 ps ≈ 1.579). Got units={getattr(units, 'name', units)!r}.")
        mom = m[None, :, None] * v * (scale * ASE_VELOCITY_PER_A_PS)

    for k in info:
        _check_key(k, "info")
    shared = {k: _format_value(k, v) for k, v in info.items()}
    per_frame = []
    frame_info = dict(frame_info or {})
    for k, v in frame_info.items():
        _check_key(k, "frame_info")
        if k in info:
            raise ValueError(f"write_extxyz: {k!r} is given both in info (all frames) and frame_info (per frame).")
        if not (isinstance(v, (list, tuple)) or (hasattr(v, "__array__") and getattr(v, "ndim", 0) > 0)):
            raise ValueError(f"write_extxyz: frame_info[{k!r}] must be a list or array with one entry per frame ({T}), "
                             f"got {type(v).__name__}; a value shared by every frame goes in info=.")
        if len(v) != T:
            raise ValueError(f"write_extxyz: frame_info[{k!r}] has {len(v)} entries for {T} frames; give one per "
                             "frame (a value shared by every frame goes in info=).")
    for t in range(T):
        per_frame.append({k: _format_value(k, v[t]) for k, v in frame_info.items()})
    if append and path.exists() and not path.is_file():
        raise ValueError(f"write_extxyz: {path} exists and is not a file.")
    if path.is_dir():
        raise ValueError(f"write_extxyz: {path} is a directory; give a file name.")

    lattice = " ".join(repr(float(x)) for x in H.reshape(-1))
    props = "species:S:1:pos:R:3" + (":masses:R:1" if m is not None else "") + (":momenta:R:3" if mom is not None else "")
    if wrap:
        Hinv = np.linalg.inv(H)
        s = pos @ Hinv
        pos = (s - np.floor(s)) @ H

    def write(fh):
        if append and path.exists():
            with open(path, "rb") as old:
                shutil.copyfileobj(old, fh)
                if old.tell() > 0:
                    old.seek(-1, 2)
                    if old.read(1) != b"\n":
                        fh.write(b"\n")
        for t in range(T):
            extras = " ".join(f"{k}={v}" for k, v in {**shared, **per_frame[t]}.items())
            out = [f"{n}", f'Lattice="{lattice}" Properties={props} pbc="T T T"' + (" " + extras if extras else "")]
            p = pos[t]
            for i in range(n):
                line = f"{syms[i]} {p[i, 0]:.10f} {p[i, 1]:.10f} {p[i, 2]:.10f}"
                if m is not None:
                    line += f" {float(m[i])!r}"
                if mom is not None:
                    line += f" {mom[t, i, 0]:.12g} {mom[t, i, 1]:.12g} {mom[t, i, 2]:.12g}"
                out.append(line)
            fh.write(("\n".join(out) + "\n").encode())

    return atomic_write(path, write)


_PROP_TYPES = {"R": float, "I": int, "S": str, "L": None}


def _parse_bool(tok: str):
    b = {"T": True, "F": False, "True": True, "False": False, "t": True, "f": False, "true": True, "false": False}
    return b.get(tok)


def _parse_value(v: str):
    """A comment-line value: int, float, bool, or an array of them, else the string."""
    toks = v.split()
    if not toks:
        return v
    for conv in (int, float):
        try:
            vals = [conv(t) for t in toks]
        except ValueError:
            continue
        return vals[0] if len(vals) == 1 else np.array(vals)
    bools = [_parse_bool(t) for t in toks]
    if all(b is not None for b in bools):
        return bools[0] if len(bools) == 1 else np.array(bools)
    return v


def _parse_properties(prop: str, where: str):
    fields = prop.split(":")
    if len(fields) % 3 or not fields[0]:
        raise ValueError(f"{where}: Properties={prop!r} is not a list of name:type:columns triples.")
    out = []
    for name, typ, cols in zip(fields[::3], fields[1::3], fields[2::3]):
        if typ not in _PROP_TYPES:
            raise ValueError(f"{where}: property {name!r} has type {typ!r}; extxyz types are R, I, S, L.")
        try:
            c = int(cols)
        except ValueError:
            c = -1
        if c < 1:
            raise ValueError(f"{where}: property {name!r} has {cols!r} columns; need a positive integer.")
        out.append((name, typ, c))
    return out


def read_extxyz(path) -> list:
    """Read an extended XYZ file (as written by :func:`write_extxyz`, ASE or OVITO): a list of
    dicts, one per frame, with ``symbols``, ``positions`` (N, 3), ``lattice`` (3, 3) when the
    file has one, ``pbc``, the comment-line values (also gathered under ``info``) and any other
    per-atom columns under their names (``masses`` amu, ``momenta`` in ASE units). With
    ``momenta`` and ``masses``, ``velocities`` are given in Å/ps (divide by your
    ``velocity_scale`` for other units); files with a legacy ``vel`` column give it as
    ``velocities`` as written.

    Raises ``ValueError`` naming the file, the frame (0-based) and the line (1-based) for a bad
    atom-count line, a comment line that does not parse, a short or partial last frame, or atom
    lines that do not match ``Properties``."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise ValueError(f"read_extxyz: {path} is not a text file ({e}).") from None
    except OSError as e:
        raise ValueError(f"read_extxyz: cannot read {path} ({e.strerror or e}).") from None
    lines = _lines(text)
    frames = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        k = len(frames)
        where = f"read_extxyz: {path}, frame {k} (line {i + 1})"
        tok = lines[i].split()
        try:
            n = int(tok[0]) if len(tok) == 1 else -1
        except ValueError:
            n = -1
        if n < 0:
            raise ValueError(f"{where}: expected the atom count (one non-negative integer), got {lines[i][:80]!r}. "
                             "The file is not extended XYZ or an earlier frame has the wrong number of atom lines.")
        if i + 1 >= len(lines):
            raise ValueError(f"{where}: the file ends after the atom count {n} (truncated: no comment line); "
                             "drop the partial last frame or rewrite the file.")
        have = len(lines) - (i + 2)
        if have < n:
            raise ValueError(f"{where}: the frame announces {n} atoms but only {have} lines follow (the last frame "
                             "is partial: truncated file); drop it or rewrite the file.")
        comment = lines[i + 1]
        try:
            tokens = shlex.split(comment)
        except ValueError as e:
            raise ValueError(f"{where}: the comment line does not parse ({e}): {comment[:120]!r}.") from None
        kv = {}
        for t in tokens:
            if "=" in t:
                key, val = t.split("=", 1)
                kv[key] = val
        props = _parse_properties(kv.pop("Properties", "species:S:1:pos:R:3"), where)
        names = [p[0] for p in props]
        if "pos" not in names or dict((p[0], p[1:]) for p in props)["pos"] != ("R", 3):
            raise ValueError(f"{where}: Properties must contain pos:R:3, got {names}.")
        ncols = sum(p[2] for p in props)
        cols = {name: [] for name in names}
        for a in range(n):
            ln = i + 2 + a
            row = lines[ln].split()
            if len(row) != ncols:
                raise ValueError(f"read_extxyz: {path}, frame {k}, atom {a} (line {ln + 1}): {len(row)} columns, "
                                 f"Properties {':'.join(f'{p}:{t}:{c}' for p, t, c in props)} needs {ncols}.")
            c0 = 0
            for name, typ, c in props:
                vals = row[c0:c0 + c]
                c0 += c
                try:
                    if typ == "R":
                        conv = [float(x) for x in vals]
                    elif typ == "I":
                        conv = [int(x) for x in vals]
                    elif typ == "L":
                        conv = [_parse_bool(x) for x in vals]
                        if any(b is None for b in conv):
                            raise ValueError
                    else:
                        conv = vals
                except ValueError:
                    raise ValueError(f"read_extxyz: {path}, frame {k}, atom {a} (line {ln + 1}): column {name!r} "
                                     f"of type {typ} cannot hold {vals}.") from None
                cols[name].append(conv if c > 1 else conv[0])
        frame = {}
        for name, typ, c in props:
            arr = np.array(cols[name], dtype=object if typ == "S" else None)
            if typ == "R":
                arr = arr.astype(np.float64).reshape(n, c) if c > 1 else arr.astype(np.float64).reshape(n)
            key = {"pos": "positions", "species": "symbols", "vel": "velocities"}.get(name, name)
            frame[key] = list(arr) if typ == "S" and c == 1 else arr
        if "symbols" in frame:
            frame["symbols"] = [str(s) for s in frame["symbols"]]
        if "positions" in frame and not np.all(np.isfinite(frame["positions"])):
            bad = int(np.argwhere(~np.isfinite(frame["positions"]))[0, 0])
            raise ValueError(f"read_extxyz: {path}, frame {k}, atom {bad} (line {i + 3 + bad}): position is NaN/Inf.")
        if "momenta" in frame and "masses" in frame and "velocities" not in frame:
            m = np.asarray(frame["masses"], np.float64).reshape(n, 1)
            if not np.all(np.isfinite(m) & (m > 0)):
                raise ValueError(f"{where}: the masses column has non-positive or non-finite entries.")
            frame["velocities"] = frame["momenta"] / m / ASE_VELOCITY_PER_A_PS
        info_d = {}
        if "Lattice" in kv:
            try:
                lat = np.array([float(x) for x in kv.pop("Lattice").split()])
            except ValueError:
                lat = np.zeros(0)
            if lat.size != 9 or not np.all(np.isfinite(lat)):
                raise ValueError(f"{where}: Lattice must hold 9 finite numbers (three lattice vectors).")
            frame["lattice"] = lat.reshape(3, 3)
        if "pbc" in kv:
            pb = [_parse_bool(x) for x in kv.pop("pbc").split()]
            if len(pb) != 3 or any(b is None for b in pb):
                raise ValueError(f"{where}: pbc must be three of T/F.")
            frame["pbc"] = np.array(pb)
        for key, val in kv.items():
            v = _parse_value(val)
            info_d[key] = v
            if key not in frame:
                frame[key] = v
        frame["info"] = info_d
        frames.append(frame)
        i += 2 + n
    return frames


class SetflTables(NamedTuple):
    """Tabulated EAM (``eam/alloy``): ``embed[s]`` F(ρ) on ``ρ = k·drho``, ``density[s]`` f(r)
    and ``rphi[s, t]`` r·φ(r) on ``r = k·dr``; masses in amu; cutoff in Å."""

    elements: tuple
    masses: np.ndarray
    drho: float
    dr: float
    cutoff: float
    embed: np.ndarray  # (S, Nrho)
    density: np.ndarray  # (S, Nr)
    rphi: np.ndarray  # (S, S, Nr), symmetric


def read_setfl(path) -> SetflTables:
    """Parse a LAMMPS ``setfl`` (``*.eam.alloy``) file. Raises ``ValueError`` naming the file
    and the line or value that is wrong (header counts, grid spacings, element lines, a
    non-number, too few or too many values)."""
    path = Path(path)
    try:
        lines = _lines(path.read_text())
    except UnicodeDecodeError as e:
        raise ValueError(f"read_setfl: {path} is not a text file ({e}).") from None
    except OSError as e:
        raise ValueError(f"read_setfl: cannot read {path} ({e.strerror or e}).") from None
    if len(lines) < 6:
        raise ValueError(f"read_setfl: {path} is too short to be a setfl file ({len(lines)} lines; need 3 comment lines, "
                         "the element line, the grid line and the tables).")
    head = lines[3].split()
    try:
        ne = int(head[0])
    except (IndexError, ValueError):
        ne = 0
    if ne < 1:
        raise ValueError(f"read_setfl: {path} line 4 must be 'Nelements El1 El2 ...' with Nelements >= 1, got "
                         f"{lines[3][:80]!r}.")
    elements = tuple(head[1: 1 + ne])
    if len(head) - 1 != ne:
        raise ValueError(f"read_setfl: {path} line 4 announces {ne} elements but names {len(head) - 1}.")
    grid = lines[4].split()
    try:
        if len(grid) < 5:
            raise ValueError
        nrho, drho, nr, dr, cut = int(grid[0]), float(grid[1]), int(grid[2]), float(grid[3]), float(grid[4])
    except ValueError:
        raise ValueError(f"read_setfl: {path} line 5 must be 'Nrho drho Nr dr cutoff' (two integers and three numbers), "
                         f"got {lines[4][:80]!r}.") from None
    if nrho < 1 or nr < 1 or not (math.isfinite(drho) and drho > 0 and math.isfinite(dr) and dr > 0
                                  and math.isfinite(cut) and cut > 0):
        raise ValueError(f"read_setfl: {path} line 5: need Nrho, Nr >= 1 and drho, dr, cutoff > 0 (finite); got "
                         f"Nrho={nrho}, drho={drho}, Nr={nr}, dr={dr}, cutoff={cut}.")
    tokens = " ".join(lines[5:]).split()
    need = ne * (4 + nrho + nr) + ne * (ne + 1) // 2 * nr
    if len(tokens) != need:
        what = "ended early" if len(tokens) < need else "has values left over"
        raise ValueError(f"read_setfl: {path} {what}: Nelements={ne}, Nrho={nrho}, Nr={nr} need {need} values after "
                         f"line 5 (4 + Nrho + Nr per element, then Nr per element pair), found {len(tokens)}. Check the "
                         "header counts or the file's completeness.")
    pos = 0

    def take(k, what):
        nonlocal pos
        try:
            out = np.array(tokens[pos: pos + k], np.float64)
        except ValueError:
            bad = next(t for t in tokens[pos: pos + k] if not _is_float(t))
            raise ValueError(f"read_setfl: {path}: {what} holds {bad!r}, not a number.") from None
        if not np.all(np.isfinite(out)):
            raise ValueError(f"read_setfl: {path}: {what} contains NaN/Inf.")
        pos += k
        return out

    masses, embed, dens = [], [], []
    for s, el in enumerate(elements):
        hdr = tokens[pos: pos + 4]
        try:
            int(hdr[0])
            mass = float(hdr[1])
            float(hdr[2])
        except ValueError:
            raise ValueError(f"read_setfl: {path}: the line of element {el} must be 'Z mass a lattice', got "
                             f"{' '.join(hdr)!r}.") from None
        if not (math.isfinite(mass) and mass > 0):
            raise ValueError(f"read_setfl: {path}: element {el} has mass {mass}; need a positive mass (amu).")
        masses.append(mass)
        pos += 4
        embed.append(take(nrho, f"F(rho) of {el}"))
        dens.append(take(nr, f"f(r) of {el}"))
    rphi = np.zeros((ne, ne, nr))
    for i in range(ne):
        for j in range(i + 1):
            t = take(nr, f"r*phi(r) of {elements[i]}-{elements[j]}")
            rphi[i, j] = t
            rphi[j, i] = t
    return SetflTables(elements, np.array(masses), drho, dr, cut, np.stack(embed), np.stack(dens), rphi)


def _is_float(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def write_setfl(path, tables: SetflTables, comments: Sequence[str] = ("", "", ""), lattice: Optional[Sequence] = None) -> Path:
    """Write ``tables`` in setfl format (5 values per line), atomically."""
    ne = len(tables.elements)
    nrho = tables.embed.shape[1]
    nr = tables.density.shape[1]

    def block(a):
        a = np.asarray(a).reshape(-1)
        return "\n".join(" ".join(f"{x:.16e}" for x in a[k : k + 5]) for k in range(0, a.size, 5))

    out = [(list(comments) + ["", "", ""])[k] for k in range(3)]
    out.append(f"{ne} " + " ".join(tables.elements))
    out.append(f"{nrho} {tables.drho:.16e} {nr} {tables.dr:.16e} {tables.cutoff:.16e}")
    for s in range(ne):
        z, a, lt = (0, 0.0, "fcc") if lattice is None else lattice[s]
        out.append(f"{z} {tables.masses[s]:.8g} {a} {lt}")
        out.append(block(tables.embed[s]))
        out.append(block(tables.density[s]))
    for i in range(ne):
        for j in range(i + 1):
            out.append(block(tables.rphi[i, j]))
    return atomic_write(path, "\n".join(out) + "\n")
