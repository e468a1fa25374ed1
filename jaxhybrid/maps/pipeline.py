"""Map building from passes: registration (to the survey or between passes), fusion,
clustering and constrained fitting.

* :func:`register_to_controls` — **hybrid** registration. The control targets seen in a pass
  (points classified as targets, clustered by DBSCAN) are associated with the surveyed control
  points (nearest within ``assoc_radius``) and the pass's drifting pose is estimated by
  kernel-weighted, locally linear Kabsch over time (:func:`~jaxhybrid.maps.procrustes.local_rigid`),
  which maps the pass into the survey frame. Optional ``twicing`` re-runs the smoother on the
  corrected control points (Tukey's twicing) to reduce the remaining smoothing bias.
* :func:`register_between_passes` — **data-only** registration. The structure points of every
  pass are aligned with a reference pass by time-varying robust ICP
  (:func:`~jaxhybrid.maps.icp.local_icp`, ``vmap``-ed over passes), and the gauge is fixed to the
  *mean* pose of the passes: ``x ↦ M(t)⁻¹ T_k(t) x`` with ``M = mean_k T_k`` (rotation part
  projected back to SO(3)). Independent per-pass errors average out; the common part stays.
* :func:`build_map` — fuses registered passes, clusters pole and sign points (DBSCAN, requiring
  support from a share of the passes), fits element positions (vertical poles or free axes) and
  the lanes (constrained model or independent markings).
* :func:`survey_map` — the **mechanism-only** map: what a field survey measured (a share of the
  elements; the markings at cross-sections joined by straight segments).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.maps import fit as F
from jaxhybrid.maps.cluster import dbscan, voxel_downsample
from jaxhybrid.maps.icp import local_icp
from jaxhybrid.maps.procrustes import Transform
from jaxhybrid.maps.scene import KERB, MARKING, POLE, SIGN, TARGET, Scene, survey_elements, survey_lines

__all__ = ["MapResult", "time_grid", "register_to_controls", "register_between_passes", "consensus", "apply_gauged",
           "build_map", "survey_map"]

STRUCTURE = (MARKING, KERB, POLE, SIGN, TARGET)


class MapResult(NamedTuple):
    """``elements`` (K, 3) and ``element_class`` (K,); ``lanes``: a :class:`~jaxhybrid.maps.fit.LaneModel`
    (constrained) or :class:`~jaxhybrid.maps.fit.FreeLanes`; ``lane_curves``: world samples of
    each marking; ``lane_width``."""

    elements: np.ndarray
    element_class: np.ndarray
    lanes: object
    lane_curves: list
    lane_width: float


def time_grid(t_min: float, t_max: float, step: float = 1.0) -> np.ndarray:
    """Query times at which drifting poses are estimated (points use the nearest one)."""
    return np.arange(np.floor(t_min), np.ceil(t_max) + step, step, dtype=np.float32)


def _nearest_index(times, grid):
    i = np.clip(np.searchsorted(grid, times), 1, len(grid) - 1)
    return np.where(np.abs(times - grid[i - 1]) <= np.abs(times - grid[i]), i - 1, i)


def register_to_controls(points: np.ndarray, times: np.ndarray, labels: np.ndarray, surveyed: np.ndarray,
                         grid: np.ndarray, *, bandwidth: float = 20.0, assoc_radius: float = 3.0,
                         min_controls: int = 3, max_controls: int = 64, twicing: int = 0, order: int = 1) -> Optional[np.ndarray]:
    """Map one pass into the survey frame (module docstring). Returns the registered points, or
    ``None`` when fewer than ``min_controls`` control targets could be associated."""
    pts, t = np.asarray(points, np.float64), np.asarray(times, np.float64)
    sel = labels == TARGET
    if sel.sum() < min_controls:
        return None
    lab = dbscan(pts[sel], eps=0.3, min_samples=5)
    k = lab.max() + 1
    if k < min_controls:
        return None
    cen = np.stack([pts[sel][lab == j].mean(0) for j in range(k)])
    ct = np.stack([t[sel][lab == j].mean() for j in range(k)])
    d = np.linalg.norm(cen[:, None] - surveyed[None], axis=-1)
    j = np.argmin(d, 1)
    # mutual nearest within the radius
    ok = (d[np.arange(k), j] < assoc_radius) & (np.argmin(d, 0)[j] == np.arange(k))
    if ok.sum() < min_controls:
        return None
    src, dst, st = cen[ok], surveyed[j[ok]], ct[ok]
    n = min(len(src), max_controls)
    pad = max_controls - n
    w = np.r_[np.ones(n), np.zeros(pad)]
    src = np.r_[src[:n], np.repeat(src[:1], pad, 0)]
    dst = np.r_[dst[:n], np.repeat(dst[:1], pad, 0)]
    st = np.r_[st[:n], np.repeat(st[:1], pad)]
    shift = dst[:n].mean(0)  # work relative to the controls' centre (float32 friendly)
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    x = pts - shift
    idx_pts, idx_c = _nearest_index(t, grid), _nearest_index(st, grid)
    src_k = src - shift
    for _ in range(1 + int(twicing)):
        T = _local_rigid_jit(f32(src_k), f32(dst - shift), f32(st), jnp.asarray(grid), float(bandwidth), f32(w), order)
        R, tt = np.asarray(T.R, np.float64), np.asarray(T.t, np.float64)
        src_k = np.einsum("nij,nj->ni", R[idx_c], src_k) + tt[idx_c]
        x = np.einsum("nij,nj->ni", R[idx_pts], x) + tt[idx_pts]
    return x + shift


@partial(jax.jit, static_argnames=("bandwidth", "order"))
def _local_rigid_jit(src, dst, st, grid, bandwidth, w, order=1):
    from jaxhybrid.maps.procrustes import _local_rigid

    return _local_rigid(src, dst, st, grid, bandwidth, w, 1e-6, order)


def _structure(points, times, labels, voxel, max_points, rng):
    sel = np.isin(labels, STRUCTURE)
    c, _, _, tm = voxel_downsample(points[sel], voxel, times[sel])
    if len(c) > max_points:
        keep = rng.choice(len(c), max_points, replace=False)
        c, tm = c[keep], tm[keep]
    return c, tm


def register_between_passes(passes_pts: Sequence[np.ndarray], passes_t: Sequence[np.ndarray],
                            passes_lab: Sequence[np.ndarray], grid: np.ndarray, *, reference: int = 0,
                            bandwidth: float = 20.0, iters: int = 20, max_points: int = 1500,
                            voxel: float = 0.25, seed: int = 0) -> list:
    """Per-pass time-varying transforms into the reference pass's frame (module docstring).
    Returns a list of batched :class:`~jaxhybrid.maps.procrustes.Transform` (one per pass, leading
    axis = ``grid``); the reference pass gets the identity."""
    rng = np.random.default_rng(seed)
    n = len(passes_pts)
    shift = np.asarray(passes_pts[reference], np.float64).mean(0)
    ref, _ = _structure(passes_pts[reference] - shift, passes_t[reference], passes_lab[reference], 0.15, 2 * max_points, rng)
    src = np.zeros((n, max_points, 3), np.float32)
    tms = np.zeros((n, max_points), np.float32)
    mask = np.zeros((n, max_points), bool)
    for k in range(n):
        c, tm = _structure(passes_pts[k] - shift, passes_t[k], passes_lab[k], voxel, max_points, rng)
        src[k, : len(c)], tms[k, : len(c)], mask[k, : len(c)] = c, tm, True
        tms[k, len(c):] = tm.mean() if len(tm) else 0.0
    fn = jax.jit(jax.vmap(lambda s, t, m: local_icp(s, t, jnp.asarray(ref, jnp.float32), jnp.asarray(grid), bandwidth=bandwidth,
                                                    iters=iters, max_dist=1.5, robust_scale=0.2, source_mask=m).transform))
    Ts = fn(jnp.asarray(src), jnp.asarray(tms), jnp.asarray(mask))
    out = []
    eye = Transform(jnp.broadcast_to(jnp.eye(3), (len(grid), 3, 3)), jnp.zeros((len(grid), 3)), jnp.ones(len(grid)))
    for k in range(n):
        T = eye if k == reference else jax.tree_util.tree_map(lambda a: a[k], Ts)
        # express in world coordinates: x ↦ R (x − c) + t + c
        out.append(Transform(T.R, T.t + shift - jnp.einsum("qij,j->qi", T.R, shift), T.scale))
    return out


def consensus(transforms: Sequence[Transform]) -> Transform:
    """Mean pose ``M(t)`` of several per-pass transforms (rotation average projected to SO(3))."""
    R = jnp.mean(jnp.stack([T.R for T in transforms]), 0)
    U, _, Vt = jnp.linalg.svd(R)
    S = jnp.ones((R.shape[0], 3)).at[:, -1].set(jnp.sign(jnp.linalg.det(U @ Vt)))
    R = jnp.einsum("qij,qj,qjk->qik", U, S, Vt)
    t = jnp.mean(jnp.stack([T.t for T in transforms]), 0)
    return Transform(R, t, jnp.ones(R.shape[0]))


def apply_gauged(T: Transform, M: Transform, points: np.ndarray, times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``M(t)⁻¹ T(t) x`` per point (float64 on the host; transforms are small corrections)."""
    idx = _nearest_index(np.asarray(times, np.float64), grid)
    R, t = np.asarray(T.R, np.float64)[idx], np.asarray(T.t, np.float64)[idx]
    Rm, tm = np.asarray(M.R, np.float64)[idx], np.asarray(M.t, np.float64)[idx]
    y = np.einsum("nij,nj->ni", R, points) + t
    return np.einsum("nji,nj->ni", Rm, y - tm)


def _clusters(points, pass_id, eps, min_samples, min_passes, dims):
    if len(points) == 0:
        return []
    lab = dbscan(points[:, :dims], eps=eps, min_samples=min_samples)
    out = []
    for j in range(lab.max() + 1):
        m = lab == j
        if len(np.unique(pass_id[m])) >= min_passes:
            out.append(points[m])
    return out


def build_map(points: Sequence[np.ndarray], labels: Sequence[np.ndarray], n_markings: int, *, constrained: bool,
              support: float = 0.25, max_line_points: int = 8000, seed: int = 0, lanes: bool = True) -> MapResult:
    """Fuse registered passes and fit the map (module docstring).

    ``constrained=True``: vertical poles and the parallel, constant-width lane model;
    ``False``: free pole axes and independently fitted markings. An element needs points from at
    least ``max(1, ceil(support · #passes))`` passes. ``lanes=False`` skips the (slower) lane
    fit: the result has the same elements, ``lanes=None``, no curves and a NaN width.
    """
    if len(points) == 0 or len(points) != len(labels):
        raise ValueError("build_map: need one label array per registered pass, and at least one pass.")
    rng = np.random.default_rng(seed)
    pid = np.concatenate([np.full(len(p), k) for k, p in enumerate(points)])
    X, Y = np.concatenate(points), np.concatenate(labels)
    min_passes = max(1, int(np.ceil(support * len(points))))
    elems, cls = [], []
    for c_id, dims in ((POLE, 2), (SIGN, 3)):
        m = Y == c_id
        for cl in _clusters(X[m], pid[m], 0.3, 8, min_passes, dims):
            if c_id == POLE:
                elems.append(F.pole_vertical(cl) if constrained else F.pole_free(cl))
            else:
                elems.append(np.median(cl, 0))
            cls.append(c_id)
    if not lanes:
        return MapResult(np.asarray(elems).reshape(-1, 3), np.asarray(cls, int), None, [], float("nan"))
    mk = X[Y == MARKING][:, :2]
    mk = voxel_downsample(mk, 0.1)[0]
    if len(mk) > max_line_points:
        mk = mk[rng.choice(len(mk), max_line_points, replace=False)]
    if constrained:
        kb = voxel_downsample(X[Y == KERB][:, :2], 0.1)[0]
        if len(kb) > 2000:
            kb = kb[rng.choice(len(kb), 2000, replace=False)]
        model = F.fit_lanes(mk, n_markings, kerbs=kb)
        curves = [F.lane_points(model, k, 800) for k in range(n_markings)]
    else:
        model = F.fit_lanes_free(mk, n_markings)
        curves = [F.free_lane_points(model, k, 800) for k in range(n_markings)]
    return MapResult(np.asarray(elems).reshape(-1, 3), np.asarray(cls, int), model, curves, float(model.width))


def survey_map(scene: Scene, seed: int = 0, every: int = 4, spacing: float = 50.0) -> MapResult:
    """The map a field survey alone gives: every ``every``-th element
    (:func:`~jaxhybrid.maps.scene.survey_elements`) and each marking measured at cross-sections
    ``spacing`` apart (:func:`~jaxhybrid.maps.scene.survey_lines`, kept as ``lanes``) joined by
    straight segments (``lane_curves``, 100 samples per segment); the lane width is the mean
    horizontal distance between neighbouring markings at the stations."""
    pos, cls = survey_elements(scene, seed, every=every)
    lines = survey_lines(scene, seed, spacing)
    width = float(np.mean(np.linalg.norm(np.diff(lines[..., :2], axis=0), axis=-1)))
    curves = [np.concatenate([np.linspace(a, b, 100, endpoint=False) for a, b in zip(l[:-1, :2], l[1:, :2])])
              for l in lines]
    return MapResult(pos, cls, lines, curves, width)
