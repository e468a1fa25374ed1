"""Map-quality studies over the passes: the data-only map of any subset of passes, and the error of
maps built from growing numbers of passes.

* :func:`register_passes` — both registrations of every pass: to the surveyed control points
  (:func:`~jaxhybrid.maps.register_to_controls`, hybrid) and to each other by time-varying ICP
  (:func:`~jaxhybrid.maps.register_between_passes`, data only), on float64 copies of the points.
* :func:`gauged_points` — the points of a subset of passes registered to each other
  (:func:`~jaxhybrid.maps.register_between_passes`) with the gauge fixed to the *subset's* mean
  pose: ``x ↦ M(t)⁻¹ T_k(t) x``, ``M = consensus{T_k : k in subset}``
  (:func:`~jaxhybrid.maps.consensus`, :func:`~jaxhybrid.maps.apply_gauged`).
* :func:`survey_registered_map` / :func:`data_only_map` — the map of a subset of passes
  (:func:`~jaxhybrid.maps.build_map`) from the passes registered to the surveyed control points
  (hybrid: constrained fit by default; passes that could not be registered are left out) or
  registered to each other with the subset's gauge (data only: free fit by default).
* :func:`error_vs_passes` — for each pass count ``m``, maps built by each method from random
  subsets of ``m`` passes (drawn without replacement; all passes once for ``m = n``), scored
  against the scene (:func:`~jaxhybrid.maps.map_scores`): the mean over subsets of the median
  element position error (NaN-aware: a subset a method cannot map is skipped) and of the element
  F1 (such a subset scores 0). Independent per-pass errors average out as ``m`` grows, so the
  error of a consistent method falls with ``m``, towards the error common to all passes.
"""

from __future__ import annotations

import warnings
from typing import Callable, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from jaxhybrid.maps.metrics import map_scores
from jaxhybrid.maps.pipeline import (MapResult, apply_gauged, build_map, consensus, register_between_passes,
                                     register_to_controls)
from jaxhybrid.maps.procrustes import Transform
from jaxhybrid.maps.scene import Pass, Scene

__all__ = ["SCORE_GOALS", "Registrations", "register_passes", "gauged_points", "survey_registered_map", "data_only_map",
           "error_vs_passes"]

#: the better direction of every figure of :func:`~jaxhybrid.maps.map_scores` (a record's ``goal``)
SCORE_GOALS = {"median_position_error_m": "min", "element_f1": "max", "lane_width_error_m": "min",
               "lane_lateral_error_m": "min", "precision": "max", "recall": "max"}


class Registrations(NamedTuple):
    """Every pass's points and times (float64), its points in the survey frame (``None`` where too
    few control targets were seen) and its transforms into the reference pass's frame."""

    points: list
    times: list
    to_controls: list
    between: list

    @property
    def registered(self) -> list:
        """Indices of the passes registered to the control points."""
        return [k for k, r in enumerate(self.to_controls) if r is not None]


def register_passes(passes: Sequence[Pass], labels: Sequence[np.ndarray], controls: np.ndarray, grid: np.ndarray, *,
                    bandwidth: float = 20.0, seed: int = 0) -> Registrations:
    """Register every pass (with its predicted point ``labels``) to the surveyed ``controls`` and
    to the other passes, both with drift smoothing ``bandwidth`` (m of travel) on the time
    ``grid``; ``seed`` draws the structure points of the ICP."""
    if len(passes) == 0 or len(passes) != len(labels):
        raise ValueError(f"register_passes: need one label array per pass, got {len(passes)} passes, {len(labels)}.")
    pts, tms = [p.points.astype(np.float64) for p in passes], [p.times.astype(np.float64) for p in passes]
    to_controls = [register_to_controls(x, t, lab, controls, grid, bandwidth=bandwidth)
                   for x, t, lab in zip(pts, tms, labels)]
    between = register_between_passes(pts, tms, labels, grid, bandwidth=bandwidth, seed=seed)
    return Registrations(pts, tms, to_controls, between)


def gauged_points(transforms: Sequence[Transform], points: Sequence[np.ndarray], times: Sequence[np.ndarray],
                  grid: np.ndarray, subset: Sequence[int]) -> list[np.ndarray]:
    """``[M(t)⁻¹ T_k(t) x_k for k in subset]`` with ``M`` the mean pose of the subset's transforms
    (module docstring); ``points``/``times`` per pass (float64 recommended)."""
    if len(subset) == 0:
        raise ValueError("gauged_points: the subset of passes is empty.")
    M = consensus([transforms[k] for k in subset])
    return [apply_gauged(transforms[k], M, points[k], times[k], grid) for k in subset]


def survey_registered_map(registered: Sequence[Optional[np.ndarray]], labels: Sequence[np.ndarray],
                          subset: Sequence[int], n_markings: int, *, constrained: bool = True,
                          **build_kw) -> Optional[MapResult]:
    """:func:`~jaxhybrid.maps.build_map` of the passes of ``subset`` registered to the control
    points (``registered[k]``: points of pass ``k`` from :func:`~jaxhybrid.maps.register_to_controls`,
    ``None`` where it failed, left out); ``None`` when no pass of the subset is registered."""
    kept = [k for k in subset if registered[k] is not None]
    if not kept:
        return None
    return build_map([registered[k] for k in kept], [labels[k] for k in kept], n_markings, constrained=constrained,
                     **build_kw)


def data_only_map(transforms: Sequence[Transform], points: Sequence[np.ndarray], times: Sequence[np.ndarray],
                  labels: Sequence[np.ndarray], grid: np.ndarray, subset: Sequence[int], n_markings: int, *,
                  constrained: bool = False, **build_kw) -> MapResult:
    """:func:`~jaxhybrid.maps.build_map` of the passes of ``subset`` registered to each other with
    the subset's gauge (:func:`gauged_points`)."""
    return build_map(gauged_points(transforms, points, times, grid, subset), [labels[k] for k in subset], n_markings,
                     constrained=constrained, **build_kw)


def error_vs_passes(builders: Mapping[str, Callable[[list], Optional[MapResult]]], n_passes: int, scene: Scene,
                    rng: np.random.Generator, *, counts: Sequence[int] = (1, 2, 4, 8, 16), subsets_per_count: int = 4,
                    radius: float = 0.5, gate: float = 2.0) -> dict:
    """Element error and F1 against the number of passes (module docstring).

    ``builders``: method name → ``build(subset) -> MapResult`` (``None`` when the method cannot
    map that subset); evaluated at ``counts`` ≤ ``n_passes`` and at ``n_passes`` itself, with
    ``subsets_per_count`` subsets per count drawn from ``rng`` (all subsets of a count are drawn
    before any map is built). Returns ``{"n_passes": counts, name: [mean median position error
    (m)], f"{name}_f1": [mean F1], ..., "subsets_per_count"}``."""
    if n_passes < 1 or subsets_per_count < 1:
        raise ValueError(f"error_vs_passes: need n_passes >= 1 and subsets_per_count >= 1, "
                         f"got {n_passes}, {subsets_per_count}.")
    counts = sorted({c for c in (*counts, n_passes) if 1 <= c <= n_passes})
    curve = {"n_passes": counts, **{name: [] for name in builders}, **{f"{name}_f1": [] for name in builders},
             "subsets_per_count": subsets_per_count}
    unmapped = {"median_position_error_m": float("nan"), "element_f1": 0.0}
    for m in counts:
        subsets = ([list(range(n_passes))] if m == n_passes
                   else [sorted(rng.choice(n_passes, m, replace=False)) for _ in range(subsets_per_count)])
        scores = {name: [] for name in builders}
        for sub in subsets:
            for name, build in builders.items():
                result = build(sub)
                scores[name].append(unmapped if result is None else map_scores(result, scene, radius, gate))
        for name, es in scores.items():
            with warnings.catch_warnings():  # a method that mapped none of the subsets: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                curve[name].append(float(np.nanmean([e["median_position_error_m"] for e in es])))
            curve[f"{name}_f1"].append(float(np.mean([e["element_f1"] for e in es])))
    return curve
