"""The constitutive examples in quick mode: the structured network beats the plain MLP."""

import pytest


@pytest.mark.example
def test_constitutive_spd_quick_run(quick_record, assert_hybrid_wins):
    rec, folder = quick_record("constitutive-spd")
    assert (folder / "constitutive-spd.png").exists()
    assert_hybrid_wins(rec)  # rollout error over 1,000 increments on unseen loading paths
    assert rec["config"]["spd_min_tangent_eigenvalue_on_test_paths"] > 0  # SPD by construction
    assert rec["metrics"]["rollout_rel_error"] < 0.6 * rec["baselines"]["data_only"]["rollout_rel_error"]


@pytest.mark.example
def test_constitutive_dpk_quick_run(quick_record, assert_hybrid_wins):
    rec, folder = quick_record("constitutive-dpk")
    m = rec["metrics"]
    assert (folder / "constitutive-dpk.png").exists()
    assert_hybrid_wins(rec)  # held-out stress error
    # exact symmetry by construction (float32 rounding), the MLP has none
    assert m["frame_violation"] < 1e-4 and m["material_violation"] < 1e-4
    assert m["material_violation"] < 0.01 * rec["baselines"]["data_only"]["material_violation"]
    assert m["fe_converged"] == 1.0
