import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.maps import icp as I
from jaxhybrid.maps import procrustes as P


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _structure(rng, n=600):
    # poles (vertical lines), a wall and a few blobs: a 3-D structure without symmetries
    poles = np.concatenate([np.c_[np.full((40, 2), p), np.linspace(0, 4, 40)] for p in ([0, 0], [7, 1], [-3, 6], [4, -5])])
    wall = np.c_[rng.uniform(-6, 8, 200), np.full(200, 9.0), rng.uniform(0, 2, 200)]
    blob = rng.standard_normal((n - len(poles) - len(wall), 3)) * 0.5 + np.array([2.0, 3.0, 1.0])
    return np.concatenate([poles, wall, blob])


def test_icp_converges_from_perturbed_start():
    rng = np.random.default_rng(0)
    tgt = _structure(rng)
    R, t = _rot_z(np.deg2rad(6.0)), np.array([0.5, -0.4, 0.1])
    src = (tgt - t) @ R  # so that R src + t = tgt
    src = src + 0.01 * rng.standard_normal(src.shape)
    out = [rng.uniform(-8, 8, (30, 3))]  # outliers in the source
    src = np.concatenate([src] + out)
    res = I.icp(jnp.asarray(src, jnp.float32), jnp.asarray(tgt, jnp.float32), iters=40, max_dist=1.5, robust_scale=0.1)
    err = np.linalg.norm(np.asarray(P.apply(res.transform, jnp.asarray(src[:600], jnp.float32))) - tgt, axis=1)
    start = np.linalg.norm(src[:600] - tgt, axis=1)
    assert np.median(start) > 0.5
    assert np.median(err) < 0.02
    np.testing.assert_allclose(np.asarray(res.transform.R), R, atol=2e-3)
    assert float(res.rms[-1]) < 0.2 * float(res.rms[0])  # gated NN distances (outliers, sampling) stay > 0


def test_icp_batched_with_masks():
    rng = np.random.default_rng(1)
    tgt = _structure(rng)
    angles = [3.0, -4.0]
    srcs = [(tgt - np.array([0.3, 0.2, 0.0])) @ _rot_z(np.deg2rad(a)) for a in angles]
    src = np.stack(srcs).astype(np.float32)
    mask = np.ones(src.shape[:2], bool)
    mask[1, 500:] = False
    src[1, 500:] = 100.0  # padding far away must not matter
    fn = jax.jit(jax.vmap(lambda s, m: I.icp(s, jnp.asarray(tgt, jnp.float32), iters=40, source_mask=m, max_dist=1.5).transform.R))
    Rs = np.asarray(fn(jnp.asarray(src), jnp.asarray(mask)))
    for R, a in zip(Rs, angles):
        np.testing.assert_allclose(R, _rot_z(np.deg2rad(a)), atol=2e-3)


def test_local_icp_follows_a_drifting_pose():
    rng = np.random.default_rng(2)
    # a 120 m "road" of poles on both sides and a line of markings
    s = np.arange(0, 120, 6.0)
    poles = np.concatenate([np.c_[np.full(30, si), np.full(30, side), np.linspace(0, 4, 30)] for si, side in zip(s, np.resize([-6.0, 6.0], len(s)))])
    lines = np.c_[rng.uniform(0, 120, 800), rng.choice([-3.0, 3.0], 800), np.zeros(800)]
    tgt = np.concatenate([poles, lines])
    times = tgt[:, 0].copy()
    shift = np.stack([0.4 * np.sin(times / 40), 0.3 * np.cos(times / 50), 0 * times], 1)
    src = tgt + shift
    q = np.arange(0, 121, 2.0)
    res = I.local_icp(jnp.asarray(src, jnp.float32), jnp.asarray(times, jnp.float32), jnp.asarray(tgt, jnp.float32),
                      jnp.asarray(q, jnp.float32), bandwidth=8.0, iters=30, max_dist=1.5, robust_scale=0.2)
    idx = np.argmin(np.abs(times[:, None] - q[None]), 1)
    reg = np.asarray(P.apply_local(res.transform, jnp.asarray(idx), jnp.asarray(src, jnp.float32)))
    assert np.median(np.linalg.norm(src - tgt, axis=1)) > 0.3
    assert np.median(np.linalg.norm(reg - tgt, axis=1)) < 0.03
