"""SPD-NN: incremental stress laws with a symmetric positive definite tangent
(Xu, Huang & Darve, "Learning constitutive relations using symmetric positive definite neural
networks", J. Comput. Phys. 428 (2021) 110072).

Strains and stresses are Mandel vectors (``m = 6`` in 3D, 3 in plane problems). A network maps
the new strain to the ``m(m+1)/2`` entries of a lower-triangular ``L_θ``; the tangent and the
update are::

    H_θ(ε) = s [L_θ(ε/e) L_θ(ε/e)ᵀ + δ I],          δ > 0 (default 1e-3)
    σⁿ⁺¹ = H_θ(εⁿ⁺¹)(εⁿ⁺¹ − εⁿ) + σⁿ,

so ``H_θ`` is symmetric with eigenvalues ≥ sδ > 0 for every input, and the incremental work
``Δσ·Δε = Δεᵀ H Δε`` is positive: the learned law dissipates no energy it does not have, which is
what keeps long rollouts bounded. Training uses the one-step loss of the paper on observed
sequences, ``Σ_n ‖H_θ(εⁿ⁺¹)(εⁿ⁺¹ − εⁿ) + σⁿ − σⁿ⁺¹‖²`` (:func:`one_step_loss`); prediction
rolls the update out from ``σ⁰`` over the whole path through :func:`jaxhybrid.rollout.rollout`
(:func:`rollout_stress`). ``s`` (a stiffness: stress per strain) and ``e`` (a strain) are
fixed scales; inputs of order one (``e`` ≈ the RMS strain component of the training data)
matter: a tanh network fed ``ε/e`` of order 0.2 fits the tangent far worse.

:class:`MLPIncrement` is the unconstrained baseline: ``σⁿ⁺¹ = σⁿ + s·MLP(εⁿ⁺¹/e, Δε/e, σⁿ/s)``.
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from jaxhybrid.nn import MLP
from jaxhybrid.rollout import rollout

__all__ = ["SPDNN", "MLPIncrement", "one_step_loss", "rollout_stress", "rollout_errors"]


class SPDNN(eqx.Module):
    """``H_θ(ε) = s(L Lᵀ + δI)``; ``model.step(σ, ε_old, ε_new)`` is the incremental update."""

    net: MLP
    dim: int = eqx.field(static=True)
    stress_scale: float = eqx.field(static=True)
    strain_scale: float = eqx.field(static=True)
    delta: float = eqx.field(static=True)

    def __init__(self, dim: int = 6, width: int = 32, depth: int = 2, *, stress_scale: float = 1.0,
                 strain_scale: float = 1.0, delta: float = 1e-3, key: PRNGKeyArray):
        if dim < 1 or not delta > 0 or not stress_scale > 0 or not strain_scale > 0:
            raise ValueError("SPDNN: need dim >= 1 and positive delta, stress_scale, strain_scale.")
        self.dim, self.delta = dim, float(delta)
        self.stress_scale, self.strain_scale = float(stress_scale), float(strain_scale)
        self.net = MLP(dim, dim * (dim + 1) // 2, width, depth, jnp.tanh, key=key)

    def cholesky_factor(self, eps):
        n = self.dim
        rows, cols = jnp.tril_indices(n)
        vals = self.net(eps / self.strain_scale)
        # identity offset: an untrained net starts from H ≈ s(I + δI)
        return jnp.zeros((n, n), vals.dtype).at[rows, cols].set(vals) + jnp.eye(n, dtype=vals.dtype)

    def tangent(self, eps: Float[Array, " m"]) -> Float[Array, "m m"]:
        L = self.cholesky_factor(eps)
        return self.stress_scale * (L @ L.T + self.delta * jnp.eye(self.dim, dtype=L.dtype))

    def step(self, sigma, eps_old, eps_new):
        return sigma + self.tangent(eps_new) @ (eps_new - eps_old)


class MLPIncrement(eqx.Module):
    """Unconstrained baseline ``σⁿ⁺¹ = σⁿ + s·MLP(εⁿ⁺¹/e, (εⁿ⁺¹ − εⁿ)/e, σⁿ/s)``."""

    net: MLP
    stress_scale: float = eqx.field(static=True)
    strain_scale: float = eqx.field(static=True)
    increment_scale: float = eqx.field(static=True)

    def __init__(self, dim: int = 6, width: int = 64, depth: int = 2, *, stress_scale: float = 1.0,
                 strain_scale: float = 1.0, increment_scale: float = 1.0, key: PRNGKeyArray):
        self.stress_scale, self.strain_scale = float(stress_scale), float(strain_scale)
        self.increment_scale = float(increment_scale)
        self.net = MLP(3 * dim, dim, width, depth, jnp.tanh, key=key)

    def step(self, sigma, eps_old, eps_new):
        d = eps_new - eps_old
        x = jnp.concatenate([eps_new / self.strain_scale, d / self.increment_scale, sigma / self.stress_scale])
        # the increment network output is scaled like a stiffness times a strain increment
        return sigma + self.stress_scale * (self.increment_scale / self.strain_scale) * self.net(x)


def one_step_loss(model, batch) -> jax.Array:
    """Teacher-forced loss of Xu et al. on a batch ``(eps (B, T+1, m), sigma (B, T+1, m))``:
    mean over ``b, n`` of ``‖step(σⁿ, εⁿ, εⁿ⁺¹) − σⁿ⁺¹‖² / ‖σ̄‖²`` with ``σ̄`` the RMS stress of the
    batch (a fixed normalisation)."""
    eps, sig = batch
    if eps.ndim != 3 or eps.shape != sig.shape:
        raise ValueError(f"one_step_loss: eps and sigma must both be (B, T+1, m); got {eps.shape}, {sig.shape}.")
    step = jax.vmap(jax.vmap(model.step))
    pred = step(sig[:, :-1], eps[:, :-1], eps[:, 1:])
    d_true = sig[:, 1:] - sig[:, :-1]
    scale = jnp.mean(jnp.sum(d_true**2, -1)) + 1e-30
    return jnp.mean(jnp.sum((pred - sig[:, 1:]) ** 2, -1)) / jax.lax.stop_gradient(scale)


def rollout_stress(step: Callable, eps_path: Float[Array, "T1 m"], sigma0=None) -> Float[Array, "T1 m"]:
    """Roll ``σⁿ⁺¹ = step(σⁿ, εⁿ, εⁿ⁺¹)`` along a strain path ``(T+1, m)`` from ``σ⁰`` (default 0)
    with :func:`jaxhybrid.rollout.rollout`; returns all ``T+1`` stresses (σ⁰ first)."""
    eps_path = jnp.asarray(eps_path)
    if eps_path.ndim != 2 or eps_path.shape[0] < 2:
        raise ValueError(f"rollout_stress: eps_path must be (T+1, m) with T >= 1, got {eps_path.shape}.")
    sigma0 = jnp.zeros(eps_path.shape[1], eps_path.dtype) if sigma0 is None else sigma0
    res = rollout(lambda s, x: step(s, x[0], x[1]), sigma0, eps_path.shape[0] - 1,
                  inputs=(eps_path[:-1], eps_path[1:]), include_initial=True)
    return res.saved


def rollout_errors(model, eps, sig) -> tuple[dict, np.ndarray]:
    """Score an incremental law (``model.step(σ, ε_old, ε_new)``) on reference paths ``eps``,
    ``sig`` ``(P, T+1, m)``; returns ``(errors, rollout)`` with the rollout ``(P, T+1, m)`` from
    ``σ⁰ = 0`` (:func:`rollout_stress`) and, with ``σ̂`` the rollout:

    * ``rollout_rel_error`` = ``(Σ‖σ̂ − σ‖² / Σ‖σ‖²)^{1/2}`` over all paths and increments;
    * ``final_rel_error`` — the same at the last increment only;
    * ``max_stress_ratio`` = ``max‖σ̂‖ / max‖σ‖`` (boundedness of the rollout);
    * ``one_step_rel_error`` = ``(Σ‖step(σⁿ, εⁿ, εⁿ⁺¹) − σⁿ⁺¹‖² / Σ‖σⁿ⁺¹ − σⁿ‖²)^{1/2}`` (teacher forced).

    The rollout scores are ``inf`` when the rollout is not finite."""
    eps, sig = np.asarray(eps), np.asarray(sig)
    if eps.ndim != 3 or eps.shape != sig.shape or eps.shape[1] < 2:
        raise ValueError(f"rollout_errors: eps and sig must both be (P, T+1, m) with T >= 1; got {eps.shape}, {sig.shape}.")
    # the model is an argument of the jitted functions (wrapping its bound method in jax.vmap would
    # hand Equinox a transformed callable holding arrays: its "JAX-transformed callable" warning)
    pred = np.asarray(eqx.filter_jit(lambda m, e: jax.vmap(lambda p: rollout_stress(m.step, p))(e))(model, jnp.asarray(eps)))
    one = np.asarray(eqx.filter_jit(lambda m, *a: jax.vmap(jax.vmap(m.step))(*a))(model, sig[:, :-1], eps[:, :-1], eps[:, 1:]))
    finite, err, inf = bool(np.all(np.isfinite(pred))), pred - sig, float("inf")
    return {
        "rollout_rel_error": float(np.sqrt(np.sum(err**2) / np.sum(sig**2))) if finite else inf,
        "final_rel_error": float(np.sqrt(np.sum(err[:, -1] ** 2) / np.sum(sig[:, -1] ** 2))) if finite else inf,
        "max_stress_ratio": float(np.nanmax(np.linalg.norm(pred, axis=-1)) / np.max(np.linalg.norm(sig, axis=-1)))
        if finite else inf,
        "one_step_rel_error": float(np.sqrt(np.sum((one - sig[:, 1:]) ** 2) / np.sum((sig[:, 1:] - sig[:, :-1]) ** 2))),
    }, pred
