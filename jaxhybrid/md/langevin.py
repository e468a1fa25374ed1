"""Langevin dynamics (NVT) with the BAOAB splitting, as an :class:`~jaxhybrid.algorithm.Algorithm`.

    dr = M⁻¹p dt,    dp = F dt − γ p dt + √(2 γ kT) M^{1/2} dW

BAOAB (Leimkuhler & Matthews, Appl. Math. Res. Express 2013, 34–56; *Molecular Dynamics*,
Springer 2015, §7.3): half kick B, half drift A, exact Ornstein–Uhlenbeck step O,
half drift A, force evaluation, half kick B::

    p ← p + ½δt F;  r ← r + ½δt p/m;  p ← c₁ p + c₂ √(m kT) ξ;  r ← r + ½δt p/m;
    F ← F(r);       p ← p + ½δt F,        c₁ = e^{−γδt},  c₂ = √(1 − c₁²).

Its configurational sampling error is O(δt²) with a small constant (superconvergent in the
high-friction limit); for a Gaussian target the position marginal is exact at any stable
step. This is the one BAOAB of jaxhybrid: the kinetic-Langevin sampler
:func:`jaxhybrid.sampling.underdamped_langevin` is this step with the score as the force, unit
mass and ``kT = 1``.

The step is shape-agnostic (positions of any shape, ``mass`` broadcastable against them); the
public :func:`langevin` ``init`` checks the MD shapes ``(N, 3)``. The noise ξ is drawn from the
key passed to ``step`` (drivers give step ``n`` the key ``fold_in(key, n)``), so a run is
reproducible and resumable exactly and no key lives in the state.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.random import normal as fused_normal

from .nve import MDState, check_dt, check_init, drift, kick, step_info

__all__ = ["langevin"]


def _concrete(x):
    try:
        return float(x)
    except (jax.errors.ConcretizationTypeError, TypeError):
        return None


def langevin(force_fn: Callable, dt: float, kT: float, gamma: float) -> Algorithm:
    """BAOAB Langevin integrator for ``force_fn(R, aux) -> (U, F, aux)`` at temperature ``kT``
    (energy units) and friction ``gamma`` (1/time).

    ``init(positions, momenta=None, mass=1.0, aux=None) -> MDState``;
    ``step(state, key) -> (MDState, info)``, the noise drawn from ``key`` (required).
    ``dt``, ``kT`` and ``gamma`` may be traced values (a ``jit`` argument, or ``vmap``-ed over an
    ensemble of temperatures); they are validated when concrete."""
    check_dt(dt)
    kT_value, gamma_value = _concrete(kT), _concrete(gamma)
    if kT_value is not None and not kT_value >= 0:
        raise ValueError(f"langevin: kT must be >= 0, got {kT}.")
    if gamma_value is not None and not gamma_value > 0:
        raise ValueError(f"langevin: gamma (friction, 1/time) must be positive, got {gamma}.")

    def init(positions, momenta=None, mass=1.0, aux=None) -> MDState:
        positions, momenta, m = check_init(positions, momenta, mass)
        e, f, aux = force_fn(positions, aux)
        return MDState(positions, momenta, f, e, m, aux)

    def step(state: MDState, key: jax.Array) -> tuple[MDState, dict]:
        if key is None:
            raise ValueError("langevin: step(state, key) needs a PRNG key for the thermostat noise; "
                             "pass key= to the driver (evolve, chunked, simulate).")
        dtype = state.positions.dtype
        h = jnp.asarray(dt, dtype)
        c1 = jnp.exp(-jnp.asarray(gamma, dtype) * h)
        c2 = jnp.sqrt(1.0 - c1 * c1)
        p = kick(state.momenta, state.forces, 0.5 * h)
        r = drift(state.positions, p, state.mass, 0.5 * h)
        xi = fused_normal(key, p.shape, dtype)
        p = c1 * p + c2 * jnp.sqrt(state.mass * kT) * xi
        r = drift(r, p, state.mass, 0.5 * h)
        e, f, aux = force_fn(r, state.aux)
        p = kick(p, f, 0.5 * h)
        return MDState(r, p, f, e, state.mass, aux), step_info(aux)

    return Algorithm(init, step)
