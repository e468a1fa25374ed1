import pytest

from jaxhybrid.examples import REGISTRY


def test_registered():
    assert REGISTRY["maps"][0] == "maps"


@pytest.mark.example
def test_quick_run_meets_acceptance(quick_record):
    rec = quick_record("maps")
    m, b, cfg = rec["metrics"], rec["baselines"], rec["config"]
    assert rec["paradigm"] == 2 and rec["goal"]["element_f1"] == "max"
    assert m["median_position_error_m"] <= 0.5 * b["data_only"]["median_position_error_m"]
    assert m["median_position_error_m"] <= cfg["sensor_noise_m"]
    assert m["element_f1"] >= 0.9
    assert m["element_f1"] > b["mechanism_only"]["element_f1"]
    curve = cfg["error_vs_passes"]
    assert curve["hybrid"][-1] < curve["hybrid"][0]   # more passes, smaller error
