r"""Inverse source problems with a PINN: recover ``f`` in ``−Δu = f`` from point values of ``u``.

The unknowns are the field ``u`` (a network, usually with the Dirichlet condition built in by
:class:`jaxhybrid.paradigms.HardConstraint`) and the source ``f`` (a network or a spectral
expansion such as :class:`~jaxhybrid.pinn.Chebyshev2D`), held together in :class:`SourceFields`.
They are fitted to observations ``u^δ_j = u(x_j) + noise`` and to the equation at collocation
points ``z_i`` by least squares,

    L = w Σ_j (u(x_j) − u^δ_j)² + Σ_i ((Δu + f)(z_i) / s)²,

whose rows :func:`source_terms` gives in the form of :func:`~jaxhybrid.pinn.levenberg_marquardt`
(``w`` plays the role of ``1/σ²`` relative to the equation rows; ``s`` is the scale of ``f``).
The observations never see ``f``: it is identified through the equation alone (the PINN
approach to inverse problems, Raissi, Perdikaris & Karniadakis 2019, J. Comput. Phys. 378, 686).
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import numpy as np

from .operators import laplacian

__all__ = ["SourceFields", "source_terms"]


class SourceFields(eqx.Module):
    """The unknowns of ``−Δu = f``: ``u(x)`` and ``f(x)`` (scalar functions of a point ``x``)."""

    u: Callable
    f: Callable


def source_terms(obs_x, obs_u, col, data_weight: float = 1.0, f_scale: float = 1.0) -> dict:
    """Row residuals for :func:`~jaxhybrid.pinn.levenberg_marquardt` on :class:`SourceFields`:
    ``"data"``: ``√w (u(x_j) − u^δ_j)`` on the observations ``(obs_x (n, d), obs_u (n,))``;
    ``"pde"``: ``(Δu + f)(z_i) / f_scale`` on the collocation points ``col`` (m, d)."""
    if not data_weight > 0 or not f_scale > 0:
        raise ValueError(f"source_terms: data_weight and f_scale must be > 0, got {data_weight}, {f_scale}.")
    if np.shape(obs_x)[0] != np.shape(obs_u)[0]:
        raise ValueError(f"source_terms: {np.shape(obs_x)[0]} observation points but {np.shape(obs_u)[0]} values.")
    sw = float(np.sqrt(data_weight))
    return {"data": (lambda p, row: sw * (p.u(row[0]) - row[1]), (obs_x, obs_u)),
            "pde": (lambda p, z: (laplacian(p.u)(z) + p.f(z)) / f_scale, col)}
