"""ULA / MALA / underdamped Langevin on a linear-Gaussian inverse problem vs the exact posterior.

Problem: x ∈ R^4, prior N(0, I), y = A x + η, η ~ N(0, s² I): the posterior is N(m, C) with
C = (AᵀA/s² + I)⁻¹, m = C Aᵀ y / s². Monte-Carlo bound: with K independent chains, the
per-chain means/variances are i.i.d., so the standard error of their average is
se = std_k/√K (no autocorrelation estimate needed); we assert |estimate − exact| < 5·se per
coordinate (4 coordinates × 2 moments: a false alarm has probability < 1e-5).
ULA has an O(δ) bias, known in closed form for a Gaussian target: in the eigenbasis of C
(variances c_i) the chain's stationary law is N(m, c_i / (1 − δ/(2c_i))), exact mean.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.sampling import chains_summary, mala, mc_standard_error, ula, underdamped_langevin


def problem():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 4))
    s = 0.7
    x_true = rng.standard_normal(4)
    y = A @ x_true + s * rng.standard_normal(6)
    P = A.T @ A / s**2 + np.eye(4)
    C = np.linalg.inv(P)
    m = C @ A.T @ y / s**2
    logdensity = lambda x: -0.5 * jnp.sum((y - A @ x) ** 2) / s**2 - 0.5 * jnp.sum(x**2)
    return logdensity, m, C


def check(summary, mean_exact, var_exact, tol=5.0):
    se_m = np.asarray(mc_standard_error(summary.chain_mean))
    se_v = np.asarray(mc_standard_error(summary.chain_var))
    err_m = np.abs(np.asarray(summary.mean) - mean_exact)
    err_v = np.abs(np.asarray(summary.var) - var_exact)
    assert np.all(err_m < tol * se_m), (err_m, se_m)
    assert np.all(err_v < tol * se_v), (err_v, se_v)
    # the bound is informative: the Monte-Carlo error is small compared with the posterior scale
    assert np.all(se_m < 0.05 * np.sqrt(var_exact)) and np.all(se_v < 0.05 * var_exact)


def _run(algo, n_samples, burn_in, thin=1, key=0):
    x0 = jnp.zeros((128, 4))
    with jax.enable_x64(True):
        f = jax.jit(lambda k: chains_summary(algo, k, x0.astype(jnp.float64), n_samples, burn_in=burn_in, thin=thin))
        return jax.tree_util.tree_map(np.asarray, f(jax.random.PRNGKey(key)))


def test_mala_matches_exact_posterior():
    ld, m, C = problem()
    with jax.enable_x64(True):
        s = _run(mala(ld, 0.02), 2000, 500)
    check(s, m, np.diag(C))
    assert 0.5 < float(s.accept_rate) < 1.0


def test_underdamped_matches_exact_posterior():
    ld, m, C = problem()
    h = 1.0 / np.sqrt(np.linalg.eigvalsh(np.linalg.inv(C)).max())  # half the stability limit 2/√λ_max
    with jax.enable_x64(True):
        s = _run(underdamped_langevin(ld, h, friction=1.0), 2000, 500, thin=2)
    check(s, m, np.diag(C))


def test_ula_matches_its_known_biased_stationary_law():
    ld, m, C = problem()
    delta = 0.02
    lam, V = np.linalg.eigh(C)
    C_ula = V @ np.diag(lam / (1 - delta / (2 * lam))) @ V.T
    with jax.enable_x64(True):
        s = _run(ula(ld, delta), 1500, 500, thin=2)
    check(s, m, np.diag(C_ula))
    # and the bias is what the formula says: the exact posterior variance is excluded
    se_v = np.asarray(mc_standard_error(s.chain_var))
    assert np.any(np.abs(np.asarray(s.var) - np.diag(C)) > 3 * se_v)


def test_ula_score_fn_equals_logdensity_path():
    ld, m, C = problem()
    with jax.enable_x64(True):
        a = _run(ula(ld, 0.02), 50, 0)
        b = _run(ula(score_fn=jax.grad(ld), step_size=0.02), 50, 0)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad", [0.0, -0.1])
def test_non_positive_step_rejected(bad):
    ld, _, _ = problem()
    for make in (lambda: mala(ld, bad), lambda: ula(ld, bad), lambda: underdamped_langevin(ld, bad)):
        with pytest.raises(ValueError, match="step_size"):
            make()


def test_ula_needs_exactly_one_density():
    with pytest.raises(ValueError, match="exactly one"):
        ula(step_size=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        ula(lambda x: x, 0.1, score_fn=lambda x: x)


def test_underdamped_is_the_md_baoab_step():
    """One BAOAB in the tree: a kinetic-Langevin step equals :func:`jaxhybrid.md.langevin`'s
    step with the score as the force, unit mass and kT = 1 (same key, same numbers), and the
    key is the step's second argument (another key, another step)."""
    from jaxhybrid import md

    prec = jnp.asarray([1.0, 4.0, 9.0])
    ld = lambda x: -0.5 * jnp.sum(prec * x**2)  # noqa: E731
    x0 = jnp.asarray([[0.3, -0.2, 0.1], [1.0, 0.5, -0.4]])
    v0 = jnp.asarray([[0.1, 0.2, -0.3], [0.0, -0.1, 0.2]])
    ud = underdamped_langevin(ld, 0.1, friction=2.0)
    s = ud.init(x0)._replace(momentum=v0)
    baoab = md.langevin(md.energy_force_fn(lambda r: -ld(r)), 0.1, 1.0, 2.0)
    t = baoab.init(x0, v0, 1.0)
    key = jax.random.PRNGKey(11)
    (a, info), (b, _) = ud.step(s, key), baoab.step(t, key)
    assert info == {}
    np.testing.assert_allclose(np.asarray(a.position), np.asarray(b.positions), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(a.momentum), np.asarray(b.momenta), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(a.score), np.asarray(b.forces), rtol=1e-6, atol=1e-7)
    c, _ = ud.step(s, jax.random.PRNGKey(12))
    assert not np.allclose(np.asarray(c.momentum), np.asarray(a.momentum))
    # init(position, key): momentum ~ N(0, I) with a key, zero without
    assert float(jnp.abs(ud.init(x0).momentum).max()) == 0.0
    assert float(jnp.abs(ud.init(x0, jax.random.PRNGKey(0)).momentum).max()) > 0.0
