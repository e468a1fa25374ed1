"""The two panels every Deep Potential figure shares: held-out force parity and training curves.

Both draw on a given matplotlib ``Axes`` (from :func:`jaxhybrid.examples.record.figure`), so a
caller composes them with its own panels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .data import Packed

__all__ = ["force_parity", "training_curves"]


def force_parity(ax, model, data: Packed, reference: str = "reference") -> None:
    """Scatter of the model's force components against the labels of ``data`` (real atoms only),
    with the diagonal."""
    from .training import predict

    _, f, _ = predict(model, data)
    atom = data.types >= 0
    ax.scatter(data.force[atom].ravel(), f[atom].ravel(), s=2, alpha=0.4)
    lim = float(np.abs(data.force[atom]).max())
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
    ax.set_xlabel(f"{reference} force component (eV/Å)")
    ax.set_ylabel("DP force component (eV/Å)")
    ax.set_title("held-out forces")


def training_curves(ax, history: Sequence[dict]) -> None:
    """Minibatch force RMSE (meV/Å) and energy RMSE (meV/atom) against the step, log scale,
    from :func:`jaxhybrid.dp.train`'s history."""
    steps = [h["step"] for h in history]
    ax.semilogy(steps, [h["rmse_f"] * 1e3 for h in history], label="force RMSE (meV/Å)")
    ax.semilogy(steps, [h["rmse_e_per_atom"] * 1e3 for h in history], label="energy RMSE (meV/atom)")
    ax.set_xlabel("step")
    ax.set_title("training (minibatch)")
    ax.legend()
