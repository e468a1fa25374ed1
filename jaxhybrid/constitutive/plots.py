"""Panels of the constitutive-law figures: learning curves, stress along a load line, FE error
maps, rollouts of incremental laws and training losses.

Each draws on a given matplotlib ``Axes`` (e.g. from :func:`jaxhybrid.record.figure`), so
a caller composes them with its own panels. ``styles`` maps a model name to ``(colour/line
format, label)``; models without a style are skipped.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .fem import Mesh

__all__ = ["error_vs_samples", "stress_along_line", "fe_error_map", "rollout_components", "rollout_error",
           "loss_curves", "incremental_law_panels", "stress_law_panels"]


def error_vs_samples(ax, errors: Mapping[str, Mapping[int, float]], styles: Mapping[str, tuple]) -> None:
    """Test error against the number of training samples, log–log: ``errors[name][n]``."""
    for name, (fmt, label) in styles.items():
        e = errors[name]
        ax.loglog(sorted(e), [e[k] for k in sorted(e)], fmt, label=label)


def stress_along_line(ax, lam, stresses: Mapping[str, np.ndarray], direction, styles: Mapping[str, tuple],
                      **reference_kw) -> None:
    """``n·P·n`` against the stretch ``λ`` along ``n = direction/‖direction‖`` for each stress
    series ``(k, 3, 3)`` of ``stresses`` with a style; ``reference_kw`` (``fmt``, ``label``, line
    keywords) draws ``stresses["reference"]`` first."""
    n = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    if reference_kw:
        kw = dict(reference_kw)
        ax.plot(lam, np.einsum("kij,i,j->k", stresses["reference"], n, n), kw.pop("fmt", "k-"), **kw)
    for name, (fmt, label) in styles.items():
        ax.plot(lam, np.einsum("kij,i,j->k", stresses[name], n, n), fmt, label=label)


def fe_error_map(ax, mesh: Mesh, u_ref: np.ndarray, u: np.ndarray, magnify: float = 10.0,
                 label: str = "|u − u_ref| / max|u_ref|", **scatter_kw):
    """Nodes of the reference deformed configuration (displacements ×``magnify``) coloured by the
    nodal error ``‖u − u_ref‖ / max|u_ref|``, with a colour bar; returns the scatter."""
    X, err = mesh.nodes, np.linalg.norm(u - u_ref, axis=1) / np.abs(u_ref).max()
    kw = dict(s=12, cmap="viridis", **scatter_kw)
    sc = ax.scatter(X[:, 0] + magnify * u_ref[:, 0], X[:, 1] + magnify * u_ref[:, 1], c=err, **kw)
    ax.figure.colorbar(sc, ax=ax, label=label)
    return sc


def rollout_components(ax, sig: np.ndarray, preds: Mapping[str, np.ndarray], styles: Mapping[str, tuple],
                       components: Sequence[tuple[int, str]], path: int = 0, clip: float | None = None) -> None:
    """Stress components of one path: the reference (``sig`` (P, T+1, m), black) and each rollout
    of ``preds`` with a style, component ``c`` labelled ``name``, for ``(c, name)`` in
    ``components``; ``clip`` bounds the rollouts drawn (a diverging rollout stays readable)."""
    n = np.arange(sig.shape[1])
    for c, comp in components:
        ax.plot(n, sig[path, :, c], "k-", lw=2, label=f"reference {comp}")
        for name, (fmt, label) in styles.items():
            p = preds[name][path, :, c]
            ax.plot(n, p if clip is None else np.clip(p, -clip, clip), fmt, label=f"{label} {comp}")


def rollout_error(ax, sig: np.ndarray, preds: Mapping[str, np.ndarray], styles: Mapping[str, tuple]) -> None:
    """Relative stress error along the rollout, over all paths, per increment ``n ≥ 1``:
    ``(Σ_{p,i} (σ̂ − σ)² / Σ_{p,i} σ²)^{1/2}``, log scale."""
    n = np.arange(sig.shape[1])
    for name, (fmt, label) in styles.items():
        e = np.sqrt(np.sum((preds[name] - sig) ** 2, axis=(0, 2)) / np.sum(sig**2, axis=(0, 2)).clip(1e-30))
        ax.semilogy(n[1:], e[1:], fmt, label=label)


def loss_curves(ax, losses: Mapping[str, Sequence[float]], styles: Mapping[str, tuple]) -> None:
    """Logged training losses of each model, log scale."""
    for name, (fmt, label) in styles.items():
        ax.semilogy(losses[name], fmt, label=label)


def incremental_law_panels(axes, sig: np.ndarray, preds: Mapping[str, np.ndarray],
                           losses: Mapping[str, Sequence[float]], styles: Mapping[str, tuple],
                           path_styles: Mapping[str, tuple], components: Sequence[tuple[int, str]],
                           clip: float | None = None) -> None:
    """The three panels of an incremental-law comparison on ``axes[0..2]``:
    :func:`rollout_components` of the first path (``path_styles``), :func:`rollout_error` and the
    training :func:`loss_curves` (``styles``), labelled, with legends."""
    rollout_components(axes[0], sig, preds, path_styles, components, clip=clip)
    axes[0].set(xlabel="increment", ylabel="stress", title="unseen path: rollout")
    axes[0].legend(fontsize=7)
    rollout_error(axes[1], sig, preds, styles)
    axes[1].set(xlabel="increment", ylabel="relative stress error", title="error along the rollout (test paths)")
    loss_curves(axes[2], losses, styles)
    axes[2].set(xlabel="log interval", ylabel="one-step loss", title="training")
    axes[1].legend()
    axes[2].legend()


def stress_law_panels(axes, errors: Mapping[str, Mapping[int, float]], lam, stresses: Mapping[str, np.ndarray],
                      direction, mesh: Mesh, u_ref: np.ndarray, u: np.ndarray, styles: Mapping[str, tuple],
                      line_styles: Mapping[str, tuple], reference_label: str = "reference",
                      map_label: str = "|u − u_ref| / max|u_ref|") -> None:
    """The three panels of a learned stress law against its reference on ``axes[0..2]``:
    :func:`error_vs_samples` (``styles``), :func:`stress_along_line` with the reference drawn thick
    black (``line_styles``) and the :func:`fe_error_map` of ``u`` (displacements ×10, equal aspect),
    with legends on the first two; the caller sets titles and axis labels."""
    error_vs_samples(axes[0], errors, styles)
    stress_along_line(axes[1], lam, stresses, direction, line_styles, fmt="k-", lw=2, label=reference_label)
    fe_error_map(axes[2], mesh, u_ref, u, label=map_label)
    axes[2].set(aspect="equal")
    axes[0].legend(), axes[1].legend()
