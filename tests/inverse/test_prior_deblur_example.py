"""prior-deblur: contract of the record, the bias-free DnCNN prior network, and (slow) the quick run."""

import numpy as np
import pytest

from jaxhybrid.examples import REGISTRY, load


def test_example_registered():
    assert REGISTRY["prior-deblur"][0] == "prior_deblur"


def test_deblur_problem_holds_out_the_test_image():
    ex = load("prior-deblur")
    assert ex.TEST_IMAGE not in ex.TRAIN_IMAGES and len(ex.TRAIN_IMAGES) >= 5


@pytest.mark.slow
def test_prior_deblur_quick(tmp_path, check_record):
    rec = load("prior-deblur").run(quick=True, seed=0, out=tmp_path)
    check_record(rec, "prior-deblur")
    m, b = rec["metrics"], rec["baselines"]
    assert (tmp_path / "prior-deblur.png").exists()
    assert {"tv", "tikhonov", "data_only"} <= set(b)
    # quick mode (a briefly trained prior, short chains) must still improve on the data and
    # give non-degenerate error bars; the dB margins over TV/Tikhonov are full-mode claims
    assert m["psnr_dB"] > b["observation"]["psnr_dB"] + 1.0
    assert m["inpainting_psnr_dB"] > b["observation"]["inpainting_psnr_dB"] + 10.0
    assert 0.5 < m["coverage_90"] <= 1.0 and 0.5 < m["inpainting_coverage_90"] <= 1.0


# --- the bias-free DnCNN prior network (jaxhybrid.sampling.score.BiasFreeDnCNN)

def test_bias_free_dncnn_is_homogeneous_and_translation_equivariant():
    import jax
    import jax.numpy as jnp

    from jaxhybrid.sampling.score import BiasFreeDnCNN

    net = BiasFreeDnCNN(8, 4, key=jax.random.PRNGKey(0))
    x = jax.random.uniform(jax.random.PRNGKey(1), (24, 20))
    n = net.noise(x, 0.05)
    assert n.shape == x.shape
    # no additive constants: N(a x, a σ) = a N(x, σ) for a > 0 (Mohan et al. 2020)
    np.testing.assert_allclose(net.noise(2.5 * x, 2.5 * 0.05), 2.5 * n, rtol=1e-4, atol=1e-6)
    # a (circular) shift commutes with the network away from the reflect-padded border
    xs = jnp.roll(x, (3, 2), (0, 1))
    np.testing.assert_allclose(net.noise(xs, 0.05)[8:-8, 8:-8], jnp.roll(n, (3, 2), (0, 1))[8:-8, 8:-8],
                               rtol=1e-4, atol=1e-6)
    # score, residual and denoiser are one parameterisation: D = x + σ² s = x − N, ε = −N/σ
    np.testing.assert_allclose(x + 0.05**2 * net(x, 0.05), net.denoise(x, 0.05), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.residual(x, 0.05), -n / 0.05, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        net.noise(jnp.zeros((2, 24, 20)), 0.05)
    with pytest.raises(ValueError):
        BiasFreeDnCNN(8, 1, key=jax.random.PRNGKey(0))


def test_bias_free_dncnn_learns_to_denoise():
    # brief DSM training on smooth random images: the denoiser must beat the noisy input
    import jax
    import jax.numpy as jnp

    from jaxhybrid.inverse import psnr
    from jaxhybrid.sampling import train_score
    from jaxhybrid.sampling.score import BiasFreeDnCNN

    k = jax.random.split(jax.random.PRNGKey(0), 3)
    u = jax.random.uniform(k[0], (128, 4, 4))
    data = jax.image.resize(u, (128, 12, 12), "linear")  # smooth patches
    res = train_score(BiasFreeDnCNN(8, 3, key=k[1]), data, (0.05, 0.2), steps=150, batch_size=32,
                      learning_rate=3e-3, key=k[2], continuous=True, progress=False, loop="host")
    x = data[:16]
    xn = x + 0.1 * jax.random.normal(jax.random.PRNGKey(9), x.shape)
    den = jax.vmap(lambda a: res.params.denoise(a, 0.1))(xn)
    assert psnr(den, x) > psnr(xn, x) + 3.0
