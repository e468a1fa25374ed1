"""Scoring a map against ground truth: element matching, F1, position and lane errors.

* Elements are matched one-to-one, greedily by increasing horizontal distance, only within the
  same class (a pole never matches a sign). A match within ``radius`` (default 0.5 m) is a true
  positive: ``precision = TP / #predicted``, ``recall = TP / #true``, ``F1 = 2PR/(P + R)``.
* The position error of an element is the horizontal distance to its match, for matches within
  ``gate`` (default 2 m, so that a map with a systematic offset larger than ``radius`` is still
  scored for its error rather than censored); ``median_position_error_m`` is their median.
* Lane error: for each true marking (dense samples), the mean distance to the nearest point of
  the closest predicted marking polyline (exact point-to-segment distance); averaged over markings. Lane width
  error: ``|ŵ − w|``.
* :func:`map_scores` — all of them for one map against the scene's truth.
"""

from __future__ import annotations

import numpy as np

from jaxhybrid.maps.scene import Scene, road_points

__all__ = ["match_elements", "element_scores", "lane_lateral_error", "polyline_distance", "map_scores"]


def match_elements(pred: np.ndarray, pred_cls: np.ndarray, true: np.ndarray, true_cls: np.ndarray, gate: float):
    """Greedy one-to-one same-class matching by horizontal distance ≤ ``gate``.
    Returns ``(pred_index, true_index, distance)`` arrays."""
    pred, true = np.asarray(pred, float).reshape(-1, 3), np.asarray(true, float).reshape(-1, 3)
    if len(pred) == 0 or len(true) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    d = np.linalg.norm(pred[:, None, :2] - true[None, :, :2], axis=-1)
    d = np.where(np.asarray(pred_cls)[:, None] == np.asarray(true_cls)[None], d, np.inf)
    order = np.argsort(d, axis=None)
    used_p, used_t, out = set(), set(), []
    for flat in order:
        i, j = divmod(int(flat), d.shape[1])
        if d[i, j] > gate:
            break
        if i in used_p or j in used_t:
            continue
        used_p.add(i), used_t.add(j)
        out.append((i, j, d[i, j]))
    if not out:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    a = np.asarray(out)
    return a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2]


def element_scores(pred, pred_cls, true, true_cls, radius: float = 0.5, gate: float = 2.0) -> dict:
    """``{"element_f1", "precision", "recall", "median_position_error_m", "n_pred", "n_true"}``."""
    if not (0 < radius <= gate):
        raise ValueError(f"element_scores: need 0 < radius <= gate, got {radius}, {gate}.")
    _, _, dist = match_elements(pred, pred_cls, true, true_cls, gate)
    tp = int(np.sum(dist <= radius))
    n_pred, n_true = len(np.asarray(pred).reshape(-1, 3)), len(np.asarray(true).reshape(-1, 3))
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {"element_f1": f1, "precision": p, "recall": r,
            "median_position_error_m": float(np.median(dist)) if len(dist) else float("nan"),
            "n_pred": n_pred, "n_true": n_true}


def polyline_distance(query: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    """Distance of each query point (2-D) to a polyline (exact point-to-segment distance at the
    nearest vertex's two segments, so the sampling of the polyline does not bias the error)."""
    from scipy.spatial import cKDTree

    q, c = np.asarray(query, float)[:, :2], np.asarray(polyline, float)[:, :2]
    if len(c) < 2:
        raise ValueError("polyline_distance: a polyline needs at least 2 vertices.")
    _, i = cKDTree(c).query(q)
    best = np.full(len(q), np.inf)
    for a_idx in (np.clip(i - 1, 0, len(c) - 2), np.clip(i, 0, len(c) - 2)):
        a, b = c[a_idx], c[a_idx + 1]
        ab = b - a
        u = np.clip(np.sum((q - a) * ab, 1) / np.maximum(np.sum(ab * ab, 1), 1e-300), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(q - (a + u[:, None] * ab), axis=1))
    return best


def lane_lateral_error(pred_curves, true_curves) -> float:
    """Mean over true markings of the mean distance to the closest predicted marking polyline."""
    if len(pred_curves) == 0:
        return float("nan")
    errs = [min(float(np.mean(polyline_distance(t, c))) for c in pred_curves) for t in true_curves]
    return float(np.mean(errs))


def map_scores(map_result, scene: Scene, radius: float = 0.5, gate: float = 2.0, n_lane: int = 400,
               margin: float = 3.0) -> dict:
    """Scores of a :class:`~jaxhybrid.maps.pipeline.MapResult` against ``scene``:
    ``median_position_error_m``, ``element_f1``, ``precision``, ``recall`` (:func:`element_scores`)
    and, when the map has lane curves, ``lane_lateral_error_m`` (:func:`lane_lateral_error`
    against the true markings sampled at ``n_lane`` stations, ``margin`` m in from the road's
    ends) and ``lane_width_error_m`` = ``|ŵ − w|``. Python floats."""
    e = element_scores(map_result.elements, map_result.element_class, scene.elements, scene.element_class, radius, gate)
    out = {k: float(e[k]) for k in ("median_position_error_m", "element_f1", "precision", "recall")}
    if len(map_result.lane_curves):
        st = np.linspace(margin, scene.length - margin, n_lane)
        truth = [road_points(scene, st, o)[:, :2] for o in scene.marking_offsets]
        out.update(lane_lateral_error_m=lane_lateral_error(map_result.lane_curves, truth),
                   lane_width_error_m=abs(float(map_result.lane_width) - scene.lane_width))
    return out
