"""Panels of the map figures: maps in the road-aligned frame and the error against the number of
passes.

Each draws on a given matplotlib ``Axes`` (e.g. from :func:`jaxhybrid.record.figure`), so
a caller composes them with its own panels.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from jaxhybrid.maps.scene import Scene, road_points

__all__ = ["road_aligned", "map_panel", "error_vs_passes_panel"]


def road_aligned(scene: Scene, xyz) -> np.ndarray:
    """Horizontal coordinates ``(…, 2)`` in the road's frame: ``R(−h) (xy − origin)`` with ``h`` the
    road's heading, so the road runs along x."""
    h = scene.heading
    Rm = np.array([[np.cos(h), np.sin(h)], [-np.sin(h), np.cos(h)]])
    return (np.asarray(xyz)[..., :2] - scene.origin) @ Rm.T


def map_panel(ax, scene: Scene, maps: Sequence[tuple], n_stations: int = 300) -> None:
    """Maps against the truth in the road-aligned frame (:func:`road_aligned`): the true markings
    (thick, faint black), then each map's lane curves, then the true elements (open black circles),
    each map's elements and the control points. ``maps``: ``(MapResult, lane_fmt | None,
    element_fmt, label, element_kwargs)`` per map (``None``: lanes not drawn); one legend entry
    per label."""
    st = np.linspace(0, scene.length, n_stations)
    lines = [(road_points(scene, st, off), "k-", 2.5, 0.35, "truth: markings") for off in scene.marking_offsets]
    lines += [(c, fmt, 1, 1, f"{label}: lanes") for m, fmt, _, label, _ in maps if fmt for c in m.lane_curves]
    seen = set()
    for c, fmt, lw, alpha, label in lines:
        a = road_aligned(scene, c)
        ax.plot(a[:, 0], a[:, 1], fmt, lw=lw, alpha=alpha, label=None if label in seen else label)
        seen.add(label)
    points = [(scene.elements, "ko", "truth: poles/signs", dict(ms=9, mfc="none"))]
    points += [(m.elements, fmt, label, kw) for m, _, fmt, label, kw in maps]
    for xyz, fmt, label, kw in points + [(scene.controls, "C1^", "control points", dict(ms=6))]:
        a = road_aligned(scene, xyz)
        ax.plot(a[:, 0], a[:, 1], fmt, label=label, **kw)


def error_vs_passes_panel(ax, curve: Mapping, styles: Mapping[str, tuple], noise: Optional[float] = None) -> None:
    """Median element position error against the number of passes, log–log, for every
    ``name: (fmt, label)`` of ``styles`` (a curve of :func:`~jaxhybrid.maps.error_vs_passes`), and the
    sensor noise ``σ`` as a reference line."""
    for name, (fmt, label) in styles.items():
        ax.loglog(curve["n_passes"], curve[name], fmt, label=label)
    if noise is not None:
        ax.axhline(noise, color="grey", ls=":", label="sensor noise σ")
