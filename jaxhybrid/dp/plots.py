"""The two panels every Deep Potential figure shares: held-out force parity and training curves.

Both draw on a given matplotlib ``Axes`` (from :func:`jaxhybrid.record.figure`), so a
caller composes them with its own panels. So do the panels of a structure check of DP-MD
against reference MD (:func:`rdf_comparison`, :func:`distribution_comparison`, from
:mod:`jaxhybrid.md.analysis`) and of the DP-GEN loop's rounds (:func:`concurrent_history`) and arms (:func:`arm_bars`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .data import Packed

__all__ = ["force_parity", "training_curves", "rdf_comparison", "distribution_comparison", "concurrent_history",
           "arm_bars"]


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


def rdf_comparison(ax, comparison, reference: str = "reference MD", sample: str = "DP-MD", title: str = "") -> None:
    """``g(r)`` of the reference (solid) and of the sample (dashed) from a
    :class:`jaxhybrid.md.RDFComparison`."""
    ax.plot(comparison.r, comparison.g_ref, label=reference)
    ax.plot(comparison.r, comparison.g, "--", label=sample)
    ax.set(xlabel="r (Å)", ylabel="g(r)", title=title)
    ax.legend()


def distribution_comparison(ax, comparisons: Mapping[str, object], *, xlabel: str, ylabel: str = "density",
                            title: str = "", reference: str = "reference MD", sample: str = "DP-MD") -> None:
    """Histogram densities ``n / (|sample| · bin width)`` of each
    :class:`jaxhybrid.md.DistributionComparison` of ``comparisons`` (keyed by a tag such as the
    temperature; one colour each): the reference solid, the sample dashed and labelled with its
    L1 distance and sampling floor."""
    for k, (tag, v) in enumerate(comparisons.items()):
        mid, w = 0.5 * (v.edges[1:] + v.edges[:-1]), np.diff(v.edges)
        dp_label = f"{sample} {tag} (L1 {v.l1:.2f}, floor {v.floor:.2f})"
        for b, ls, label in ((v.reference, "-", f"{reference} {tag}"), (v.sample, "--", dp_label)):
            ax.plot(mid, np.histogram(b, v.edges)[0] / (len(b) * w), ls, color=f"C{k}", label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=7)


def concurrent_history(ax, history: Sequence[dict]) -> None:
    """Per round of the DP-GEN loop (:func:`jaxhybrid.dp.concurrent_learning`'s history): bars
    of the frames labelled and of the candidates ``lo ≤ ε_f < hi``, and on a second axis the
    fraction of explored frames below ``lo`` (the convergence criterion)."""
    r = np.arange(1, len(history) + 1)
    ax.bar(r - 0.2, [x["labelled"] for x in history], width=0.4, label="labelled")
    ax.bar(r + 0.2, [x["candidates"] for x in history], width=0.4, label="candidates (lo ≤ ε_f < hi)")
    twin = ax.twinx()
    twin.plot(r, [x["accurate_frac"] for x in history], "k.-", label="fraction ε_f < lo")
    twin.set_ylim(0, 1.05)
    ax.set(xlabel="round", title="concurrent learning")
    ax.legend(loc="upper left", fontsize=8)


def arm_bars(ax, errors: Mapping[str, dict], key: str, *, ylabel: str) -> None:
    """Bars of the figure ``key`` of the seed-set ensemble (grey), random selection and
    concurrent learning, from :func:`jaxhybrid.dp.concurrent_vs_baselines`' arms' ``errors``."""
    arms = ("seed_only", "random_selection", "concurrent_learning")
    ax.bar([a.replace("_", " ") for a in arms], [errors[a][key] for a in arms], color=["gray", "C1", "C0"])
    ax.set_ylabel(ylabel)
