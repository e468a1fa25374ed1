"""Image panels of an inverse problem: truth, data, estimates, error bars and error maps, one per axis.

A panel is ``(image, title, kind)`` or ``(image, title, kind, vmax)``:

* ``"image"`` — grey levels on the fixed range [0, 1] (photographs), no colour bar;
* ``"signed"`` — a diverging map symmetric about 0 (``RdBu_r`` on ``±vmax``, default
  ``max |image|``), with a colour bar (fields such as a source term);
* ``"map"`` — a non-negative quantity (a posterior std, ``|estimate − truth|``): ``magma``,
  auto-scaled, with a colour bar.

:func:`posterior_panels` builds the panels of the usual comparison: the truth, the baselines'
estimates, the posterior mean, its pixelwise std and the error map ``|mean − truth|``.

Matplotlib is imported by the caller (:func:`jaxhybrid.record.figure`); nothing here
opens a window.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["show_images", "posterior_panels"]

_KINDS = ("image", "signed", "map")


def show_images(fig, axes, panels: Sequence[tuple], *, fontsize: int = 9) -> None:
    """Draw ``panels`` (module docstring) on ``axes`` (any array of axes, filled in order)."""
    axes = np.ravel(axes)
    if len(panels) > axes.size:
        raise ValueError(f"show_images: {len(panels)} panels for {axes.size} axes; make a larger figure.")
    for a, panel in zip(axes, panels):
        im, title, kind = np.asarray(panel[0]), panel[1], panel[2]
        if kind not in _KINDS:
            raise ValueError(f"show_images: kind must be one of {_KINDS}, got {kind!r} (panel {title!r}).")
        if kind == "image":
            a.imshow(im, cmap="gray", vmin=0, vmax=1)
        else:
            v = panel[3] if len(panel) > 3 else float(np.abs(im).max())
            kw = {"cmap": "RdBu_r", "vmin": -v, "vmax": v} if kind == "signed" else {"cmap": "magma"}
            fig.colorbar(a.imshow(im, **kw), ax=a, fraction=0.046)
        a.set_title(title, fontsize=fontsize)
        a.axis("off")


def posterior_panels(truth, estimates: Sequence[tuple], mean, std, *, kind: str = "image", truth_title: str = "truth",
                     mean_title: str = "posterior mean", std_title: str = "posterior std") -> list:
    """Panels (module docstring) ``[truth, *estimates, mean, std, |mean − truth|]``: ``estimates`` are
    ``(estimate, title)`` pairs (e.g. baselines, titled with their score), shown like the truth as ``kind``
    (``"signed"``: all on the truth's range ``±max |truth|``); the std and the error as ``"map"``."""
    if kind not in ("image", "signed"):
        raise ValueError(f"posterior_panels: kind must be 'image' or 'signed', got {kind!r}.")
    v = float(np.abs(np.asarray(truth)).max())
    fields = [(truth, truth_title), *estimates, (mean, mean_title)]
    return [(im, title, kind, v) for im, title in fields] + [
        (std, std_title, "map"), (np.abs(np.asarray(mean) - np.asarray(truth)), "|mean − truth|", "map")]
