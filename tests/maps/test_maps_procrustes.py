import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.maps import procrustes as P


def _random_rotation(rng, d=3):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


@pytest.mark.parametrize("planar", [False, True])
@pytest.mark.parametrize("with_scale", [False, True])
def test_noiseless_recovery_float32(planar, with_scale):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3)) * np.array([3.0, 2.0, 0.0 if planar else 1.0])
    R, t, c = _random_rotation(rng), rng.standard_normal(3), (1.7 if with_scale else 1.0)
    y = c * x @ R.T + t
    T = P.umeyama(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), with_scale=with_scale)
    np.testing.assert_allclose(np.asarray(T.R), R, atol=1e-5)
    np.testing.assert_allclose(np.asarray(T.t), t, atol=1e-5)
    assert abs(float(T.scale) - c) < 1e-5
    assert abs(np.linalg.det(np.asarray(T.R)) - 1.0) < 1e-5


def test_noiseless_recovery_float64_and_weights():
    with jax.enable_x64(True):
        rng = np.random.default_rng(1)
        x = rng.standard_normal((20, 3))
        R, t = _random_rotation(rng), rng.standard_normal(3)
        y = x @ R.T + t
        w = rng.uniform(0.1, 2.0, 20)
        T = P.kabsch(jnp.asarray(x), jnp.asarray(y), jnp.asarray(w))
        assert T.R.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(T.R), R, atol=1e-10)
        np.testing.assert_allclose(np.asarray(T.t), t, atol=1e-10)
        np.testing.assert_allclose(np.asarray(P.apply(T, jnp.asarray(x))), y, atol=1e-10)


def test_reflection_is_never_returned():
    # the best orthogonal map onto a mirrored cloud is a reflection; Kabsch must return a rotation
    rng = np.random.default_rng(2)
    x = rng.standard_normal((30, 3))
    y = x * np.array([1.0, 1.0, -1.0])
    T = P.kabsch(jnp.asarray(x), jnp.asarray(y))
    assert abs(np.linalg.det(np.asarray(T.R)) - 1.0) < 1e-5
    # without the sign fix the plain SVD solution would be the reflection itself
    U, _, Vt = np.linalg.svd((y - y.mean(0)).T @ (x - x.mean(0)))
    assert np.linalg.det(U @ Vt) < 0


def test_batched_by_vmap_and_differentiable():
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal((4, 10, 3)), jnp.float32)
    Rs = np.stack([_random_rotation(rng) for _ in range(4)])
    y = jnp.einsum("bij,bnj->bni", jnp.asarray(Rs, jnp.float32), x)
    T = jax.vmap(lambda a, b: P.kabsch(a, b))(x, y)
    np.testing.assert_allclose(np.asarray(T.R), Rs, atol=1e-5)
    with jax.enable_x64(True):
        a, b = jnp.asarray(x[0], jnp.float64), jnp.asarray(y[0], jnp.float64) + 0.1
        f = lambda s: jnp.sum(P.apply(P.kabsch(a, b + s), a) * b)
        d = jnp.asarray(np.random.default_rng(9).standard_normal((10, 3)))
        g = jax.grad(f)(jnp.zeros((10, 3)))
        fd = (f(1e-6 * d) - f(-1e-6 * d)) / 2e-6
        assert abs(float(jnp.sum(g * d)) - float(fd)) < 1e-6 * max(1.0, abs(float(fd)))


def test_local_linear_recovers_linearly_drifting_translation():
    rng = np.random.default_rng(4)
    times = np.linspace(0, 100, 40)
    x = np.stack([times, rng.choice([-6.0, 6.0], 40), rng.uniform(0, 0.2, 40)], 1)
    R = _random_rotation(np.random.default_rng(5))
    drift = lambda t: np.stack([0.3 + 0.01 * t, -0.2 + 0.004 * t, 0.0 * t], -1)
    y = x @ R.T + drift(times)
    q = np.array([10.0, 50.0, 90.0])
    T = P.local_rigid(jnp.asarray(x), jnp.asarray(y), jnp.asarray(times), jnp.asarray(q), bandwidth=15.0)
    np.testing.assert_allclose(np.asarray(T.R), np.broadcast_to(R, (3, 3, 3)), atol=1e-4)
    np.testing.assert_allclose(np.asarray(T.t), drift(q), atol=1e-3)
    # the locally constant fit is biased by the alternating left/right samples
    T0 = P.local_rigid(jnp.asarray(x), jnp.asarray(y), jnp.asarray(times), jnp.asarray(q), bandwidth=15.0, order=0)
    assert np.max(np.abs(np.asarray(T0.t) - drift(q))) > 1e-2


def test_compose_inverse_roundtrip():
    rng = np.random.default_rng(6)
    T = P.Transform(jnp.asarray(_random_rotation(rng)), jnp.asarray(rng.standard_normal(3)), jnp.asarray(2.0))
    x = jnp.asarray(rng.standard_normal((5, 3)))
    np.testing.assert_allclose(np.asarray(P.apply(P.compose(P.inverse(T), T), x)), np.asarray(x), atol=1e-5)


def test_errors_say_what_to_fix():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="corresponding"):
        P.kabsch(x, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="at least d"):
        P.kabsch(np.eye(3)[:2], np.eye(3)[:2])
    line = np.stack([np.arange(6.0), np.zeros(6), np.zeros(6)], 1)
    with pytest.raises(ValueError, match="degenerate"):
        P.kabsch(line, line)
    with pytest.raises(ValueError, match="bandwidth"):
        P.local_rigid(np.eye(3), np.eye(3), np.zeros(3), np.zeros(1), bandwidth=0.0)
