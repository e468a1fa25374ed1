"""Denoising score matching recovers the exact score of Gaussian data; PnP-ULA with the exact
Gaussian denoiser samples the exact (smoothed-prior) posterior; annealed Langevin ends at the
right law; ConvScore is translation-equivariant and size-agnostic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.sampling import (ConvScore, MLPScore, annealed_langevin, denoiser_from_score,
                                chains_summary, mc_standard_error, pnp_ula, run_chains, score_from_denoiser, tweedie_variance,
                                train_score, dsm_loss)

MU = np.array([1.0, -0.5])
SIG = np.array([[1.0, 0.6], [0.6, 0.8]])


def test_dsm_recovers_gaussian_score():
    # x ~ N(μ, Σ): the σ-smoothed score is −(Σ + σ²I)⁻¹ (x − μ) (Vincent 2011)
    rng = np.random.default_rng(0)
    data = rng.multivariate_normal(MU, SIG, 4096).astype(np.float32)
    sigmas = [0.3, 0.6]
    model = MLPScore(2, width=64, depth=2, key=jax.random.PRNGKey(0))
    res = train_score(model, data, sigmas, steps=1500, batch_size=256, learning_rate=3e-3,
                      key=jax.random.PRNGKey(1), progress=False)
    net = res.params
    xs = rng.multivariate_normal(MU, SIG, 400).astype(np.float32)  # where the data live
    for s in sigmas:
        exact = -(xs - MU) @ np.linalg.inv(SIG + s**2 * np.eye(2))
        pred = np.asarray(jax.vmap(lambda x: net(x, s))(jnp.asarray(xs)))
        rel = np.linalg.norm(pred - exact) / np.linalg.norm(exact)
        assert rel < 0.1, (s, rel)
    # an untrained network is far off (the test can fail)
    pred0 = np.asarray(jax.vmap(lambda x: model(x, 0.3))(jnp.asarray(xs)))
    exact = -(xs - MU) @ np.linalg.inv(SIG + 0.09 * np.eye(2))
    assert np.linalg.norm(pred0 - exact) / np.linalg.norm(exact) > 0.5


def test_tweedie_round_trip():
    score = lambda x: -(x - 2.0) / 3.0
    d = denoiser_from_score(score, 0.5)
    s = score_from_denoiser(d, 0.5)
    x = jnp.linspace(-1, 1, 5)
    np.testing.assert_allclose(s(x), score(x), rtol=1e-6)
    with pytest.raises(ValueError, match="sigma"):
        score_from_denoiser(d, 0.0)


def test_pnp_ula_with_exact_gaussian_denoiser():
    # prior N(0, τ²I); MMSE denoiser at σ: D(x) = τ²/(τ²+σ²) x, so Tweedie gives the score of
    # N(0, (τ²+σ²) I). Likelihood y = x + N(0, s²). PnP-ULA (α = 1) targets the posterior with
    # prior N(0, τ²+σ²) up to ULA's known O(δ) variance bias.
    tau2, sig, s2, y = 1.0, 0.5, 0.5, jnp.asarray([1.0, -2.0, 0.5])
    denoiser = lambda x: tau2 / (tau2 + sig**2) * x
    delta = 0.01
    algo = pnp_ula(denoiser, sig, delta, likelihood_score_fn=lambda x: (y - x) / s2)
    p = 1 / s2 + 1 / (tau2 + sig**2)
    c, m = 1 / p, (y / s2) / p
    c_ula = c / (1 - delta / (2 * c))
    with jax.enable_x64(True):
        s = jax.jit(lambda k: chains_summary(algo, k, jnp.zeros((128, 3), jnp.float64), 1000, burn_in=300, thin=2))(
            jax.random.PRNGKey(0))
        se_m, se_v = mc_standard_error(s.chain_mean), mc_standard_error(s.chain_var)
        assert np.all(np.abs(np.asarray(s.mean) - np.asarray(m)) < 5 * np.asarray(se_m))
        assert np.all(np.abs(np.asarray(s.var) - c_ula) < 5 * np.asarray(se_v))


def test_pnp_ula_tweedie_average_is_clean_posterior_mean():
    # same Gaussian problem: the chain average of D_σ(X_k) is E[X₀ | y] of the model
    # y = X₀ + σZ + η, i.e. τ²/(τ² + σ² + s²) y, which differs from E_π[X] = (τ²+σ²)/(τ²+σ²+s²) y
    tau2, sig, s2, y = 1.0, 0.5, 0.5, jnp.asarray([1.0, -2.0, 0.5])
    denoiser = lambda x: tau2 / (tau2 + sig**2) * x
    algo = pnp_ula(denoiser, sig, 0.01, likelihood_score_fn=lambda x: (y - x) / s2)
    clean, noisy = tau2 / (tau2 + sig**2 + s2) * y, (tau2 + sig**2) / (tau2 + sig**2 + s2) * y
    with jax.enable_x64(True):
        s = jax.jit(lambda k: chains_summary(algo, k, jnp.zeros((128, 3), jnp.float64), 1000, burn_in=300, thin=2,
                                             observe=lambda st: st.denoised))(jax.random.PRNGKey(1))
        se = np.asarray(mc_standard_error(s.chain_mean))
        assert np.all(np.abs(np.asarray(s.mean) - np.asarray(clean)) < 5 * se)
        assert np.all(np.abs(np.asarray(s.mean) - np.asarray(noisy)) > 5 * se)  # the two estimands differ
        # total variance Var_π[D(X)] + σ² ∂D/∂x = Var(X₀ | y) = τ²(σ²+s²)/(τ²+σ²+s²), up to ULA's O(δ) bias in Var_π[X]
        k, p = tau2 / (tau2 + sig**2), 1 / s2 + 1 / (tau2 + sig**2)
        var_ula = k**2 * (1 / p) / (1 - 0.01 * p / 2) + sig**2 * k
        total = np.asarray(s.var + tweedie_variance(denoiser, sig, s.final.position, jax.random.PRNGKey(2)))
        se_v = np.asarray(mc_standard_error(s.chain_var))
        assert np.all(np.abs(total - var_ula) < 5 * se_v), (total, var_ula)
        assert abs(var_ula - tau2 * (sig**2 + s2) / (tau2 + sig**2 + s2)) < 0.01


def test_tweedie_variance_is_sigma2_jacobian_diagonal():
    # linear denoiser D(x) = M x: σ² diag M, exact for a diagonal M, unbiased otherwise;
    # on the Gaussian problem above, σ² τ²/(τ²+σ²) is Var(X₀ | X) exactly
    sig, key, xs = 0.5, jax.random.PRNGKey(0), jnp.ones((3, 4))
    c = jnp.asarray([0.2, 0.5, 0.8, 1.0])
    np.testing.assert_allclose(tweedie_variance(lambda x: c * x, sig, xs, key), sig**2 * c, rtol=1e-6)
    M = jnp.asarray(np.random.default_rng(0).normal(size=(4, 4)))
    est = tweedie_variance(lambda x: M @ x, sig, jnp.ones((50, 4)), key, n_probes=200)
    # per-pixel standard error σ² (Σ_{j≠i} M_ij²)^½ / √(50·200)
    se = sig**2 * np.sqrt((np.asarray(M) ** 2).sum(1) - np.diag(M) ** 2) / np.sqrt(50 * 200)
    np.testing.assert_array_less(np.abs(np.asarray(est) - sig**2 * np.diag(M)), 5 * se)
    assert np.max(np.abs(np.asarray(est) - sig**2 * np.diag(M))) > 0  # an estimate, not the exact value
    with pytest.raises(ValueError, match="n_probes"):
        tweedie_variance(lambda x: x, sig, xs, key, n_probes=0)
    with pytest.raises(ValueError, match="leading axis"):
        tweedie_variance(lambda x: x, sig, jnp.float32(1.0), key)


def test_pnp_box_projection_keeps_chain_near_box():
    algo = pnp_ula(lambda x: x, 1.0, 0.01, likelihood_score_fn=lambda x: jnp.zeros_like(x) + 50.0,
                   box=(0.0, 1.0), lam=0.02)
    s = run_chains(algo, jax.random.PRNGKey(0), jnp.full((4, 10), 0.5), 500, progress=False)
    # the likelihood pushes x up; the projection term holds it at ~ hi + λ·50 = 2
    assert float(jnp.max(s.mean)) < 2.5
    with pytest.raises(ValueError, match="box"):
        pnp_ula(lambda x: x, 1.0, 0.01, likelihood_score_fn=lambda x: x, box=(1.0, 0.0))


def test_annealed_langevin_ends_on_last_level_law():
    # exact noise-conditional score of N(0, 1) data: s(x, σ) = −x/(1 + σ²)
    score = lambda x, s: -x / (1.0 + s**2)
    sigmas = jnp.asarray([3.0, 1.0, 0.3, 0.1])
    algo = annealed_langevin(score, sigmas, eps=0.01, n_steps_each=300)
    with jax.enable_x64(True):
        x0 = 10.0 * jax.random.normal(jax.random.PRNGKey(1), (256, 2), jnp.float64)
        s = jax.jit(lambda k: chains_summary(algo, k, x0, 500, burn_in=1200))(jax.random.PRNGKey(0))
        v = 1.0 + 0.01
        v_ula = v / (1 - 0.01 / (2 * v))
        se_v = np.asarray(mc_standard_error(s.chain_var))
        assert np.all(np.abs(np.asarray(s.var) - v_ula) < 5 * se_v)
    with pytest.raises(ValueError, match="non-increasing"):
        annealed_langevin(score, jnp.asarray([0.1, 1.0]), 0.01, 10)


def test_conv_score_translation_equivariant_and_any_size():
    net = ConvScore(8, key=jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (32, 32))
    out = net(x, 0.1)
    shifted = net(jnp.roll(x, (3, 5), (0, 1)), 0.1)
    # equal away from the borders (padding breaks equivariance only within the receptive field)
    np.testing.assert_allclose(jnp.roll(out, (3, 5), (0, 1))[10:-10, 10:-10], shifted[10:-10, 10:-10], atol=1e-5)
    assert net(jnp.zeros((17, 23)), 0.1).shape == (17, 23)
    with pytest.raises(ValueError, match="one image"):
        net(jnp.zeros((2, 8, 8)), 0.1)


class _ExactGaussianScore:
    """σ s*(x̃, σ) for N(0, I) data: s* = −x̃/(1 + σ²)."""

    def residual(self, x, s):
        return -s * x / (1.0 + s**2)


@pytest.mark.parametrize("continuous", [False, True])
def test_dsm_loss_value_at_the_exact_score(continuous):
    # at the exact score the per-entry DSM loss is E_σ[1/(1 + σ²)] (the irreducible part):
    # discrete levels average over the set, continuous=True over log-uniform σ in the range
    x = jax.random.normal(jax.random.PRNGKey(0), (200000, 4))
    lo, hi = 0.2, 2.0
    loss = float(dsm_loss(_ExactGaussianScore(), x, jax.random.PRNGKey(1), (lo, hi), continuous))
    if continuous:
        t = np.linspace(np.log(lo), np.log(hi), 20001)
        expected = np.trapezoid(1 / (1 + np.exp(2 * t)), t) / (t[-1] - t[0])
    else:
        expected = np.mean(1 / (1 + np.asarray([lo, hi]) ** 2))
    assert abs(loss - expected) < 0.01, (loss, expected)


def test_train_score_checkpoint_dir_is_a_cache(tmp_path):
    data = jax.random.normal(jax.random.PRNGKey(0), (256, 2))
    model = MLPScore(2, width=8, depth=1, key=jax.random.PRNGKey(0))
    kw = dict(steps=20, batch_size=32, key=jax.random.PRNGKey(1), progress=False, log_every=10,
              checkpoint_dir=tmp_path / "prior")
    a = train_score(model, data, (0.1, 1.0), continuous=True, **kw)
    b = train_score(model, data, (0.1, 1.0), continuous=True, **kw)  # reloaded, not retrained
    assert b.step == 20 and b.history == a.history
    for u, v in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="range"):
        train_score(model, data, 0.5, continuous=True, steps=1)


def test_residual_score_sigma_max_gates_the_correction():
    # above sigma_max the score is exactly the base's; at or below it, base + correction
    from jaxhybrid.sampling import GaussianScore, ResidualScore

    rng = np.random.default_rng(4)
    data = rng.normal(size=(64, 8, 8)).astype(np.float32)
    base = GaussianScore.from_samples(data)
    net = ConvScore(4, key=jax.random.PRNGKey(0))
    r = ResidualScore(base, net, zero_init=False, sigma_max=0.3)
    x = jnp.asarray(data[0])
    np.testing.assert_allclose(np.asarray(r(x, 0.5)), np.asarray(base(x, 0.5)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(r(x, 0.2)), np.asarray(base(x, 0.2) + net(x, 0.2)), rtol=1e-5, atol=1e-5)
    assert float(jnp.max(jnp.abs(net(x, 0.2)))) > 1e-3  # the gate can fail: the correction is not zero
    # traced σ (inside jit) takes the same branch
    f = jax.jit(lambda s: r(x, s))
    np.testing.assert_allclose(np.asarray(f(0.5)), np.asarray(base(x, 0.5)), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="sigma_max"):
        ResidualScore(base, net, sigma_max=0.0)
