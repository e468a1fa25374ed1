"""A labelled data set in one file: a list of :class:`~.data.System` as one compressed ``.npz``
with a JSON header.

For shipping a small, expensive label set (held-out DFT-MD frames) beside a package: one file,
no pickle, keyed by a header that names everything the labels depend on (level of theory,
trajectory settings, seeds). Layout::

    header            JSON of the header dict (sorted keys): checked on read
    type_map          JSON list of element names
    coord_k           (F, N, 3) Å        system k = 0, 1, …
    energy_k          (F,) eV
    force_k           (F, N, 3) eV/Å
    types_k           (N,) type indices
    box_k             (F, 3, 3) Å (rows: cell vectors)
    pbc_k             () bool
    virial_k          (F, 3, 3) eV, only where the system has virials

:func:`read_label_file` also reads a file written with only the header and
``coord_k``/``energy_k``/``force_k`` (the first shipped sets): the missing fields come from its
keyword arguments (the same for every system).

A folder of such files keyed by configuration (:func:`keyed_label_file`: ``<name>-<hash of the
header>.npz``, the naming of :mod:`jaxhybrid.pretrained`'s weights) holds shipped label
sets: :func:`stored_labels` reads the set of a configuration when it is there and labels afresh
otherwise, so a changed configuration never reads stale labels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .data import System

__all__ = ["write_label_file", "read_label_file", "keyed_label_file", "stored_labels"]


def write_label_file(path: str | os.PathLike, systems: Sequence[System], header: dict) -> Path:
    """Write ``systems`` with the JSON ``header`` to the ``.npz`` file ``path`` (module docstring),
    atomically (a temporary file, then rename); returns the path."""
    systems = list(systems)
    if not systems:
        raise ValueError("write_label_file: no systems to write.")
    if len({tuple(s.type_map) for s in systems}) != 1:
        raise ValueError(f"write_label_file: the systems have different type maps "
                         f"{sorted({tuple(s.type_map) for s in systems})}; write one file per type map.")
    arrays = {"header": np.array(json.dumps(header, sort_keys=True)),
              "type_map": np.array(json.dumps(list(systems[0].type_map)))}
    for k, s in enumerate(systems):
        s.validate()
        arrays.update({f"coord_{k}": s.coord, f"energy_{k}": s.energy, f"force_{k}": s.force, f"types_{k}": s.types,
                       f"box_{k}": s.box, f"pbc_{k}": np.array(bool(s.pbc))})
        if s.virial is not None:
            arrays[f"virial_{k}"] = s.virial
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def read_label_file(path: str | os.PathLike, header: dict, *, type_map: Optional[Sequence[str]] = None, types=None,
                    box=None, pbc: Optional[bool] = None) -> list[System]:
    """The systems stored in ``path`` by :func:`write_label_file`, after checking that its header
    equals ``header`` (``ValueError`` naming the file otherwise: labels of other settings must
    never be read). ``type_map``, ``types`` (N,), ``box`` (3, 3) and ``pbc`` stand in for fields
    the file lacks (module docstring); a field the file has wins."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_label_file: no label file {path}.")
    with np.load(path) as z:
        if "header" not in z.files:
            raise ValueError(f"{path}: not a label file (no header).")
        if json.loads(str(z["header"])) != header:
            raise ValueError(f"{path}: its header does not match the requested key; delete it or write it again.")
        tmap = json.loads(str(z["type_map"])) if "type_map" in z.files else type_map
        out, k = [], 0
        while f"coord_{k}" in z.files:
            R = z[f"coord_{k}"]
            fields = {"types": types, "box": None if box is None else np.broadcast_to(box, (len(R), 3, 3)).copy(),
                      "pbc": pbc}
            fields.update({n: z[f"{n}_{k}"] for n in ("types", "box", "pbc") if f"{n}_{k}" in z.files})
            missing = [n for n, v in [("type_map", tmap)] + list(fields.items()) if v is None]
            if missing:
                raise ValueError(f"{path}: system {k} lacks {missing}; pass them to read_label_file.")
            virial = z[f"virial_{k}"] if f"virial_{k}" in z.files else None
            out.append(System(tuple(tmap), np.asarray(fields["types"]), R, fields["box"], z[f"energy_{k}"],
                              z[f"force_{k}"], virial, bool(fields["pbc"])).validate())
            k += 1
    if not out:
        raise ValueError(f"{path}: the label file holds no systems.")
    return out


def keyed_label_file(folder: str | os.PathLike, name: str, header: dict) -> Path:
    """``folder/<name>-<config_hash(header)>.npz``: the file of the label set of ``header``."""
    from jaxhybrid.cache import config_hash

    if not name or "/" in name:
        raise ValueError(f"keyed_label_file: name must be a plain file-name stem, got {name!r}.")
    return Path(folder) / f"{name}-{config_hash(header)}.npz"


def stored_labels(folder: str | os.PathLike, name: str, header: dict, make: Callable[[], list[System]],
                  **defaults) -> tuple[list[System], Optional[Path]]:
    """The label set of ``header``: read from :func:`keyed_label_file` when that file exists
    (:func:`read_label_file`, with ``defaults`` for the fields an older file lacks), else
    ``make()`` (nothing is written: :func:`write_label_file` stores a set). Returns ``(systems,
    the file read or None)``."""
    path = keyed_label_file(folder, name, header)
    if not path.is_file():
        return make(), None
    return read_label_file(path, header, **defaults), path
