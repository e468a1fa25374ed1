"""Finite-difference gradients: the "no derivative of the solver" baseline of inverse design.

:func:`fd_gradient` wraps a scalar loss ``L(p)`` of a parameter vector so that ``jax.grad``
returns the central finite-difference gradient

    ∂L/∂p_i ≈ (L(p + ε e_i) − L(p − ε e_i)) / (2ε),            error O(ε²),

instead of differentiating through ``L`` (a ``custom_vjp``). Its cost is ``2P`` extra
evaluations per gradient, all batched with ``vmap``; any optimiser then runs unchanged, so the
comparison with reverse-mode gradients through the solver (one forward and one backward pass,
independent of ``P``) isolates the gradient.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

__all__ = ["fd_gradient"]


def fd_gradient(loss: Callable[[jax.Array], jax.Array], eps: float) -> Callable[[jax.Array], jax.Array]:
    """``loss`` (of a 1-D parameter vector) whose gradient is central finite differences with step ``eps``."""
    if not eps > 0:
        raise ValueError(f"fd_gradient: the step eps must be positive, got {eps}.")

    @jax.custom_vjp
    def f(p):
        return loss(p)

    def fwd(p):
        if p.ndim != 1:
            raise ValueError(f"fd_gradient: the parameters must be a 1-D vector, got shape {p.shape}.")
        E = eps * jnp.eye(p.shape[0], dtype=p.dtype)
        vals = jax.vmap(loss)(jnp.concatenate([p + E, p - E]))
        return loss(p), (vals[: p.shape[0]] - vals[p.shape[0]:]) / (2 * eps)

    f.defvjp(fwd, lambda g, ct: (ct * g,))
    return f
