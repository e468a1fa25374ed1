r"""Inverse problems and design through a PDE solver: the optimiser and the linearised baselines.

A parameter ``p`` of a time-dependent PDE solve (initial condition, source) is fitted by
minimising a loss on the solution (a misfit to sensors, the distance to a target) with gradients
through the solver (:func:`~jaxhybrid.pde.snapshots` with ``checkpoint=True``):

* :func:`adam_descent` — Adam with a cosine-decayed step (to 5%) through
  :func:`jaxhybrid.train.fit`, one loss record per iteration; any gradient (exact reverse mode,
  finite differences) goes through the same loop, so methods differ only in their gradients.

The *linearised model* baselines drop the nonlinearity of viscous Burgers
``u_t + ½(u²)_x = ν u_xx + f`` and keep the heat equation ``u_t = ν u_xx + f`` on a periodic
domain, where a field ``Σ_k c_k b_k(x)`` in a real Fourier basis (:func:`~jaxhybrid.pde.fourier_basis`,
wavenumbers ``k``) evolves in closed form; both are then linear least squares:

* :func:`heat_initial_condition` — ``u(t) = Σ_k e^{−νk²t} c_k b_k``; sensors at times ``t_i``
  give ``y ≈ A c`` and ``c = argmin w‖A c − y‖² + λ Σ_k k² c_k²`` (H¹ regulariser);
* :func:`heat_source_design` — a steady source ``f = Σ_k a_k b_k`` adds
  ``T φ₁(−νk²T) a_k b_k`` to ``u(T)`` (``φ₁(z) = (e^z − 1)/z``, ``φ₁(0) = 1``), and
  ``a = argmin ‖u_free + Φ a − u_target‖² / ‖u_target‖² + λ‖a‖²``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from jaxhybrid.train import fit

__all__ = ["adam_descent", "heat_initial_condition", "heat_source_design"]


def adam_descent(loss: Callable, p0, steps: int, lr: float = 0.05) -> tuple:
    """Minimise ``loss(p)`` from ``p0`` by ``steps`` Adam iterations, step size cosine-decayed from
    ``lr`` to ``0.05·lr``, through :func:`jaxhybrid.train.fit` (``loss`` may also be a function with
    a custom gradient such as :func:`jaxhybrid.inverse.fd_gradient`'s). Returns the parameters and
    the loss of every iteration (one record per step: ``log_every=1``)."""
    res = fit(lambda p, _: loss(p), p0, None, optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.05)),
              steps=steps, log_every=1, progress=False)
    return res.params, [h["loss"] for h in res.history]


def heat_initial_condition(basis: jax.Array, k: jax.Array, sensors: jax.Array, times: jax.Array, obs: jax.Array, *,
                           nu: float, weight: float, lam: float) -> jax.Array:
    """Coefficients ``c`` ``(P,)`` of the initial condition ``u₀ = c @ basis`` under the heat
    equation (module docstring): ``basis`` ``(P, N)`` with wavenumbers ``k`` ``(P,)``, observations
    ``obs`` ``(len(times), len(sensors))`` of ``u`` at the grid indices ``sensors`` and ``times``,
    misfit weight ``weight`` and regularisation ``lam``; solves
    ``(w AᵀA + λ diag(k²) + 10⁻⁹ I) c = w Aᵀ y``."""
    decay = jnp.exp(-nu * k[None, :] ** 2 * times[:, None])  # (T, P)
    A = (decay[:, None, :] * basis[:, sensors].T[None]).reshape(-1, k.size)
    H = weight * A.T @ A + lam * jnp.diag(k**2) + 1e-9 * jnp.eye(k.size)
    return jnp.linalg.solve(H, weight * A.T @ obs.reshape(-1))


def heat_source_design(basis: jax.Array, k: jax.Array, u_free: jax.Array, target: jax.Array, *, t_end: float, nu: float,
                       lam: float) -> jax.Array:
    """Coefficients ``a`` ``(P,)`` of the steady source ``f = a @ basis`` that steers the heat
    equation onto ``target`` at ``t_end`` (module docstring); ``u_free`` is the heat equation's
    ``u(t_end)`` without a source. Solves ``(ΦᵀΦ/s² + λ I) a = Φᵀ(target − u_free)/s²`` with
    ``s² = ‖target‖²`` and ``Φ = (T φ₁(−νk²T) basis)ᵀ``."""
    z = -nu * k**2 * t_end
    phi = jnp.where(z == 0, 1.0, jnp.expm1(z) / jnp.where(z == 0, 1.0, z)) * t_end
    Af, s2 = (phi[:, None] * basis).T, jnp.sum(target**2)
    return jnp.linalg.solve(Af.T @ Af / s2 + lam * jnp.eye(k.size), Af.T @ (target - u_free) / s2)
