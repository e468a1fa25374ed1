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


@pytest.mark.slow
def test_quick_run_meets_the_benchmark_targets(tmp_path):
    rec = ex.run(quick=True, seed=0, out=tmp_path)
    m, b = rec["metrics"], rec["baselines"]
    assert (tmp_path / "assimilation-l96.png").exists()
    assert m["etkf_rmse_a"] <= 0.21 and m["enkf_rmse_a"] <= 0.25
    for k in ("etkf_rmse_a", "enkf_rmse_a", "var3d_rmse_a", "var4d_rmse_a"):
        assert m[k] < b["data_only"][k] < b["mechanism_only"][k]
