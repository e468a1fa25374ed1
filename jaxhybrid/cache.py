"""The one on-disk cache of jaxhybrid: trained networks, label sets, reference trajectories.

Root: ``$JAXHYBRID_CACHE`` if set, else ``~/.cache/jaxhybrid``. An entry is a folder
``<root>/<kind>`` (a store managed by its owner, e.g. ``dp`` label sets) or
``<root>/<kind>-<hash>`` (one trained artifact) whose hash is the SHA-1 of the JSON of the configuration that
produced it (sorted keys), so a changed configuration never reads a stale entry and the same
configuration never recomputes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["cache_root", "cache_dir", "config_hash"]


def cache_root() -> Path:
    """``$JAXHYBRID_CACHE`` or ``~/.cache/jaxhybrid`` (not created)."""
    root = os.environ.get("JAXHYBRID_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "jaxhybrid"


def config_hash(config: Any, n: int = 12) -> str:
    """First ``n`` hex digits of the SHA-1 of ``json.dumps(config, sort_keys=True)``."""
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:n]


def cache_dir(kind: str, config: Any = None, *, create: bool = True) -> Path:
    """``<root>/<kind>`` or, with a configuration, ``<root>/<kind>-<config_hash(config)>``."""
    if not kind or "/" in kind or kind.startswith("."):
        raise ValueError(f"cache_dir: kind must be a plain folder name, got {kind!r}.")
    d = cache_root() / (kind if config is None else f"{kind}-{config_hash(config)}")
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return d
