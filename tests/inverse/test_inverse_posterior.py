"""jaxhybrid.inverse.pnp_posterior (PnP-ULA + Tweedie error bar) on a Gaussian problem with the exact
MMSE denoiser, and denoising_psnr (a denoiser against TV denoising)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.inverse import denoising_psnr, pnp_posterior
from jaxhybrid.sampling import pnp_step_size


def test_pnp_posterior_gives_the_clean_posterior_mean_and_total_std():
    # prior N(0, τ²I), y = X₀ + σZ + η (PnP-ULA's model): E[X₀ | y] = τ²/(τ²+σ²+s²) y and
    # Var(X₀ | y) = τ²(σ²+s²)/(τ²+σ²+s²), up to ULA's O(δ) bias in Var_π[X] (closed form below)
    tau2, sig, s2, delta = 1.0, 0.5, 0.5, 0.01
    y = jnp.asarray([1.0, -2.0, 0.5, 0.0])
    den = lambda x: tau2 / (tau2 + sig**2) * x
    with jax.enable_x64(True):
        run = jax.jit(lambda k: pnp_posterior(den, sig, delta, lambda x: (y - x) / s2, jnp.zeros(4, jnp.float64), k,
                                              n_chains=256, n_samples=1000, burn_in=300))
        mean, std = run(jax.random.PRNGKey(0))
        k, p = tau2 / (tau2 + sig**2), 1 / s2 + 1 / (tau2 + sig**2)
        var_ula = k**2 * (1 / p) / (1 - delta * p / 2) + sig**2 * k
        clean = tau2 / (tau2 + sig**2 + s2) * np.asarray(y)
        # MC error of the mean over 256 chains × ~1000 correlated steps (autocorrelation time ~ 1/(δ p))
        se = np.sqrt(var_ula / (256 * 1000 * delta * p / 2))
        np.testing.assert_array_less(np.abs(np.asarray(mean) - clean), 5 * se)
        np.testing.assert_allclose(np.asarray(std) ** 2, var_ula, rtol=0.05)
        # the still-noisy E_π[X] differs from the estimate by many standard errors: the test can fail
        noisy = (tau2 + sig**2) / (tau2 + sig**2 + s2) * np.asarray(y)
        assert np.max(np.abs(noisy - clean) / se) > 20
    with pytest.raises(ValueError, match="n_chains"):
        pnp_posterior(den, sig, delta, lambda x: x, jnp.zeros(4), jax.random.PRNGKey(0), n_chains=0, n_samples=5)


def test_pnp_step_size_is_laumonts_rule():
    assert pnp_step_size(2500.0, 0.03, 4.0) == pytest.approx(1.0 / (3.0 * (2500.0 + 4.0 / 0.03**2)))
    assert pnp_step_size(1.0, 1.0, denoiser_lipschitz=2.0, safety=1.0) == pytest.approx(1.0 / 3.0)
    with pytest.raises(ValueError, match="sigma"):
        pnp_step_size(1.0, 0.0)


def test_denoising_psnr_ranks_denoisers():
    # smooth images: TV denoising beats the noisy input; the identity "denoiser" scores as the
    # noisy input, the oracle (the clean images themselves) infinitely well
    x = jax.image.resize(jax.random.uniform(jax.random.PRNGKey(0), (4, 4, 4)), (4, 24, 24), "linear")
    r = denoising_psnr(lambda xn: xn, x, 0.1, jax.random.PRNGKey(1), tv_weights=(0.02, 0.05, 0.1))
    assert r["denoiser"] == pytest.approx(r["noisy"]) and 19 < r["noisy"] < 21  # 20 dB at σ = 0.1
    assert r["tv"] > r["noisy"] + 3
    assert denoising_psnr(lambda xn: x, x, 0.1, jax.random.PRNGKey(1), tv_weights=(0.05,))["denoiser"] > 60
    with pytest.raises(ValueError, match="batch"):
        denoising_psnr(lambda xn: xn, x[0], 0.1, jax.random.PRNGKey(1), tv_weights=(0.05,))
