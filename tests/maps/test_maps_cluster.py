import numpy as np
import pytest

from jaxhybrid.maps.cluster import dbscan, voxel_downsample


def test_dbscan_finds_planted_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0], [5, 0, 1], [0, 6, 2], [8, 8, 0]], float)
    pts = np.concatenate([c + 0.15 * rng.standard_normal((80, 3)) for c in centres])
    noise = rng.uniform(-5, 15, (40, 3))
    noise = noise[np.min(np.linalg.norm(noise[:, None] - centres[None], axis=-1), 1) > 2.0]
    x = np.concatenate([pts, noise])
    lab = dbscan(x, eps=0.4, min_samples=6)
    assert lab.max() + 1 == 4
    for k in range(4):
        members = lab[80 * k: 80 * (k + 1)]
        assert np.all(members == members[0]) and members[0] >= 0   # one cluster per planted blob
    assert len(set(lab[: 320].tolist())) == 4
    assert np.all(lab[320:] == -1)                                     # sparse noise is noise


def test_dbscan_weights_and_border_points():
    # 3 points at one spot (weight 5 each via weights) + a border point within eps of them
    x = np.array([[0.0, 0], [0.05, 0], [0, 0.05], [0.35, 0], [3, 3]])
    lab = dbscan(x, eps=0.31, min_samples=10, weights=np.array([5, 5, 5, 1, 1.0]))
    assert lab.tolist()[:3] == [0, 0, 0] and lab[4] == -1
    lab2 = dbscan(x, eps=0.4, min_samples=10, weights=np.array([5, 5, 5, 1, 1.0]))
    assert lab2[3] == 0  # a border point joins its core neighbour's cluster


def test_dbscan_validates():
    with pytest.raises(ValueError, match="eps"):
        dbscan(np.zeros((3, 2)), eps=0.0, min_samples=2)
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        dbscan(np.zeros(3), eps=1.0, min_samples=2)


def test_voxel_downsample_means():
    x = np.array([[0.01, 0.01], [0.02, 0.03], [1.5, 1.5]])
    c, n, inv, v = voxel_downsample(x, 1.0, np.array([1.0, 3.0, 5.0]))
    assert sorted(n.tolist()) == [1, 2]
    np.testing.assert_allclose(v[inv[0]], 2.0)
    np.testing.assert_allclose(c[inv[0]], [0.015, 0.02])
