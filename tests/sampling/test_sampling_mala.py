"""MALA: exact detailed balance of the Metropolis–Hastings kernel, acceptance → 1 as δ → 0,
running moments vs stored samples, and the chain drivers' bookkeeping (run_chains on the host,
chains_summary inside jit: same numbers; divergence guard)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.sampling.mala import _normal_and_uniform
from jaxhybrid.rollout import DivergenceError
from jaxhybrid.sampling import (chains_summary, mala, mala_log_proposal, moments_init, moments_update, pool,
                                run_chains, ula)


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
        s1, info = algo.step(s0, key)
        assert set(info) == {"accept_prob", "accepted"} and not hasattr(s1, "accept_prob")
        xi, u = _normal_and_uniform(key, s0.position)
        y = s0.position + 0.4 * s0.grad + jnp.sqrt(0.8) * xi
        g = jax.grad(banana)
        la = banana(y) + mala_log_proposal(s0.position, y, g(y), 0.4) - banana(s0.position) \
            - mala_log_proposal(y, s0.position, s0.grad, 0.4)
        np.testing.assert_allclose(float(info["accept_prob"]), min(1.0, float(jnp.exp(la))), rtol=1e-10)
        assert bool(info["accepted"]) == bool(u < info["accept_prob"])
        np.testing.assert_allclose(s1.position, y if bool(info["accepted"]) else s0.position)


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
        s = jax.jit(lambda k: chains_summary(mala(banana, delta), k, jnp.zeros((64, 2)), 200))(jax.random.PRNGKey(0))
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
    s = run_chains(algo, jax.random.PRNGKey(0), jnp.zeros((3, 2)), 5, thin=3, burn_in=2, progress=False)
    assert s.n_kept == 5 and s.chain_mean.shape == (3, 2) and s.chain_accept.shape == (3,)
    assert 0 < float(s.accept_rate) <= 1
    with pytest.raises(ValueError, match="chains_summary"):  # the host driver refuses to be traced
        jax.jit(lambda k: run_chains(algo, k, jnp.zeros((3, 2)), 5))(jax.random.PRNGKey(0))


def test_host_driver_and_pure_summary_give_the_same_numbers():
    # global step n draws from fold_in(key, n): chunking does not change the stream
    algo = mala(banana, 0.3)
    x0 = jax.random.normal(jax.random.PRNGKey(1), (4, 2))
    a = run_chains(algo, jax.random.PRNGKey(0), x0, 30, burn_in=7, thin=2, chunk_size=4, progress=False)
    b = jax.jit(lambda k: chains_summary(algo, k, x0, 30, burn_in=7, thin=2))(jax.random.PRNGKey(0))
    for f in ("mean", "var", "chain_mean", "chain_var", "chain_accept"):
        np.testing.assert_allclose(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.final.position, b.final.position, rtol=1e-6, atol=1e-6)
    c = run_chains(algo, jax.random.PRNGKey(1), x0, 30, burn_in=7, thin=2, progress=False)
    assert not np.allclose(np.asarray(a.mean), np.asarray(c.mean))  # the key matters


def test_acceptance_is_the_mean_of_the_steps_accept_prob_after_burn_in():
    # thin = 3: every post-burn-in step counts, kept or not (n_samples·thin steps)
    algo = mala(banana, 0.8)
    x0 = jnp.zeros((2, 2))
    key, burn_in, n, thin = jax.random.PRNGKey(3), 4, 5, 3
    s = chains_summary(algo, key, x0, n, burn_in=burn_in, thin=thin)
    st, probs = jax.vmap(algo.init)(x0), []
    for i in range(burn_in + n * thin):
        st, info = jax.vmap(algo.step)(st, jax.random.split(jax.random.fold_in(key, i), 2))
        if i >= burn_in:
            probs.append(np.asarray(info["accept_prob"]))
    np.testing.assert_allclose(np.asarray(s.chain_accept), np.mean(probs, 0), rtol=1e-5)
    assert 0.05 < float(s.accept_rate) < 0.95  # a real mixture of accepts and rejects
    # an unadjusted sampler accepts everything
    assert float(chains_summary(ula(banana, 0.1), key, x0, 5).accept_rate) == 1.0


def test_divergence_stops_with_the_step_and_the_last_good_states():
    # ULA on log π = −x⁴ with a huge step explodes to inf/NaN within a few steps
    algo = ula(lambda x: -jnp.sum(x**4), 0.5)
    x0 = jnp.full((3, 2), 1.5)
    with pytest.raises(DivergenceError) as e:
        run_chains(algo, jax.random.PRNGKey(0), x0, 50, chunk_size=5, progress=False)
    n_bad = e.value.step
    assert 1 <= n_bad <= 50
    good = e.value.state
    assert np.all(np.isfinite(np.asarray(good.position)))
    # the kept states are those after step n_bad − 1, and step n_bad is the first non-finite one
    st = jax.vmap(algo.init)(x0)
    for i in range(n_bad - 1):
        st, _ = jax.vmap(algo.step)(st, jax.random.split(jax.random.fold_in(jax.random.PRNGKey(0), i), 3))
    np.testing.assert_allclose(np.asarray(good.position), np.asarray(st.position), rtol=1e-5)
    nxt, _ = jax.vmap(algo.step)(st, jax.random.split(jax.random.fold_in(jax.random.PRNGKey(0), n_bad - 1), 3))
    assert not np.all(np.isfinite(np.asarray(nxt.position)))
