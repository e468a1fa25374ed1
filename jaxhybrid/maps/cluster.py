"""Density-based clustering (DBSCAN) and voxel down-sampling, host side (NumPy + SciPy).

DBSCAN (Ester, Kriegel, Sander & Xu 1996, *A density-based algorithm for discovering clusters
in large spatial databases with noise*, KDD-96): a point is a *core* point when the total weight
of points within distance ``eps`` (itself included) is at least ``min_samples``; clusters are the
connected components of the graph linking core points closer than ``eps``; a non-core point
within ``eps`` of a core point joins that core point's cluster (the first one found, as in the
original algorithm's order-dependence for border points); everything else is noise (label −1).

Clustering is irregular, data-dependent glue (variable neighbour counts, union–find), the part
of the pipeline that gains nothing from tracing, so it runs on the host: neighbourhoods from
``scipy.spatial.cKDTree`` (SciPy ships with JAX) and components from
``scipy.sparse.csgraph.connected_components``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["dbscan", "voxel_downsample"]


def dbscan(points: np.ndarray, eps: float, min_samples: float, weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Labels ``0..K−1`` per point (−1: noise), clusters numbered by their first point.

    Args:
        points: (N, d) coordinates.
        eps: neighbourhood radius.
        min_samples: weight needed within ``eps`` for a core point (point counts by default).
        weights: optional (N,) non-negative weights (e.g. the counts of voxel-merged points).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    x = np.asarray(points, np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"dbscan: points must be an (N, d) array, got shape {x.shape}.")
    if not eps > 0 or not min_samples > 0:
        raise ValueError(f"dbscan: eps and min_samples must be positive, got {eps}, {min_samples}.")
    n = len(x)
    if n == 0:
        return np.zeros(0, int)
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    if w.shape != (n,) or np.any(w < 0):
        raise ValueError(f"dbscan: weights must be a non-negative ({n},) array.")
    pairs = cKDTree(x).query_pairs(eps, output_type="ndarray")
    i, j = (pairs[:, 0], pairs[:, 1]) if len(pairs) else (np.zeros(0, int), np.zeros(0, int))
    dens = w.copy()
    np.add.at(dens, i, w[j])
    np.add.at(dens, j, w[i])
    core = dens >= min_samples
    cc = core[i] & core[j]
    g = coo_matrix((np.ones(cc.sum()), (i[cc], j[cc])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    labels = np.where(core, comp, -1)
    # border points: attach to the cluster of a core neighbour (lowest index first)
    for a, b in ((i, j), (j, i)):
        m = ~core[a] & core[b]
        order = np.argsort(-b[m], kind="stable")  # so that the lowest core index is written last
        labels[a[m][order]] = comp[b[m][order]]
    # renumber clusters 0..K-1 by first appearance
    uniq, first = np.unique(labels[labels >= 0], return_index=True)
    remap = np.full(labels.max() + 2 if labels.size else 1, -1)
    remap[uniq[np.argsort(first)]] = np.arange(len(uniq))
    return np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)


def voxel_downsample(points: np.ndarray, voxel: float, *extra: np.ndarray):
    """Merge the points of each ``voxel``-sized cube into their centroid.

    Returns ``(centroids (K, d), counts (K,), inverse (N,), *extra_means)`` where ``inverse``
    maps each input point to its voxel and each array in ``extra`` (leading axis N) is averaged
    per voxel too.
    """
    x = np.asarray(points, np.float64)
    if x.ndim != 2:
        raise ValueError(f"voxel_downsample: points must be (N, d), got {x.shape}.")
    if not voxel > 0:
        raise ValueError(f"voxel_downsample: voxel must be positive, got {voxel}.")
    keys = np.floor(x / voxel).astype(np.int64)
    _, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    def mean(a):
        a = np.asarray(a, np.float64)
        s = np.zeros((len(counts),) + a.shape[1:])
        np.add.at(s, inv, a)
        return s / counts.reshape((-1,) + (1,) * (a.ndim - 1))
    return (mean(x), counts, inv, *[mean(a) for a in extra])
