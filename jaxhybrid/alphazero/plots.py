"""Panels of the AlphaZero figures: training losses, learning curves from a monitor, and the
final evaluation as grouped bars.

Each draws on a given matplotlib ``Axes`` (e.g. from :func:`jaxhybrid.record.figure`), so
a caller composes them with its own panels. ``history`` is the per-round history of
:func:`~jaxhybrid.alphazero.train_alphazero`; the x axis is the round (``x="round"``) or the
cumulative training wall time in minutes (``x="minutes"``).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["training_losses", "monitor_curve", "result_bars", "legends", "training_panels"]


def _x(h: Mapping, x: str) -> float:
    if x == "round":
        return h["round"]
    if x == "minutes":
        return h["train_wall_s"] / 60
    raise ValueError(f"alphazero.plots: x must be 'round' or 'minutes', got {x!r}.")


def training_losses(ax, history: Sequence[Mapping], x: str = "round") -> None:
    """Policy cross-entropy and value MSE on the replay buffer, per round."""
    t = [_x(h, x) for h in history]
    ax.plot(t, [h["policy_ce"] for h in history], label="policy cross-entropy")
    ax.plot(t, [h["value_mse"] for h in history], label="value MSE")


def monitor_curve(ax, history: Sequence[Mapping], key: str, fmt: str, x: str = "round", **kw) -> None:
    """The monitor field ``key`` over the rounds that recorded it (nothing when none did)."""
    pts = [(_x(h, x), h[key]) for h in history if key in h]
    if pts:
        ax.plot(*zip(*pts), fmt, **kw)


def result_bars(ax, results: Mapping[str, Mapping], keys: Sequence[str], colours: Sequence[str],
                width: float | None = None) -> None:
    """Grouped bars: for every agent of ``results`` (name → metrics) one bar per metric of
    ``keys`` (labelled by its first word), ticks at the group centres."""
    names, width = list(results), 0.8 / len(keys) if width is None else width
    x = np.arange(len(names))
    for i, (k, c) in enumerate(zip(keys, colours)):
        ax.bar(x + width * i, [results[n][k] for n in names], width, color=c, label=k.split("_")[0])
    ax.set_xticks(x + width * (len(keys) - 1) / 2, names)


def legends(axes, **kw) -> None:
    """A legend on every axes that has labelled artists (a learning curve may be absent)."""
    for a in np.ravel(axes):
        if a.get_legend_handles_labels()[0]:
            a.legend(**kw)


def training_panels(axes, history: Sequence[Mapping], results: Mapping[str, Mapping], curves: Sequence[tuple],
                    bar_keys: Sequence[str], bar_colours: Sequence[str], x: str = "round",
                    bar_width: float | None = None) -> None:
    """The three panels of a training report on ``axes[0..2]``: :func:`training_losses`, the monitor
    curves ``(key, fmt, plot kwargs)`` (:func:`monitor_curve`) and the final evaluation
    (:func:`result_bars`), with :func:`legends`; the caller sets titles and labels."""
    training_losses(axes[0], history, x)
    for key, fmt, kw in curves:
        monitor_curve(axes[1], history, key, fmt, x, **kw)
    result_bars(axes[2], results, bar_keys, bar_colours, bar_width)
    legends(axes[:3])
