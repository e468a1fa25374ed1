"""The library parts of the learned-prior examples: the Poisson source problem, the residual (Gaussian +
correction) prior and its weight, the observation MLP, the trainers keyed by a configuration, the
oracle-tuned MAP baselines, Tikhonov's posterior, the textured denoising check and the comparison panels."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.inverse import (blur, conv_correction, deblur_regressor_from_config, gaussian_psf, gradient_precision,
                               heldout_dsm, linear_gaussian_posterior, load_images, observation_mlp,
                               patch_prior_from_config, poisson_source, posterior_panels, prior_denoising_psnr,
                               random_nodes, random_source_fields, residual_estimate, score_network_like,
                               source_problem, textured_denoising_psnr, textured_patches, tikhonov, tikhonov_posterior,
                               train_observation_mlp, train_residual_correction, tune_weight, tuned_map, tv_map,
                               validate_correction_weight)
from jaxhybrid.metrics import coverage, rel_l2
from jaxhybrid.sampling import (BiasFreeUNet, ConvScore, GaussianScore, ResidualScore, WeightedCorrection,
                                dsm_loss_by_sigma)


def _shapes(m):
    """The shapes of a network's arrays (or of its ``equinox.filter_eval_shape`` structure)."""
    return [x.shape for x in jax.tree_util.tree_leaves(m) if hasattr(x, "shape")]


def _leaves_equal(a, b):
    la, lb = (jax.tree_util.tree_leaves(eqx.filter(m, eqx.is_array)) for m in (a, b))
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


@pytest.fixture(scope="module")
def prob():
    return source_problem(jax.random.PRNGKey(0), grid=8, n_obs=12, n_train=40, f_scale=10.0, noise_rel=0.1,
                          sensor_seed=3)


def test_random_nodes_are_distinct_and_reproducible():
    idx = random_nodes((8, 6), 20, seed=1)
    flat = np.ravel_multi_index(idx, (8, 6))
    assert len(idx) == 2 and len(set(flat.tolist())) == 20 and flat.max() < 48
    np.testing.assert_array_equal(flat, np.ravel_multi_index(random_nodes((8, 6), 20, seed=1), (8, 6)))
    with pytest.raises(ValueError, match="1 <= n"):
        random_nodes((4, 4), 17, seed=0)


def test_source_problem_fields_gaussian_and_relative_noise(prob):
    assert prob.op.in_shape == (8, 8) and prob.op.out_shape == (12,) and prob.train_f.shape == (40, 8, 8)
    np.testing.assert_array_equal(prob.train_f, random_source_fields(jax.random.PRNGKey(0), 40, (8, 8)) / 10.0)
    u = jax.vmap(prob.op.apply)(prob.train_f)
    assert prob.u_scale == pytest.approx(float(jnp.sqrt(jnp.mean(u**2))), rel=1e-6)  # n_rms = 500 > 40: all fields
    assert prob.noise == pytest.approx(0.1 * prob.u_scale)
    np.testing.assert_allclose(prob.gauss.mean.reshape(8, 8), jnp.mean(prob.train_f, 0), atol=1e-5)
    f, y = prob.draw(jax.random.PRNGKey(1), jax.random.PRNGKey(2), 3)
    np.testing.assert_array_equal(f, prob.fields(jax.random.PRNGKey(1), 3))
    r = np.asarray(y - jax.vmap(prob.op.apply)(f))
    assert y.shape == (3, 12) and 0.3 * prob.noise < r.std() < 3 * prob.noise
    with pytest.raises(ValueError, match="noise_rel"):
        source_problem(jax.random.PRNGKey(0), grid=8, n_obs=4, n_train=4, f_scale=1.0, noise_rel=0.0, sensor_seed=0)


def test_residual_correction_trains_on_a_fixed_base_and_heldout_dsm_pairs_the_noise(prob):
    cfg = {"width": 4, "kernel_sizes": (3, 3), "steps": 4, "batch": 8, "lr": 1e-3, "sigma_range": (0.05, 1.0)}
    net, meta = train_residual_correction(prob.gauss, prob.train_f, cfg, jax.random.PRNGKey(1), jax.random.PRNGKey(2))
    assert isinstance(net, ConvScore) and np.isfinite(meta["final_dsm_loss"])
    assert _shapes(eqx.filter_eval_shape(conv_correction, cfg, jax.random.PRNGKey(0))) == _shapes(net)
    prior = ResidualScore(prob.gauss, net, zero_init=False)
    sig, key = (0.1, 0.5), jax.random.PRNGKey(3)
    base, full = heldout_dsm(prior, prob.train_f[:8], sig, key)
    assert base == [round(float(v), 5) for v in dsm_loss_by_sigma(prob.gauss, prob.train_f[:8], sig, key)]
    assert full == [round(float(v), 5) for v in dsm_loss_by_sigma(prior, prob.train_f[:8], sig, key)]
    raw = heldout_dsm(prior, prob.train_f[:8], sig, key, digits=None)
    assert [[round(v, 5) for v in r] for r in raw] == [base, full]
    with pytest.raises(ValueError, match="lacks"):
        train_residual_correction(prob.gauss, prob.train_f, {"width": 4, "kernel_sizes": (3,)}, None, None)


def test_validate_correction_weight_picks_the_least_error_first_of_equals():
    g = GaussianScore(jnp.zeros(4), np.eye(4))
    prior = ResidualScore(g, ConvScore(2, kernel_sizes=(3, 3), key=jax.random.PRNGKey(0)), zero_init=False)
    truth = jnp.ones((2, 2, 2))
    seen = []

    def sample(score, y, key):  # the posterior mean moves away from the truth as w grows past 0.5
        assert isinstance(score, WeightedCorrection) and y is ys and key is k
        w = float(score.weight)
        seen.append(w)
        return truth * (1 + abs(w - 0.5)), jnp.full_like(truth, 0.1 + w)

    ys, k = jnp.zeros((2, 3)), jax.random.PRNGKey(1)
    w, scores = validate_correction_weight(sample, prior, (0.0, 0.5, 1.0), truth, ys, k)
    assert w == 0.5 and seen == [0.0, 0.5, 1.0]
    assert scores[0.0] == (pytest.approx(0.5), float(coverage(truth * 1.5, 0.1, truth)))
    assert validate_correction_weight(sample, prior, (0.0, 1.0), truth, ys, k)[0] == 0.0  # a tie: the first
    with pytest.raises(ValueError, match="at least one"):
        validate_correction_weight(sample, prior, (), truth, ys, k)


def test_observation_mlp_regresses_fields_from_scaled_observations(prob):
    cfg = {"width": 8, "depth": 1, "steps": 3, "batch": 8, "lr": 1e-3}
    net, meta = train_observation_mlp(prob.op, prob.train_f, prob.noise, prob.u_scale, cfg, jax.random.PRNGKey(4),
                                      jax.random.PRNGKey(5))
    assert np.isfinite(meta["final_loss"])
    assert jax.vmap(net)(jnp.zeros((2, 12))).shape == (2, 64)
    assert _shapes(eqx.filter_eval_shape(observation_mlp, 12, 64, cfg, jax.random.PRNGKey(0))) == _shapes(net)
    with pytest.raises(ValueError, match="u_scale"):
        train_observation_mlp(prob.op, prob.train_f, prob.noise, 0.0, cfg, None, None)


def test_trainers_from_a_configuration_name_their_images_and_blur():
    # the whole recipe runs (a regression test: the regressor's read-out needs the noise level)
    cfg = {"width": 4, "kernel_sizes": (3, 3), "patch": 8, "patches": 16, "steps": 2, "batch": 4, "lr": 1e-3,
           "sigma_range": (0.01, 0.1), "images": ("coins", "moon"), "seed": 2, "noise": 0.02, "psf": [3, 1.0]}
    net, meta = patch_prior_from_config(cfg)
    reg, rmeta = deblur_regressor_from_config(cfg)
    assert np.isfinite(meta["final_dsm_loss"]) and np.isfinite(rmeta["final_loss"])
    assert _shapes(score_network_like(cfg)) == _shapes(net) == _shapes(reg) != []
    assert not _leaves_equal(net, reg)
    y = blur(gaussian_psf(3, 1.0), (8, 8)).apply(jnp.full((8, 8), 0.5))
    assert residual_estimate(reg, y, 0.02).shape == (8, 8)
    assert isinstance(score_network_like({"arch": "bf-unet", "widths": (4, 8)}), BiasFreeUNet)
    with pytest.raises(ValueError, match="lacks"):
        deblur_regressor_from_config({k: v for k, v in cfg.items() if k != "psf"})
    with pytest.raises(ValueError, match="lacks"):
        patch_prior_from_config({k: v for k, v in cfg.items() if k != "images"})


def test_tuned_map_is_tune_weight_of_the_solver_one_or_a_batch():
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(2, 8, 8)), jnp.float32)
    op = blur(gaussian_psf(5, 1.0), (8, 8))
    ys = jax.vmap(op.apply)(x) + 0.01 * jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8))
    ws = (1e-3, 1e-1, 10.0)
    solve = jax.jit(lambda yi, w: tikhonov(op, yi, w))  # the reference, compiled once
    one = tuned_map(tikhonov, op, ys[0], x[0], ws, reg="gradient")
    ref = tune_weight(lambda w: solve(ys[0], w), ws, x[0])
    assert one[:2] == pytest.approx(ref[:2], rel=1e-5)
    np.testing.assert_allclose(one[2], ref[2], atol=1e-5)
    err = lambda e, t: float(rel_l2(e, t, axis=0))
    batch = tuned_map(tikhonov, op, ys, x, ws, scale=0.5, score=err, best="min")
    manual = [err(np.stack([solve(ys[i], w * 0.5) for i in range(2)]), x) for w in ws]
    assert batch[1] == ws[int(np.argmin(manual))] and batch[0] == pytest.approx(min(manual), rel=1e-4)
    assert isinstance(batch[2], np.ndarray) and batch[2].shape == (2, 8, 8)
    tv = tuned_map(tv_map, op, ys[0], x[0], (1e-3, 1e-2), n_iter=5, box=(0.0, 1.0))
    assert float(tv[2].min()) >= 0.0 and float(tv[2].max()) <= 1.0
    with pytest.raises(ValueError, match="y must have shape"):
        tuned_map(tikhonov, op, ys[None], x, ws)


def test_tikhonov_posterior_mean_is_tikhonov_with_the_noise_scaled_weight():
    with jax.enable_x64(True):
        op = poisson_source((6, 6), (1.0, 1.0), random_nodes((6, 6), 10, seed=0))
        y = jnp.asarray(np.random.default_rng(1).normal(size=10))
        lam, eta = 2.0, 0.1
        post = tikhonov_posterior(op, eta, y, lam)
        np.testing.assert_allclose(post.mean, tikhonov(op, y, lam * eta**2, maxiter=2000, tol=1e-12), rtol=1e-4,
                                   atol=1e-8)
        ref = linear_gaussian_posterior(op, eta, y, jnp.zeros((6, 6)), prior_precision=lam * gradient_precision((6, 6)))
        np.testing.assert_array_equal(post.std, ref.std)
    with pytest.raises(ValueError):
        tikhonov_posterior(op, 0.1, y, 0.0)


def test_textured_denoising_psnr_is_prior_denoising_psnr_on_textured_patches():
    net = ConvScore(2, kernel_sizes=(3, 3), key=jax.random.PRNGKey(0))
    im = load_images(("coins",))["coins"]
    tvw = lambda s: (0.5 * s, s)
    got = textured_denoising_psnr(net, im, (0.05,), jax.random.PRNGKey(1), size=16, n=2, n_candidates=10, patch_seed=4,
                                  tv_weights=tvw)
    x = textured_patches(im, 16, 2, 10, seed=4)
    assert got == prior_denoising_psnr(net, x, (0.05,), jax.random.PRNGKey(1), tv_weights=tvw)


def test_posterior_panels_order_kinds_and_shared_range():
    truth, est = np.array([[1.0, -3.0]]), np.zeros((1, 2))
    mean, std = np.array([[2.0, -3.0]]), np.ones((1, 2))
    p = posterior_panels(truth, [(est, "baseline")], mean, std, kind="signed", mean_title="mean")
    assert [q[1] for q in p] == ["truth", "baseline", "mean", "posterior std", "|mean − truth|"]
    assert [q[2] for q in p] == ["signed"] * 3 + ["map"] * 2 and all(q[3] == 3.0 for q in p[:3])
    np.testing.assert_array_equal(p[-1][0], [[1.0, 0.0]])
    with pytest.raises(ValueError, match="kind"):
        posterior_panels(truth, [], mean, std, kind="map")
