import numpy as np
import pytest

from jaxhybrid.maps import fit as F
from jaxhybrid.maps import metrics as M
from jaxhybrid.maps import scene as S


def _markings(scene, rng, n=4000, noise=0.05, outliers=100):
    s = rng.uniform(0, scene.length, n)
    k = rng.integers(0, len(scene.marking_offsets), n)
    pts = S.road_points(scene, s, scene.marking_offsets[k] + noise * rng.standard_normal(n))[:, :2]
    pts = pts + noise * rng.standard_normal(pts.shape)
    out = S.road_points(scene, rng.uniform(0, scene.length, outliers), rng.uniform(-8, 8, outliers))[:, :2]
    return np.concatenate([pts, out])


def _tangents(curve):
    d = np.gradient(curve, axis=0)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_constrained_lanes_are_parallel_and_equally_spaced():
    scene = S.make_scene(0)
    rng = np.random.default_rng(0)
    m = F.fit_lanes(_markings(scene, rng), 4, degree=5)
    curves = [F.lane_points(m, k, 4000) for k in range(4)]
    for a, b in zip(curves[:-1], curves[1:]):
        ta, tb = _tangents(a), _tangents(b)
        cross = ta[:, 0] * tb[:, 1] - ta[:, 1] * tb[:, 0]
        assert np.max(np.abs(cross)) < 1e-6                     # parallel (offset curves)
        gap = np.linalg.norm(b - a, axis=1)
        np.testing.assert_allclose(gap, m.width, atol=1e-6)     # constant width
    assert abs(m.width - scene.lane_width) < 0.01
    # and they are where the truth is (robust to 2.5 % outliers)
    truth = S.road_points(scene, np.linspace(5, scene.length - 5, 200), scene.marking_offsets[0])[:, :2]
    assert M.lane_lateral_error(curves, [truth]) < 0.02


def test_independent_fit_is_not_parallel():
    # the same data fitted marking by marking: close, but not parallel to the constrained precision
    scene = S.make_scene(1)
    rng = np.random.default_rng(1)
    fr = F.fit_lanes_free(_markings(scene, rng, outliers=0), 4)
    curves = [F.free_lane_points(fr, k, 4000) for k in range(4)]
    ta, tb = _tangents(curves[0]), _tangents(curves[1])
    assert np.max(np.abs(ta[:, 0] * tb[:, 1] - ta[:, 1] * tb[:, 0])) > 1e-4


def test_straight_lanes_and_kerbs():
    rng = np.random.default_rng(2)
    s = rng.uniform(-50, 50, 2000)
    k = rng.integers(0, 3, 2000)
    d = np.array([np.cos(0.3), np.sin(0.3)])
    nrm = np.array([-d[1], d[0]])
    pts = s[:, None] * d + ((k - 1) * 3.2 + 0.03 * rng.standard_normal(2000))[:, None] * nrm + 100.0
    kerbs = rng.uniform(-50, 50, 300)[:, None] * d + rng.choice([-5.0, 5.5], 300)[:, None] * nrm + 100.0
    m = F.fit_lanes(pts, 3, kerbs=kerbs, degree=1)
    assert abs(m.width - 3.2) < 5e-3
    np.testing.assert_allclose(np.sort(np.abs(m.kerbs)), [5.0, 5.5], atol=0.01)
    assert set(m.loss_terms) == {"markings", "kerbs"}


def test_poles_vertical_vs_free():
    rng = np.random.default_rng(3)
    h = rng.uniform(0, 4, 200)
    ang = rng.uniform(0, 2 * np.pi, 200)
    p = np.c_[2 + 0.08 * np.cos(ang), 3 + 0.08 * np.sin(ang), h]
    np.testing.assert_allclose(F.pole_vertical(p)[:2], [2, 3], atol=0.02)
    tilted = p + np.c_[0.05 * h, np.zeros(200), np.zeros(200)]
    np.testing.assert_allclose(F.pole_free(tilted)[:2], [2, 3], atol=0.03)


def test_fit_lanes_validates():
    with pytest.raises(ValueError, match="n_markings"):
        F.fit_lanes(np.zeros((100, 2)), 1)
    with pytest.raises(ValueError, match="too few"):
        F.fit_lanes(np.zeros((5, 2)), 4)
