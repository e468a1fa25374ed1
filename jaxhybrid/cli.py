"""Command line: ``jaxhybrid list | run NAME [--quick] [--seed N] [--out DIR] [--retrain] | tour [--quick] ...``.

``run`` executes one seed example, prints its table (hybrid vs baselines), and writes
``DIR/<name>.json`` (the record of :mod:`jaxhybrid.record`; the layers and the
algorithm protocol are described in README, section "Design") beside the example's PNG
plot(s). ``tour`` runs every example and also writes ``DIR/summary.json`` and prints a summary table:
per example its headline metric, whether the hybrid won, tied or lost against each competing
baseline (:func:`jaxhybrid.record.verdicts`), wall time and peak resident memory; compiled
programs are released between examples. Examples whose training dominates load shipped weights
(:mod:`jaxhybrid.pretrained`); ``--retrain`` trains them from scratch. User errors (unknown example, bad option value,
unwritable folder, a seed outside [0, 2³¹ − 1]) print one line on stderr and exit with status 2; a
failing example makes ``tour`` continue with the others and exit with status 1; Ctrl-C ends with one
line and status 130. Records are written atomically; non-finite numbers appear in them as the
strings ``"inf"``, ``"-inf"``, ``"nan"`` (:func:`jaxhybrid.record.write_record`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from jaxhybrid.examples import REGISTRY, load
from jaxhybrid.record import verdicts, write_record

DEFAULT_OUT = "runs"


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line."""


MAX_SEED = 2**31 - 1  # examples derive further seeds (seed + 1000, ...) that must stay valid PRNG seeds


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"--seed must be a non-negative integer up to {MAX_SEED}, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, no usage dump
        sys.stderr.write(f"jaxhybrid: error: {message} (see 'jaxhybrid --help')\n")
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jaxhybrid", description="Hybrid (mechanism + data) scientific computing in JAX: seed examples.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the examples")
    r = sub.add_parser("run", help="run one example")
    r.add_argument("name", help="example name (see 'jaxhybrid list')")
    t = sub.add_parser("tour", help="run every example and write summary.json")
    for q in (r, t):
        q.add_argument("--quick", action="store_true", help="small, fast version (minutes on 2 CPU cores)")
        q.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
        q.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})")
        q.add_argument("--retrain", action="store_true",
                       help="train every network from scratch instead of loading the shipped weights")
    t.add_argument("--only", nargs="+", metavar="NAME", help="run only these examples")
    return p


def _prepare_out(path: str) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create output folder {str(out)!r}: {e.strerror or e}") from None
    if not out.is_dir():
        raise UsageError(f"output path {str(out)!r} exists and is not a folder")
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"output folder {str(out)!r} is not writable; choose another with --out")
    return out


def _check_name(name: str) -> None:
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise UsageError(f"unknown example {name!r}; known examples: {known}")


def _fmt(v) -> str:
    if hasattr(v, "ndim") and v.ndim == 0:
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if v == 0 or (1e-3 <= abs(v) < 1e5):
        return f"{v:.4g}"
    return f"{v:.3e}"


def format_table(record: dict) -> str:
    """The hybrid's metrics beside each baseline's (``—`` where a baseline lacks a key)."""
    metrics, baselines, goal = record["metrics"], record.get("baselines", {}), record.get("goal", {})
    cols = ["hybrid", *baselines]
    rows = [["metric (goal)", *cols]]
    for k, v in metrics.items():
        g = goal.get(k)
        rows.append([f"{k} ({g})" if g else k, _fmt(v), *(_fmt(baselines[b][k]) if k in baselines[b] else "—" for b in baselines)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols) + 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = f"{record['name']}  (paradigm {record.get('paradigm')}, {'quick' if record.get('quick') else 'full'}, {record.get('wall_s', float('nan')):.1f} s)"
    return head + "\n" + "\n".join(lines)


def _reset_peak_rss() -> None:
    """Reset the kernel's resident-set high-water mark of this process (Linux; no-op elsewhere)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib() -> float | None:
    """Peak resident memory (MiB) of this process since the last reset (Linux ``VmHWM``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _release_memory() -> None:
    """Drop compiled programs and unreachable arrays between examples."""
    import gc

    import jax

    jax.clear_caches()
    gc.collect()


def run_example(name: str, quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    """Run one example, validate its record, write ``out/<name>.json`` and return the record.

    ``retrain`` is passed to examples whose ``run`` takes it (those that load shipped weights);
    the record gains ``peak_rss_mib``, the peak resident memory of the process during the run.
    """
    import inspect

    t0 = time.perf_counter()
    _reset_peak_rss()
    run = load(name).run
    kw = {"retrain": True} if retrain and "retrain" in inspect.signature(run).parameters else {}
    record = run(quick=quick, seed=seed, out=out, **kw)
    for key in ("name", "paradigm", "metrics", "goal", "baselines"):
        if key not in record:
            raise RuntimeError(f"example {name!r} returned a record without {key!r}")
    if not record["goal"] or record.setdefault("headline", next(iter(record["goal"]))) not in record["metrics"]:
        raise RuntimeError(f"example {name!r} returned a record without a headline metric")
    record.setdefault("references", [])
    record.setdefault("quick", quick)
    record.setdefault("wall_s", round(time.perf_counter() - t0, 2))
    record["seed"] = seed
    record["peak_rss_mib"] = peak_rss_mib()
    write_record(out / f"{name}.json", record)
    return record


def verdict_line(record: dict) -> str:
    """``headline: won vs a, b; lost vs c`` for the tour summary."""
    v = verdicts(record)
    parts = [f"{w} vs {', '.join(b for b in v if v[b] == w)}" for w in ("won", "tie", "lost") if w in v.values()]
    return f"{record.get('headline')}: " + ("; ".join(parts) if parts else "no competing baseline")


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (0 ok, 1 an example failed in ``tour``, 2 a usage
    error, 130 interrupted by Ctrl-C: one line, the records already written are kept)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        sys.stderr.write("jaxhybrid: interrupted (Ctrl-C); the records written so far are kept\n")
        return 130


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            width = max(map(len, REGISTRY))
            for name, (_, desc) in REGISTRY.items():
                print(f"{name.ljust(width)}  {desc}")
            return 0
        names = [args.name] if args.command == "run" else (args.only or list(REGISTRY))
        for n in names:
            _check_name(n)
        out = _prepare_out(args.out)
    except UsageError as e:
        sys.stderr.write(f"jaxhybrid: error: {e}\n")
        return 2

    if args.command == "run":
        record = run_example(args.name, args.quick, args.seed, out, args.retrain)
        print(format_table(record))
        print(verdict_line(record))
        print(f"wrote {out / (args.name + '.json')}")
        return 0

    summary = {"quick": args.quick, "seed": args.seed, "examples": {}, "failed": {}}
    t0 = time.perf_counter()
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", flush=True)
        try:
            record = run_example(name, args.quick, args.seed, out, args.retrain)
        except Exception as e:  # keep touring; report at the end
            traceback.print_exc()
            summary["failed"][name] = f"{type(e).__name__}: {e}"
            print(f"[{i}/{len(names)}] {name} FAILED: {type(e).__name__}: {e}", flush=True)
            continue
        finally:
            _release_memory()
        print(format_table(record), flush=True)
        print(verdict_line(record), flush=True)
        summary["examples"][name] = {k: record.get(k) for k in ("paradigm", "wall_s", "peak_rss_mib", "headline",
                                                                 "references", "metrics", "goal", "baselines", "weights")}
        summary["examples"][name]["verdicts"] = verdicts(record)
    summary["wall_s"] = round(time.perf_counter() - t0, 2)
    summary["peak_rss_mib"] = max([e["peak_rss_mib"] or 0 for e in summary["examples"].values()], default=None)
    write_record(out / "summary.json", summary)
    print(summary_table(summary))
    ok = len(summary["examples"])
    print(f"tour: {ok} of {len(names)} examples ran in {summary['wall_s']:.1f} s (peak memory "
          f"{summary['peak_rss_mib'] or float('nan'):.0f} MiB); wrote {out / 'summary.json'}")
    return 1 if summary["failed"] else 0


def summary_table(summary: dict) -> str:
    """One line per example: headline metric, hybrid value, per-baseline verdict, time, memory."""
    rows = [["example", "headline metric", "hybrid", "verdict (won/tie/lost vs baselines)", "wall s", "peak MiB"]]
    wins = 0
    for name, e in summary["examples"].items():
        v = e.get("verdicts", {})
        wins += bool(v) and all(x == "won" for x in v.values())
        rows.append([name, f"{e['headline']} ({e['goal'][e['headline']]})", _fmt(e["metrics"][e["headline"]]),
                     ", ".join(f"{b}: {x}" for b, x in v.items()) or "—", f"{e['wall_s']:.0f}",
                     f"{e['peak_rss_mib'] or float('nan'):.0f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"hybrid beats every competing baseline on its headline metric in {wins} of "
                 f"{len(summary['examples'])} examples")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
