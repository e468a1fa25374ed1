"""File formats: extended XYZ trajectories (ASE / OVITO readable) and LAMMPS ``setfl`` EAM
tables.

Extended XYZ (https://github.com/libAtoms/extxyz): per frame, the atom count, a comment line
with ``Lattice="ax ay az bx by bz cx cy cz" Properties=species:S:1:pos:R:3[:vel:R:3]
pbc="T T T"`` plus ``key=value`` scalars, then one line per atom.

setfl (LAMMPS ``pair_style eam/alloy``): three comment lines; ``Nelements El1 El2 ...``;
``Nrho drho Nr dr cutoff``; per element ``Z mass a lattice`` followed by ``F(ρ)`` (Nrho values)
and ``f(r)`` (Nr values); then ``r·φ(r)`` (Nr values, eV·Å) for each pair ``i ≥ j`` in the order
(1,1), (2,1), (2,2), (3,1), ... Values may be split across lines arbitrarily.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional, Sequence

import numpy as np

from .space import make_box

__all__ = ["write_extxyz", "read_extxyz", "SetflTables", "read_setfl", "write_setfl"]


def write_extxyz(path, positions, box, symbols, *, velocities=None, append: bool = False, wrap: bool = True, **info) -> None:
    """Write one frame (positions (N,3) or several (T,N,3)) to ``path``. ``symbols``: one
    string, or one per atom. ``info``: scalar ``key=value`` pairs (e.g. ``energy=...``,
    ``step=...``); per-frame arrays of length T are split across frames."""
    pos = np.asarray(positions, np.float64)
    if pos.ndim == 2:
        pos = pos[None]
    if pos.ndim != 3 or pos.shape[-1] != 3:
        raise ValueError(f"write_extxyz: positions must be (N,3) or (T,N,3), got {pos.shape}.")
    T, n, _ = pos.shape
    vel = None if velocities is None else np.asarray(velocities, np.float64).reshape(T, n, 3)
    syms = [symbols] * n if isinstance(symbols, str) else list(symbols)
    if len(syms) != n:
        raise ValueError(f"write_extxyz: {len(syms)} symbols for {n} atoms.")
    H = np.asarray(make_box(box).matrix, np.float64)
    Hinv = np.linalg.inv(H)
    lattice = " ".join(f"{x:.10g}" for x in H.reshape(-1))
    props = "species:S:1:pos:R:3" + (":vel:R:3" if vel is not None else "")
    with open(path, "a" if append else "w") as fh:
        for t in range(T):
            p = pos[t]
            if wrap:
                s = p @ Hinv
                p = (s - np.floor(s)) @ H
            extras = []
            for k, v in info.items():
                v = np.asarray(v)
                v = v[t] if v.ndim and v.shape[0] == T else v
                extras.append(f"{k}={float(v):.10g}" if np.ndim(v) == 0 else f'{k}="{" ".join(map(str, np.ravel(v)))}"')
            fh.write(f"{n}\n")
            fh.write(f'Lattice="{lattice}" Properties={props} pbc="T T T" ' + " ".join(extras) + "\n")
            for i in range(n):
                line = f"{syms[i]} {p[i, 0]:.8f} {p[i, 1]:.8f} {p[i, 2]:.8f}"
                if vel is not None:
                    line += f" {vel[t, i, 0]:.8f} {vel[t, i, 1]:.8f} {vel[t, i, 2]:.8f}"
                fh.write(line + "\n")


def read_extxyz(path):
    """Minimal reader for files written by :func:`write_extxyz`: a list of dicts with
    ``symbols``, ``positions``, ``lattice`` (3,3) and the comment-line scalars."""
    frames = []
    with open(path) as fh:
        lines = fh.read().splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n = int(lines[i])
        comment = lines[i + 1]
        rows = [lines[i + 2 + k].split() for k in range(n)]
        frame = {"symbols": [r[0] for r in rows], "positions": np.array([[float(x) for x in r[1:4]] for r in rows])}
        if len(rows[0]) >= 7:
            frame["velocities"] = np.array([[float(x) for x in r[4:7]] for r in rows])
        import shlex

        for tok in shlex.split(comment):
            if "=" in tok:
                k, v = tok.split("=", 1)
                if k == "Lattice":
                    frame["lattice"] = np.array([float(x) for x in v.split()]).reshape(3, 3)
                else:
                    try:
                        frame[k] = float(v)
                    except ValueError:
                        frame[k] = v
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
    """Parse a LAMMPS ``setfl`` (``*.eam.alloy``) file."""
    with open(path) as fh:
        lines = fh.read().splitlines()
    if len(lines) < 6:
        raise ValueError(f"read_setfl: {path} is too short to be a setfl file.")
    head = lines[3].split()
    ne = int(head[0])
    elements = tuple(head[1 : 1 + ne])
    if len(elements) != ne:
        raise ValueError(f"read_setfl: line 4 announces {ne} elements but names {len(elements)}.")
    nrho, drho, nr, dr, cut = lines[4].split()[:5]
    nrho, nr, drho, dr, cut = int(nrho), int(nr), float(drho), float(dr), float(cut)
    tokens = " ".join(lines[5:]).split()
    pos = 0
    masses, embed, dens = [], [], []

    def take(k):
        nonlocal pos
        if pos + k > len(tokens):
            raise ValueError(f"read_setfl: {path} ended early (needed {k} more values).")
        out = np.array(tokens[pos : pos + k], np.float64)
        pos += k
        return out

    for _ in range(ne):
        masses.append(float(tokens[pos + 1]))
        pos += 4
        embed.append(take(nrho))
        dens.append(take(nr))
    rphi = np.zeros((ne, ne, nr))
    for i in range(ne):
        for j in range(i + 1):
            t = take(nr)
            rphi[i, j] = t
            rphi[j, i] = t
    return SetflTables(elements, np.array(masses), drho, dr, cut, np.stack(embed), np.stack(dens), rphi)


def write_setfl(path, tables: SetflTables, comments: Sequence[str] = ("", "", ""), lattice: Optional[Sequence] = None) -> None:
    """Write ``tables`` in setfl format (5 values per line)."""
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
    Path(path).write_text("\n".join(out) + "\n")
