"""prior-deblur: contract of the record, the shipped networks quick mode evaluates, the bias-free prior
networks (DnCNN, U-Net), and the quick run."""

import json

import numpy as np
import pytest

from jaxhybrid import pretrained
from jaxhybrid.examples import REGISTRY, load
from jaxhybrid.record import verdicts


def test_example_registered():
    assert REGISTRY["prior-deblur"][0] == "prior_deblur"


def test_deblur_problem_holds_out_the_test_image():
    ex = load("prior-deblur")
    assert ex.TEST_IMAGE not in ex.TRAIN_IMAGES
    for cfg in (ex.PRIOR_FULL, ex.PRIOR_QUICK):
        assert ex.TEST_IMAGE not in cfg["images"] and len(cfg["images"]) >= 5
        assert set(cfg["images"]) <= set(ex.TRAIN_IMAGES)  # loaded by make_problem


def test_score_network_builds_each_architecture():
    import equinox as eqx
    import jax

    from jaxhybrid.sampling import BiasFreeDnCNN, BiasFreeUNet, ConvScore, score_network

    k = jax.random.PRNGKey(0)
    build = lambda cfg: eqx.filter_eval_shape(score_network, cfg, k)  # shapes only: no initialisation cost
    assert isinstance(build(load("prior-deblur").PRIOR_FULL), BiasFreeUNet)
    assert isinstance(build(load("prior-deblur").PRIOR_QUICK), ConvScore)
    assert isinstance(build({"arch": "bf-dncnn", "width": 8, "depth": 3}), BiasFreeDnCNN)
    with pytest.raises(ValueError, match="arch"):
        build({"arch": "vit"})
    with pytest.raises(ValueError, match="widths"):
        build({"arch": "bf-unet"})


def _no_training(cfg):
    raise AssertionError(f"quick mode trained {cfg} instead of loading the shipped network")


def test_quick_path_loads_the_shipped_full_networks(tmp_path, monkeypatch):
    """seed 0: quick mode evaluates the full run's score prior and data-only regressor (shipped, found
    with an empty cache), with the σ, α the full run chose on its validation crop; another seed has
    no stored weights (quick mode would train PRIOR_QUICK)."""
    import jax
    import jax.numpy as jnp

    from jaxhybrid.inverse import load_images, psnr, score_network_like, textured_patches

    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    ex = load("prior-deblur")
    full, quick = ex.prior_config(ex.PRIOR_FULL, 0), ex.prior_config(ex.PRIOR_QUICK, 0)
    assert json.dumps(full) and full != quick and full["seed"] == 0  # JSON-able keys
    got = pretrained.obtain(ex.NAME, [full, quick], _no_training, score_network_like)
    assert got.source == "shipped" and got.config == full
    reg = pretrained.obtain(ex.NAME + "-regressor", [ex.regressor_config(got.config)], _no_training,
                            score_network_like)
    assert reg.source == "shipped" and pretrained.read_header(reg.path)["config"]["seed"] == 0
    assert got.meta["final_dsm_loss"] == pytest.approx(0.32137, abs=1e-5)  # the full run's record
    assert ex.choose_sigma(got, None, 0, "deblur", True)[:2] == (0.04, 1.0)
    assert ex.choose_sigma(got, None, 0, "inpaint", True)[:2] == (0.02, 1.0)
    assert pretrained.find(ex.NAME, ex.prior_config(ex.PRIOR_FULL, 1)) is None
    # trained networks: the prior denoises, the regressor deblurs (images neither saw)
    x = jnp.asarray(textured_patches(load_images(("cell",))["cell"], 32, 2, 50, seed=0))
    xn = x + 0.05 * jax.random.normal(jax.random.PRNGKey(0), x.shape)
    assert psnr(jax.vmap(lambda a: got.model.denoise(a, 0.05))(xn), x) > psnr(xn, x) + 3.0
    assert got.summary()["source"] == "shipped" and reg.summary()["file"] == reg.path.name


@pytest.mark.example
def test_prior_deblur_quick(quick_record, check_record):
    rec = quick_record("prior-deblur")
    check_record(rec, "prior-deblur")
    m, b = rec["metrics"], rec["baselines"]
    assert {"tv", "tikhonov", "data_only"} <= set(b)
    # the full run's networks (shipped) with the full run's validated σ, α; the direction of the full run:
    # the posterior mean beats TV, Tikhonov, the data-only regressor and the observation on PSNR
    assert {w["source"] for w in rec["weights"].values()} == {"shipped"}
    assert rec["config"]["sigma_alpha_chosen_by"].startswith("full run")
    assert rec["headline"] == "psnr_dB" and set(verdicts(rec)) == {"tv", "tikhonov", "data_only", "observation"}
    assert m["psnr_dB"] > b["observation"]["psnr_dB"] + 1.0
    assert m["inpainting_psnr_dB"] > b["observation"]["inpainting_psnr_dB"] + 10.0
    assert 0.5 < m["coverage_90"] <= 1.0 and 0.5 < m["inpainting_coverage_90"] <= 1.0


# --- the bias-free prior networks (jaxhybrid.sampling.score.BiasFreeDnCNN, BiasFreeUNet)

def _with_numpy_weights(cls, *args, seed=0, **kwargs):
    """``cls(*args, **kwargs)`` with He-normal 3×3 kernels drawn by numpy: the structure comes from
    ``equinox.filter_eval_shape`` (traced, nothing compiled), so no PRNG program is compiled per
    kernel shape (on CPU each costs about a second). Homogeneity and equivariance are properties
    of the architecture, true for any weights."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    shapes = eqx.filter_eval_shape(cls, *args, key=jax.random.PRNGKey(0), **kwargs)
    return jax.tree_util.tree_map(
        lambda s: jnp.asarray(rng.normal(size=s.shape) * np.sqrt(2.0 / (9 * s.shape[2])), s.dtype)
        if isinstance(s, jax.ShapeDtypeStruct) else s, shapes)


@pytest.mark.parametrize("arch", ["dncnn", "unet"])
def test_bias_free_networks_are_homogeneous_and_translation_equivariant(arch):
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from jaxhybrid.sampling import BiasFreeDnCNN, BiasFreeUNet

    if arch == "dncnn":  # receptive-field radius 4: any shift, 8 px from the border
        net, shape, shift, border = _with_numpy_weights(BiasFreeDnCNN, 8, 4), (24, 20), (3, 2), 8
    else:  # 3 levels (pooling by 4): shifts by multiples of 4; radius ~30 px, so a larger image
        net, shape, shift, border = _with_numpy_weights(BiasFreeUNet, (6, 8, 8)), (96, 100), (4, 8), 36
    assert isinstance(net, BiasFreeDnCNN if arch == "dncnn" else BiasFreeUNet)

    @eqx.filter_jit  # one compilation per image shape (σ is traced)
    def outputs(net, x, sigma):
        return net.noise(x, sigma), net(x, sigma), net.denoise(x, sigma), net.residual(x, sigma)

    x = jnp.asarray(np.random.default_rng(1).uniform(size=shape), jnp.float32)
    sigma = jnp.asarray(0.05, jnp.float32)
    n, score, den, res = outputs(net, x, sigma)
    assert n.shape == x.shape and float(jnp.max(jnp.abs(n))) > 1e-3
    # no additive constants: N(a x, a σ) = a N(x, σ) for a > 0 (Mohan et al. 2020)
    np.testing.assert_allclose(outputs(net, 2.5 * x, 2.5 * sigma)[0], 2.5 * n, rtol=1e-4, atol=1e-6)
    # a (circular) shift commutes with the network away from the padded border
    xs = jnp.roll(x, shift, (0, 1))
    b = slice(border, -border)
    np.testing.assert_allclose(outputs(net, xs, sigma)[0][b, b], jnp.roll(n, shift, (0, 1))[b, b], rtol=1e-4, atol=1e-6)
    # odd sizes work (padding to the pooling multiple is cropped back)
    assert outputs(net, x[:-3, :-5], sigma)[0].shape == (shape[0] - 3, shape[1] - 5)
    # score, residual and denoiser are one parameterisation: D = x + σ² s = x − N, ε = −N/σ
    np.testing.assert_allclose(x + 0.05**2 * score, den, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res, -n / 0.05, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        net.noise(jnp.zeros((2, 24, 20)), 0.05)
    with pytest.raises(ValueError):
        BiasFreeDnCNN(8, 1, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError):
        BiasFreeUNet((8,), key=jax.random.PRNGKey(0))


@pytest.fixture(scope="module")
def smooth_patches():
    """128 smooth random 12×12 patches (4×4 uniform noise, bilinearly upsampled) and the first 16
    with noise of std 0.1; drawn by numpy and shared by the denoising tests."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    u = jnp.asarray(rng.uniform(size=(128, 4, 4)), jnp.float32)
    data = jax.jit(lambda u: jax.image.resize(u, (128, 12, 12), "linear"))(u)
    x = data[:16]
    return data, x, x + jnp.asarray(0.1 * rng.standard_normal(x.shape), jnp.float32)


@pytest.mark.parametrize("arch", ["dncnn", "unet"])
def test_bias_free_networks_learn_to_denoise(arch, smooth_patches):
    # brief DSM training on smooth random images: the denoiser must beat the noisy input
    import jax

    from jaxhybrid.inverse import psnr
    from jaxhybrid.sampling import BiasFreeDnCNN, BiasFreeUNet, train_score

    data, x, xn = smooth_patches
    k = jax.random.split(jax.random.PRNGKey(0), 3)
    net = BiasFreeDnCNN(8, 3, key=k[1]) if arch == "dncnn" else BiasFreeUNet((8, 8), key=k[1])
    res = train_score(net, data, (0.05, 0.2), steps=150, batch_size=32,
                      learning_rate=3e-3, key=k[2], continuous=True, progress=False, loop="host")
    den = jax.jit(jax.vmap(lambda a: res.params.denoise(a, 0.1)))(xn)
    assert psnr(den, x) > psnr(xn, x) + 3.0


# --- the training data (jaxhybrid.inverse.data)

def test_load_images_returns_grey_unit_range_arrays_and_rejects_unknown_names():
    from jaxhybrid.inverse import extract_patches, load_images

    ims = load_images(("camera", "motorcycle", "grace_hopper"))
    assert ims["camera"].shape == (512, 512) and ims["motorcycle"].shape == (500, 741)
    assert ims["grace_hopper"].shape == (600, 512)
    for im in ims.values():
        assert im.dtype == np.float32 and im.ndim == 2 and 0.0 <= im.min() < im.max() <= 1.0
    with pytest.raises(ValueError, match="unknown image"):
        load_images(("lena",))
    p = extract_patches(list(ims.values()), 16, 50, seed=0)
    assert p.shape == (50, 16, 16) and 0.0 <= p.min() and p.max() <= 1.0
    with pytest.raises(ValueError):
        extract_patches([ims["camera"]], 1024, 5)
