import numpy as np
import pytest

from jaxhybrid.examples import closure_ode as ex


def test_fixed_step_solver_matches_reference_with_true_friction():
    # the mechanism with the true friction law, Tsit5 at dt = 0.05, vs the tight Dopri8 reference
    y0 = np.asarray([[1.0, -0.5], [-2.0, 1.2]])
    ts = np.arange(0.0, 10.0 + 1e-9, 0.1)
    ref = ex.truth(y0, ts)
    ours = ex.simulate(ex.pendulum(lambda _, w: ex.true_friction(w)), None, y0, ts)
    assert ex.cylinder_rel_l2(ours, ref) < 1e-4
    # the test can fail: friction omitted is far off
    assert ex.cylinder_rel_l2(ex.simulate(ex.pendulum(lambda _, w: 0.0 * w), None, y0, ts), ref) > 0.1


def test_cylinder_metric_ignores_full_turns():
    y = np.stack([np.linspace(0, 3, 50), np.linspace(-1, 1, 50)], -1)
    assert ex.cylinder_rel_l2(y + np.asarray([2 * np.pi, 0.0]), y) < 1e-6
    assert ex.cylinder_rel_l2(y + np.asarray([0.5, 0.0]), y) > 0.1


@pytest.mark.example
def test_quick_run_hybrid_extrapolates_5x_better(quick_record, assert_hybrid_wins):
    rec, folder = quick_record("closure-ode")
    m, b = rec["metrics"], rec["baselines"]
    assert (folder / "closure-ode.png").exists()
    assert_hybrid_wins(rec)
    assert m["extrapolation_rel_l2"] * 5 <= b["data_only"]["extrapolation_rel_l2"]
    assert m["extrapolation_rel_l2"] * 5 <= b["mechanism_only"]["extrapolation_rel_l2"]
    assert m["friction_rmse_seen_range"] < 0.1
