"""Files that survive a crash: one atomic writer and one model-file format.

* :func:`atomic_write` — every file jaxhybrid writes (checkpoints, trained models, records,
  summaries, trajectories, label sets) goes through it: the bytes go to a temporary file in the
  same folder, are flushed to disk (``fsync``) and moved over the target with ``os.replace``,
  which POSIX makes atomic. A reader, or a run killed at any instant, sees the old file or the
  new one, never a mixture; a kill leaves at most a stray ``.<name>.tmp-<pid>``.
  ``keep_previous=True`` first hard-links the old file to ``<stem>.prev<suffix>``, so the last
  good version survives even a file damaged later by something else.
* A **model file** (:func:`write_model`, :func:`read_model`): one UTF-8 JSON header line, then the
  Equinox leaf serialisation (:func:`equinox.tree_serialise_leaves`) of a pytree. No pickle: the
  header carries what is needed to build the template (configuration, shapes that come from the
  data), the leaves carry the numbers. Training checkpoints (:func:`jaxhybrid.train.fit`) and
  shipped weights (:mod:`jaxhybrid.pretrained`) are model files.

Every reader names the file in its error and says what to do about it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any, Callable, Union

import equinox as eqx
import jax
import numpy as np

__all__ = ["atomic_write", "write_model", "read_header", "read_model", "previous", "digest", "sync_dir"]

PathLike = Union[str, os.PathLike]


def previous(path: PathLike) -> Path:
    """Where :func:`atomic_write` keeps the last version with ``keep_previous``: ``a/ckpt.prev.eqx``."""
    p = Path(path)
    return p.with_name(p.stem + ".prev" + p.suffix)


def atomic_write(path: PathLike, data: Union[bytes, str, Callable[[IO[bytes]], Any]], *,
                 keep_previous: bool = False) -> Path:
    """Write ``data`` (bytes, text — UTF-8 — or a function writing to a binary file) to ``path``
    atomically (module docstring); creates the parent folder. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            prev, link = previous(path), path.with_name(f".{path.name}.prev-{os.getpid()}")
            try:
                os.link(path, link)          # the old file stays in place until the new one replaces it
            except OSError:                  # file systems without hard links
                link.write_bytes(path.read_bytes())
            os.replace(link, prev)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    sync_dir(path.parent)
    return path


def sync_dir(folder: PathLike) -> None:
    """Make renames inside ``folder`` durable (``fsync`` of the directory; POSIX, a no-op where
    the platform does not allow it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def write_model(path: PathLike, header: dict, tree: Any, *, keep_previous: bool = False) -> Path:
    """Write ``header`` (a JSON-serialisable dict) as one line and the leaves of ``tree`` to
    ``path`` atomically."""
    line = json.dumps(header, sort_keys=True, default=str)  # no indent: one line (newlines are escaped)

    def write(f):
        f.write(line.encode() + b"\n")
        eqx.tree_serialise_leaves(f, tree)

    return atomic_write(path, write, keep_previous=keep_previous)


def _header(f: IO[bytes], path: PathLike) -> dict:
    first = f.readline()
    try:
        header = json.loads(first.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a jaxhybrid model file (no JSON header line: {e}).") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: not a jaxhybrid model file (the header is {type(header).__name__}, not an object).")
    return header


def read_header(path: PathLike) -> dict:
    """The JSON header of a model file (``ValueError`` naming the file if it is not one)."""
    with open(path, "rb") as f:
        return _header(f, path)


def read_model(path: PathLike, like: Union[Callable[[dict], Any], Any], *, hint: str = "") -> tuple[Any, dict]:
    """``(tree, header)`` from a model file. ``like`` is a template pytree of the same structure,
    shapes and dtypes, or ``like(header) -> template``. A file that does not match it, is
    truncated or has bytes left over raises ``ValueError`` naming the file (``hint`` is appended:
    what the user should do)."""
    with open(path, "rb") as f:
        header = _header(f, path)
        template = like(header) if callable(like) and not isinstance(like, eqx.Module) else like
        try:
            tree = eqx.tree_deserialise_leaves(f, template)
        except Exception as e:  # shape/dtype mismatch, truncated file
            raise ValueError(f"{path}: the arrays do not match the expected structure or the file is damaged "
                             f"({type(e).__name__}: {e}).{' ' + hint if hint else ''}") from None
        if f.read(1):
            raise ValueError(f"{path}: bytes left over after the arrays (damaged file or another structure)."
                             f"{' ' + hint if hint else ''}")
    return tree, header


def digest(tree: Any, *, values: bool = True) -> str:
    """A short content hash (BLAKE2b, 20 hex digits) of a pytree: its structure, every leaf's
    shape and dtype and, with ``values``, its numbers (PRNG keys by their bits; non-array leaves by
    ``repr``). Equal trees give equal digests in every process: the fingerprint of a run's data."""
    h = hashlib.blake2b(digest_size=10)
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    h.update(str(treedef).encode())
    for x in leaves:
        if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        if eqx.is_array_like(x):
            a = np.asarray(x)
            h.update(f"{a.shape}{a.dtype}".encode())
            if values:
                h.update(np.ascontiguousarray(a).tobytes())
        else:
            h.update(repr(x).encode())
    return h.hexdigest()
