"""Forward operators: adjoints pass the dot-product test; blur/Poisson agree with references;
MAP baselines solve their optimality conditions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.ndimage import convolve

from jaxhybrid.inverse import (blur, compose, div2d, dot_product_test, gaussian_likelihood, gaussian_psf,
                               grad2d, inpainting, poisson_source, random_mask, subsampling, tikhonov,
                               total_variation, tv_map, tv_prox)
from jaxhybrid.pde import laplacian_fd


def ops():
    shape = (24, 20)
    idx = np.random.default_rng(0).choice(24 * 20, 30, replace=False)
    return {
        "blur": blur(gaussian_psf(7, 1.5), shape),
        "blur_asym": blur(np.random.default_rng(1).random((5, 3)), shape),
        "inpainting": inpainting(random_mask(jax.random.PRNGKey(0), shape, 0.5)),
        "subsampling": subsampling(3, shape),
        "poisson": poisson_source(shape, (1.0, 1.2), np.unravel_index(idx, shape)),
        "composed": compose(subsampling(2, shape), blur(gaussian_psf(5, 1.0), shape)),
    }


@pytest.mark.parametrize("name", list(ops()))
def test_dot_product_adjoint(name):
    with jax.enable_x64(True):
        op = ops()[name]
        for k in range(3):
            assert float(dot_product_test(op, jax.random.PRNGKey(k), jnp.float64)) < 1e-12


def test_wrong_adjoint_fails_dot_product_test():
    op = ops()["blur_asym"]
    wrong = op._replace(adjoint=op.apply)  # a non-symmetric PSF is not self-adjoint
    with jax.enable_x64(True):
        assert float(dot_product_test(wrong, jax.random.PRNGKey(0), jnp.float64)) > 1e-3


def test_blur_matches_scipy_wrap_convolution():
    rng = np.random.default_rng(0)
    x = rng.random((16, 18)).astype(np.float32)
    k = rng.random((5, 5)).astype(np.float32)
    ours = np.asarray(blur(k, x.shape).apply(jnp.asarray(x)))
    ref = convolve(x, k, mode="wrap")  # correlation with the flipped kernel = convolution
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_poisson_source_inverts_laplacian():
    f = jax.random.normal(jax.random.PRNGKey(0), (16, 16))
    idx = np.unravel_index(np.arange(256), (16, 16))
    u = poisson_source((16, 16), (1.0, 1.0), idx).apply(f).reshape(16, 16)
    np.testing.assert_allclose(-laplacian_fd(u, (1.0, 1.0)), f, atol=2e-3 * float(jnp.max(jnp.abs(f))) + 1e-4)


def test_grad_div_adjoint_and_tv():
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.PRNGKey(0), (9, 7), jnp.float64)
        p = jax.random.normal(jax.random.PRNGKey(1), (2, 9, 7), jnp.float64)
        assert abs(float(jnp.vdot(grad2d(x), p) + jnp.vdot(x, div2d(p)))) < 1e-10
        step = jnp.zeros((8, 8)).at[:, 4:].set(1.0)
        assert abs(float(total_variation(step)) - 8.0) < 1e-12


def test_tv_prox_decreases_objective_and_is_optimal_vs_perturbations():
    b = jnp.zeros((16, 16)).at[4:12, 4:12].set(1.0) + 0.2 * jax.random.normal(jax.random.PRNGKey(0), (16, 16))
    theta = 0.2
    x, _ = tv_prox(b, theta, n_iter=300)
    obj = lambda z: 0.5 * jnp.sum((z - b) ** 2) + theta * total_variation(z)
    assert float(obj(x)) < float(obj(b))
    for k in range(5):
        d = 0.01 * jax.random.normal(jax.random.PRNGKey(k + 1), b.shape)
        assert float(obj(x)) <= float(obj(x + d)) + 1e-4


def test_tikhonov_solves_normal_equations_and_tv_map_beats_adjoint():
    op = blur(gaussian_psf(7, 1.5), (24, 24))
    x_true = jnp.zeros((24, 24)).at[6:18, 6:18].set(1.0)
    y = op.apply(x_true) + 0.01 * jax.random.normal(jax.random.PRNGKey(0), (24, 24))
    lam = 1e-2
    xt = tikhonov(op, y, lam, reg="identity", tol=1e-8)
    resid = op.adjoint(op.apply(xt)) + lam * xt - op.adjoint(y)
    assert float(jnp.linalg.norm(resid) / jnp.linalg.norm(op.adjoint(y))) < 1e-4
    xtv = tv_map(op, y, 2e-3, n_iter=200)
    assert float(jnp.linalg.norm(xtv - x_true)) < 0.6 * float(jnp.linalg.norm(y - x_true))
    with pytest.raises(ValueError, match="shape"):
        tikhonov(op, jnp.zeros((3, 3)), 0.1)


def test_gaussian_likelihood_score_matches_autodiff():
    op = ops()["poisson"]
    y = jax.random.normal(jax.random.PRNGKey(0), op.out_shape)
    lik = gaussian_likelihood(op, y, 0.1)
    x = jax.random.normal(jax.random.PRNGKey(1), op.in_shape)
    np.testing.assert_allclose(lik.score(x), jax.grad(lik.log_density)(x), rtol=2e-4, atol=1e-4 * float(jnp.max(jnp.abs(lik.score(x)))))
    with pytest.raises(ValueError, match="sigma"):
        gaussian_likelihood(op, y, 0.0)
