"""Maps of fields on a 2-D box, one per axis: a network's solution, a source, a pointwise error.

A panel is ``(values, title)`` or ``(values, title, points)``: ``values`` are the field at the
``n × n`` points of ``box.grid(n)`` (``(n², )`` in that order — the last coordinate varies
fastest — or ``(n, n)`` indexed ``[i_x, i_y]``), drawn with ``x`` to the right and ``y`` up over the
box, with a colour bar; ``points`` ``(m, 2)`` (e.g. collocation points) are overlaid as white dots.

Matplotlib is imported by the caller (:func:`jaxhybrid.record.figure`); nothing here
opens a window.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .geometry import Box

__all__ = ["show_fields"]


def show_fields(fig, axes, panels: Sequence[tuple], box: Box, n: int, *, fontsize: int = 9) -> None:
    """Draw ``panels`` (module docstring) of fields sampled on ``box.grid(n)`` on ``axes`` (any array
    of axes, filled in order)."""
    axes = np.ravel(axes)
    if box.dim != 2:
        raise ValueError(f"show_fields: the box must be 2-D, got dimension {box.dim}.")
    if len(panels) > axes.size:
        raise ValueError(f"show_fields: {len(panels)} panels for {axes.size} axes; make a larger figure.")
    extent = (box.lo[0], box.hi[0], box.lo[1], box.hi[1])
    for a, panel in zip(axes, panels):
        v = np.asarray(panel[0])
        if v.size != n * n:
            raise ValueError(f"show_fields: panel {panel[1]!r} has {v.size} values, not {n}² (box.grid({n})).")
        im = a.imshow(v.reshape(n, n).T, origin="lower", extent=extent)
        if len(panel) > 2:
            pts = np.asarray(panel[2])
            a.plot(pts[:, 0], pts[:, 1], "w.", ms=1.5)
        a.set_title(panel[1], fontsize=fontsize)
        fig.colorbar(im, ax=a, fraction=0.046)
