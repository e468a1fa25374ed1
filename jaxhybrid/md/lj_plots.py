"""Panels of a liquid's MD figure: g(r) against the reference shell of the first neighbours, and
the thermodynamics of an NVE run.

Each draws on a given matplotlib ``Axes`` (e.g. from :func:`jaxhybrid.record.figure`), so
a caller composes them with its own panels.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

__all__ = ["rdf_panel", "nve_panel"]


def rdf_panel(ax, r: np.ndarray, g: np.ndarray, label: str, reference: Optional[Mapping[str, float]] = None) -> None:
    """``g(r)`` with the ideal-gas level 1 and, from ``reference`` (keys ``gr_first_peak_r_sigma``,
    ``gr_first_peak_height``, ``gr_first_min_r_sigma``, e.g. :func:`~jaxhybrid.md.rdf_peak`'s
    figures of a literature liquid), the first peak's position and height and the first minimum."""
    ax.plot(r, g, label=label)
    if reference:
        ax.axvline(reference["gr_first_peak_r_sigma"], ls="--", c="k", lw=0.8,
                   label=f"reference first peak ≈ {reference['gr_first_peak_r_sigma']:g}σ")
        ax.axhline(reference["gr_first_peak_height"], ls=":", c="k", lw=0.8,
                   label=f"reference peak height ≈ {reference['gr_first_peak_height']:g}")
        ax.axvline(reference["gr_first_min_r_sigma"], ls="-.", c="gray", lw=0.8,
                   label=f"reference first minimum ≈ {reference['gr_first_min_r_sigma']:g}σ")
    ax.axhline(1.0, c="gray", lw=0.5)
    ax.set(xlabel="r / σ", ylabel="g(r)")


def nve_panel(ax, thermo: Mapping[str, np.ndarray], n_atoms: int):
    """Total and potential energy per atom against time (reduced units) and, on a twin axis, the
    temperature; returns the twin axes."""
    ax.plot(thermo["time"], thermo["total"] / n_atoms, label="total")
    ax.plot(thermo["time"], thermo["potential"] / n_atoms, label="potential")
    ax.set(xlabel="t / τ", ylabel="energy per atom / ε", title="NVE thermodynamics")
    ax.legend(loc="center right", fontsize=8)
    twin = ax.twinx()
    twin.plot(thermo["time"], thermo["temperature"], c="C3", alpha=0.5, label="T")
    twin.set_ylabel("T")
    return twin
