"""ETDRK steppers: temporal convergence order, spectral accuracy on exact solutions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import pde
from jaxhybrid.rollout import evolve


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def cole_hopf(x, t, nu, a=0.5):
    """Exact viscous Burgers solution from φ = 1 + a e^{-νt} cos x (Cole–Hopf)."""
    e = a * np.exp(-nu * t)
    return 2 * nu * e * jnp.sin(x) / (1 + e * jnp.cos(x))


def _burgers_error(order, dt, n=96, nu=0.1, T=2.0):
    grid = pde.Grid(n)
    (x,) = grid.coords()
    st = pde.burgers(grid, dt, viscosity=nu, order=order)
    steps = int(round(T / dt))
    r = evolve(st, st.init(cole_hopf(x, 0.0, nu)), steps, save_every=steps, observe=st.to_physical)
    return float(jnp.max(jnp.abs(r.saved[-1] - cole_hopf(x, T, nu))))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_temporal_order_burgers(x64, order):
    errs = np.array([_burgers_error(order, dt) for dt in (0.2, 0.1, 0.05)])
    rates = np.log2(errs[:-1] / errs[1:])
    assert np.all(np.abs(rates - order) < 0.3), (order, errs, rates)


def test_temporal_order_kdv_complex_symbol(x64):
    """ETDRK4 with a complex (dispersive) linear symbol: KdV soliton, order ≈ 4."""
    L, n, c = 40.0, 128, 1.0
    grid = pde.Grid(n, L)
    (x,) = grid.coords()
    sol = lambda t: 0.5 * c / jnp.cosh(0.5 * np.sqrt(c) * (x - L / 2 - c * t)) ** 2
    T = 2.0
    errs = []
    for dt in (0.1, 0.05, 0.025):
        st = pde.korteweg_de_vries(grid, dt, order=4)
        steps = int(round(T / dt))
        u_T = evolve(st, st.init(sol(0.0)), steps, save_every=steps, observe=st.to_physical).saved[-1]
        errs.append(float(jnp.max(jnp.abs(u_T - sol(T)))))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - 4) < 0.3), (errs, rates)


def test_burgers_cole_hopf_spectral_accuracy(x64):
    assert _burgers_error(4, 0.002, n=128, T=1.0) < 1e-10


def test_taylor_green_decay(x64):
    grid = pde.Grid((64, 64))
    x, y = grid.coords()
    nu, T, dt = 0.05, 1.0, 0.01
    w0 = 2 * jnp.cos(x) * jnp.cos(y)
    st = pde.navier_stokes_2d(grid, dt, viscosity=nu, order=4)
    r = evolve(st, st.init(w0), 100, save_every=100, observe=st.to_physical)
    assert float(jnp.max(jnp.abs(r.saved[-1] - w0 * np.exp(-2 * nu * T)))) < 1e-10


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_advection_diffusion_exact(x64, ndim):
    grid = pde.Grid((16,) * ndim, 2 * np.pi)
    xs = grid.coords()
    c, nu, T = (0.7, -0.3, 0.2)[:ndim], 0.05, 3.0
    phase = lambda t: sum(xi - ci * t for xi, ci in zip(xs, c))
    st = pde.advection_diffusion(grid, 0.5, diffusivity=nu, velocity=c)
    r = evolve(st, st.init(jnp.sin(phase(0.0))), 6, save_every=6, observe=st.to_physical)
    exact = jnp.exp(-ndim * nu * T) * jnp.sin(phase(T))
    assert float(jnp.max(jnp.abs(r.saved[-1] - exact))) < 1e-12


def test_coefficients_match_direct_formula(x64):
    """Contour-integral φ-functions equal the direct formulas where those are accurate."""
    z = jnp.array([-50.0, -5.0, -1.5, 1.2, 3.0])
    coef = pde.etdrk_coefficients(z, 1.0, 4)
    zc = np.asarray(z)
    ez = np.exp(zc)
    f1 = (-4 - zc + ez * (4 - 3 * zc + zc**2)) / zc**3
    f2 = (2 + zc + ez * (zc - 2)) / zc**3
    f3 = (-4 - 3 * zc - zc**2 + ez * (4 - zc)) / zc**3
    for got, want in ((coef["f1"], f1), (coef["f2"], f2), (coef["f3"], f3), (coef["ch"], (np.exp(zc / 2) - 1) / zc)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    # small |z|: the limit values 1/6, 1/6, 1/6 and 1/2 without cancellation
    small = pde.etdrk_coefficients(jnp.array([1e-9]), 1.0, 4)
    np.testing.assert_allclose([float(small[k][0]) for k in ("f1", "f2", "f3", "ch")], [1 / 6, 1 / 6, 1 / 6, 0.5], rtol=1e-7)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="even"):
        pde.Grid(63)
    with pytest.raises(ValueError, match="positive"):
        pde.Grid(64, -1.0)
    with pytest.raises(ValueError, match="dt"):
        pde.burgers(pde.Grid(64), -0.1, viscosity=0.1)
    with pytest.raises(ValueError, match="order"):
        pde.burgers(pde.Grid(64), 0.1, viscosity=0.1, order=5)
    with pytest.raises(ValueError, match="viscosity"):
        pde.burgers(pde.Grid(64), 0.1, viscosity=-1.0)
    with pytest.raises(ValueError, match="2-dimensional|\\(2,\\)"):
        pde.navier_stokes_2d(pde.Grid(64), 0.1, viscosity=0.1)
    with pytest.raises(ValueError, match="coarse"):
        pde.SpectralSpace(pde.Grid(4), dealias=1 / 3)
    st = pde.burgers(pde.Grid(64), 0.1, viscosity=0.1)
    with pytest.raises(ValueError, match="trailing axes"):
        st.init(jnp.zeros(32))
