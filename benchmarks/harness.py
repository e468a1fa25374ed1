"""The shared harness of the peer benchmarks: command line, device, interleaved timing, table, JSON.

Every ``benchmarks/<area>.py`` times our code and the peer's on the same problem in the same
process and writes ``benchmarks/results/<area>-<cpu|gpu>.json``::

    {"area", "device", "load_avg_1min", <extra>, "cases": [{"case", "ours", "peer", "unit",
     "ratio", "agreement", ...}]}

:func:`interleaved` is the timing rule of the project: both sides warmed up (compilation
excluded), then run alternately ``repeats`` times with ``block_until_ready``; the record keeps the
best time of each side, the median and the spread (min–max of the per-pair ratio), and the CPU
time, so a ratio taken under load can be told from one taken on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Any, Callable, Iterable, Optional

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: import the work tree's package
    sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["parser", "device", "load", "interleaved", "print_table", "write_result", "Timing"]


def device() -> str:
    """``platform:device_kind`` of the first device (e.g. ``cpu:cpu``, ``gpu:NVIDIA H100``)."""
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', d.platform)}"


def load() -> Optional[float]:
    """The 1-minute load average (None where the OS has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def parser(doc: str, *, repeats: int = 7) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--json PATH``, ``--quick``, ``--repeats R``,
    ``--cases NAME ...``."""
    p = argparse.ArgumentParser(description=(doc or "").strip().split("\n")[0])
    p.add_argument("--json", type=pathlib.Path, default=None,
                   help="output path (default benchmarks/results/<area>-<cpu|gpu>.json)")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run; figures not for the README)")
    p.add_argument("--repeats", type=int, default=repeats, help=f"timed repeats per side (default {repeats})")
    p.add_argument("--cases", nargs="*", default=None, help="run only these case names")
    return p


class Timing(dict):
    """Seconds per call: ``ours``/``peer`` (best), ``ours_median``/``peer_median``,
    ``ratio`` (peer best / ours best; > 1: ours faster), ``ratio_min``/``ratio_max`` (spread of
    the per-pair ratios), ``ours_cpu_s``/``peer_cpu_s`` (process CPU time per call, best)."""


def _block(x):
    return jax.block_until_ready(x)


def interleaved(ours: Callable[[], Any], peer: Callable[[], Any], repeats: int = 7, warmup: int = 1) -> Timing:
    """Time two zero-argument callables alternately (module docstring); results are blocked on."""
    if repeats < 1:
        raise ValueError(f"interleaved: repeats must be >= 1, got {repeats}.")
    for _ in range(warmup):
        _block(ours())
        _block(peer())
    wall = {"ours": [], "peer": []}
    cpu = {"ours": [], "peer": []}
    for i in range(repeats):
        order = (("ours", ours), ("peer", peer)) if i % 2 == 0 else (("peer", peer), ("ours", ours))
        for name, fn in order:
            t, c = time.perf_counter(), time.process_time()
            _block(fn())
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    o, p = np.asarray(wall["ours"]), np.asarray(wall["peer"])
    pair = p / o
    return Timing(ours=float(o.min()), peer=float(p.min()), ours_median=float(np.median(o)),
                  peer_median=float(np.median(p)), ratio=float(p.min() / o.min()), ratio_min=float(pair.min()),
                  ratio_max=float(pair.max()), ours_cpu_s=float(min(cpu["ours"])), peer_cpu_s=float(min(cpu["peer"])),
                  repeats=repeats)


def print_table(cases: Iterable[dict], peer_name: str = "peer") -> None:
    """One line per case: ours, peer, unit, ratio (with spread when known), agreement."""
    cases = list(cases)
    print(f"{'case':24s} {'ours':>12s} {peer_name:>12s} {'unit':>22s} {'ratio':>14s} {'agreement':>10s}")
    for c in cases:
        spread = f" [{c['ratio_min']:.2f}-{c['ratio_max']:.2f}]" if "ratio_min" in c else ""
        agr = c.get("agreement")
        agr = "" if agr is None else (f"{agr:.2e}" if isinstance(agr, float) else str(agr))
        print(f"{c['case']:24s} {c['ours']:12.4g} {c['peer']:12.4g} {c['unit']:>22s} "
              f"{c['ratio']:7.2f}{spread:>7s} {agr:>10s}")


def write_result(area: str, cases: list, path: Optional[pathlib.Path] = None, **extra) -> pathlib.Path:
    """Write the area's JSON (default ``benchmarks/results/<area>-<cpu|gpu>.json``) and say where."""
    for c in cases:
        missing = {"case", "ours", "peer", "unit", "ratio"} - set(c)
        if missing:
            raise ValueError(f"write_result: case {c.get('case')!r} lacks {sorted(missing)}.")
    gpu = jax.devices()[0].platform == "gpu"
    path = path or ROOT / "benchmarks" / "results" / f"{area}-{'gpu' if gpu else 'cpu'}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"area": area, "device": device(), "load_avg_1min": load(), **extra, "cases": cases}
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return path
