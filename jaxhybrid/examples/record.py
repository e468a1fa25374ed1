"""The result record of an example (the contract in README, "The two commands") and its figure.

:func:`record` builds and checks the dictionary every ``run()`` returns::

    {"name", "paradigm": 1|2|3, "quick", "wall_s", "metrics": {key: value},
     "goal": {key: "min"|"max"}, "baselines": {"mechanism_only": {...}, "data_only": {...}, ...}, ...}

so that a typo in a goal key or a baseline without any comparable figure fails at once, not in a
reader's table. :func:`figure` and :func:`save_figure` are the Agg-backend matplotlib set-up and
the PNG write that every example's plot shares.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

__all__ = ["record", "figure", "save_figure"]


def record(name: str, paradigm: int, quick: bool, t_start: float, metrics: Mapping[str, Any],
           goal: Mapping[str, str], baselines: Mapping[str, Mapping[str, Any]] | None = None, **extra) -> dict:
    """The example record; ``t_start`` is the ``time.perf_counter()`` at the start of ``run``.

    Checks: ``paradigm`` in {1, 2, 3}; every ``goal`` value is ``"min"`` or ``"max"`` and names a
    key of ``metrics`` or of a baseline; each baseline is a dict. ``extra`` entries (``config``,
    ``history``, ...) are added as they are.
    """
    if paradigm not in (1, 2, 3):
        raise ValueError(f"record: paradigm must be 1, 2 or 3, got {paradigm!r}.")
    baselines = {k: dict(v) for k, v in (baselines or {}).items()}
    for k, v in (baselines or {}).items():
        if not isinstance(v, dict):
            raise ValueError(f"record: baseline {k!r} must be a dict of metrics.")
    known = set(metrics).union(*[set(b) for b in baselines.values()]) if baselines else set(metrics)
    for k, g in goal.items():
        if g not in ("min", "max"):
            raise ValueError(f"record: goal[{k!r}] must be 'min' or 'max', got {g!r}.")
        if k not in known:
            raise ValueError(f"record: goal key {k!r} is in neither the metrics nor a baseline.")
    out = {"name": name, "paradigm": paradigm, "quick": bool(quick),
           "wall_s": round(time.perf_counter() - t_start, 2), "metrics": dict(metrics), "goal": dict(goal),
           "baselines": baselines}
    out.update(extra)
    return out


def figure(nrows: int = 1, ncols: int = 1, **kw):
    """``(fig, axes)`` of ``plt.subplots`` on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, **kw)


def save_figure(fig, out: Path, name: str, dpi: int = 110) -> Path:
    """Lay out ``fig``, write ``out/<name>.png`` and close it; returns the path."""
    import matplotlib.pyplot as plt

    path = Path(out) / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
