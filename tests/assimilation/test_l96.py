"""Lorenz-96 twin experiments (Sakov & Oke 2008 setup, shortened) and batching."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import assimilation as da
from jaxhybrid.examples import assimilation_l96 as ex


@pytest.fixture(scope="module")
def l96():
    hmm = ex.make_hmm()
    truth0, obs = da.simulate(hmm, jax.random.PRNGKey(0), 300, burn_in=100, include_initial=True)
    x_init = truth0[0] + ex.INIT_STD * jax.random.normal(jax.random.PRNGKey(1), (40,))
    return hmm, truth0[1:], obs, x_init


def test_etkf_reaches_the_published_accuracy_and_beats_the_baselines(l96):
    hmm, truth, obs, x_init = l96
    f = da.etkf(hmm.forecast, hmm.obs, 24, 1.013, rotate=True)
    r = da.assimilate(f, f.init(x_init, ex.INIT_STD, key=jax.random.PRNGKey(2)), obs, jax.random.PRNGKey(3))
    rmse_a = float(da.rmse(r.mean_a, truth, 100))
    assert rmse_a < 0.22                                  # Sakov & Oke / DAPPER: 0.18 over long runs
    assert float(da.rmse(obs, truth, 100)) > 4 * rmse_a   # far better than the observations alone
    assert float(da.rmse(r.mean_f, truth, 100)) > rmse_a  # the analysis improves on the forecast
    assert 0.6 < float(jnp.mean(r.spread_a[100:])) / rmse_a < 1.5   # spread consistent with error


def test_vmapped_experiments_equal_individual_runs(l96):
    hmm, truth, obs, x_init = l96
    obs = obs[:40]

    def exp(key, infl):
        f = da.etkf(hmm.forecast, hmm.obs, 8, infl)
        return da.assimilate(f, f.init(x_init, ex.INIT_STD, key=key), obs, key).mean_a

    keys = jax.random.split(jax.random.PRNGKey(5), 2)
    infls = jnp.array([1.0, 1.05])
    batch = jax.jit(jax.vmap(exp))(keys, infls)
    for i in range(2):
        np.testing.assert_allclose(batch[i], jax.jit(exp)(keys[i], infls[i]), rtol=2e-4, atol=2e-4)
    assert float(jnp.abs(batch[0] - batch[1]).max()) > 1e-3


@pytest.mark.example
def test_quick_run_meets_the_benchmark_targets(quick_record):
    rec = quick_record("assimilation-l96")
    m, b = rec["metrics"], rec["baselines"]
    assert m["etkf_rmse_a"] <= 0.21 and m["enkf_rmse_a"] <= 0.25
    for k in ("etkf_rmse_a", "enkf_rmse_a", "var3d_rmse_a", "var4d_rmse_a"):
        assert m[k] < b["data_only"][k] < b["mechanism_only"][k]


def test_twin_run_filter_and_free_run_match_their_definitions():
    hmm = ex.make_hmm()
    t = da.twin(hmm, jax.random.PRNGKey(0), jax.random.PRNGKey(1), 60, ex.INIT_STD, burn_in=50)
    truth0, obs = da.simulate(hmm, jax.random.PRNGKey(0), 60, burn_in=50, include_initial=True)
    np.testing.assert_array_equal(t.truth, truth0[1:])
    np.testing.assert_array_equal(t.obs, obs)
    np.testing.assert_allclose(t.x_init, truth0[0] + ex.INIT_STD * jax.random.normal(jax.random.PRNGKey(1), (40,)))
    f = da.etkf(hmm.forecast, hmm.obs, 8, 1.05)
    sc, series, r = da.run_filter(f, t.x_init, ex.INIT_STD, t.obs, t.truth, jax.random.PRNGKey(2),
                                  jax.random.PRNGKey(3), 10, keep_ensemble=True, progress=False)
    ref = da.assimilate(f, f.init(t.x_init, ex.INIT_STD, key=jax.random.PRNGKey(2)), t.obs, jax.random.PRNGKey(3),
                        keep_ensemble=True, progress=False)
    np.testing.assert_array_equal(r.mean_a, ref.mean_a)
    assert {k: v for k, v in sc.items() if k != "wall_s"} == da.scores(ref, t.truth, 10) and sc["wall_s"] > 0
    np.testing.assert_allclose(series, da.rmse_series(ref.mean_a, t.truth))
    free = da.free_run(hmm, t.x_init, jax.random.PRNGKey(4), 60)
    np.testing.assert_allclose(free[0], hmm.step(t.x_init), rtol=1e-6)    # no perturbation of x0
    assert float(da.rmse(free, t.truth, 30)) > 5 * ex.INIT_STD              # uncorrected chaos drifts away
    with pytest.raises(ValueError, match="init_std"):
        da.twin(hmm, jax.random.PRNGKey(0), jax.random.PRNGKey(1), 5, -1.0)
