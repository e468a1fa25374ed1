"""Inverse problems through a PDE solver (jaxhybrid.pde.inverse_design): the Adam loop and the
closed-form heat-equation baselines, checked against the heat solver itself (ETDRK is exact for the
linear heat equation with a steady source)."""

import jax.numpy as jnp
import numpy as np

from jaxhybrid import pde
from jaxhybrid.pde import adam_descent, heat_initial_condition, heat_source_design

NU = 0.05


def _setup(kmax):
    grid = pde.Grid(64)
    (x,) = grid.coords()
    B, k = pde.fourier_basis(kmax, x)
    return grid, x, B, k


def test_heat_initial_condition_recovers_the_coefficients_from_exact_heat_data():
    grid, _, B, k = _setup(3)
    c = jnp.asarray([0.1, 0.5, -0.3, 0.2, 0.1, -0.4, 0.25])
    sensors = jnp.arange(0, 64, 4)
    obs = pde.snapshots(pde.heat(grid, 0.1, diffusivity=NU), c @ B, (2, 5))[:, sensors]  # t = 0.2, 0.5
    c_hat = heat_initial_condition(B, k, sensors, jnp.asarray([0.2, 0.5]), obs, nu=NU, weight=1e4, lam=1e-12)
    np.testing.assert_allclose(np.asarray(c_hat), np.asarray(c), atol=1e-3)
    # the regulariser pulls the high modes towards zero
    c_reg = heat_initial_condition(B, k, sensors, jnp.asarray([0.2, 0.5]), obs, nu=NU, weight=1.0, lam=10.0)
    assert float(jnp.abs(c_reg[-1])) < 0.5 * float(jnp.abs(c[-1]))


def test_heat_source_design_hits_a_reachable_target():
    grid, x, B, k = _setup(2)
    a = jnp.asarray([0.2, 0.3, -0.2, 0.0, 0.25])
    u0 = 0.5 * jnp.sin(x)
    target = pde.snapshots(pde.heat(grid, 0.1, diffusivity=NU).with_forcing(a @ B), u0, (10,))[-1]  # T = 1
    free = jnp.exp(-NU * 1.0) * u0  # a k = 1 mode decays by e^{−νT}
    a_hat = heat_source_design(B, k, free, target, t_end=1.0, nu=NU, lam=1e-12)
    np.testing.assert_allclose(np.asarray(a_hat), np.asarray(a), atol=1e-3)
    assert float(jnp.max(jnp.abs(heat_source_design(B, k, free, target, t_end=1.0, nu=NU, lam=1e3)))) < 0.01


def test_adam_descent_minimises_and_records_every_step():
    p, hist = adam_descent(lambda p: jnp.sum((p - 3.0) ** 2), jnp.zeros(2), 400)
    assert len(hist) == 400 and hist[-1] < 1e-3 * hist[0]
    np.testing.assert_allclose(np.asarray(p), 3.0, atol=0.05)
