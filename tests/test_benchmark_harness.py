import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import harness  # noqa: E402


def test_interleaved_times_both_sides_alternately_and_reports_the_spread():
    calls = []
    t = harness.interleaved(lambda: calls.append("o"), lambda: calls.append("p"), repeats=4, warmup=1)
    assert calls == ["o", "p", "o", "p", "p", "o", "o", "p", "p", "o"]   # warm-up, then alternating order
    assert t["ratio_min"] <= t["ratio_max"] and t["ours"] <= t["ours_median"] and t["repeats"] == 4
    np.testing.assert_allclose(t["ratio"], t["peer"] / t["ours"])


def test_write_result_checks_cases_and_writes_the_contract(tmp_path, capsys):
    path = harness.write_result("demo", [{"case": "a", "ours": 2.0, "peer": 1.0, "unit": "steps/s", "ratio": 2.0,
                                          "agreement": 1e-7}], tmp_path / "r.json", peer_version="1.0")
    data = json.loads(path.read_text())
    assert data["area"] == "demo" and data["device"].startswith("cpu") and data["cases"][0]["ratio"] == 2.0
    harness.print_table(data["cases"])
    assert "steps/s" in capsys.readouterr().out
    with pytest.raises(ValueError, match="lacks"):
        harness.write_result("demo", [{"case": "a"}], tmp_path / "s.json")
