"""pde.trajectory_windows cuts observed trajectories into half-overlapping windows; pde.fit_windows
recovers an ODE parameter through the fixed-step solve."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.pde import fit_windows, trajectory_windows


def test_windows_start_from_observed_states():
    obs = np.random.default_rng(0).standard_normal((2, 101, 2))
    ts = np.arange(101) * 0.1
    w = trajectory_windows(obs, ts, 30)
    assert w.k == 30 and w.targets.shape[1:] == (30, 2) and len(w.y0) == len(w.t0) == len(w.targets)
    assert len(w.y0) == 2 * len(range(0, 101 - 30, 15))  # a start every k // 2 samples, per trajectory
    np.testing.assert_allclose(w.targets[0, 0], obs[0, 1])  # the first target is one sample after the start
    np.testing.assert_allclose(w.y0[1], obs[0, 15])  # the next window of trajectory 0 starts k // 2 later
    np.testing.assert_allclose(w.targets[1, -1], obs[0, 45])
    assert w.t0[1] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="k must be"):
        trajectory_windows(obs, ts, 101)
    with pytest.raises(ValueError, match="ts"):
        trajectory_windows(obs, ts[:-1], 30)


def test_fit_windows_recovers_a_decay_rate():
    # y' = −c y with c = 0.7, exact observations e^{−ct} of two trajectories; start at c = 0.1
    ts = np.arange(0.0, 4.0 + 1e-9, 0.1)
    obs = np.stack([y0 * np.exp(-0.7 * ts) for y0 in (1.0, -2.0)])[..., None]
    w = trajectory_windows(obs, ts, 10)
    res = fit_windows(lambda t, y, c: -c * y, jnp.asarray(0.1), w, obs_dt=0.1, dt=0.05, steps=200,
                      learning_rate=5e-2, key=None, progress=False)
    assert abs(float(res.params) - 0.7) < 1e-2
    with pytest.raises(ValueError, match="dt"):
        fit_windows(lambda t, y, c: -c * y, jnp.asarray(0.1), w, obs_dt=0.1, dt=0.0, steps=1, learning_rate=1.0, key=None)
