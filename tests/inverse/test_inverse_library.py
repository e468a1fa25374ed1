"""The inverse-problem library calls the prior examples run on: oracle λ tuning, Tikhonov's prior
precision, textured patches, noisy observations, the data-only regressor, finite-difference gradients,
image tasks, the score-network PnP posterior, the prior's denoising check, patch-prior training and
the image panels."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhybrid.inverse import (blur, denoising_psnr, fd_gradient, gaussian_likelihood, gaussian_psf, grad2d,
                               gradient_precision, image_task, noisy_observations, pnp_posterior,
                               prior_denoising_psnr, score_pnp_posterior, show_images, textured_patches,
                               train_patch_prior, train_regressor, tune_weight)
from jaxhybrid.sampling import ConvScore, GaussianScore, denoiser_from_score


def test_tune_weight_picks_the_best_weight_first_on_ties():
    truth = 3.0
    est = lambda w: w  # the estimate is the weight itself
    err = lambda x, t: abs(x - t)
    assert tune_weight(est, [1.0, 2.5, 4.0, 3.5], truth, score=err, best="min")[:2] == (0.5, 2.5)
    assert tune_weight(est, [1.0, 2.5, 4.0], truth, score=err, best="max")[1] == 1.0
    assert tune_weight(est, [2.0, 4.0], truth, score=err, best="min")[1] == 2.0  # tie: the first
    with pytest.raises(ValueError, match="best"):
        tune_weight(est, [1.0], truth, score=err, best="lowest")
    with pytest.raises(ValueError, match="empty"):
        tune_weight(est, [], truth)


def test_gradient_precision_is_the_gradient_penalty():
    Q = np.asarray(gradient_precision((5, 4)))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    assert Q.shape == (20, 20)
    np.testing.assert_allclose(Q, Q.T, atol=1e-6)
    np.testing.assert_allclose(x.reshape(-1) @ Q @ x.reshape(-1), float(jnp.sum(grad2d(jnp.asarray(x)) ** 2)), rtol=1e-5)
    np.testing.assert_allclose(Q @ np.ones(20), 0.0, atol=1e-6)  # constants cost nothing
    assert np.linalg.eigvalsh(Q).min() > -1e-5
    with pytest.raises(ValueError, match="shape"):
        gradient_precision((5,))


def test_textured_patches_keeps_the_most_textured():
    im = np.zeros((64, 64), np.float32)
    im[:, 32:] = np.random.default_rng(0).random((64, 32))  # texture on the right half only
    p = textured_patches(im, 8, 5, 100, seed=1)
    s = p.std(axis=(1, 2))
    assert p.shape == (5, 8, 8) and np.all(np.diff(s) >= 0) and s.min() > 0.2
    with pytest.raises(ValueError, match="n_candidates"):
        textured_patches(im, 8, 10, 5)


def test_noisy_observations_add_noise_of_the_given_std():
    op = blur(gaussian_psf(5, 1.0), (16, 16))
    xs = jax.random.uniform(jax.random.PRNGKey(0), (20, 16, 16))
    y = noisy_observations(op, xs, 0.1, jax.random.PRNGKey(1))
    clean = jax.vmap(op.apply)(xs)
    assert float(jnp.std(y - clean)) == pytest.approx(0.1, rel=0.05)
    np.testing.assert_array_equal(noisy_observations(lambda x: 2 * x, xs, 0.0, jax.random.PRNGKey(1)), 2 * xs)
    with pytest.raises(ValueError, match="sigma"):
        noisy_observations(op, xs, -1.0, jax.random.PRNGKey(1))


def test_train_regressor_learns_the_wiener_gain_and_both_data_forms_agree():
    # x ~ N(0, 1), y = x + 0.5 z: the best linear estimate is x̂ = y / (1 + 0.25) = 0.8 y
    x = jax.random.normal(jax.random.PRNGKey(0), (4096, 4))
    kw = dict(steps=400, batch_size=256, key=jax.random.PRNGKey(1), progress=False, log_every=100)
    opt = optax.adam(0.02)
    m0 = jnp.asarray(1.0, jnp.float32)  # not weakly typed: the later chunks reuse the first one's compilation
    a = train_regressor(lambda m, y: m * y, m0, x, 0.5, opt, forward=lambda v: v, **kw).params
    b = train_regressor(lambda m, y: m * y, m0, (x, x), 0.5, opt, **kw).params
    assert float(a) == pytest.approx(0.8, abs=0.03)
    np.testing.assert_allclose(float(a), float(b), rtol=1e-6)  # F applied per batch = precomputed pairs
    with pytest.raises(ValueError, match="pair"):
        train_regressor(lambda m, y: m * y, m0, x, 0.5, opt, **kw)


def test_fd_gradient_is_central_differences():
    quad = lambda p: jnp.sum(jnp.asarray([1.0, 2.0, 3.0]) * p**2)
    p = jnp.asarray([0.5, -1.0, 2.0])
    np.testing.assert_allclose(jax.grad(fd_gradient(quad, 1e-2))(p), jax.grad(quad)(p), rtol=1e-4)
    cubic = lambda p: jnp.sum(p**3)
    with jax.enable_x64(True):
        q = jnp.asarray([0.5, -1.0, 2.0], jnp.float64)
        err = lambda eps: np.abs(np.asarray(jax.grad(fd_gradient(cubic, eps))(q) - jax.grad(cubic)(q)))
        np.testing.assert_allclose(err(1e-2), 1e-4, rtol=1e-6)  # central difference of p³: exactly ε² too large
        assert err(1e-3).max() < err(1e-2).max() / 50  # O(ε²)
    assert float(fd_gradient(quad, 1e-2)(p)) == float(quad(p))
    with pytest.raises(ValueError, match="eps"):
        fd_gradient(quad, 0.0)


def test_image_task_data_and_likelihood_score():
    x = jax.random.uniform(jax.random.PRNGKey(0), (24, 24))
    psf = gaussian_psf(7, 1.5)
    t = image_task("deblur", x, 0.05, jax.random.PRNGKey(1), psf=psf)
    assert float(jnp.std(t.y - blur(psf, x.shape).apply(x))) == pytest.approx(0.05, rel=0.1)
    z = jax.random.uniform(jax.random.PRNGKey(2), x.shape)
    np.testing.assert_allclose(t.likelihood_score(z, t.data), gaussian_likelihood(t.op, t.y, 0.05).score(z), rtol=1e-5)
    np.testing.assert_allclose(t.likelihood_score(z, t.data),
                               jax.grad(gaussian_likelihood(t.op, t.y, 0.05).log_density)(z), rtol=1e-3, atol=1e-2)
    assert float(jnp.linalg.norm(t.start - x)) < float(jnp.linalg.norm(t.y - x))  # the start improves on y
    i = image_task("inpaint", x, 0.05, jax.random.PRNGKey(1), mask_key=jax.random.PRNGKey(3))
    y, mask = i.data
    assert 0.4 < float(mask.mean()) < 0.6 and float(jnp.max(jnp.abs(y * (1 - mask)))) == 0.0
    other = (y, jnp.ones_like(mask))  # the mask is read from the data argument
    assert not np.allclose(i.likelihood_score(z, i.data), i.likelihood_score(z, other))
    with pytest.raises(ValueError, match="psf"):
        image_task("deblur", x, 0.05, jax.random.PRNGKey(1))
    with pytest.raises(ValueError, match="kind"):
        image_task("denoise", x, 0.05, jax.random.PRNGKey(1))


def test_score_pnp_posterior_is_pnp_posterior_with_tweedies_denoiser():
    prior = GaussianScore(jnp.zeros(4), 0.5 * np.eye(4))
    y = jnp.asarray([1.0, -2.0, 0.5, 0.0])
    kw = dict(n_chains=8, n_samples=50, burn_in=10)
    lik = lambda x, d: (d - x) / 0.5
    a = score_pnp_posterior(prior, 0.3, 0.01, lik, jnp.zeros(4), y, jax.random.PRNGKey(0), **kw)
    den = denoiser_from_score(lambda x: prior(x, 0.3), 0.3)
    b = jax.jit(lambda k: pnp_posterior(den, 0.3, 0.01, lambda x: lik(x, y), jnp.zeros(4), k, **kw))(jax.random.PRNGKey(0))
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-5, atol=1e-6)
    c = score_pnp_posterior(prior, 0.3, 0.01, lik, jnp.zeros(4), -y, jax.random.PRNGKey(0), **kw)
    assert not np.allclose(a.mean, c.mean)  # the data are an argument, not a baked-in constant
    with pytest.raises(ValueError, match="sigma"):
        score_pnp_posterior(prior, 0.0, 0.01, lik, jnp.zeros(4), y, jax.random.PRNGKey(0), **kw)


def test_prior_denoising_psnr_scores_tweedies_denoiser():
    x = jax.image.resize(jax.random.uniform(jax.random.PRNGKey(0), (4, 3, 3)), (4, 6, 6), "linear")
    prior = GaussianScore(jnp.full((6, 6), 0.5), 0.05 * np.eye(36))
    tvw = lambda s: (0.5 * s**2, s**2)
    r = prior_denoising_psnr(prior, x, (0.05, 0.1), jax.random.PRNGKey(1), tv_weights=tvw)
    assert set(r) == {0.05, 0.1}
    for s in (0.05, 0.1):
        den = jax.vmap(denoiser_from_score(lambda z: prior(z, s), s))
        ref = denoising_psnr(den, x, s, jax.random.PRNGKey(1), tv_weights=tvw(s))
        assert r[s] == pytest.approx(ref, rel=1e-5)
        assert r[s]["denoiser"] > r[s]["noisy"]  # the Gaussian MMSE denoiser beats the noisy input
    with pytest.raises(ValueError, match="sigma"):
        prior_denoising_psnr(prior, x, (), jax.random.PRNGKey(1), tv_weights=tvw)


def test_train_patch_prior_caches_and_denoises(tmp_path):
    ims = [np.asarray(jax.image.resize(jax.random.uniform(jax.random.PRNGKey(i), (8, 8)), (48, 48), "linear"))
           for i in range(3)]
    cfg = {"width": 8, "kernel_sizes": (3, 1, 3), "patch": 12, "patches": 256, "steps": 200, "batch": 32, "lr": 1e-2,
           "sigma_range": (0.05, 0.2)}
    a = train_patch_prior(ims, cfg, 0, checkpoint_dir=tmp_path / "c", progress=False)
    assert isinstance(a.net, ConvScore) and a.patches.shape == (256, 12, 12) and len(a.history) > 0
    b = train_patch_prior(ims, cfg, 0, checkpoint_dir=tmp_path / "c", progress=False)  # a cache hit
    for u, v in zip(jax.tree_util.tree_leaves(a.net), jax.tree_util.tree_leaves(b.net)):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    r = prior_denoising_psnr(a.net, a.patches[:16], (0.1,), jax.random.PRNGKey(2), tv_weights=lambda s: (s**2,))
    assert r[0.1]["denoiser"] > r[0.1]["noisy"] + 1.0
    with pytest.raises(ValueError, match="lacks"):
        train_patch_prior(ims, {"width": 8}, 0)


def test_show_images_draws_panels_and_colour_bars():
    from jaxhybrid.record import figure

    fig, ax = figure(1, 3)
    img = np.linspace(-1, 2, 16).reshape(4, 4)
    show_images(fig, ax, [(img / 2, "a", "image"), (img, "b", "signed", 3.0), (np.abs(img), "c", "map")])
    assert len(fig.axes) == 5  # colour bars for "signed" and "map" only
    assert ax[0].images[0].get_clim() == (0, 1) and ax[1].images[0].get_clim() == (-3.0, 3.0)
    assert [a.get_title() for a in ax] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="kind"):
        show_images(fig, ax, [(img, "d", "rainbow")])
    with pytest.raises(ValueError, match="axes"):
        show_images(fig, ax[:1], [(img, "a", "image")] * 2)
