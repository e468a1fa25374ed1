"""The result record of an example (the contract in README, "The two commands") and its figure.

:func:`record` builds and checks the dictionary every ``run()`` returns::

    {"name", "paradigm": 1|2|3, "quick", "wall_s", "metrics": {key: value},
     "goal": {key: "min"|"max"}, "baselines": {"mechanism_only": {...}, "data_only": {...}, ...}, ...}

so that a typo in a goal key or a baseline without any comparable figure fails at once, not in a
reader's table. On disk (:func:`write_record`, :func:`read_record`) a record is JSON written
atomically; a non-finite number is stored as the string ``"inf"``, ``"-inf"`` or ``"nan"`` (JSON
has no such numbers) and read back as the float. :func:`figure` and :func:`save_figure` are the Agg-backend matplotlib set-up and
the PNG write that every example's plot shares.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping

from jaxhybrid.store import atomic_write

__all__ = ["record", "verdicts", "figure", "save_figure", "write_record", "read_record", "json_safe"]
_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def record(name: str, paradigm: int, quick: bool, t_start: float, metrics: Mapping[str, Any],
           goal: Mapping[str, str], baselines: Mapping[str, Mapping[str, Any]] | None = None, *,
           headline: str | None = None, references: tuple[str, ...] = (), **extra) -> dict:
    """The example record; ``t_start`` is the ``time.perf_counter()`` at the start of ``run``.

    ``headline`` names the metric the example's claim rests on (default: the first key of
    ``goal``); ``references`` names baselines that *define* the error rather than compete (e.g. the
    labeller a potential is trained on: zero error by construction), so :func:`verdicts` does not
    count them. Checks: ``paradigm`` in {1, 2, 3}; every ``goal`` value is ``"min"`` or ``"max"``
    and names a key of ``metrics`` or of a baseline; each baseline is a dict; the headline is a
    metric with a goal; each reference is a baseline. ``extra`` entries (``config``, ``history``,
    ``weights``, ...) are added as they are.
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
    headline = headline if headline is not None else next(iter(goal), None)
    if headline is None or headline not in metrics or headline not in goal:
        raise ValueError(f"record: headline {headline!r} must be a metric with a goal.")
    for r in references:
        if r not in baselines:
            raise ValueError(f"record: reference {r!r} is not a baseline ({sorted(baselines)}).")
    out = {"name": name, "paradigm": paradigm, "quick": bool(quick),
           "wall_s": round(time.perf_counter() - t_start, 2), "metrics": dict(metrics), "goal": dict(goal),
           "baselines": baselines, "headline": headline, "references": list(references)}
    out.update(extra)
    return out


def verdicts(rec: Mapping[str, Any], rtol: float = 1e-3) -> dict[str, str]:
    """Per competing baseline: ``"won"``, ``"tie"`` or ``"lost"`` — the hybrid's headline metric
    against the baseline's, in the direction of its goal; values within ``rtol`` (relative) of each
    other are a tie (e.g. two exact methods meeting the same optimum up to rounding). Baselines
    listed in ``references`` or lacking the headline metric are left out."""
    key = rec.get("headline") or next(iter(rec["goal"]))
    sign = 1.0 if rec["goal"][key] == "min" else -1.0
    h = float(rec["metrics"][key])
    out = {}
    for b, vals in rec.get("baselines", {}).items():
        if b in rec.get("references", ()) or key not in vals or vals[key] is None:
            continue
        d = sign * (float(vals[key]) - h)  # > 0: the hybrid is better
        out[b] = "tie" if abs(d) <= rtol * max(abs(h), abs(float(vals[key]))) else "won" if d > 0 else "lost"
    return out


def json_safe(obj):
    """``obj`` with numpy/JAX values as Python numbers and lists, non-finite floats as ``"inf"``,
    ``"-inf"``, ``"nan"`` and anything else unknown as its ``str`` (paths, dtypes)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and hasattr(obj, "ndim"):  # numpy / JAX scalars and arrays
        return json_safe(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    return str(obj)


def _restore(obj):
    if isinstance(obj, dict):
        return {k: _restore(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v) for v in obj]
    return _NONFINITE.get(obj, obj) if isinstance(obj, str) else obj


def write_record(path: str | os.PathLike, rec: Mapping[str, Any]) -> Path:
    """Write a record (or a tour summary) as JSON, atomically (:func:`jaxhybrid.store.atomic_write`)."""
    return atomic_write(path, json.dumps(json_safe(rec), indent=1))


def read_record(path: str | os.PathLike) -> dict:
    """A record written by :func:`write_record`, non-finite numbers restored (a file that is not
    JSON raises ``ValueError`` naming it)."""
    try:
        return _restore(json.loads(Path(path).read_text()))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a JSON record ({e}); delete it to run the example again.") from None


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
