"""The filter as one algorithm: cycle step, info, the host/jit drivers, divergence, batches."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import assimilation as da
from jaxhybrid.algorithm import Algorithm
from jaxhybrid.rollout import DivergenceError


def _problem(K=30, d=8):
    hmm = da.HMM(da.lorenz96(0.05), 1, da.partial(d, 2, std=0.5), 8.0 * jnp.ones(d).at[0].add(0.5), 1.0)
    truth0, obs = da.simulate(hmm, jax.random.PRNGKey(0), K, burn_in=50, include_initial=True)
    return hmm, truth0, obs


@pytest.fixture(scope="module")
def problem():
    """``problem(K)``: the twin experiment's first ``K`` cycles (truth with the initial state,
    observations) of one 30-cycle simulation, run once for the module (each length would be a
    compilation of its own)."""
    hmm, truth0, obs = _problem(K=30)
    return lambda K=30: (hmm, truth0[: K + 1], obs[:K])


def test_step_is_forecast_then_analysis_with_info_beside_the_state(problem):
    hmm, truth0, obs = problem()
    f = da.etkf(hmm.forecast, hmm.obs, 6, 1.05, rotate=True)
    assert isinstance(f, da.Filter) and isinstance(Algorithm(f.init, f.step), Algorithm)
    s = f.init(truth0[0], 0.3, key=jax.random.PRNGKey(1))
    assert set(s._asdict()) == {"E", "logw", "aux"}          # no diagnostics inside the state
    key = jax.random.PRNGKey(2)
    s1, info = f.step(s, key, obs[0])
    sf = f.forecast(s, jax.random.fold_in(key, 0))
    sa, ainfo = f.analysis(sf, jax.random.fold_in(key, 1), obs[0])
    np.testing.assert_array_equal(s1.E, sa.E)
    assert ainfo == {} and set(info) == {"forecast_mean", "forecast_spread"}
    np.testing.assert_allclose(info["forecast_mean"], sf.E.mean(0), rtol=1e-6)
    np.testing.assert_allclose(info["forecast_spread"], da.weighted_spread(sf), rtol=1e-6)
    assert float(jnp.abs(s1.E.mean(0) - info["forecast_mean"]).max()) > 1e-3   # the analysis moved it


def test_host_chunks_and_jit_scan_give_the_same_cycles(problem):
    # fold_in(key, n) per cycle: the chunked host run (two chunk sizes, the second with a ragged
    # last chunk) and one jit-compiled scan draw the same numbers and give the same analyses.
    hmm, truth0, obs = problem(30)
    f = da.enkf(hmm.forecast, hmm.obs, 10, 1.05)
    s = f.init(truth0[0], 0.3, key=jax.random.PRNGKey(1))
    key = jax.random.PRNGKey(3)
    run_jit = jax.jit(lambda s, y, k: da.assimilate(f, s, y, k, keep_ensemble=True))
    r_jit = run_jit(s, obs, key)
    for chunk in (10, 7):
        r = da.assimilate(f, s, obs, key, keep_ensemble=True, chunk_size=chunk, progress=False)
        for a, b in zip(jax.tree_util.tree_leaves(r), jax.tree_util.tree_leaves(r_jit)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert r_jit.ensemble.shape == (30, 10, 8) and int(r_jit.cycles_done) == 30
    np.testing.assert_array_equal(r_jit.mean_f, r_jit.info["forecast_mean"])
    assert float(da.rmse(r_jit.mean_a, truth0[1:], 10)) < float(da.rmse(r_jit.mean_f, truth0[1:], 10))
    # another key gives another run (the check can fail)
    r2 = run_jit(s, obs, jax.random.PRNGKey(4))
    assert float(jnp.abs(r2.mean_a - r_jit.mean_a).max()) > 1e-4


def _blowing_up_filter(at):
    """An ETKF whose model returns NaN from model call ``at`` on (counted in aux)."""
    obs = da.full(3, 1.0)
    base = da.etkf(lambda x: x, obs, 4)

    def init(x0, std0, *, key):
        return base.init(x0, std0, key=key)._replace(aux=jnp.asarray(0, jnp.int32))

    def forecast(s, key):
        E = jnp.where(s.aux + 1 >= at, jnp.nan, 0.9 * s.E)
        return s._replace(E=E, aux=s.aux + 1)

    return da.make_filter(init, forecast, base.analysis)


def test_divergence_names_the_cycle_and_keeps_the_last_good_state():
    f = _blowing_up_filter(at=13)
    s = f.init(jnp.ones(3), 0.5, key=jax.random.PRNGKey(0))
    obs = jnp.zeros((20, 3))
    with pytest.raises(DivergenceError) as e:
        da.assimilate(f, s, obs, jax.random.PRNGKey(1), chunk_size=5, progress=False)
    assert e.value.step == 13 and "cycle 13" in str(e.value)
    good = e.value.state
    assert bool(jnp.all(jnp.isfinite(good.E))) and int(good.aux) == 12
    ref = da.assimilate(f, s, obs[:12], jax.random.PRNGKey(1), progress=False).final
    np.testing.assert_allclose(good.E, ref.E, rtol=1e-6)
    # under jit nothing is raised: the state freezes and cycles_done says where
    r = jax.jit(lambda s, y, k: da.assimilate(f, s, y, k))(s, obs, jax.random.PRNGKey(1))
    assert int(r.cycles_done) == 12 and bool(jnp.all(jnp.isfinite(r.final.E)))


def test_particle_filter_reports_ess_and_resampling_per_cycle(problem):
    hmm, truth0, obs = problem(20)
    f = da.particle_filter(hmm.forecast, hmm.obs, 200, ner=0.5, reg=0.5)
    r = da.assimilate(f, f.init(truth0[0], 0.3, key=jax.random.PRNGKey(1)), obs, jax.random.PRNGKey(2),
                      progress=False)
    ess, res = np.asarray(r.info["ess"]), np.asarray(r.info["resampled"])
    assert ess.shape == (20,) and res.shape == (20,)
    assert np.all((ess >= 1.0 - 1e-4) & (ess <= 200 * (1 + 1e-5)))
    np.testing.assert_array_equal(res == 1.0, ess < 100)      # resampled exactly when ESS < ner·N
    assert 0 < res.sum() < 20 or res.all()


def test_var4d_reports_the_cost_at_the_optimum_and_decreases_it(x64):
    model = da.lorenz96(0.05)
    obs = da.partial(10, 2, std=0.5)
    B = 0.5 * jnp.eye(10)
    xb = 8.0 + jnp.sin(jnp.arange(10.0))
    win = jax.random.normal(jax.random.PRNGKey(0), (4, 5)) + 8.0
    f = da.var4d(model, obs, B, window=4, iterations=20)
    st = da.EnsembleState(xb[None], jnp.zeros(1), xb)
    sa, info = jax.jit(f.analysis)(st, None, (win, jnp.ones(4)))
    J = da.var4d_cost(model, obs, xb, jnp.linalg.cholesky(B), win, jnp.ones(4))
    v = jnp.linalg.solve(jnp.linalg.cholesky(B), sa.aux - xb)
    J_and_grad = jax.jit(jax.value_and_grad(J))  # one compilation for both points
    (J_v, g_v), (J_0, g_0) = J_and_grad(v), J_and_grad(jnp.zeros(10))
    np.testing.assert_allclose(info["cost"], J_v, rtol=1e-8)     # J at the returned window start
    assert float(info["cost"]) < 0.5 * float(J_0)                # L-BFGS lowered J from the background
    assert float(jnp.linalg.norm(g_v)) < 1e-2 * float(jnp.linalg.norm(g_0))


def test_experiments_equal_individual_runs_and_validate(problem):
    hmm, truth0, obs = problem(15)

    def make(infl):
        return da.etkf(hmm.forecast, hmm.obs, 6, infl, rotate=True)

    run = da.experiments(make, truth0[0], 0.3)
    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    infls = jnp.array([1.0, 1.05, 1.1])
    batch = run(keys, obs, infls)
    assert batch.mean_a.shape == (3, 15, 8) and batch.cycles_done.shape == (3,)

    @jax.jit  # one unbatched run, compiled once for the three configurations
    def one(infl, k_init, k_run):
        f = make(infl)
        return da.assimilate(f, f.init(truth0[0], 0.3, key=k_init), obs, k_run).mean_a

    for i in range(3):
        k_init, k_run = jax.random.split(keys[i])
        np.testing.assert_allclose(batch.mean_a[i], one(infls[i], k_init, k_run), rtol=2e-4, atol=2e-4)
    assert float(jnp.abs(batch.mean_a[0] - batch.mean_a[2]).max()) > 1e-3
    with pytest.raises(ValueError, match="configs"):
        run(keys, obs)
    with pytest.raises(ValueError, match="configs"):
        da.experiments(make(1.0), truth0[0], 0.3)(keys, obs, infls)
    with pytest.raises(TypeError, match="Filter"):
        da.experiments(3, truth0[0], 0.3)


def test_assimilate_rejects_bad_input(problem):
    hmm, truth0, obs = problem(5)
    f = da.etkf(hmm.forecast, hmm.obs, 4)
    s = f.init(truth0[0], 0.3, key=jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="Filter"):
        da.assimilate((f.init, f.step), s, obs, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="no observations"):
        da.assimilate(f, s, {}, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="leading axis"):
        da.assimilate(f, s, jnp.asarray(1.0), jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="chunk_size"):
        da.assimilate(f, s, obs, jax.random.PRNGKey(0), chunk_size=0)


SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp
    from jaxhybrid import assimilation as da

    hmm = da.HMM(da.lorenz96(0.05), 1, da.full(8, 0.5), 8.0 * jnp.ones(8).at[0].add(0.5), 0.3)
    truths, obs = jax.vmap(lambda k: da.simulate(hmm, k, 20))(jax.random.split(jax.random.PRNGKey(0), int(sys.argv[1])))
    make = lambda infl: da.etkf(hmm.forecast, hmm.obs, 6, infl, rotate=True)
    keys = jax.random.split(jax.random.PRNGKey(1), int(sys.argv[1]))
    infls = jnp.linspace(1.02, 1.1, int(sys.argv[1]))
    sharded = da.experiments(make, hmm.x0, 0.3, batched_obs=True)(keys, obs, infls)
    plain = da.experiments(make, hmm.x0, 0.3, batched_obs=True, shard=False)(keys, obs, infls)
    print(json.dumps({"n_devices": jax.device_count(),
                      "max_abs_diff": float(jnp.max(jnp.abs(sharded.mean_a - plain.mean_a))),
                      "spread_diff": float(jnp.max(jnp.abs(sharded.spread_f - plain.spread_f))),
                      "rmse": float(jnp.mean(jax.vmap(lambda m, t: da.rmse(m, t, 5))(plain.mean_a, truths))),
                      "shape": list(sharded.mean_a.shape),
                      "n_shards": len(sharded.mean_a.sharding.device_set)}))
    """
)


@pytest.mark.slow  # subprocesses with 4 forced devices; the generic sharded path runs in make test (tests/test_ensemble.py)
@pytest.mark.parametrize("batch", [8, 6])  # divisible and non-divisible by 4 devices
def test_sharded_experiments_over_four_cpu_devices_equal_unsharded(batch):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(batch)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["n_devices"] == 4 and res["shape"] == [batch, 20, 8]
    assert res["max_abs_diff"] == 0.0 and res["spread_diff"] == 0.0
    assert res["rmse"] < 0.35                   # the experiments did assimilate (observations alone: 0.5)
    if batch % 4 == 0:
        assert res["n_shards"] == 4
