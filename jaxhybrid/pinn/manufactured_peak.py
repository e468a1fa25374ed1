r"""A Poisson problem with a sharp peak: a test of collocation strategies for PINNs.

On Ω = (−1, 1)², ``−Δu = f`` with ``u = 0`` on ∂Ω and the true solution

    u*(x, y) = (1 − x²)(1 − y²) exp(−|(x, y) − c|² / 2s²),      c = (0.3, −0.2),  s = 0.06,

whose peak covers about 1% of the domain (``|f*|`` reaches about ``2/s²`` there, ``F_SCALE``), so
uniform collocation points rarely see it. The pieces a PINN of this problem needs:

* :func:`make_net` — a :class:`~jaxhybrid.pinn.SinMLP` with the boundary condition built in,
  ``u = (1 − x²)(1 − y²) N(x)`` (:class:`~jaxhybrid.paradigms.HardConstraint`);
* :func:`residual_fn`, :func:`loss` — the scaled residual ``(Δu + f*)/F_SCALE``
  (:func:`~jaxhybrid.pinn.poisson_residual`) on a batch of points and its mean square, the loss and
  the residual of :func:`~jaxhybrid.pinn.adaptive_fit`;
* :func:`grid_error` — the relative L2 error of ``u`` on an ``n × n`` grid over the closed square.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxhybrid.metrics import rel_l2
from jaxhybrid.paradigms import HardConstraint

from .geometry import Box
from .multistage import SinMLP
from .operators import laplacian
from .source import poisson_residual

__all__ = ["u_true", "f_true", "make_net", "residual_fn", "loss", "grid_error", "CENTER", "S", "F_SCALE", "DOMAIN"]

#: centre and width of the peak
CENTER = (0.3, -0.2)
S = 0.06
DOMAIN = Box([-1.0, -1.0], [1.0, 1.0])


def u_true(x):
    """``u*(x) = (1 − x²)(1 − y²) exp(−|x − c|² / 2s²)`` at a point ``x`` ``(2,)``."""
    r2 = (x[0] - CENTER[0]) ** 2 + (x[1] - CENTER[1]) ** 2
    return (1 - x[0] ** 2) * (1 - x[1] ** 2) * jnp.exp(-r2 / (2 * S**2))


def f_true(x):
    """``f* = −Δu*`` at a point ``x`` (forward-mode Laplacian of :func:`u_true`)."""
    return -laplacian(u_true)(x)


F_SCALE = 2 / S**2  # |f| at the peak ≈ 2/s²


def make_net(key, width: int, depth: int = 3):
    """``u = (1 − x²)(1 − y²) N(x)``: zero on the boundary of the square."""
    return HardConstraint(SinMLP(2, "scalar", width, depth, key=key), particular=lambda x: jnp.zeros((), x.dtype),
                          distance=lambda x: (1 - x[0] ** 2) * (1 - x[1] ** 2))


def residual_fn(net):
    """The scaled PDE residual ``(Δu + f)/F_SCALE`` of ``net`` on a batch of points."""
    return jax.vmap(poisson_residual(net, f_true, F_SCALE))


def loss(net, pts):
    """Mean squared scaled PDE residual on the collocation points ``pts``."""
    return jnp.mean(residual_fn(net)(pts) ** 2)


def grid_error(net, n: int = 201) -> float:
    """``‖u − u*‖₂ / ‖u*‖₂`` over the ``n × n`` points of ``DOMAIN.grid(n)``."""
    p = DOMAIN.grid(n)
    return float(rel_l2(jax.vmap(net)(p), jax.vmap(u_true)(p)))
