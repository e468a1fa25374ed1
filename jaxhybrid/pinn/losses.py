r"""PINN problems as data + functions, their least-squares losses, loss balancing and causal weights.

A problem is a set of named **pointwise residuals** ``r_k(params, batch) -> (n_k,)`` (PDE
residual on collocation points, boundary/initial mismatch, data misfit on observations) and a
``batch`` dict of arrays (points, observations). The loss is the weighted least-squares sum

    L(θ) = Σ_k w_k · mean_i r_k(θ; x_i)²,

built with the paradigm-2 combinator :func:`jaxhybrid.paradigms.constrain` (each term is also
returned as an auxiliary metric). Exact (hard) boundary conditions use
:class:`jaxhybrid.paradigms.HardConstraint` for the field instead of a boundary term.

* :func:`grad_norm_weights` — learning-rate-annealing balance (Wang, Teng & Perdikaris 2021;
  the form of Wang et al. 2023, *An expert's guide to training PINNs*):
  ``ŵ_k = Σ_j ‖∇_θ L_j‖ / ‖∇_θ L_k‖``, smoothed ``w ← α w + (1 − α) ŵ``.
* :func:`causal_weights` — causal training for time-dependent problems (Wang, Sankaran &
  Perdikaris 2024, *Respecting causality*): with the residual loss split into time slabs
  ``L_1 … L_M``, ``w_i = exp(−ε Σ_{j<i} L_j)`` (no gradient through the weights), so later slabs
  count only once earlier ones are resolved.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxhybrid.paradigms import constrain

__all__ = ["Problem", "least_squares", "grad_norm_weights", "causal_weights", "causal_loss"]

PyTree = Any
Residual = Callable[[PyTree, Mapping[str, jax.Array]], jax.Array]


class Problem(NamedTuple):
    """``residuals``: name → ``r(params, batch) -> (n,)`` pointwise residuals; ``batch``: the arrays
    they read (collocation points, boundary points, observations); ``weights``: optional per-term
    weights (default 1)."""

    residuals: Mapping[str, Residual]
    batch: Mapping[str, jax.Array]
    weights: Optional[Mapping[str, float]] = None

    def loss(self) -> Callable[[PyTree, Mapping[str, jax.Array]], tuple[jax.Array, dict]]:
        """``loss(params, batch) -> (total, {name: term})``."""
        return least_squares(self.residuals, self.weights)


def least_squares(residuals: Mapping[str, Residual], weights: Optional[Mapping[str, Any]] = None):
    """``L = Σ_k w_k mean(r_k²)`` via :func:`jaxhybrid.paradigms.constrain`."""
    if not residuals:
        raise ValueError("least_squares: need at least one residual.")
    for k, r in residuals.items():
        if not callable(r):
            raise ValueError(f"least_squares: residual {k!r} must be a function r(params, batch).")
    terms = {k: (lambda r: lambda p, b: jnp.mean(jnp.square(r(p, b))))(r) for k, r in residuals.items()}
    return constrain(terms, weights)


def _tree_norm(t):
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(t)))


def grad_norm_weights(residuals: Mapping[str, Residual], params: PyTree, batch, weights: Mapping[str, jax.Array],
                      alpha: float = 0.9) -> dict:
    """One gradient-norm balancing update ``w_k ← α w_k + (1 − α) Σ_j‖∇L_j‖ / ‖∇L_k‖``."""
    if not 0 <= alpha < 1:
        raise ValueError(f"grad_norm_weights: alpha must be in [0, 1), got {alpha}.")
    trainable = eqx.filter(params, eqx.is_inexact_array)
    norms = {}
    for k, r in residuals.items():
        g = eqx.filter_grad(lambda p: jnp.mean(jnp.square(r(p, batch))))(params)
        norms[k] = _tree_norm(eqx.filter(g, eqx.is_inexact_array)) + 1e-30
    del trainable
    total = sum(norms.values())
    return {k: jax.lax.stop_gradient(alpha * weights.get(k, 1.0) + (1 - alpha) * total / norms[k]) for k in residuals}


def causal_weights(slab_losses: jax.Array, eps: float) -> jax.Array:
    """``w_i = exp(−ε Σ_{j<i} L_j)`` for time-ordered slab losses ``L`` (shape ``(M,)``)."""
    if eps < 0:
        raise ValueError(f"causal_weights: eps must be >= 0, got {eps}.")
    cum = jnp.concatenate([jnp.zeros((1,), slab_losses.dtype), jnp.cumsum(slab_losses)[:-1]])
    return jax.lax.stop_gradient(jnp.exp(-eps * cum))


def causal_loss(residual_sq: jax.Array, t: jax.Array, n_slabs: int, t_range: tuple[float, float], eps: float):
    """Causally weighted residual loss ``(1/M) Σ_i w_i L_i``; ``residual_sq``: squared residuals at
    points with times ``t``; slab ``i`` holds ``t ∈ [t0 + i Δ, t0 + (i+1) Δ)``. Returns
    ``(loss, weights)``."""
    t0, t1 = t_range
    slab = jnp.clip(((t - t0) / (t1 - t0) * n_slabs).astype(jnp.int32), 0, n_slabs - 1)
    sums = jax.ops.segment_sum(residual_sq, slab, n_slabs)
    counts = jnp.maximum(jax.ops.segment_sum(jnp.ones_like(residual_sq), slab, n_slabs), 1)
    slab_losses = sums / counts
    w = causal_weights(slab_losses, eps)
    return jnp.mean(w * slab_losses), w
