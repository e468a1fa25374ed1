"""MALA: exact detailed balance of the Metropolis–Hastings kernel, acceptance → 1 as δ → 0,
running moments vs stored samples, and run_chains bookkeeping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.sampling.mala import _normal_and_uniform
from jaxhybrid.sampling import (mala, mala_log_proposal, moments_init, moments_update, pool,
                                run_chains)


def banana(x):
    return -0.5 * (x[0] ** 2 / 4.0 + (x[1] - 0.5 * x[0] ** 2) ** 2)


def test_detailed_balance_pointwise():
    # π(x) q(y|x) α(x,y) = π(y) q(x|y) α(y,x) for random pairs, with α computed as MALA does
    with jax.enable_x64(True):
        g = jax.grad(banana)
        delta = 0.3
        rng = np.random.default_rng(0)
        for _ in range(20):
            x, y = jnp.asarray(rng.standard_normal(2)), jnp.asarray(rng.standard_normal(2))
            lq_yx = mala_log_proposal(y, x, g(x), delta)
            lq_xy = mala_log_proposal(x, y, g(y), delta)
            la_xy = jnp.minimum(0.0, banana(y) + lq_xy - banana(x) - lq_yx)
            la_yx = jnp.minimum(0.0, banana(x) + lq_yx - banana(y) - lq_xy)
            lhs = banana(x) + lq_yx + la_xy
            rhs = banana(y) + lq_xy + la_yx
            assert abs(float(lhs - rhs)) < 1e-12


def test_step_computes_the_same_acceptance_as_the_formula():
    with jax.enable_x64(True):
        algo = mala(banana, 0.4)
        s0 = algo.init(jnp.asarray([0.3, -0.2]))
        key = jax.random.PRNGKey(5)
        s1 = algo.step(s0, key)
        xi, u = _normal_and_uniform(key, s0.position)
        y = s0.position + 0.4 * s0.grad + jnp.sqrt(0.8) * xi
        g = jax.grad(banana)
        la = banana(y) + mala_log_proposal(s0.position, y, g(y), 0.4) - banana(s0.position) \
            - mala_log_proposal(y, s0.position, s0.grad, 0.4)
        np.testing.assert_allclose(float(s1.accept_prob), min(1.0, float(jnp.exp(la))), rtol=1e-10)
        assert bool(s1.accepted) == bool(u < s1.accept_prob)
        np.testing.assert_allclose(s1.position, y if bool(s1.accepted) else s0.position)


def test_one_draw_gives_standard_normals_and_an_independent_uniform():
    # ξ ~ N(0, 1) and U ~ U(0, 1) from the single draw, and U uncorrelated with ξ
    keys = jax.random.split(jax.random.PRNGKey(0), 20000)
    xi, u = jax.vmap(lambda k: _normal_and_uniform(k, jnp.zeros((3,))))(keys)
    n = xi.size
    assert abs(float(xi.mean())) < 5 / np.sqrt(n) and abs(float(xi.var()) - 1) < 5 * np.sqrt(2 / n)
    assert abs(float(jnp.mean(xi**4)) - 3) < 0.1
    assert abs(float(u.mean()) - 0.5) < 5 * np.sqrt(1 / 12 / u.size) and float(u.min()) >= 0 and float(u.max()) <= 1
    assert abs(float(jnp.corrcoef(u, xi[:, -1])[0, 1])) < 5 / np.sqrt(u.size)
    # large states take the split-key path: same laws
    big_xi, big_u = _normal_and_uniform(jax.random.PRNGKey(1), jnp.zeros((300, 300)))
    assert big_xi.shape == (300, 300) and 0.0 <= float(big_u) <= 1.0
    assert abs(float(big_xi.mean())) < 5 / 300 and abs(float(big_xi.var()) - 1) < 5 * np.sqrt(2) / 300


def test_acceptance_tends_to_one_as_step_shrinks():
    rates = []
    for delta in (0.5, 0.05, 0.005, 0.0005):
        s = jax.jit(lambda k: run_chains(mala(banana, delta), k, jnp.zeros((64, 2)), 200))(jax.random.PRNGKey(0))
        rates.append(float(s.accept_rate))
    assert all(a < b for a, b in zip(rates, rates[1:])), rates
    assert rates[-1] > 0.995 and 1 - rates[-1] < 0.2 * (1 - rates[1])


def test_running_moments_equal_stored_samples():
    x = jax.random.normal(jax.random.PRNGKey(0), (50, 3, 5)) * 2 + 1
    m = moments_init(x[0])
    for t in range(50):
        m = moments_update(m, x[t])
    np.testing.assert_allclose(m.mean, x.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.variance, x.var(0), rtol=1e-4)
    p = pool(m, axis=0)  # merge the 3 "chains"
    np.testing.assert_allclose(p.mean, x.mean((0, 1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.variance, x.var((0, 1)), rtol=1e-4)


def test_run_chains_validates_and_thins():
    algo = mala(banana, 0.1)
    with pytest.raises(ValueError, match="n_samples"):
        run_chains(algo, jax.random.PRNGKey(0), jnp.zeros((2, 2)), 0)
    with pytest.raises(ValueError, match="thin"):
        run_chains(algo, jax.random.PRNGKey(0), jnp.zeros((2, 2)), 5, thin=0)
    s = run_chains(algo, jax.random.PRNGKey(0), jnp.zeros((3, 2)), 5, thin=3, burn_in=2)
    assert s.n_kept == 5 and s.chain_mean.shape == (3, 2) and s.chain_accept.shape == (3,)
    assert 0 < float(s.accept_rate) <= 1
