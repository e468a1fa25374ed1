"""Trained models, saved as one file each and keyed by the configuration that trained them.

An example whose run time is dominated by training gets each network through :func:`obtain`::

    got = obtain("dpmd-dp", [full_cfg, quick_cfg], train=train_fn, like=template_fn, retrain=False)
    model, source = got.model, got.source            # source: "shipped", "cache" or "trained"

* ``configs`` are tried in order: the first whose weights are stored is loaded (quick mode passes
  the full run's training configuration first, so it evaluates the fully trained network, and its
  own small configuration last, trained only when nothing is stored). ``retrain=True`` (CLI
  ``--retrain``) skips the lookup and trains ``configs[-1]`` from scratch.
* ``train(config) -> (model, meta)``; ``meta`` is a JSON-serialisable dict holding whatever
  the template needs beyond the configuration (e.g. a Deep Potential's ``sel``, which comes from
  the data) and any summary worth keeping (final loss, steps).
* ``like(config, meta) -> model`` builds a template of the same structure (values ignored).
* Networks that are compared with one another (a hybrid and its baselines) come through
  :func:`obtain_tier`, which gives all of them from one tier — the full run's when quick mode
  finds every one of them stored, else the quick configuration's — never a mix.

File format: ``<name>-<config_hash(config)>.eqx`` — one file: a UTF-8 JSON header line
``{"format": 1, "name", "config", "meta", "jaxhybrid"}`` followed by the Equinox leaf
serialisation (:func:`equinox.tree_serialise_leaves`) of the model; no pickle. Lookup order:
the package's ``jaxhybrid/weights/`` (shipped, read-only), then the user cache
``jaxhybrid.cache.cache_dir("weights")``. Trained weights are written to the cache atomically
(temporary file, then rename). To ship a network, copy its cache file into
``jaxhybrid/weights/`` (what ``python -m jaxhybrid.pretrained ship NAME...``
does); a changed configuration has a new hash, so a stale file is never read.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence, TypeVar

from jaxhybrid.cache import cache_dir, config_hash
from jaxhybrid.store import read_header as store_read_header
from jaxhybrid.store import read_model, write_model

__all__ = ["obtain", "obtain_tier", "Obtained", "save", "load", "find", "SHIPPED", "FORMAT"]

M = TypeVar("M")
K = TypeVar("K")
FORMAT = 1
#: folder of the shipped weights (package data)
SHIPPED = Path(__file__).parent / "weights"


class Obtained(NamedTuple):
    """``model``; ``meta`` (the header's meta); ``config`` it was trained with; ``source``:
    ``"shipped"``, ``"cache"`` or ``"trained"``; ``path`` of the file read or written."""

    model: Any
    meta: dict
    config: dict
    source: str
    path: Path

    def summary(self) -> dict:
        """What a record stores: source, file name and configuration hash."""
        return {"source": self.source, "file": self.path.name, "config_hash": config_hash(self.config)}


def file_name(name: str, config: dict) -> str:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"pretrained: name must be a plain file-name stem, got {name!r}.")
    return f"{name}-{config_hash(config)}.eqx"


def find(name: str, config: dict) -> tuple[Path, str] | None:
    """``(path, "shipped" | "cache")`` of the stored weights of ``(name, config)``, or ``None``."""
    fname = file_name(name, config)
    for folder, source in ((SHIPPED, "shipped"), (cache_dir("weights", create=False), "cache")):
        if (folder / fname).is_file():
            return folder / fname, source
    return None


def save(path: str | os.PathLike, name: str, config: dict, model: Any, meta: dict | None = None) -> Path:
    """Write ``model`` with its header to ``path`` (atomically, :func:`jaxhybrid.store.write_model`)."""
    from jaxhybrid import __version__

    header = {"format": FORMAT, "name": name, "config": config, "meta": meta or {}, "jaxhybrid": __version__}
    return write_model(path, header, model)


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header of a weights file (raises ``ValueError`` naming the file if it is not one)."""
    return _checked(store_read_header(path), path)


def _checked(header: dict, path) -> dict:
    if header.get("format") != FORMAT or not {"name", "config", "meta"} <= set(header):
        raise ValueError(f"{path}: unsupported weights format {header.get('format')!r} (this jaxhybrid reads format "
                         f"{FORMAT}); retrain with --retrain.")
    return header


def load(path: str | os.PathLike, like: Callable[[dict, dict], Any]) -> tuple[Any, dict]:
    """``(model, header)`` from a file written by :func:`save`; ``like(config, meta)`` gives the
    structure. A file that does not match the structure raises ``ValueError`` naming it."""
    def template(header):
        _checked(header, path)
        return like(header["config"], header["meta"])

    return read_model(path, template, hint="Delete the file or run with --retrain.")


def obtain(name: str, configs: Sequence[dict], train: Callable[[dict], tuple[M, dict]],
           like: Callable[[dict, dict], M], *, retrain: bool = False, log=None) -> Obtained:
    """Stored weights of the first of ``configs`` that has them, else ``train(configs[-1])``
    (then saved to the user cache). ``retrain=True`` always trains ``configs[-1]``."""
    configs = list(configs)
    if not configs:
        raise ValueError("pretrained.obtain: give at least one configuration.")
    if not retrain:
        for cfg in configs:
            hit = find(name, cfg)
            if hit is not None:
                model, header = load(hit[0], like)
                return Obtained(model, header["meta"], cfg, hit[1], hit[0])
    cfg = configs[-1]
    if log is not None:
        log(f"{name}: training (configuration {config_hash(cfg)})")
    model, meta = train(cfg)
    path = save(cache_dir("weights") / file_name(name, cfg), name, cfg, model, meta)
    return Obtained(model, dict(meta), cfg, "trained", path)


def obtain_tier(full: Mapping[K, tuple[str, dict]], small: Mapping[K, tuple[str, dict]],
                train: Callable[[K], Callable[[dict], tuple[Any, dict]]], like: Callable[[dict, dict], Any], *,
                quick: bool, retrain: bool = False,
                log: Callable[[str], Any] | None = functools.partial(print, flush=True)) -> tuple[dict[K, Obtained], str]:
    """Networks that belong together, all of **one** tier, so that the models an example compares
    were trained alike. ``full`` and ``small`` map a key to ``(name, config)`` (the full run's and
    the quick mode's training configurations; their keys may differ); ``train(key)`` is the
    trainer for that key's network (:func:`obtain`'s ``train``), ``like`` its template.

    Full mode (``quick=False``) loads or trains the full tier. Quick mode takes the full tier when
    every one of its networks is stored (shipped or cached) and ``retrain`` is off, else trains the
    small tier. Returns ``({key: Obtained}, "full" | "quick")``."""
    use_full = not quick or (not retrain and all(find(n, c) is not None for n, c in full.values()))
    tier = full if use_full else small
    got = {k: obtain(n, [c], train(k), like, retrain=retrain, log=log) for k, (n, c) in tier.items()}
    return got, "full" if use_full else "quick"


def ship(names: Sequence[str]) -> list[Path]:
    """Copy the cached weights files whose name starts with one of ``names`` into :data:`SHIPPED`."""
    src = cache_dir("weights", create=False)
    copied = []
    for p in sorted(src.glob("*.eqx")) if src.is_dir() else []:
        if any(p.name.startswith(n + "-") for n in names):
            SHIPPED.mkdir(exist_ok=True)
            shutil.copy2(p, SHIPPED / p.name)
            copied.append(SHIPPED / p.name)
    return copied


if __name__ == "__main__":  # python -m jaxhybrid.pretrained ship NAME...
    if len(sys.argv) < 3 or sys.argv[1] != "ship":
        sys.exit("usage: python -m jaxhybrid.pretrained ship NAME...")
    for p in ship(sys.argv[2:]):
        print(f"shipped {p} ({p.stat().st_size / 1024:.0f} KiB)")
