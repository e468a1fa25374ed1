import os

# keep the test processes on the CPU and quiet
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TQDM_DISABLE", "1")


import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# ---- property tests (hypothesis): deterministic by default, so CI cannot fail on a lucky draw;
# HYPOTHESIS_PROFILE=explore draws fresh random examples (run it to hunt for new failures and
# turn each one found into an explicit regression test) ----
_HYP = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("jaxhybrid", derandomize=True, **_HYP)
settings.register_profile("explore", derandomize=False, **_HYP)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "jaxhybrid"))

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
    """``quick_record(name) -> (record, folder)``: the quick run of example ``name`` (seed 0),
    run once per test session and shared (:func:`jaxhybrid.examples.run_or_load`)."""
    from pathlib import Path

    from jaxhybrid.examples import run_or_load

    return lambda name: (run_or_load(name, quick=True, seed=0, store=record_store), Path(record_store))


def _assert_hybrid_wins(rec, allow=()):
    """The example's headline claim: the hybrid strictly beats every competing baseline on its
    headline metric (``allow``: baselines excused, each with its reason in the calling test)."""
    from jaxhybrid.examples.record import verdicts

    v = {b: x for b, x in verdicts(rec).items() if b not in allow}
    assert v, f"{rec['name']}: no competing baseline carries the headline metric {rec.get('headline')!r}"
    lost = {b: x for b, x in v.items() if x != "won"}
    head = rec["headline"]
    assert not lost, (f"{rec['name']}: hybrid {head} = {rec['metrics'][head]} does not beat "
                      + ", ".join(f"{b} ({rec['baselines'][b][head]})" for b in lost))


@pytest.fixture
def assert_hybrid_wins():
    """The check of :func:`_assert_hybrid_wins`, as a fixture (conftest modules are not importable)."""
    return _assert_hybrid_wins


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty user cache (``$JAXHYBRID_CACHE``): only shipped weights can be found."""
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path / "cache"))
    return tmp_path
