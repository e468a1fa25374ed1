import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import assimilation as da
from jaxhybrid.examples import forecast_closure as ex
from jaxhybrid.nn import MLP


def test_diagnosed_subgrid_tendency_closes_the_slow_equation(x64):
    # Ẋ of the two-scale system = coarse L96 right-hand side + the diagnosed U
    s = jax.random.normal(jax.random.PRNGKey(0), (ex.K + ex.K * ex.J,)) * 3.0
    full = da.two_scale_l96_rhs(s, ex.K, ex.J, ex.F, ex.H, ex.B, ex.C)[: ex.K]
    U = da.subgrid_tendency(s, ex.K, ex.J, ex.H, ex.B, ex.C)
    np.testing.assert_allclose(full, da.lorenz96_rhs(s[: ex.K], ex.F) + U, rtol=1e-12, atol=1e-12)
    # batched states give the per-state tendencies
    S = jnp.stack([s, 2.0 * s])
    np.testing.assert_allclose(da.subgrid_tendency(S, ex.K, ex.J, ex.H, ex.B, ex.C)[1], 2.0 * U, rtol=1e-12)


def test_stencil_and_network_closure_are_translation_equivariant():
    x = jnp.arange(8.0)
    st = da.stencil(x)
    np.testing.assert_allclose(st[0], [6, 7, 0, 1, 2])
    net = da.LocalClosure(MLP(5, 1, width=8, depth=1, key=jax.random.PRNGKey(0)))
    np.testing.assert_allclose(net(jnp.roll(x, 3)), jnp.roll(net(x), 3), rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(net(x) - net(x)[0]).max()) > 1e-4      # not trivially constant


def test_truth_run_sampling_and_coarse_model_without_closure():
    X, U = ex.truth_run(jax.random.PRNGKey(1), 20, spinup=0.5)
    assert X.shape == (20, ex.K) and U.shape == (20, ex.K) and bool(jnp.all(jnp.isfinite(X)))
    x = X[0]
    np.testing.assert_allclose(ex.coarse_step(lambda z: 0.0 * z)(x), da.lorenz96(ex.DT, ex.F)(x), rtol=1e-5)
    with pytest.raises(ValueError, match="two_scale_truth"):
        da.two_scale_truth(jax.random.PRNGKey(0), 0, 5)


def test_linear_mos_recovers_an_affine_bias_and_lead_rmse(x64):
    rng = np.random.default_rng(0)
    fc = rng.normal(size=(200, 4))
    W, w0 = rng.normal(size=(4, 4)), rng.normal(size=4)
    mos = da.linear_mos(fc, fc @ W + w0)
    np.testing.assert_allclose(mos(fc[:5]), fc[:5] @ W + w0, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="linear_mos"):
        da.linear_mos(fc[:3], fc[:3])
    pred = np.zeros((3, 2, 4))
    ref = np.concatenate([np.ones((3, 1, 4)), 2.0 * np.ones((3, 1, 4))], 1)
    np.testing.assert_allclose(da.lead_rmse(pred, ref), [1.0, 2.0])


def test_climatology_and_scores():
    hmm = da.HMM(da.lorenz96(0.05), 1, da.full(8, 1.0), 8.0 * jnp.ones(8).at[0].add(0.5), 1.0)
    m, C = da.climatology(hmm, jax.random.PRNGKey(0), 400, burn_in=100)
    assert m.shape == (8,) and C.shape == (8, 8) and np.allclose(C, C.T)
    assert 1.5 < m.mean() < 3.5 and 8.0 < np.trace(C) / 8 < 18.0     # L96 (F = 8): mean ≈ 2.3, var ≈ 13
    truth, obs = da.simulate(hmm, jax.random.PRNGKey(1), 40, burn_in=50)
    f = da.etkf(hmm.forecast, hmm.obs, 8, 1.05)
    r = da.assimilate(f, f.init(truth[0], 0.5, key=jax.random.PRNGKey(2)), obs, jax.random.PRNGKey(3),
                      keep_ensemble=True, progress=False)
    sc = da.scores(r, truth, 10)
    assert set(sc) == {"rmse_a", "rmse_f", "spread_a", "crps_a"}
    np.testing.assert_allclose(sc["rmse_a"], float(da.rmse(r.mean_a, truth, 10)), rtol=1e-6)
    assert 0.0 < sc["crps_a"] < sc["rmse_a"]


def test_trajectory_windows_lead_targets_and_residual_mos():
    X = jnp.arange(60.0).reshape(30, 2)
    Xn = np.asarray(X)
    x0, tgt = da.trajectory_windows(X, 4, 10)
    np.testing.assert_array_equal(x0, Xn[[0, 10, 20]])
    np.testing.assert_array_equal(tgt[1], X[11:15])
    assert tgt.shape == (3, 4, 2)
    ref = da.lead_targets(X, np.array([0, 5]), 6, 3)
    np.testing.assert_array_equal(ref, np.stack([Xn[[3, 6]], Xn[[8, 11]]]))
    for bad in (lambda: da.trajectory_windows(X, 29, 1), lambda: da.lead_targets(X, [25], 6, 3),
                lambda: da.lead_targets(X, [0], 5, 3)):
        with pytest.raises(ValueError):
            bad()
    net = MLP(2, 2, width=4, depth=1, key=jax.random.PRNGKey(0))
    mos = da.ResidualMOS(net)
    f = jnp.array([3.0, -4.0])
    np.testing.assert_allclose(mos(f), f + 10.0 * net(f / 10.0), rtol=1e-6)
    zero = da.ResidualMOS(lambda z: 0.0 * z, scale=2.0)
    np.testing.assert_array_equal(zero(f), f)          # a zero correction returns the forecast


@pytest.mark.example
def test_forecast_closure_quick_run_learned_closure_beats_polynomials(quick_record):
    rec = quick_record("forecast-closure")  # at the first lead, against the coarse model, the best polynomial, persistence
    m, b = rec["metrics"], rec["baselines"]
    # the closure matters: the coarse model without it is far off at every lead; MOS corrects its bias
    for k in m:
        if k.startswith("rmse_lead"):
            assert m[k] < b["mechanism_only"][k]
    assert m["mos_linear_rmse_lead1"] < 0.8 * b["mechanism_only"]["mos_linear_rmse_lead1"]
