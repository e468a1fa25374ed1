"""Langevin dynamics (NVT) with the BAOAB splitting, as an ``(init, step)`` pair.

    dr = p/m dt,    dp = F dt − γ p dt + √(2 γ m kT) dW

BAOAB (Leimkuhler & Matthews, Appl. Math. Res. Express 2013, 34–56; *Molecular Dynamics*,
Springer 2015, §7.3): half kick B, half drift A, exact Ornstein–Uhlenbeck step O,
half drift A, force evaluation, half kick B::

    p ← p + ½δt F;  r ← r + ½δt p/m;  p ← c₁ p + c₂ √(m kT) ξ;  r ← r + ½δt p/m;
    F ← F(r);       p ← p + ½δt F,        c₁ = e^{−γδt},  c₂ = √(1 − c₁²).

Its configurational sampling error is O(δt²) with a small constant (superconvergent in the
high-friction limit). The PRNG key lives in the state (explicit, split every step), so a run
is reproducible and resumable exactly.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxhybrid.random import normal as fused_normal

from .nve import Integrator, check_dt, check_init, drift, kick

__all__ = ["LangevinState", "langevin"]


class LangevinState(NamedTuple):
    positions: jax.Array
    momenta: jax.Array
    forces: jax.Array
    energy: jax.Array
    mass: jax.Array
    aux: Any
    key: jax.Array


def langevin(force_fn: Callable, dt: float, kT: float, gamma: float) -> Integrator:
    """BAOAB Langevin integrator at temperature ``kT`` (energy units) and friction ``gamma``
    (1/time). ``kT`` may be a traced value (a ``jit`` argument, or ``vmap``-ed over an ensemble
    of temperatures); it is validated when concrete."""
    check_dt(dt)
    try:
        kT_value = float(kT)
    except jax.errors.ConcretizationTypeError:
        kT_value = 0.0
    if not kT_value >= 0:
        raise ValueError(f"langevin: kT must be >= 0, got {kT}.")
    if not float(gamma) > 0:
        raise ValueError(f"langevin: gamma (friction, 1/time) must be positive, got {gamma}.")

    def init(positions, momenta=None, mass=1.0, aux=None, *, key) -> LangevinState:
        positions, momenta, m = check_init(positions, momenta, mass)
        e, f, aux = force_fn(positions, aux)
        return LangevinState(positions, momenta, f, e, m, aux, key)

    def step(state: LangevinState) -> LangevinState:
        dtype = state.positions.dtype
        h = jnp.asarray(dt, dtype)
        c1 = jnp.exp(-jnp.asarray(gamma, dtype) * h)
        c2 = jnp.sqrt(1.0 - c1 * c1)
        key, sub = jax.random.split(state.key)
        p = kick(state.momenta, state.forces, 0.5 * h)
        r = drift(state.positions, p, state.mass, 0.5 * h)
        xi = fused_normal(sub, p.shape, dtype)
        p = c1 * p + c2 * jnp.sqrt(state.mass * kT) * xi
        r = drift(r, p, state.mass, 0.5 * h)
        e, f, aux = force_fn(r, state.aux)
        p = kick(p, f, 0.5 * h)
        return LangevinState(r, p, f, e, state.mass, aux, key)

    return Integrator(init, step)
