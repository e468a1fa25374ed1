r"""Differential operators on networks, by forward-mode (and Taylor-mode) differentiation.

For a field ``u: ℝ^d → ℝ`` (one point in, a scalar out) these return new functions of one point;
``jax.vmap`` them over a batch of collocation points (:func:`on_points` does that).

* :func:`gradient` — ``∇u(x)`` as ``d`` Jacobian-vector products (``jax.jacfwd``).
* :func:`divergence` — ``∇·v(x) = Σ_i ∂v_i/∂x_i`` for ``v: ℝ^d → ℝ^d``: ``d`` JVPs
  ``(∂v/∂x) e_i``, each contributing its ``i``-th component.
* :func:`laplacian` — ``Δu(x) = Σ_i e_iᵀ H(x) e_i``. Each term is a second directional derivative
  ``d²/dt² u(x + t e_i)|_{t=0}``, computed as a JVP of a JVP (``method="jvp"``) or by one
  second-order Taylor-mode propagation (``method="jet"``, :mod:`jax.experimental.jet`;
  Bettencourt, Johnson & Duvenaud 2019). Either costs ``O(d)`` forward passes and never forms
  the Hessian by nested reverse mode (which costs ``d`` reverse passes over a reverse pass and
  stores the activations of both).
* :func:`partial` — ``∂^k u/∂x_i^k`` (e.g. the time derivative ``∂u/∂t`` with the time as the
  last coordinate: ``time_derivative``).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.experimental import jet

__all__ = ["gradient", "divergence", "laplacian", "partial", "time_derivative", "on_points"]

Field = Callable[[jax.Array], jax.Array]


def _check_callable(f, name):
    if not callable(f):
        raise ValueError(f"{name}: expected a function of one point, got {type(f).__name__}.")


def gradient(u: Field) -> Field:
    """``x ↦ ∇u(x)`` (shape ``(d,)``) by forward mode."""
    _check_callable(u, "gradient")
    return jax.jacfwd(u)


def divergence(v: Field) -> Field:
    """``x ↦ Σ_i ∂v_i/∂x_i(x)`` for a vector field ``v: ℝ^d → ℝ^d``."""
    _check_callable(v, "divergence")

    def div(x):
        eye = jnp.eye(x.shape[-1], dtype=x.dtype)
        cols = jax.vmap(lambda e: jax.jvp(v, (x,), (e,))[1])(eye)  # row i = ∂v/∂x_i
        return jnp.trace(cols)

    return div


def _second_directional_jvp(u, x, e):
    return jax.jvp(lambda y: jax.jvp(u, (y,), (e,))[1], (x,), (e,))[1]


def _second_directional_jet(u, x, e):
    # series (e, 0): x(t) = x + t e; jet returns the Taylor *derivatives* [u', u''] of u(x(t))
    _, (_, d2) = jet.jet(u, (x,), ((e, jnp.zeros_like(e)),))
    return d2


def laplacian(u: Field, method: str = "jvp") -> Field:
    """``x ↦ Δu(x) = Σ_i ∂²u/∂x_i²`` for a scalar field; ``method`` ``"jvp"`` or ``"jet"``."""
    _check_callable(u, "laplacian")
    if method not in ("jvp", "jet"):
        raise ValueError(f"laplacian: method must be 'jvp' or 'jet', got {method!r}.")
    second = _second_directional_jvp if method == "jvp" else _second_directional_jet

    def lap(x):
        eye = jnp.eye(x.shape[-1], dtype=x.dtype)
        return jnp.sum(jax.vmap(lambda e: second(u, x, e))(eye), axis=0)

    return lap


def partial(u: Field, axis: int, order: int = 1) -> Field:
    """``x ↦ ∂^k u/∂x_axis^k (x)`` by ``k`` nested JVPs along ``e_axis``."""
    _check_callable(u, "partial")
    if order < 1:
        raise ValueError(f"partial: order must be >= 1, got {order}.")

    def d(x):
        e = jnp.zeros_like(x).at[axis].set(1.0)
        f = u
        for _ in range(order):
            f = (lambda g: (lambda y: jax.jvp(g, (y,), (e,))[1]))(f)
        return f(x)

    return d


def time_derivative(u: Field, order: int = 1) -> Field:
    """``∂^k u/∂t^k`` with time stored as the **last** coordinate of the point."""
    return partial(u, -1, order)


def on_points(op: Field) -> Callable[[jax.Array], jax.Array]:
    """Vectorise a one-point operator over points ``(n, d)``."""
    return jax.vmap(op)
