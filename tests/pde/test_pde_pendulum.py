"""The driven pendulum with a friction slot (jaxhybrid.pde.pendulum): reference solve, cylinder
metric, data set-up and the scoring of models against the truth."""

import numpy as np

from jaxhybrid.pde import (cylinder_rel_l2, pendulum_errors, pendulum_field, pendulum_friction, pendulum_initial_states,
                           pendulum_reference, solve_batch)
from jaxhybrid.pde.pendulum import DT


def test_fixed_step_solver_matches_reference_with_true_friction():
    # the mechanism with the true friction law, Tsit5 at dt = 0.05, vs the tight Dopri8 reference
    y0 = np.asarray([[1.0, -0.5], [-2.0, 1.2]])
    ts = np.arange(0.0, 10.0 + 1e-9, 0.1)
    ref = pendulum_reference(y0, ts)
    ours = solve_batch(pendulum_field(lambda _, w: pendulum_friction(w)), y0, ts, t0=0.0, dt=DT)
    assert cylinder_rel_l2(ours, ref) < 1e-4
    # the test can fail: friction omitted is far off
    assert cylinder_rel_l2(solve_batch(pendulum_field(lambda _, w: 0.0 * w), y0, ts, t0=0.0, dt=DT), ref) > 0.1


def test_cylinder_metric_ignores_full_turns():
    y = np.stack([np.linspace(0, 3, 50), np.linspace(-1, 1, 50)], -1)
    assert cylinder_rel_l2(y + np.asarray([2 * np.pi, 0.0]), y) < 1e-6
    assert cylinder_rel_l2(y + np.asarray([0.5, 0.0]), y) > 0.1


def test_initial_states_ranges_and_errors_of_the_true_and_frictionless_models():
    _, y0_train, y0_test, y0_unseen = pendulum_initial_states(0, n=3)
    for y in (y0_train, y0_test):
        assert y.shape == (3, 2) and np.all(np.abs(y[:, 0]) <= 1.5) and np.all(np.abs(y[:, 1]) <= 1.0)
    assert np.all((np.abs(y0_unseen[:, 0]) >= 1.6) & (np.abs(y0_unseen[:, 0]) <= 2.4))
    assert np.all((np.abs(y0_unseen[:, 1]) >= 1.0) & (np.abs(y0_unseen[:, 1]) <= 1.6))
    models = {"true": (pendulum_field(lambda c, w: c * pendulum_friction(w)), 1.0),
              "frictionless": (pendulum_field(lambda c, w: c * pendulum_friction(w)), 0.0)}
    errors, ts, ref, first = pendulum_errors(models, y0_test[:1], y0_unseen[:1])
    assert ts.shape == (401,) and ref.shape == (2, 401, 2) and first["true"][1].shape == (401, 2)
    keys = {"extrapolation_rel_l2", "extrapolation_time_rel_l2", "interpolation_rel_l2"}
    assert set(errors["true"]) == keys and max(errors["true"].values()) < 1e-3, errors
    assert min(errors["frictionless"].values()) > 0.1, errors
