"""Equation-specific checks: NS nonlinearity forms, Kolmogorov forcing, KS against exponax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import pde
from jaxhybrid.rollout import evolve, nonfinite


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_ns_basdevant_equals_advective_form(x64):
    """The four-FFT Basdevant tendency equals −u·∇ω computed directly (de-aliased)."""
    grid = pde.Grid((32, 32))
    st = pde.navier_stokes_2d(grid, 0.01, viscosity=0.0)
    sp = st.space
    key = jax.random.PRNGKey(0)
    w = jax.random.normal(key, grid.shape)
    wh = st.init(w)  # projected on the retained modes
    kx, ky = sp.k
    k2 = jnp.where(sp.k2 == 0, 1.0, sp.k2)
    psi = jnp.where(sp.k2 == 0, 0.0, wh / k2)
    u, v = sp.inverse(1j * ky * psi), sp.inverse(-1j * kx * psi)
    wx, wy = sp.inverse(1j * kx * wh), sp.inverse(1j * ky * wh)
    direct = -sp.forward(u * wx + v * wy)
    got = st.nonlinear(wh)
    assert float(jnp.max(jnp.abs(got - direct)) / jnp.max(jnp.abs(direct))) < 1e-12
    # velocity is divergence-free and its curl is ω
    assert float(jnp.max(jnp.abs(sp.derivative(u, 0) + sp.derivative(v, 1)))) < 1e-10
    curl = sp.derivative(v, 0) - sp.derivative(u, 1)
    w_proj = sp.inverse(wh)
    assert float(jnp.max(jnp.abs(curl - (w_proj - jnp.mean(w_proj))))) < 1e-10  # ψ carries no mean


def test_kolmogorov_laminar_steady_state(x64):
    """ω = −γ k κ cos(kκy)/(ν (kκ)² + μ) is a steady state of forced NS with drag."""
    L, kf, gam, nu, mu = 2 * np.pi, 2, 0.5, 0.1, 0.05
    grid = pde.Grid((32, 32), L)
    _, y = grid.coords()
    st = pde.navier_stokes_2d(grid, 0.05, viscosity=nu, drag=mu, kolmogorov_mode=kf, kolmogorov_scale=gam)
    w_star = -gam * kf * jnp.cos(kf * y) / (nu * kf**2 + mu)
    r = evolve(st, st.init(w_star), 40, save_every=40, observe=st.to_physical)
    assert float(jnp.max(jnp.abs(r.saved[-1] - w_star))) < 1e-10


def test_ks_matches_exponax():
    ex = pytest.importorskip("exponax")
    n, L, dt, steps = 64, 30.0, 0.1, 50
    (x,) = pde.Grid(n, L).coords()
    u0 = jnp.cos(2 * np.pi * x / L) + 0.3 * jnp.sin(4 * np.pi * x / L)
    ours = pde.kuramoto_sivashinsky(pde.Grid(n, L), dt, order=2, n_contour=16)
    a = evolve(ours, ours.init(u0), steps, save_every=steps, observe=ours.to_physical).saved[-1]
    theirs = ex.stepper.KuramotoSivashinsky(1, L, n, dt, order=2)
    b = ex.repeat(theirs, steps)(u0[None])[0]
    assert float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b)) < 1e-4


def test_ks_conservative_is_chaotic_but_bounded():
    """Kassam–Trefethen KS (u_t + uu_x + u_xx + u_xxxx = 0, L = 32π): stays bounded, mean conserved."""
    grid = pde.Grid(128, 32 * np.pi)
    (x,) = grid.coords()
    u0 = jnp.cos(x / 16) * (1 + jnp.sin(x / 16))
    st = pde.kuramoto_sivashinsky(grid, 0.25, form="conservative", order=4)
    r = evolve(st, st.init(u0), 400, save_every=400, observe=st.to_physical, is_bad=nonfinite)
    u = r.saved[-1]
    assert int(r.steps_done) == 400
    assert 0.5 < float(jnp.max(jnp.abs(u))) < 10
    assert abs(float(jnp.mean(u) - jnp.mean(u0))) < 1e-4


def test_matmul_transform_equals_fft():
    """The dense-DFT transform path (used for short 1D grids on GPU) gives the FFT numbers."""
    grid = pde.Grid(64, 30.0)
    (x,) = grid.coords()
    u0 = jnp.stack([jnp.cos(2 * np.pi * m * x / 30.0) + 0.1 * m for m in (1, 2)])
    steppers = [pde.kuramoto_sivashinsky(grid, 0.1, transform=t) for t in ("fft", "matmul")]
    runs = [evolve(st, st.init(u0), 40, save_every=40, observe=st.to_physical).saved[-1] for st in steppers]
    np.testing.assert_allclose(np.asarray(runs[0]), np.asarray(runs[1]), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="transform"):
        pde.SpectralSpace(grid, transform="dct")
