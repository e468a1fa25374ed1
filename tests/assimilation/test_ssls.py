"""SSLS with the ensemble-space prior score: Kalman limit, exact nonlinear posterior, cycling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import assimilation as da


def _state(E):
    return da.init_ensemble(jnp.zeros(E.shape[1]), 1.0, E.shape[0], key=jax.random.PRNGKey(0))._replace(E=E)


def test_linear_gaussian_analysis_samples_the_kalman_update_of_the_ensemble():
    # For linear h the ensemble-space posterior is Gaussian and equals the ETKF/Kalman update with
    # P_f = AᵀA/(N−1): the sampled mean and covariance must agree up to Monte-Carlo error.
    N, d = 20, 12
    E = 2.0 + 0.7 * jax.random.normal(jax.random.PRNGKey(1), (N, d))
    obs = da.partial(d, 2, std=0.5)
    y = obs.h(jnp.full(d, 2.5))
    Ek = da.etkf_update(E, jax.vmap(obs.h)(E), y, obs.std)
    f = da.ssls(lambda x: x, obs, N, n_steps=200, step_size=0.5, chains_per_member=16)
    Ea = jax.jit(f.analysis)(_state(E), jax.random.PRNGKey(2), y)[0].E
    post_sd = float(jnp.sqrt(jnp.mean(jnp.var(Ek, 0, ddof=1))))
    assert float(jnp.abs(Ea.mean(0) - Ek.mean(0)).max()) < 0.1 * post_sd
    Ck, Ca = np.cov(np.asarray(Ek).T), np.cov(np.asarray(Ea).T)
    assert np.abs(Ca - Ck).max() < 0.1 * np.abs(Ck).max()
    # the analysis differs from the forecast (the observations were used)
    assert float(jnp.abs(Ea.mean(0) - E.mean(0)).max()) > 5 * float(jnp.abs(Ea.mean(0) - Ek.mean(0)).max())


def test_nonlinear_observation_gives_the_exact_posterior_mean_where_the_etkf_is_biased():
    # One state variable, prior = N(1.5, 1) (the ensemble's mean and spread), y = arctan(x) + ε
    # observed near saturation: a skewed posterior whose mean by quadrature (3.21) is the
    # reference. SSLS uses the exact likelihood; the ETKF's linearisation lands near 2.4.
    N = 64
    z = jax.random.normal(jax.random.PRNGKey(3), (N, 1))
    E = 1.5 + (z - z.mean()) / z.std(ddof=1)
    obs = da.nonlinear(1, "arctan", std=0.05)
    y = jnp.array([1.3])
    xs = np.linspace(-10, 30, 400001)
    logp = -0.5 * (xs - 1.5) ** 2 - 0.5 * ((1.3 - np.arctan(xs)) / 0.05) ** 2
    p = np.exp(logp - logp.max())
    mean_ref = float((xs * p).sum() / p.sum())
    sd_ref = float(np.sqrt(((xs - mean_ref) ** 2 * p).sum() / p.sum()))
    f = da.ssls(lambda x: x, obs, N, n_steps=200, step_size=0.3, chains_per_member=8, rotate=False)
    Ea = jax.jit(f.analysis)(_state(E), jax.random.PRNGKey(4), y)[0].E
    Ek = da.etkf_update(E, jax.vmap(obs.h)(E), y, obs.std)
    assert abs(float(Ea.mean()) - mean_ref) < 0.2 * sd_ref
    assert abs(float(Ea.std(ddof=1)) - sd_ref) < 0.1 * sd_ref
    assert abs(float(Ek.mean()) - mean_ref) > 1.0 * sd_ref


def test_cycling_on_lorenz96_tracks_like_the_etkf():
    from jaxhybrid.examples import assimilation_l96 as ex
    hmm = ex.make_hmm()
    truth0, obs = da.simulate(hmm, jax.random.PRNGKey(0), 150, burn_in=100, include_initial=True)
    x0 = truth0[0] + ex.INIT_STD * jax.random.normal(jax.random.PRNGKey(1), (40,))
    out = {}
    for name, f in (("etkf", da.etkf(hmm.forecast, hmm.obs, 24, 1.02, rotate=True)),
                    ("ssls", da.ssls(hmm.forecast, hmm.obs, 24, infl=1.02, n_steps=20, chains_per_member=8,
                                     target_accept=0.574))):
        r = da.assimilate(f, f.init(x0, ex.INIT_STD, key=jax.random.PRNGKey(2)), obs, jax.random.PRNGKey(3))
        out[name] = float(da.rmse(r.mean_a, truth0[1:], 50))
    assert out["ssls"] < 1.5 * out["etkf"] and out["ssls"] < 0.3       # observations alone: 1.0


def test_ssls_rejects_bad_arguments():
    obs = da.full(3)
    for kw in ({"n_steps": 0}, {"step_size": 0.0}, {"chains_per_member": 0}, {"infl": -1.0}, {"prior": "flow"},
               {"target_accept": 1.5}, {"target_accept": 0.5, "adapt_rate": 0.0}, {"target_accept": 0.5, "n_steps": 1},
               {"shrink": True, "chains_per_member": 1}):
        try:
            da.ssls(lambda x: x, obs, 8, **kw)
        except ValueError as e:
            assert "ssls" in str(e)
        else:
            raise AssertionError(f"no error for {kw}")
    with pytest.raises(ValueError, match="key"):
        da.ssls(lambda x: x, obs, 8, prior="learned")


def test_one_cycle_matches_importance_sampling_from_the_same_gaussian_prior():
    # Brute-force reference: the ensemble-space prior w ~ N(0, I_N), x = x̄ + Xᵀw, weighted by the
    # exact arctan likelihood (400,000 draws). SSLS's analysis mean and covariance (adapted MALA
    # step) must agree with the importance-sampling posterior in every component; the ETKF of the
    # same ensemble must not (its linearisation is biased here), so the check can fail.
    N, d, sd_obs = 10, 5, 0.2
    rng = np.random.default_rng(0)
    L = np.tril(rng.normal(size=(d, d)) * 0.4) + np.eye(d)
    E = np.asarray(1.2 + rng.normal(size=(N, d)) @ L.T, np.float32)
    obs = da.nonlinear(d, "arctan", std=sd_obs)
    y = jnp.asarray(np.arctan(np.full(d, 2.0)) + 0.05, jnp.float32)
    m = E.mean(0)
    X = (E - m) / np.sqrt(N - 1.0)
    xs = m + rng.normal(size=(400_000, N)) @ X
    logw = -0.5 * (((np.asarray(y) - np.arctan(xs)) / sd_obs) ** 2).sum(1)
    p = np.exp(logw - logw.max())
    p /= p.sum()
    assert 1.0 / (p ** 2).sum() > 10_000                   # the reference has enough effective draws
    mean_ref = p @ xs
    cov_ref = (xs - mean_ref).T @ ((xs - mean_ref) * p[:, None])
    sd_ref = np.sqrt(np.diag(cov_ref))
    f = da.ssls(lambda x: x, obs, N, n_steps=120, step_size=0.3, chains_per_member=32, rotate=False,
                target_accept=0.574)
    st = f.init(jnp.zeros(d), 1.0, key=jax.random.PRNGKey(0))._replace(E=jnp.asarray(E))
    out, info = jax.jit(f.analysis)(st, jax.random.PRNGKey(5), y)
    Ea = np.asarray(out.E, np.float64)
    assert 0.05 < float(jnp.exp(out.aux)) < 5.0             # the adapted step is carried in aux
    np.testing.assert_allclose(info["step_size"], jnp.exp(out.aux), rtol=1e-6)   # and reported in info
    assert 0.3 < float(info["accept_prob"]) < 0.85          # adapted towards 0.574
    assert np.all(np.abs(Ea.mean(0) - mean_ref) < 0.1 * sd_ref)
    assert np.all(np.abs(Ea.std(0, ddof=1) / sd_ref - 1.0) < 0.1)
    assert np.abs(np.cov(Ea.T) - cov_ref).max() < 0.15 * cov_ref.diagonal().max()
    Ek = np.asarray(da.etkf_update(jnp.asarray(E), jax.vmap(obs.h)(jnp.asarray(E)), y, obs.std), np.float64)
    assert np.abs(Ek.mean(0) - mean_ref).max() > 0.4 * sd_ref.max() or \
        np.abs(Ek.std(0, ddof=1) / sd_ref - 1.0).max() > 0.3


def test_shrinkage_brings_a_short_run_closer_to_the_kalman_covariance():
    # Linear h: the exact analysis covariance is the Kalman (ETKF) one, which is also the
    # shrinkage target, so shrinking a short run's noisy sampled covariance must reduce its error
    # (same keys with and without shrinkage, averaged over 4 analyses); the mean is unchanged.
    N, d = 20, 12
    E = 2.0 + 0.7 * jax.random.normal(jax.random.PRNGKey(1), (N, d))
    obs = da.partial(d, 2, std=0.5)
    y = obs.h(jnp.full(d, 2.5))
    Ck = np.cov(np.asarray(da.etkf_update(E, jax.vmap(obs.h)(E), y, obs.std)).T)
    keys = jax.random.split(jax.random.PRNGKey(7), 4)
    err, means = {}, {}
    for shrink in (False, True):
        f = da.ssls(lambda x: x, obs, N, n_steps=8, step_size=0.5, chains_per_member=4, rotate=False,
                    shrink=shrink)
        Ea = np.asarray(jax.jit(jax.vmap(lambda k: f.analysis(_state(E), k, y)[0].E))(keys))
        err[shrink] = np.mean([np.abs(np.cov(e.T) - Ck).sum() for e in Ea])
        means[shrink] = Ea.mean(1)
    assert err[True] < 0.8 * err[False]
    np.testing.assert_allclose(means[True], means[False], atol=1e-5)


@pytest.mark.slow  # compiles the experiment twice by design (~17 s): a long check
def test_same_seed_gives_bit_identical_experiments_after_a_fresh_compile():
    # An SSLS experiment is a pure function of its keys: two runs with the same keys, the second
    # after dropping every compiled executable (a fresh compile), give bit-identical analyses and
    # adapted step sizes; a different run key gives a different trajectory (so the check can fail).
    # (Last in the module: jax.clear_caches() also drops the compilations the other tests share.)
    from jaxhybrid.examples import assimilation_ssls as ex
    hmm = ex.settings()["nonlinear"]
    truth0, obs = da.simulate(hmm, jax.random.PRNGKey(0), 12, burn_in=50, include_initial=True)
    f = da.ssls(hmm.forecast, hmm.obs, 16, infl=1.1, n_steps=6, step_size=0.3, chains_per_member=2,
                target_accept=0.574)

    @jax.jit
    def experiment(run_key):
        s0 = f.init(truth0[0], 0.5, key=jax.random.PRNGKey(1))
        r = da.assimilate(f, s0, obs, run_key)
        return r.mean_a, r.final.aux

    a = experiment(jax.random.PRNGKey(2))
    c = experiment(jax.random.PRNGKey(3))
    jax.clear_caches()                                    # the second run compiles afresh
    b = experiment(jax.random.PRNGKey(2))
    a, b, c = ([np.asarray(v) for v in t] for t in (a, b, c))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
