"""jaxhybrid.inverse posterior drivers and data-only helpers: task_posterior and validate_pnp (PnP-ULA
on an ImageTask, σ and α on validation data), annealed_sampler (a batch of observation vectors),
residual_estimate and train_patch_regressor (the prior's patches and network as a regressor),
point_observations (a field at random nodes)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhybrid.inverse import (annealed_posterior, annealed_sampler, blur, extract_patches, gaussian_psf, image_task,
                               point_observations, poisson_source, psnr, residual_estimate, score_pnp_posterior,
                               task_posterior, train_patch_regressor, validate_pnp)
from jaxhybrid.sampling import NoisePredictor, geometric_sigmas, pnp_step_size, score_network


class _Shrink(eqx.Module):
    """The score of N(0, I) smoothed at σ, ``s(x, σ) = −x/(1 + σ²)`` (a stand-in for a network)."""

    def __call__(self, x, sigma):
        return -x / (1.0 + sigma**2)


def _task():
    x = jax.random.uniform(jax.random.PRNGKey(0), (8, 8))
    return x, image_task("deblur", x, 0.05, jax.random.PRNGKey(1), psf=gaussian_psf(3, 1.0))


def test_task_posterior_is_pnp_ula_with_the_stability_rule():
    x, task = _task()
    net, key, chains = _Shrink(), jax.random.PRNGKey(2), dict(n_chains=2, burn_in=3, n_samples=4)
    got = task_posterior(net, task, 0.1, 2.0, key, likelihood_lipschitz=400.0, **chains)
    step = pnp_step_size(400.0, 0.1, 2.0)  # δ = 1/(3 (L_y + α/σ²))
    ref = score_pnp_posterior(net, 0.1, step, task.likelihood_score, task.start, task.data, key, alpha=2.0,
                              box=(0.0, 1.0), lam=5 * step, **chains)
    np.testing.assert_array_equal(got.mean, ref.mean)
    np.testing.assert_array_equal(got.std, ref.std)
    assert got.mean.shape == got.std.shape == (8, 8) and np.all(np.isfinite(got.std))


def test_validate_pnp_picks_the_best_validation_psnr_first_of_equals(monkeypatch):
    import jaxhybrid.inverse.pnp_tasks as pnp_tasks

    x = np.linspace(0.0, 1.0, 16).reshape(4, 4)
    err = {(0.02, 1.0): 0.1, (0.02, 2.0): 0.01, (0.04, 1.0): 0.01, (0.04, 2.0): 0.05}  # a tie at the best
    calls = []

    def fake(net, task, sigma, alpha, key, **kw):
        calls.append((sigma, alpha, key, kw))
        return x + err[(sigma, alpha)], None

    monkeypatch.setattr(pnp_tasks, "task_posterior", fake)
    best, scores = validate_pnp("net", "task", x, (0.02, 0.04), (1.0, 2.0), "key", likelihood_lipschitz=1.0)
    assert best == (0.02, 2.0)  # the first of the two best
    assert scores == {k: psnr(x + e, x) for k, e in err.items()}
    assert all(k == "key" and kw == {"likelihood_lipschitz": 1.0} for _, _, k, kw in calls)
    with pytest.raises(ValueError, match="at least one"):
        validate_pnp("net", "task", x, (), (1.0,), "key")


def test_annealed_sampler_samples_each_observation_vector_with_its_own_key():
    idx = (jnp.asarray([1, 2, 4, 3]), jnp.asarray([1, 3, 2, 4]))
    op = poisson_source((6, 6), (1.0, 1.0), idx)
    ys = jax.random.normal(jax.random.PRNGKey(3), (2, 4))
    kw = dict(sigmas=geometric_sigmas(1.0, 0.1, 2), eps=0.002, n_each=1, n_chains=2, n_samples=2, shape=(6, 6))
    key = jax.random.PRNGKey(4)
    mean, std = annealed_sampler(op, 0.1, **kw)(_Shrink(), ys, key)
    assert mean.shape == std.shape == (2, 6, 6)
    one = jax.jit(lambda y, k: annealed_posterior(_Shrink(), op, 0.1, y, k, **kw))  # one row, one compilation
    for i, k in enumerate(jax.random.split(key, 2)):
        ref = one(ys[i], k)
        np.testing.assert_allclose(mean[i], ref.mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(std[i], ref.std, rtol=1e-5, atol=1e-6)
    assert float(jnp.max(jnp.abs(mean[0] - mean[1]))) > 1e-3  # different data and keys: the test can fail
    with pytest.raises(ValueError, match="batch of observation vectors"):
        annealed_sampler(op, 0.1, **kw)(_Shrink(), ys[0], key)
    with pytest.raises(ValueError, match="noise"):
        annealed_sampler(op, 0.0, **kw)


class _Half(NoisePredictor):
    def noise(self, x, sigma):
        return 0.5 * x


class _Residual(eqx.Module):
    def residual(self, x, sigma):
        return sigma * x


def test_residual_estimate_reads_noise_predictors_and_residual_networks():
    y = jnp.arange(4.0)
    np.testing.assert_allclose(residual_estimate(_Half(), y, 0.3), 0.5 * y)  # y − N(y, σ)
    np.testing.assert_allclose(residual_estimate(_Residual(), y, 0.3), 1.3 * y)  # y + ε(y, σ)


def test_train_patch_regressor_is_the_prior_recipe_as_a_regressor(monkeypatch):
    import jaxhybrid.inverse.regression as regression

    images = [np.asarray(jax.random.uniform(jax.random.PRNGKey(i), (20, 20))) for i in range(2)]
    cfg = {"width": 4, "kernel_sizes": (3, 3), "patch": 8, "patches": 16, "steps": 3, "batch": 4, "lr": 1e-3}
    forward = blur(gaussian_psf(3, 1.0), (8, 8)).apply
    seen = {}
    monkeypatch.setattr(regression, "train_regressor", lambda *a, **kw: seen.update(args=a, kw=kw))
    train_patch_regressor(images, cfg, forward, 0.02, 5, net_key=jax.random.PRNGKey(7), key=jax.random.PRNGKey(8),
                          steps=2)
    predict, net, patches, noise, opt = seen["args"]
    assert noise == 0.02  # the predictor reads the network out at σ = noise (y + ε(y, σ) for a residual network)
    y = jnp.ones((8, 8))
    np.testing.assert_allclose(predict(_Residual(), y), residual_estimate(_Residual(), y, 0.02))
    np.testing.assert_array_equal(patches, extract_patches(images, 8, 16, seed=5))  # the prior's patches
    ref = score_network(cfg, jax.random.PRNGKey(7))
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(net), jax.tree_util.tree_leaves(ref)))
    assert seen["kw"]["forward"] is forward and seen["kw"]["steps"] == 2 and seen["kw"]["batch_size"] == 4
    assert seen["kw"]["log_every"] == 1 and seen["kw"]["loop"] == "host"
    # clipped Adam, cosine-decayed from lr to 5%: the first update of a large gradient
    g = jax.tree_util.tree_map(lambda a: 100 * jnp.ones_like(a), eqx.filter(ref, eqx.is_inexact_array))
    want = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(1e-3, 2, 0.05)))
    got_u, _ = opt.update(g, opt.init(g))
    want_u, _ = want.update(g, want.init(g))
    for a, b in zip(jax.tree_util.tree_leaves(got_u), jax.tree_util.tree_leaves(want_u)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match="lacks"):
        train_patch_regressor(images, {"patch": 8}, forward, 0.02, 5, net_key=None, key=None)


def test_point_observations_draw_distinct_nodes_with_noise_relative_to_the_rms():
    pts = jnp.stack(jnp.meshgrid(jnp.linspace(0, 1, 10), jnp.linspace(0, 1, 10), indexing="ij"), -1).reshape(-1, 2)
    u = lambda p: jnp.sin(3 * p[0]) + p[1]
    idx, x, y, sigma = point_observations(jax.random.PRNGKey(0), pts, u, 30, 0.1)
    assert idx.shape == (30,) and len(set(np.asarray(idx).tolist())) == 30
    np.testing.assert_array_equal(x, pts[idx])
    rms = float(jnp.sqrt(jnp.mean(jax.vmap(u)(pts) ** 2)))
    assert sigma == pytest.approx(0.1 * rms)
    noise = np.asarray(y - jax.vmap(u)(x))
    assert 0.4 * sigma < noise.std() < 2 * sigma
    _, _, y0, s0 = point_observations(jax.random.PRNGKey(0), pts, u, 30, 0.0)  # the same nodes, no noise
    assert s0 == 0.0 and np.array_equal(y0, jax.vmap(u)(x))
    with pytest.raises(ValueError, match="n_obs"):
        point_observations(jax.random.PRNGKey(0), pts, u, 101, 0.1)
