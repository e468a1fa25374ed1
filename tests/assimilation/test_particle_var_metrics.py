import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import assimilation as da


def test_pf_weights_normalised_and_posterior_mean_matches_kalman(x64):
    # one analysis on a Gaussian prior: importance weights give the Kalman posterior mean
    obs = da.Observation(lambda x: x[:1], jnp.array([0.5]), True)
    f = da.particle_filter(lambda x: x, obs, 50000, ner=1e-6)   # no resampling
    s = f.init(jnp.zeros(2), 1.0, key=jax.random.PRNGKey(0))
    sa, info = f.analysis(s, jax.random.PRNGKey(1), jnp.array([1.0]))
    assert not bool(info["resampled"]) and 0.0 < float(info["ess"]) < 50000
    np.testing.assert_allclose(float(jnp.exp(sa.logw).sum()), 1.0, rtol=1e-5)
    # Kalman: P = I, H = [1, 0], R = 0.25 → mean = [1/1.25, 0]
    np.testing.assert_allclose(da.weighted_mean(sa), [0.8, 0.0], atol=0.02)


def test_systematic_resampling_is_unbiased_with_floor_ceil_counts():
    w = jnp.array([0.05, 0.3, 0.015, 0.4, 0.235])
    N = 5   # systematic resampling draws as many particles as there are weights
    idx = jax.vmap(lambda k: da.systematic_resample(k, jnp.log(w)))(
        jax.random.split(jax.random.PRNGKey(0), 4000)
    )
    counts = np.stack([np.bincount(np.asarray(i), minlength=5) for i in idx])
    Nw = N * np.asarray(w)
    assert np.all(counts >= np.floor(Nw) - 1e-9) and np.all(counts <= np.ceil(Nw) + 1e-9)
    np.testing.assert_allclose(counts.mean(0), Nw, atol=0.05)
    assert np.all(counts.sum(1) == N)


def test_pf_resamples_when_ess_is_low():
    obs = da.full(2, 0.1)
    f = da.particle_filter(lambda x: x, obs, 200, ner=0.5, reg=0.0)
    s = f.init(jnp.zeros(2), 1.0, key=jax.random.PRNGKey(0))
    sa, info = f.analysis(s, jax.random.PRNGKey(1), jnp.array([0.5, -0.5]))
    assert bool(info["resampled"]) and float(info["ess"]) < 0.5 * 200    # the reason it resampled
    np.testing.assert_allclose(jnp.exp(sa.logw), 1 / 200, rtol=1e-5)   # equal weights again
    assert len(np.unique(np.asarray(sa.E[:, 0]))) < 50                   # copies of a few particles
    np.testing.assert_allclose(da.effective_sample_size(jnp.zeros(10)), 10.0, rtol=1e-5)


def test_var4d_gradient_matches_finite_differences(x64):
    model = da.lorenz96(0.05)
    obs = da.partial(10, 2, std=0.5)
    x_b = 8.0 + jnp.sin(jnp.arange(10.0))
    win = jax.random.normal(jax.random.PRNGKey(0), (4, 5)) + 8.0
    J = da.var4d_cost(model, obs, x_b, 0.7 * jnp.eye(10), win, jnp.ones(4))
    v = 0.3 * jax.random.normal(jax.random.PRNGKey(1), (10,))
    g = jax.jit(jax.grad(J))(v)
    eps = 1e-6
    I = eps * jnp.eye(10)
    fd = jax.jit(jax.vmap(lambda e: (J(v + e) - J(v - e)) / (2 * eps)))(I)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)


def test_var4d_window_one_with_identity_model_equals_3dvar(x64):
    obs = da.partial(6, 2, std=0.4)
    B = jnp.eye(6) * 0.8 + 0.1
    xb, y = jnp.linspace(0.0, 1.0, 6), jnp.array([1.0, -1.0, 0.5])
    st = da.EnsembleState(xb[None], jnp.zeros(1), xb)
    w, m = da.obs_windows(y[None], 1)
    x4, info = da.var4d(lambda x: x, obs, B, window=1, iterations=30).analysis(st, None, (w[0], m[0]))
    x4 = x4.E[0]
    x3 = da.var3d(lambda x: x, obs, B).analysis(st, None, y)[0].E[0]
    np.testing.assert_allclose(x4, x3, atol=1e-6)


def test_obs_windows_masks_missing_past():
    y = jnp.arange(5.0)[:, None]
    w, m = da.obs_windows(y, 3)
    np.testing.assert_allclose(w[0, :, 0], [0, 0, 0])
    np.testing.assert_allclose(m[0], [0, 0, 1])
    np.testing.assert_allclose(w[4, :, 0], [2, 3, 4])
    np.testing.assert_allclose(m[4], [1, 1, 1])


def test_metrics_on_known_cases():
    truth = jnp.zeros((3, 4))
    est = jnp.ones((3, 4)) * jnp.array([1.0, 2.0, 3.0])[:, None]
    np.testing.assert_allclose(da.rmse(est, truth), 2.0)
    np.testing.assert_allclose(da.rmse(est, truth, burn_in=1), 2.5)
    # one-member ensemble: CRPS = mean absolute error
    np.testing.assert_allclose(da.crps_ensemble(est[:, None], truth), 2.0)
    # CRPS of N(0,1) for x = 0 is (√2 − 1)/√π ≈ 0.2337
    ens = jax.random.normal(jax.random.PRNGKey(0), (1, 4000, 1))
    np.testing.assert_allclose(da.crps_ensemble(ens, jnp.zeros((1, 1))), (np.sqrt(2) - 1) / np.sqrt(np.pi), atol=0.01)
    # calibrated ensemble: flat rank histogram, nominal coverage
    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    ens = jax.random.normal(k1, (2000, 9, 5))
    tr = jax.random.normal(k2, (2000, 5))
    h = da.rank_histogram(ens, tr)
    assert h.sum() == 10000 and h.shape == (10,) and np.abs(h / 1000 - 1).max() < 0.15
    assert abs(float(da.coverage(jnp.zeros_like(tr), 1.0, tr)) - 0.9) < 0.01
    assert float(da.coverage(jnp.zeros_like(tr), 0.5, tr)) < 0.7


def test_ssls_posterior_mean_approaches_kalman_on_a_gaussian_prior():
    # forecast ensemble ~ N(0, I₂), observe x₀ with σ = 0.5 at y = 1: Kalman mean (0.8, 0)
    obs = da.Observation(lambda x: x[:1], jnp.array([0.5]), True)
    f = da.ssls(lambda x: x, obs, 400, prior="learned", key=jax.random.PRNGKey(0), train_steps=1000, n_steps_each=200,
                sigmas=(0.5, 0.25, 0.1), eps=0.005, train_sigmas=(0.1, 0.5))
    s = f.init(jnp.zeros(2), 1.0, key=jax.random.PRNGKey(1))
    sa, _ = jax.jit(f.analysis)(s, jax.random.PRNGKey(2), jnp.array([1.0]))
    m = np.asarray(sa.E.mean(0))
    assert abs(m[0] - 0.8) < 0.06                           # observed component: Kalman mean 0.8
    assert 0.38 < float(sa.E[:, 0].std()) < 0.52            # Kalman posterior std of x₀: 0.447
    assert abs(m[1]) < 0.35 and 0.8 < float(sa.E[:, 1].std()) < 1.4   # unobserved: prior N(0, 1)
