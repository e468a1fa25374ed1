"""The assimilation-ssls example in quick mode: record layout and the properties it demonstrates."""

import pytest



@pytest.mark.example
def test_quick_run_record_and_orderings(quick_record):
    rec = quick_record("assimilation-ssls")
    m, b = rec["metrics"], rec["baselines"]
    assert set(m) == {"ssls_rmse_a", "etkf_rmse_a", "pf_rmse_a", "ssls_rmse_a_linear", "etkf_rmse_a_linear",
                      "ssls_over_etkf_linear"}
    # both ensemble filters lock on; the 40-particle filter cannot in 40 observed dimensions
    assert m["ssls_rmse_a"] < 0.45 and m["etkf_rmse_a"] < 0.5 and m["pf_rmse_a"] > 1.0
    # the claim of the example: the exact likelihood beats the ETKF's linear update on arctan
    # observations, and matches the ETKF (Kalman) analysis on linear ones
    assert m["ssls_rmse_a"] < m["etkf_rmse_a"]
    assert m["ssls_rmse_a_linear"] < 0.25 and m["ssls_over_etkf_linear"] < 1.1
    for k in ("ssls_rmse_a", "ssls_rmse_a_linear"):
        assert m[k] < 0.3 * b["data_only"][k] and m[k] < 0.3 * b["mechanism_only"][k]
