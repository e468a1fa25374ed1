r"""A manufactured inverse source problem of the Poisson equation on the unit square.

On Ω = (0, 1)², ``−Δu = f`` with ``u = 0`` on ∂Ω and the true solution and source

    u*(x, y) = sin(πx) sin(πy) + 0.2 sin(2πx) sin(2πy),      f* = −Δu* = 2π² (s₁ + 0.8 s₂)

(``s_k = sin(kπx) sin(kπy)``; ``F_SCALE = 2π²`` is the size of ``f*``). ``u*`` is observed at
nodes of the ``63 × 63`` interior finite-difference grid (:func:`~jaxhybrid.pde.fd_points`);
``f`` is observed nowhere. The pieces a solver of this problem needs:

* :func:`make_u` — the field network with the Dirichlet condition built in,
  ``u = 16 x(1−x) y(1−y) · N(2x − 1, 2y − 1)`` (:class:`~jaxhybrid.paradigms.HardConstraint`
  around a :class:`~jaxhybrid.pinn.SinMLP` on [−1, 1]²; the distance factor is 1 at the centre),
  in float64;
* :func:`make_fields` — the unknowns of a PINN, :class:`~jaxhybrid.pinn.SourceFields` of that
  network and a tensor-Chebyshev source of degree ``degree`` scaled by ``F_SCALE``
  (:class:`~jaxhybrid.pinn.Chebyshev2D`; the degree is the regularity prior), for
  :func:`~jaxhybrid.pinn.fit_source`;
* :func:`pinn_errors` — relative L2 errors of ``u`` and ``f`` of fitted fields on the closed square;
* :func:`data_only_errors` — the errors of a network regressed on the data alone, whose source is
  the 5-point finite-difference Laplacian ``f = −Δ_h u`` on the FD grid;
* :func:`on_fd_grid` — a function of a point on the FD grid (e.g. ``f*`` for a grid-based inversion).
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.metrics import rel_l2
from jaxhybrid.paradigms import HardConstraint
from jaxhybrid.pde import fd_points, laplacian_fd

from .bases import Chebyshev2D
from .geometry import Box, Rescaled
from .multistage import SinMLP
from .operators import laplacian
from .source import SourceFields

__all__ = ["u_true", "f_true", "make_u", "make_fields", "on_fd_grid", "pinn_errors", "data_only_errors",
           "N_GRID", "F_SCALE", "DOMAIN"]

#: interior nodes per side of the finite-difference grid the observations sit on
N_GRID = 63
#: the size of the source, ``|f*| ≈ 2π²``
F_SCALE = 2 * np.pi**2
DOMAIN = Box([0.0, 0.0], [1.0, 1.0])


def u_true(x):
    """``u*(x) = sin(πx) sin(πy) + 0.2 sin(2πx) sin(2πy)`` at a point ``x`` ``(2,)``."""
    s1, s2 = (jnp.sin(k * jnp.pi * x[0]) * jnp.sin(k * jnp.pi * x[1]) for k in (1, 2))
    return s1 + 0.2 * s2


def f_true(x):
    """``f* = −Δu*`` at a point ``x`` (forward-mode Laplacian of :func:`u_true`)."""
    return -laplacian(u_true)(x)


def make_u(key, width: int, depth: int):
    """``u = 16 x(1−x)y(1−y) · N(2x − 1)`` in float64 (the distance factor is 1 at the centre)."""
    bubble = lambda x: x[0] * (1 - x[0]) * x[1] * (1 - x[1]) * 16.0  # noqa: E731
    zero = lambda x: jnp.zeros((), x.dtype)  # noqa: E731
    net = HardConstraint(Rescaled(SinMLP(2, "scalar", width, depth, key=key), DOMAIN), zero, bubble)
    return jax.tree_util.tree_map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, net)


def make_fields(key, width: int, depth: int, degree: int = 8) -> SourceFields:
    """The unknowns: the network u (hard Dirichlet BC) and the degree-``degree`` Chebyshev source f."""
    return SourceFields(make_u(key, width, depth), Chebyshev2D.zeros(degree, F_SCALE, jnp.float64))


def on_fd_grid(g: Callable):
    """``g`` (a function of a point) on the 63 × 63 interior FD nodes, ``(63, 63)``."""
    return jax.vmap(g)(fd_points((N_GRID, N_GRID), (1.0, 1.0))).reshape(N_GRID, N_GRID)


def data_only_errors(net) -> tuple[float, float]:
    """Errors of a data-only network: u on the 101² grid, ``f = −Δ_h u`` (5-point, FD grid)."""
    f_err = rel_l2(-laplacian_fd(on_fd_grid(net), (1.0, 1.0), "dirichlet"), on_fd_grid(f_true))
    return float(rel_l2(jax.vmap(net)(DOMAIN.grid(101)), jax.vmap(u_true)(DOMAIN.grid(101)))), float(f_err)


def pinn_errors(fields: SourceFields, pts=None) -> tuple:
    """Relative L2 errors ``(u, f)`` of the PINN fields on the 101² grid over the closed square
    (or on the points ``pts`` ``(n, 2)``)."""
    pts = DOMAIN.grid(101) if pts is None else pts
    return tuple(float(rel_l2(jax.vmap(a)(pts), jax.vmap(b)(pts))) for a, b in ((fields.u, u_true), (fields.f, f_true)))
