"""jaxhybrid.pde.snapshots (a stepper's solution at chosen step counts), solve_batch (one ODE from
many initial states, compiled once per vector field) and fd_points (FD nodes as points)."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import pde
from jaxhybrid.rollout import evolve


def test_snapshots_are_the_heat_solution_and_the_saved_states_of_one_rollout():
    # heat u_t = ν u_xx is linear: ETDRK is exact in time, u(x, t) = e^{−ν k² t} sin(kx)
    grid, nu, dt = pde.Grid(32), 0.1, 0.05
    (x,) = grid.coords()
    st = pde.heat(grid, dt, diffusivity=nu)
    u0 = jnp.sin(2 * x)
    snaps = pde.snapshots(st, u0, (4, 6, 10))
    assert snaps.shape == (3, 32)
    for s, n in zip(snaps, (4, 6, 10)):
        np.testing.assert_allclose(s, np.exp(-nu * 4 * n * dt) * np.sin(2 * np.asarray(x)), atol=1e-5)
    # the same states as one evolve saving every gcd = 2 steps (what the example did by hand)
    r = evolve(st, st.init(u0), 10, save_every=2, observe=st.to_physical)
    np.testing.assert_array_equal(snaps, r.saved[jnp.asarray([4, 6, 10]) // 2 - 1])
    # differentiable with checkpointing: d/da of ½‖u(T)‖² for u₀ = a sin 2x is a e^{−2νk²T} ‖sin 2x‖²
    g = jax.grad(lambda a: 0.5 * jnp.sum(pde.snapshots(st, a * u0, (10,), checkpoint=True)[-1] ** 2))(1.5)
    np.testing.assert_allclose(g, 1.5 * np.exp(-2 * nu * 4 * 10 * dt) * np.sum(np.sin(2 * np.asarray(x)) ** 2),
                               rtol=1e-4)
    for bad in ((), (3, 3), (0, 2), (5, 2)):
        with pytest.raises(ValueError, match="increasing positive"):
            pde.snapshots(st, u0, bad)


def test_solve_batch_is_exact_on_a_linear_ode_and_reuses_one_compilation():
    decay = lambda t, y, a: -a * y  # y(t) = y₀ e^{−a t}
    y0 = np.asarray([[1.0], [-2.0], [0.5]])
    ts = np.linspace(0.0, 2.0, 11)
    exact = lambda a: y0[:, None, :] * np.exp(-a * ts)[None, :, None]
    for a in (0.5, 1.5):  # the parameter is an argument of the compiled program
        out = pde.solve_batch(decay, y0, ts, jnp.asarray(a), t0=0.0, dt=0.01)
        assert isinstance(out, np.ndarray) and out.shape == (3, 11, 1)
        np.testing.assert_allclose(out, exact(a), rtol=1e-6, atol=1e-7)
    # adaptive Dopri8 with tight tolerances: the reference trajectories of a learned model
    ref = pde.solve_batch(decay, y0, ts, jnp.asarray(1.5), solver=diffrax.Dopri8(), dt0=0.01, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(ref, exact(1.5), rtol=1e-5, atol=1e-6)  # float32
    # equal to vmapped ode_solve, the one diffrax call
    n = int(np.ceil(2.0 / 0.01)) + 8  # the default step budget of a fixed step
    one = jax.vmap(lambda y: pde.ode_solve(decay, y, ts, t0=0.0, solver="nonstiff", dt=0.01, max_steps=n,
                                           args=jnp.asarray(0.5))[0])(jnp.asarray(y0))
    np.testing.assert_array_equal(pde.solve_batch(decay, y0, ts, jnp.asarray(0.5), t0=0.0, dt=0.01), np.asarray(one))
    with pytest.raises(ValueError, match="ts must be"):
        pde.solve_batch(decay, y0, np.zeros((2, 2)), 1.0, dt=0.1)
    with pytest.raises(ValueError, match="batch of initial states"):
        pde.solve_batch(decay, np.zeros(()), ts, 1.0, dt=0.1)


def test_fd_points_are_the_fd_nodes_in_field_order():
    shape, extent = (3, 4), (1.0, 2.0)
    pts = pde.fd_points(shape, extent)
    assert pts.shape == (12, 2)
    gx, gy = pde.fd_coords(shape, extent)
    g = lambda p: p[0] + 10 * p[1]
    np.testing.assert_array_equal(jax.vmap(g)(pts).reshape(shape), gx + 10 * gy)
    np.testing.assert_allclose(pts[0], [0.25, 0.4])  # h = L/(n + 1) on each axis
    np.testing.assert_allclose(pde.fd_points((4,), 1.0, "periodic")[:, 0], [0.0, 0.25, 0.5, 0.75])
