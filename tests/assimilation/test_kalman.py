"""Linear-Gaussian checks: the ensemble filters against the exact Kalman filter."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import assimilation as da


def _linear_problem(d=4, seed=0):
    rng = np.random.default_rng(seed)
    M = np.linalg.qr(rng.standard_normal((d, d)))[0] * 1.05  # slightly expanding rotation
    H = np.eye(d)[::2]
    std = np.array([0.5, 0.8])
    return jnp.asarray(M), H, jnp.asarray(std)


def _kalman(m, P, y, H, R):
    S = H @ P @ H.T + R
    K = P @ H.T @ np.linalg.inv(S)
    return m + K @ (y - H @ m), (np.eye(len(m)) - K @ H) @ P


def _ensemble_with_moments(key, m, P, N):
    """N members whose sample mean and covariance are exactly m and P."""
    Z = np.array(jax.random.normal(key, (N, len(m)), jnp.float64))
    Z -= Z.mean(0)
    L = np.linalg.cholesky(np.cov(Z.T))
    Z = Z @ np.linalg.inv(L).T
    return jnp.asarray(m + Z @ np.linalg.cholesky(P).T)


def test_etkf_analysis_equals_kalman_update_with_ensemble_covariance(x64):
    M, H, std = _linear_problem()
    E = jax.random.normal(jax.random.PRNGKey(1), (7, 4)) * jnp.array([1.0, 2.0, 0.5, 1.5]) + 3.0
    y = jnp.array([2.0, 4.0])
    Ea = da.etkf_update(E, E @ H.T, y, std)
    m, P = np.asarray(E.mean(0)), np.cov(np.asarray(E).T)
    ma, Pa = _kalman(m, P, np.asarray(y), H, np.diag(np.asarray(std) ** 2))
    np.testing.assert_allclose(Ea.mean(0), ma, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.cov(np.asarray(Ea).T), Pa, rtol=1e-9, atol=1e-10)


def test_etkf_and_letkf_cycles_reproduce_the_kalman_filter(x64):
    M, H, std = _linear_problem()
    obs = da.Observation(lambda x: x[::2], std, True)
    truth = [jnp.ones(4)]
    for _ in range(8):
        truth.append(M @ truth[-1])
    ys = jnp.stack(truth[1:])[:, ::2] + std * jax.random.normal(jax.random.PRNGKey(2), (8, 2))
    m, P = np.zeros(4), np.eye(4) * 2.0
    E0 = _ensemble_with_moments(jax.random.PRNGKey(3), m, P, 6)
    state = da.EnsembleState(E0, jnp.full((6,), -np.log(6.0)))
    res = {name: da.assimilate(f, state, ys, jax.random.PRNGKey(4), keep_ensemble=True)
           for name, f in [("etkf", da.etkf(lambda x: M @ x, obs, 6)),
                           ("etkf_rot", da.etkf(lambda x: M @ x, obs, 6, rotate=True)),
                           ("letkf", da.letkf(lambda x: M @ x, obs, 6, obs_sites=[0.0, 2.0], radius=1e7))]}
    R = np.diag(np.asarray(std) ** 2)
    for k in range(8):
        m, P = np.asarray(M) @ m, np.asarray(M) @ P @ np.asarray(M).T
        m, P = _kalman(m, P, np.asarray(ys[k]), H, R)
        for name, r in res.items():
            tol = 1e-5 if name == "letkf" else 1e-9   # Gaspari–Cohn weights ≈ 1 − O(1/c²)
            np.testing.assert_allclose(r.mean_a[k], m, rtol=tol, atol=tol, err_msg=name)
            np.testing.assert_allclose(np.cov(np.asarray(r.ensemble[k]).T), P, rtol=tol, atol=tol, err_msg=name)


def test_stochastic_enkf_large_ensemble_matches_kalman_within_sampling_error(x64):
    M, H, std = _linear_problem(d=3, seed=5)
    H = np.eye(3)[:2]
    std = jnp.array([0.7, 0.7])
    obs = da.Observation(lambda x: x[:2], std, True)
    ys = jnp.array([[1.0, -0.5], [0.3, 0.8], [-1.0, 0.2], [0.5, 0.5]])
    N = 20000
    f = da.enkf(lambda x: M @ x, obs, N)
    s0 = f.init(jnp.zeros(3), 1.0, key=jax.random.PRNGKey(0))
    r = da.assimilate(f, s0, ys, jax.random.PRNGKey(1), keep_ensemble=True)
    m, P = np.asarray(s0.E.mean(0)), np.cov(np.asarray(s0.E).T)
    for k in range(4):
        m, P = np.asarray(M) @ m, np.asarray(M) @ P @ np.asarray(M).T
        m, P = _kalman(m, P, np.asarray(ys[k]), H, np.diag(np.asarray(std) ** 2))
    Pe = np.cov(np.asarray(r.ensemble[-1]).T)
    se_mean = np.sqrt(np.diag(P) / N)
    assert np.all(np.abs(np.asarray(r.mean_a[-1]) - m) < 5 * se_mean + 1e-12)
    scale = np.sqrt(np.outer(np.diag(P), np.diag(P)))
    assert np.max(np.abs(Pe - P) / scale) < 6 * np.sqrt(2.0 / N) * 4   # a few cycles of sampling error
    assert np.trace(Pe) > 0.9 * np.trace(P)   # no spread collapse (perturbed observations)


def test_rotation_keeps_mean_and_covariance(x64):
    Q = da.mean_preserving_rotation(jax.random.PRNGKey(0), 9, jnp.float64)
    np.testing.assert_allclose(Q @ Q.T, np.eye(9), atol=1e-12)
    np.testing.assert_allclose(Q @ np.ones(9), np.ones(9), atol=1e-12)
    assert np.abs(np.asarray(Q) - np.eye(9)).max() > 0.1


def test_gaspari_cohn_is_a_compact_positive_definite_correlation(x64):
    c = 3.0
    r = jnp.linspace(0.0, 7.0, 7001)
    g = np.asarray(da.gaspari_cohn(r, c))
    assert g[0] == 1.0 and np.all(g[r >= 2 * c] == 0.0) and np.all(g[r < 2 * c] > 0.0)
    assert np.max(np.abs(np.diff(g))) < 2e-3  # continuous (steps of 1e-3 in r)
    x = np.linspace(0, 30, 61)
    C = np.asarray(da.gaspari_cohn(jnp.asarray(x[:, None] - x[None, :]), c))
    assert np.linalg.eigvalsh(C).min() > -1e-10


def test_var3d_with_ensemble_B_equals_kalman(x64):
    M, H, std = _linear_problem()
    obs = da.Observation(lambda x: x[::2], std, True)
    B = np.array([[2.0, 0.3, 0.1, 0.0], [0.3, 1.0, 0.2, 0.1], [0.1, 0.2, 1.5, 0.4], [0.0, 0.1, 0.4, 1.2]])
    f = da.var3d(lambda x: x, obs, jnp.asarray(B))
    xb, y = jnp.array([1.0, 2.0, -1.0, 0.5]), jnp.array([0.0, 1.0])
    st = da.EnsembleState(xb[None], jnp.zeros(1), xb)
    xa = f.analysis(st, None, y)[0].E[0]
    ma, _ = _kalman(np.asarray(xb), B, np.asarray(y), H, np.diag(np.asarray(std) ** 2))
    np.testing.assert_allclose(xa, ma, rtol=1e-10)


def test_var3d_gauss_newton_reaches_a_stationary_point_for_nonlinear_obs(x64):
    obs = da.nonlinear(5, "arctan", std=0.3)
    B = jnp.eye(5) * 0.5
    f = da.var3d(lambda x: x, obs, B, iterations=12)
    xb, y = jnp.linspace(-1, 1, 5), jnp.array([0.5, -0.2, 0.1, 0.9, -0.7])
    xa = f.analysis(da.EnsembleState(xb[None], jnp.zeros(1), xb), None, y)[0].E[0]
    J = lambda x: 0.5 * jnp.sum((x - xb) ** 2 / 0.5) + 0.5 * jnp.sum(((y - jnp.arctan(x)) / 0.3) ** 2)
    assert float(jnp.linalg.norm(jax.grad(J)(xa))) < 1e-6
    assert float(jnp.linalg.norm(jax.grad(J)(xb))) > 1.0
