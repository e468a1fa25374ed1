import os

# keep the test processes on the CPU and quiet
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TQDM_DISABLE", "1")


import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

# ---- property tests (hypothesis): deterministic by default, so CI cannot fail on a lucky draw;
# HYPOTHESIS_PROFILE=explore draws fresh random examples (run it to hunt for new failures and
# turn each one found into an explicit regression test) ----
_HYP = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("jaxhybrid", derandomize=True, **_HYP)
settings.register_profile("explore", derandomize=False, **_HYP)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "jaxhybrid"))


@pytest.fixture(params=[1, pytest.param(10, marks=pytest.mark.slow)], ids=["x1", "x10"])
def fuzz(request):
    """``fuzz(check, examples, *strategies, **strategies)``: hypothesis runs ``check`` on
    ``examples`` draws (``given(*strategies, **strategies)``); each property test also gets a
    ``slow``-tier twin ``[x10]`` with ten times the draws (``[x1]`` in the other tiers)."""

    def run(check, examples, *args, **kwargs):
        settings(max_examples=examples * request.param)(given(*args, **kwargs)(check))()

    return run

# ---- tiers: tests whose measured time exceeds HEAVY_S run in `make test`, not in `make test-fast` ----
DURATIONS = Path(__file__).with_name("durations.json")
HEAVY_S = 2.0  # seconds in durations.json (measured in make test on 2 idle cores)


def pytest_collection_modifyitems(config, items):
    known = json.loads(DURATIONS.read_text())["durations"] if DURATIONS.exists() else {}
    for item in items:
        if known.get(item.nodeid, 0.0) > HEAVY_S:
            item.add_marker(pytest.mark.heavy)


_TIMES: dict = {}


def pytest_runtest_logreport(report):
    """With JAXHYBRID_WRITE_DURATIONS=FILE (``make test-durations``): record each test's time."""
    if os.environ.get("JAXHYBRID_WRITE_DURATIONS"):
        _TIMES[report.nodeid] = _TIMES.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    path = os.environ.get("JAXHYBRID_WRITE_DURATIONS")
    if path and _TIMES:  # one file per xdist worker, merged by `make test-durations`
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(f"{path}.{worker}").write_text(json.dumps({k: round(v, 2) for k, v in _TIMES.items()}))


@pytest.fixture(scope="session")
def record_store(tmp_path_factory):
    """Folder where quick example runs are stored and shared: ``$JAXHYBRID_RECORDS`` (``make test``
    sets it, so notebooks reuse the tests' runs) or one folder shared by the xdist workers of this
    session."""
    env = os.environ.get("JAXHYBRID_RECORDS")
    if env:
        return env
    base = tmp_path_factory.getbasetemp()
    return str((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "example-records")


@pytest.fixture
def quick_record(record_store):
    """``quick_record(name, allow=(), verdicts=None) -> record``: the quick run of example
    ``name`` (seed 0), run once per test session and shared
    (:func:`jaxhybrid.examples.run_or_load`), after the checks every example owes: its figure
    ``name.png`` was written, and the hybrid strictly beats every competing baseline on the
    headline metric (``allow``: baselines excused, each with its reason in the calling test) —
    or, where given, the verdicts equal ``verdicts``."""
    from pathlib import Path

    from jaxhybrid.examples import run_or_load
    from jaxhybrid.record import verdicts as verdicts_of

    def get(name, allow=(), verdicts=None):
        rec = run_or_load(name, quick=True, seed=0, store=record_store)
        figure = Path(record_store) / f"{name}.png"
        assert figure.exists() and figure.stat().st_size > 0, f"{name}: no figure {figure}"
        if verdicts is not None:
            assert verdicts_of(rec) == verdicts
            return rec
        v = {b: x for b, x in verdicts_of(rec).items() if b not in allow}
        assert v, f"{name}: no competing baseline carries the headline metric {rec.get('headline')!r}"
        lost = {b: x for b, x in v.items() if x != "won"}
        head = rec["headline"]
        assert not lost, (f"{name}: hybrid {head} = {rec['metrics'][head]} does not beat "
                          + ", ".join(f"{b} ({rec['baselines'][b][head]})" for b in lost))
        return rec

    return get


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty user cache (``$JAXHYBRID_CACHE``): only shipped weights can be found."""
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path / "cache"))
    return tmp_path
