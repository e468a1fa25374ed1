"""Forecast models as pure step functions ``x_{n+1} = step(x_n)``.

Every model here is a function of one state (``vmap`` it for ensembles) that advances it by one
model time step; cycles of many steps go through :func:`jaxhybrid.rollout.rollout` (see
:func:`forecast`).

* Lorenz-63 (Lorenz 1963): ``ẋ = σ(y − x)``, ``ẏ = x(ρ − z) − y``, ``ż = xy − βz``
  (σ = 10, ρ = 28, β = 8/3), RK4.
* Lorenz-96 (Lorenz 1996): ``ẋ_i = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F`` (cyclic), RK4 —
  the setting of Sakov & Oke (2008) is N_x = 40, F = 8, dt = 0.05.
* Two-scale Lorenz-96 (Lorenz 1996; Wilks 2005 form), K slow and K·J fast variables:
  ``Ẋ_k = X_{k−1}(X_{k+1} − X_{k−2}) − X_k + F − (hc/b) Σ_j Y_{j,k}``,
  ``Ẏ_{j,k} = −cb Y_{j+1,k}(Y_{j+2,k} − Y_{j−1,k}) − c Y_{j,k} + (hc/b) X_k``
  (fast variables cyclic over all K·J), Wilks' values K = 8, J = 32, F = 20, h = 1, b = c = 10.
  The state is the flat vector ``[X (K), Y (K·J)]``.
* Kuramoto–Sivashinsky and 2D Navier–Stokes: :func:`pde_model` wraps an ETDRK stepper of
  :mod:`jaxhybrid.pde` as a physical-space step ``u -> stepper(u)`` (one ETDRK step).
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp

from jaxhybrid.rollout import rollout

__all__ = ["rk4", "lorenz63_rhs", "lorenz63", "lorenz96_rhs", "lorenz96", "two_scale_l96_rhs",
           "two_scale_l96", "pde_model", "forecast"]


def rk4(rhs: Callable, dt: float) -> Callable:
    """Classical fourth-order Runge–Kutta step for the autonomous ``ẋ = rhs(x)``."""
    if not dt > 0:
        raise ValueError(f"rk4: dt must be positive, got {dt}.")

    def step(x):
        k1 = rhs(x)
        k2 = rhs(x + 0.5 * dt * k1)
        k3 = rhs(x + 0.5 * dt * k2)
        k4 = rhs(x + dt * k3)
        return x + (dt / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)

    return step


def lorenz63_rhs(x, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    return jnp.stack([sigma * (x[1] - x[0]), x[0] * (rho - x[2]) - x[1], x[0] * x[1] - beta * x[2]])


def lorenz63(dt: float = 0.01, sigma=10.0, rho=28.0, beta=8.0 / 3.0) -> Callable:
    """RK4 step of Lorenz-63 (state shape ``(3,)``)."""
    return rk4(lambda x: lorenz63_rhs(x, sigma, rho, beta), dt)


def lorenz96_rhs(x, forcing=8.0):
    """``ẋ_i = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F`` over the last axis (cyclic)."""
    return (jnp.roll(x, -1, -1) - jnp.roll(x, 2, -1)) * jnp.roll(x, 1, -1) - x + forcing


def lorenz96(dt: float = 0.05, forcing=8.0) -> Callable:
    """RK4 step of Lorenz-96 (any length ≥ 4; Sakov & Oke 2008: 40 variables, F = 8, dt = 0.05)."""
    return rk4(lambda x: lorenz96_rhs(x, forcing), dt)


def two_scale_l96_rhs(state, K=8, J=32, F=20.0, h=1.0, b=10.0, c=10.0):
    """Right-hand side of the two-scale Lorenz-96 system (Wilks 2005), ``state = [X, Y]``."""
    X, Y = state[:K], state[K:]
    coupling = (h * c / b) * Y.reshape(K, J).sum(-1)
    dX = jnp.roll(X, 1) * (jnp.roll(X, -1) - jnp.roll(X, 2)) - X + F - coupling
    dY = (-c * b * jnp.roll(Y, -1) * (jnp.roll(Y, -2) - jnp.roll(Y, 1)) - c * Y
          + (h * c / b) * jnp.repeat(X, J))
    return jnp.concatenate([dX, dY])


def two_scale_l96(dt: float = 0.001, K=8, J=32, F=20.0, h=1.0, b=10.0, c=10.0) -> Callable:
    """RK4 step of the two-scale Lorenz-96 system, state ``[X (K), Y (K·J)]``.

    Wilks (2005) integrates with dt = 0.001 (the fast scale is c = 10 times faster)."""
    return rk4(lambda s: two_scale_l96_rhs(s, K, J, F, h, b, c), dt)


def pde_model(stepper) -> Callable:
    """Physical-space step of a :class:`jaxhybrid.pde.ETDRKStepper` (KS, 2D Navier–Stokes):
    ``u -> stepper(u)``, i.e. ``to_physical(û⁺)`` with ``û⁺, _ = stepper.step(stepper.init(u))``."""
    if not (callable(stepper) and hasattr(stepper, "init") and hasattr(stepper, "to_physical")):
        raise ValueError(f"pde_model: expected a jaxhybrid.pde stepper (init, step, to_physical), got "
                         f"{type(stepper).__name__}.")
    return lambda u: stepper(u)


def forecast(step: Callable, x, n_steps: int):
    """Advance one state ``x`` by ``n_steps`` model steps through :func:`jaxhybrid.rollout.rollout`."""
    if n_steps == 0:
        return x
    return rollout(step, x, n_steps, save_every=n_steps, observe=lambda s: None).final
