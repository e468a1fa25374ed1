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

* :func:`poisson_residual` — the scaled residual ``(Δu + f)/s`` of ``−Δu = f`` at a point (the
  ``"pde"`` rows here, and the loss of a forward Poisson PINN with a known ``f``).
* :func:`fit_source` — the whole fit: collocation points drawn in the domain, the initial fields,
  optional early stopping on held-out observations (:func:`~jaxhybrid.pinn.holdout`), then
  :func:`~jaxhybrid.pinn.lm_fit` on :func:`source_terms`.
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import numpy as np

from .geometry import Shape
from .operators import laplacian
from .optim import holdout, lm_fit

__all__ = ["SourceFields", "source_terms", "poisson_residual", "fit_source"]


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
            "pde": (lambda p, z: poisson_residual(p.u, p.f, f_scale)(z), col)}


def poisson_residual(u: Callable, f: Callable, scale: float = 1.0) -> Callable:
    """``x ↦ (Δu(x) + f(x)) / scale``: the residual of ``−Δu = f`` at a point ``x`` (``(d,)``), zero
    where ``u`` solves the equation; ``scale`` (e.g. the size of ``f``) makes it of order one.
    ``Δ`` is :func:`~jaxhybrid.pinn.laplacian` (forward mode)."""
    if not scale > 0:
        raise ValueError(f"poisson_residual: scale must be > 0, got {scale}.")
    return lambda x: (laplacian(u)(x) + f(x)) / scale


def fit_source(make_fields: Callable[[jax.Array], SourceFields], domain: Shape, obs_x: jax.Array, obs_u: jax.Array,
               key: jax.Array, *, n_col: int, steps: int, holdout_frac: float = 0.0, data_weight: float = 1.0,
               f_scale: float = 1.0, desc: str = "source") -> tuple:
    """Fit :class:`SourceFields` to observations ``(obs_x (n, d), obs_u (n,))`` and to ``−Δu = f``
    by Levenberg–Marquardt (module docstring).

    ``key`` splits into three: ``n_col`` collocation points uniform in ``domain``, the initial
    fields ``make_fields(key)``, and the random hold-out of ``round(holdout_frac · n)`` observations
    whose misfit picks the returned iterate (early stopping; none held out when 0). The other
    observations and the collocation points give the rows of :func:`source_terms` (``data_weight``,
    ``f_scale``), fitted for up to ``steps`` iterations by :func:`~jaxhybrid.pinn.lm_fit`.
    Returns ``(fields, FitResult)``.
    """
    if n_col < 1:
        raise ValueError(f"fit_source: need n_col >= 1 collocation points, got {n_col}.")
    kc, kn, kh = jax.random.split(key, 3)
    col = domain.sample_interior(kc, n_col)
    trn, val_fn = holdout(kh, obs_x, obs_u, holdout_frac, lambda p: p.u)
    terms = source_terms(obs_x[trn], obs_u[trn], col, data_weight, f_scale)
    return lm_fit(terms, make_fields(kn), steps, val_fn=val_fn, desc=desc)
