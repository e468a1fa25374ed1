"""prior-poisson-source: the annealed posterior sampler (jaxhybrid.inverse.annealed_posterior)
reproduces an exact Gaussian posterior; the closed-form linear-Gaussian posterior agrees in its
two parameterisations and with Bayes' rule; the Gaussian/residual/weighted score priors are exact
where they claim to be; contract of the record, and (slow) its quick run."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import pretrained
from jaxhybrid.examples import REGISTRY, load
from jaxhybrid.record import verdicts
from jaxhybrid.inverse import annealed_posterior, linear_gaussian_posterior
from jaxhybrid.sampling import (ConvScore, GaussianScore, MLPScore, ResidualScore, WeightedCorrection,
                                dsm_loss_by_sigma, geometric_sigmas, train_score)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _spd(rng, d, lo, hi):
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (Q * rng.uniform(lo, hi, d)) @ Q.T


def test_example_registered():
    assert REGISTRY["prior-poisson-source"][0] == "prior_poisson_source"


def test_gaussian_score_is_the_exact_smoothed_score(x64):
    rng = np.random.default_rng(0)
    d = 6
    mu, C = rng.normal(size=d), _spd(rng, d, 0.1, 2.0)
    g = GaussianScore(mu.reshape(2, 3), C)
    x = rng.normal(size=(2, 3))
    for s in (0.05, 0.5, 2.0):
        exact = -np.linalg.solve(C + s**2 * np.eye(d), x.reshape(-1) - mu).reshape(2, 3)
        np.testing.assert_allclose(np.asarray(g(jnp.asarray(x), s)), exact, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.asarray(g.residual(jnp.asarray(x), s)), s * exact, rtol=1e-4, atol=1e-5)
    # from_samples: empirical moments, within sampling error
    xs = rng.multivariate_normal(mu, C, 20000)
    gs = GaussianScore.from_samples(xs)
    assert np.max(np.abs(np.asarray(gs.mean) - mu)) < 5 * np.sqrt(np.max(np.diag(C)) / 20000)
    assert np.max(np.abs(gs.covariance() - C)) < 0.1
    np.testing.assert_allclose(g.covariance(), C, rtol=1e-4, atol=1e-5)  # V diag(λ) Vᵀ gives C back
    with pytest.raises(ValueError, match="cov must be"):
        GaussianScore(mu, C[:3, :3])
    with pytest.raises(ValueError, match="semi-definite"):
        GaussianScore(mu, -C)
    with pytest.raises(ValueError, match=">= 2 samples"):
        GaussianScore.from_samples(xs[:1])


def test_residual_score_starts_at_base_and_trains_only_the_net():
    rng = np.random.default_rng(1)
    data = (rng.standard_t(3, size=(512, 8, 8)) * 0.3).astype(np.float32)  # heavy-tailed, non-Gaussian
    base = GaussianScore.from_samples(data)
    for net in (ConvScore(8, key=jax.random.PRNGKey(0)), MLPScore(64, width=16, key=jax.random.PRNGKey(0))):
        shape = (8, 8) if isinstance(net, ConvScore) else (64,)
        d = data.reshape((-1,) + shape)
        b = GaussianScore.from_samples(d)
        r = ResidualScore(b, net)
        x = jnp.asarray(d[0])
        np.testing.assert_allclose(np.asarray(r(x, 0.3)), np.asarray(b(x, 0.3)), rtol=1e-6, atol=1e-6)
    flat = data.reshape(-1, 64)
    r = ResidualScore(GaussianScore.from_samples(flat), MLPScore(64, width=16, depth=1, key=jax.random.PRNGKey(0)))
    res = train_score(r, flat, (0.05, 1.0), continuous=True, steps=10, batch_size=32, key=jax.random.PRNGKey(2),
                      progress=False, log_every=5)
    for a, b in zip(jax.tree_util.tree_leaves(r.base), jax.tree_util.tree_leaves(res.params.base)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # the base is held fixed
    assert float(jnp.max(jnp.abs(res.params.net.mlp.layers[-1].weight))) > 0  # the correction is trained
    with pytest.raises(ValueError, match="zero_init"):
        ResidualScore(base, object.__new__(type("Net", (), {"residual": lambda self, x, s: x})))


class _MatOp(NamedTuple):
    A: jax.Array

    def apply(self, x):
        return self.A @ x

    def adjoint(self, r):
        return self.A.T @ r


def test_annealed_posterior_matches_exact_gaussian_posterior(x64):
    # Gaussian prior N(μ, C) with its exact smoothed score and y = A f + N(0, η² I). At the last
    # level σ_L the sampler's target is Gaussian: prior N(μ, C + σ_L² I), likelihood
    # N(y; A f, η² I + σ_L² AAᵀ); precision P, mean m = P⁻¹(Σ⁻¹μ + Aᵀ R⁻¹ y). ULA with step h
    # keeps the mean and has stationary covariance (P − h P²/2)⁻¹. Chains start from noise, so
    # they are independent: mean and variance agree within 5 Monte-Carlo standard errors.
    rng = np.random.default_rng(3)
    d, m_obs, eta = 10, 4, 0.1
    mu, C = rng.normal(size=d), _spd(rng, d, 0.2, 1.0)
    A = rng.normal(size=(m_obs, d)) / np.sqrt(d)
    y = A @ rng.multivariate_normal(mu, C) + eta * rng.normal(size=m_obs)
    sigmas = geometric_sigmas(2.0, 0.3, 8).astype(jnp.float64)
    s_l = float(sigmas[-1])
    eps = 0.1 * s_l**2
    mean, std = annealed_posterior(GaussianScore(mu, C), _MatOp(jnp.asarray(A)), eta, jnp.asarray(y),
                                   jax.random.PRNGKey(0), sigmas=sigmas, eps=eps, n_each=30, n_chains=256,
                                   n_samples=400, shape=(d,))
    R = eta**2 * np.eye(m_obs) + s_l**2 * A @ A.T
    Sp = C + s_l**2 * np.eye(d)
    P = np.linalg.inv(Sp) + A.T @ np.linalg.solve(R, A)
    m_exact = np.linalg.solve(P, np.linalg.solve(Sp, mu) + A.T @ np.linalg.solve(R, y))
    var_ula = np.diag(np.linalg.inv(P - eps * P @ P / 2))
    # MC error: 256 independent chains; within a chain 600 correlated steps (integrated
    # autocorrelation ≲ 2/(h λ_min(P)) steps), bounded by treating each chain as ≥ 400 h λ_min/2 draws
    n_eff = 256 * max(1.0, 400 * eps * np.linalg.eigvalsh(P).min() / 2)
    se_m = np.sqrt(var_ula / n_eff)
    se_v = var_ula * np.sqrt(2 / n_eff)
    assert np.all(np.abs(np.asarray(mean) - m_exact) < 5 * se_m), (np.asarray(mean) - m_exact) / se_m
    assert np.all(np.abs(np.asarray(std) ** 2 - var_ula) < 5 * se_v), (np.asarray(std) ** 2 - var_ula) / se_v
    # the test can fail: the prior mean alone, or the prior std, are far outside these bounds
    assert np.max(np.abs(mu - m_exact) / se_m) > 5
    assert np.max(np.abs(np.diag(Sp) - var_ula) / se_v) > 5


def test_linear_gaussian_posterior_is_bayes_rule(x64):
    # covariance and precision forms agree; the mean solves the normal equations of the posterior
    # log-density, the variance is the inverse Hessian's diagonal; a batch of y shares the std
    rng = np.random.default_rng(4)
    d, m_obs, eta = 6, 3, 0.2
    mu, C = rng.normal(size=d), _spd(rng, d, 0.3, 1.5)
    A = rng.normal(size=(m_obs, d))
    ys = rng.normal(size=(2, m_obs))
    op = _MatOp(jnp.asarray(A))
    a = linear_gaussian_posterior(op, eta, ys, mu, prior_cov=C)
    b = linear_gaussian_posterior(op, eta, ys, mu, prior_precision=np.linalg.inv(C))
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-8)
    H = A.T @ A / eta**2 + np.linalg.inv(C)
    for i in range(2):
        np.testing.assert_allclose(H @ a.mean[i], A.T @ ys[i] / eta**2 + np.linalg.solve(C, mu), rtol=1e-8)
    np.testing.assert_allclose(a.std**2, np.diag(np.linalg.inv(H)), rtol=1e-8)
    one = linear_gaussian_posterior(op, eta, ys[0], mu, prior_cov=C)
    np.testing.assert_allclose(one.mean, a.mean[0], rtol=1e-12)
    assert np.all(a.std < np.sqrt(np.diag(C)))  # the data shrink the prior's spread
    with pytest.raises(ValueError, match="exactly one"):
        linear_gaussian_posterior(op, eta, ys, mu)
    with pytest.raises(ValueError, match="observations"):
        linear_gaussian_posterior(op, eta, ys[:, :2], mu, prior_cov=C)


def test_weighted_correction_interpolates_between_base_and_trained_prior():
    rng = np.random.default_rng(0)
    base = GaussianScore(jnp.asarray(rng.normal(size=(6, 6)), jnp.float32), jnp.asarray(_spd(rng, 36, 0.5, 2.0), jnp.float32))
    net = ConvScore(4, kernel_sizes=(3, 1, 3), key=jax.random.PRNGKey(0))
    full = ResidualScore(base, net, zero_init=False)
    x = jnp.asarray(rng.normal(size=(6, 6)), jnp.float32)
    for s in (0.05, 0.5):
        np.testing.assert_allclose(WeightedCorrection(full, 0.0)(x, s), base(x, s), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(WeightedCorrection(full, 1.0)(x, s), full(x, s), rtol=1e-5, atol=1e-5)
        half = WeightedCorrection(full, 0.5)(x, s)
        np.testing.assert_allclose(half, 0.5 * (base(x, s) + full(x, s)), rtol=1e-4, atol=1e-4)
        assert not np.allclose(half, base(x, s), atol=1e-3)  # the net's correction is not zero


def test_dsm_loss_by_sigma_is_the_exact_gaussian_value():
    # data ~ N(0, τ² I) with its exact smoothed score: E‖σ s(x + σz, σ) + z‖² = τ²/(τ² + σ²) per entry
    tau2, sigmas = 0.5, (0.1, 0.5, 2.0)
    x = np.sqrt(tau2) * jax.random.normal(jax.random.PRNGKey(0), (4000, 5))
    g = GaussianScore(jnp.zeros(5), tau2 * np.eye(5))
    losses = np.asarray(dsm_loss_by_sigma(g, x, sigmas, jax.random.PRNGKey(1)))
    np.testing.assert_allclose(losses, [tau2 / (tau2 + s**2) for s in sigmas], rtol=0.03)
    # a wrong model (the score of N(0, I)) scores worse (exactly: 0.12 vs 0.111 at σ = 2); same key, same noise
    worse = np.asarray(dsm_loss_by_sigma(GaussianScore(jnp.zeros(5), np.eye(5)), x, sigmas, jax.random.PRNGKey(1)))
    assert worse[-1] > losses[-1] * 1.04
    np.testing.assert_array_equal(losses, np.asarray(dsm_loss_by_sigma(g, x, sigmas, jax.random.PRNGKey(1))))
    with pytest.raises(ValueError, match="positive sigmas"):
        dsm_loss_by_sigma(g, x, (0.0, 1.0), jax.random.PRNGKey(1))


def _no_training(cfg):
    raise AssertionError(f"quick mode trained {cfg} instead of loading the shipped network")


def test_quick_path_loads_the_shipped_full_networks(tmp_path, monkeypatch):
    """seed 0: quick mode evaluates the full run's DSM correction and data-only MLP (shipped, found with an
    empty cache) with the correction weight the full run chose on validation fields; another seed has
    no stored weights (quick mode would train the quick budgets)."""
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    ex = load("prior-poisson-source")
    for name, full, quick, like in ((ex.NAME, ex.prior_config(ex.PRIOR_FULL, 0), ex.prior_config(ex.PRIOR_QUICK, 0),
                                     ex.like_prior),
                                    (ex.NAME + "-mlp", ex.mlp_config(ex.MLP_FULL, 0), ex.mlp_config(ex.MLP_QUICK, 0),
                                     ex.like_mlp)):
        assert full != quick and full["seed"] == 0 and full["n_train"] == ex.N_TRAIN
        got = pretrained.obtain(name, [full, quick], _no_training, like)
        assert got.source == "shipped" and got.config == full, name
        leaves = jax.tree_util.tree_leaves(got.model)
        assert leaves and all(np.isfinite(np.asarray(x)).all() for x in leaves)
        assert pretrained.find(name, {**full, "seed": 1}) is None
    assert ex.VALIDATED[0] in ex.CORRECTION_WEIGHTS
    # the stored correction is the trained one: its last layer started at zero (ResidualScore's zero_init)
    got = pretrained.obtain(ex.NAME, [ex.prior_config(ex.PRIOR_FULL, 0)], _no_training, ex.like_prior)
    assert float(jnp.max(jnp.abs(got.model.convs[-1].weight))) > 0


@pytest.mark.example
def test_prior_poisson_source_quick(quick_record, check_record):
    rec = quick_record("prior-poisson-source")
    check_record(rec, "prior-poisson-source")
    m, b = rec["metrics"], rec["baselines"]
    assert set(b) >= {"tikhonov", "data_only", "gaussian_prior"}
    # the full run's networks (shipped) and its validated correction weight; the direction of the full
    # run: the learned prior beats Tikhonov, the data-only MLP and the Gaussian prior on f_rel_l2
    assert {w["source"] for w in rec["weights"].values()} == {"shipped"}
    assert rec["config"]["correction_weight_chosen_by"].startswith("full run")
    assert rec["headline"] == "f_rel_l2" and set(verdicts(rec)) == {"tikhonov", "data_only", "gaussian_prior"}
    assert 0.75 < m["coverage_90"] <= 1.0
    assert rec["config"]["correction_weight"] in load("prior-poisson-source").CORRECTION_WEIGHTS
    # the DSM correction does not make the prior worse than its Gaussian base on held-out fields
    c = rec["config"]
    assert np.mean(c["dsm_heldout_prior"]) <= np.mean(c["dsm_heldout_gaussian"]) * 1.02
