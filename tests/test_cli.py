import json
import os
import subprocess
import sys
import types

import pytest

from jaxhybrid import cli
from jaxhybrid.examples import REGISTRY


def _fake_example(monkeypatch, fail=False):
    mod = types.ModuleType("jaxhybrid.examples._fake")

    def run(quick, seed, out):
        if fail:
            raise RuntimeError("boom")
        (out / "fake.png").write_bytes(b"png")
        return {"name": "fake", "paradigm": 2, "quick": quick, "wall_s": 0.1,
                "metrics": {"err_rel_l2": 0.01 * (seed + 1)}, "goal": {"err_rel_l2": "min"},
                "baselines": {"data_only": {"err_rel_l2": 0.5}}}

    mod.run = run
    monkeypatch.setitem(sys.modules, "jaxhybrid.examples._fake", mod)
    monkeypatch.setitem(REGISTRY, "fake", ("_fake", "a fake example for tests"))


def test_list_shows_examples(capsys):
    assert cli.main(["list"]) == 0
    assert "closure-ode" in capsys.readouterr().out


def test_run_writes_json_and_prints_table(tmp_path, monkeypatch, capsys):
    _fake_example(monkeypatch)
    assert cli.main(["run", "fake", "--quick", "--seed", "2", "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "fake.json").read_text())
    assert rec["quick"] is True and rec["seed"] == 2 and rec["metrics"]["err_rel_l2"] == pytest.approx(0.03)
    assert rec["baselines"]["data_only"]["err_rel_l2"] == 0.5
    out = capsys.readouterr().out
    assert "err_rel_l2 (min)" in out and "data_only" in out


def test_tour_writes_summary_and_continues_after_failure(tmp_path, monkeypatch):
    _fake_example(monkeypatch)
    mod = types.ModuleType("jaxhybrid.examples._bad")
    mod.run = lambda quick, seed, out: (_ for _ in ()).throw(RuntimeError("boom"))
    monkeypatch.setitem(sys.modules, "jaxhybrid.examples._bad", mod)
    monkeypatch.setitem(REGISTRY, "bad", ("_bad", "fails"))
    code = cli.main(["tour", "--quick", "--only", "bad", "fake", "--out", str(tmp_path)])
    assert code == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["examples"]) == ["fake"] and "boom" in summary["failed"]["bad"]


@pytest.mark.parametrize("argv, msg", [
    (["run", "no-such-example"], "unknown example 'no-such-example'"),
    (["run", "closure-ode", "--seed", "-3"], "--seed must be a non-negative integer"),
    (["run", "closure-ode", "--seed", "x"], "--seed must be a non-negative integer"),
    (["run", "closure-ode", "--seed", str(2**63)], "up to 2147483647"),
    (["tour", "--only", "nope"], "unknown example 'nope'"),
    (["frobnicate"], "invalid choice"),
])
def test_user_errors_are_one_line(argv, msg, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["run", "closure-ode", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "cannot create output folder" in err and len(err.strip().splitlines()) == 1
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert cli.main(["run", "closure-ode", "--out", str(ro)]) == 2


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "jaxhybrid.cli", "list"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "closure-ode" in out.stdout


def test_records_with_array_and_non_finite_values_round_trip(tmp_path):
    """Examples may put numpy/JAX scalars and arrays in their records; the JSON stays valid, and
    non-finite numbers are stored as strings and read back as floats (never as 1e308)."""
    import math

    import jax.numpy as jnp
    import numpy as np

    from jaxhybrid.record import read_record, write_record

    rec = {"a": np.arange(3), "b": jnp.ones((2, 2)), "c": np.float32(1.5), "d": jnp.asarray(float("nan")),
           "e": (np.int64(3),), "p": tmp_path, "metrics": {"x": float("inf"), "y": -np.inf}}
    write_record(tmp_path / "r.json", rec)
    assert json.loads((tmp_path / "r.json").read_text()) == {
        "a": [0, 1, 2], "b": [[1.0, 1.0], [1.0, 1.0]], "c": 1.5, "d": "nan", "e": [3], "p": str(tmp_path),
        "metrics": {"x": "inf", "y": "-inf"}}
    back = read_record(tmp_path / "r.json")
    assert math.isnan(back["d"]) and back["metrics"] == {"x": math.inf, "y": -math.inf}
    (tmp_path / "r.json").write_text("{truncated")
    with pytest.raises(ValueError, match="r.json: not a JSON record"):
        read_record(tmp_path / "r.json")


def test_ctrl_c_ends_with_one_line_and_status_130(tmp_path, monkeypatch, capsys):
    mod = types.ModuleType("jaxhybrid.examples._slow")

    def run(quick, seed, out):
        raise KeyboardInterrupt

    mod.run = run
    monkeypatch.setitem(sys.modules, "jaxhybrid.examples._slow", mod)
    monkeypatch.setitem(REGISTRY, "slow", ("_slow", "interrupted"))
    for argv in (["run", "slow"], ["tour", "--only", "slow"]):
        assert cli.main([*argv, "--out", str(tmp_path)]) == 130
        err = capsys.readouterr().err.strip()
        assert err == "jaxhybrid: interrupted (Ctrl-C); the records written so far are kept"


def test_tour_summary_marks_verdicts_and_memory(tmp_path, monkeypatch, capsys):
    _fake_example(monkeypatch)
    assert cli.main(["tour", "--quick", "--only", "fake", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    e = summary["examples"]["fake"]
    assert e["verdicts"] == {"data_only": "won"} and e["headline"] == "err_rel_l2"
    assert e["peak_rss_mib"] > 10 and summary["peak_rss_mib"] >= e["peak_rss_mib"]
    out = capsys.readouterr().out
    assert "in 1 of 1 examples" in out and "data_only: won" in out


def test_retrain_is_passed_only_to_examples_that_take_it(tmp_path, monkeypatch):
    _fake_example(monkeypatch)  # run(quick, seed, out): no retrain parameter
    assert cli.main(["run", "fake", "--retrain", "--out", str(tmp_path)]) == 0
    seen = {}
    mod = types.ModuleType("jaxhybrid.examples._weights")

    def run(quick, seed, out, retrain=False):
        seen["retrain"] = retrain
        return {"name": "w", "paradigm": 1, "metrics": {"e": 1.0}, "goal": {"e": "min"}, "baselines": {}}

    mod.run = run
    monkeypatch.setitem(sys.modules, "jaxhybrid.examples._weights", mod)
    monkeypatch.setitem(REGISTRY, "w", ("_weights", "takes retrain"))
    assert cli.main(["run", "w", "--retrain", "--out", str(tmp_path)]) == 0 and seen["retrain"] is True
