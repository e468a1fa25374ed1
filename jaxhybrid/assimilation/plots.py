"""Panels of the assimilation and forecasting figures: analysis-RMSE series against the
baselines, the rank histogram, the space–time analysis error and forecast RMSE against lead time.

Each draws on a given matplotlib ``Axes`` (e.g. from :func:`jaxhybrid.record.figure`), so
a caller composes them with its own panels.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["rmse_series_panel", "rank_histogram_panel", "error_map_panel", "lead_rmse_panel"]


def rmse_series_panel(ax, series: Mapping[str, np.ndarray], baselines: Mapping[str, float], burn_in: int,
                      legend_fontsize: float = 7) -> None:
    """Analysis RMSE per cycle of every filter (log scale, labelled with its mean after the
    burn-in), each baseline's RMSE as a horizontal line, and the end of the burn-in."""
    for i, (name, s) in enumerate(series.items()):
        ax.semilogy(s, lw=0.8, color=f"C{i}", label=f"{name} ({np.nanmean(s[burn_in:]):.3f})")
    for j, (b, v) in enumerate(baselines.items()):
        ax.axhline(v, color="k", ls=[":", "--", "-.", (0, (1, 4))][j % 4], lw=1, label=f"{b} ({v:.2f})")
    ax.axvline(burn_in, color="grey", lw=0.8)
    ax.set(xlabel="cycle", ylabel="analysis RMSE")
    ax.legend(fontsize=legend_fontsize, ncol=2)


def rank_histogram_panel(ax, rank: np.ndarray, n_members: int | None = None) -> None:
    """Frequencies of the truth's rank among the members, with the flat histogram of a calibrated
    ensemble (``1/(N + 1)``)."""
    rank = np.asarray(rank)
    ax.bar(np.arange(len(rank)), rank / rank.sum(), color="C0")
    ax.axhline(1 / len(rank), color="k", ls="--")
    ax.set(xlabel=f"rank of the truth among {n_members or len(rank) - 1} members", ylabel="frequency")


def error_map_panel(ax, error: np.ndarray, limit: float = 1.0):
    """Analysis error (cycles × sites) as an image, sites on the vertical axis, symmetric colour
    scale ``±limit``, with a colour bar; returns the image."""
    im = ax.imshow(np.asarray(error).T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.figure.colorbar(im, ax=ax)
    return im


def lead_rmse_panel(ax, leads: Sequence[float], results: Mapping[str, Sequence[float]], emphasised: str = "hybrid",
                    marked: str | None = None) -> None:
    """Forecast RMSE against lead time for every model of ``results``: names starting with
    ``emphasised`` solid with circles, ``marked`` dashed with squares, the others dotted."""
    for name, r in results.items():
        fmt = "-o" if name.startswith(emphasised) else ("--s" if name == marked else ":")
        ax.plot(leads, r, fmt, label=name)
    ax.set(xlabel="lead time (model time units)")
