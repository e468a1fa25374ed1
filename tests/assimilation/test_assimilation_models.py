import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import assimilation as da
from jaxhybrid.pde import Grid, kuramoto_sivashinsky
from jaxhybrid.rollout import evolve


def test_lorenz96_rk4_is_fourth_order(x64):
    x0 = 8.0 + jnp.sin(jnp.arange(40.0))
    rhs = lambda x: da.lorenz96_rhs(x, 8.0)
    ref = da.forecast(da.rk4(rhs, 0.05 / 64), x0, 64 * 4)
    errs = [float(jnp.linalg.norm(da.forecast(da.rk4(rhs, 0.05 / m), x0, 4 * m) - ref)) for m in (1, 2)]
    assert 3.7 < np.log2(errs[0] / errs[1]) < 4.3


def test_lorenz96_advection_conserves_energy(x64):
    x = jax.random.normal(jax.random.PRNGKey(0), (40,))
    adv = da.lorenz96_rhs(x, 0.0) + x  # the quadratic term alone
    assert abs(float(x @ adv)) < 1e-12 * float(x @ x) * 10
    assert float(jnp.abs(adv).max()) > 0.1


def test_lorenz63_fixed_points_and_two_scale_decoupling(x64):
    b, r = 8.0 / 3.0, 28.0
    c = np.sqrt(b * (r - 1))
    np.testing.assert_allclose(da.lorenz63_rhs(jnp.array([c, c, r - 1])), 0.0, atol=1e-12)
    # h = 0: the slow variables follow Lorenz-96 with the same forcing
    s = jnp.concatenate([jnp.arange(8.0), jnp.ones(8 * 32)])
    dX = da.two_scale_l96_rhs(s, h=0.0)[:8]
    np.testing.assert_allclose(dX, da.lorenz96_rhs(jnp.arange(8.0), 20.0), atol=1e-12)
    # h = 1: the coupling is −(hc/b) Σ_j Y_jk
    dX1 = da.two_scale_l96_rhs(s, h=1.0)[:8]
    np.testing.assert_allclose(dX - dX1, 32 * 1.0 * 10 / 10 * jnp.ones(8), atol=1e-12)


def test_pde_model_is_the_etdrk_step():
    st = kuramoto_sivashinsky(Grid(64, 32 * np.pi), 0.25, form="conservative")
    u = jnp.cos(jnp.arange(64) * 2 * np.pi / 64) * 0.5
    ref = st.to_physical(evolve(st, st.init(u), 3).final)
    np.testing.assert_allclose(da.forecast(da.pde_model(st), u, 3), ref, atol=1e-5)


def test_simulate_obs_noise_and_truth_dynamics():
    hmm = da.HMM(da.lorenz96(0.05), 2, da.partial(40, 2, std=0.5), 8.0 * jnp.ones(40).at[0].add(1.0), 1.0)
    truth, obs = da.simulate(hmm, jax.random.PRNGKey(0), 400, burn_in=10, include_initial=True)
    assert truth.shape == (401, 40) and obs.shape == (400, 20)
    np.testing.assert_allclose(hmm.forecast(truth[5]), truth[6], atol=1e-4)
    noise = obs - truth[1:, ::2]
    assert abs(float(noise.std()) - 0.5) < 0.02 and abs(float(noise.mean())) < 0.02


def test_observation_validation():
    with pytest.raises(ValueError):
        da.partial(40, 0)
    with pytest.raises(ValueError):
        da.full(10, std=-1.0)
    with pytest.raises(ValueError):
        da.nonlinear(10, "cube")
    h = da.nonlinear(10, "arctan", every=5, std=0.1)
    np.testing.assert_allclose(h(jnp.arange(10.0)), np.arctan([0.0, 5.0]), rtol=1e-6)
