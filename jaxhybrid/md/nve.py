"""Velocity Verlet (NVE), as an :class:`~jaxhybrid.algorithm.Algorithm`.

    p(t+½δt) = p(t) + ½δt F(t)
    r(t+δt)  = r(t) + δt p(t+½δt)/m
    p(t+δt)  = p(t+½δt) + ½δt F(t+δt)

(Swope, Andersen, Berens & Wilson, J. Chem. Phys. 76, 637 (1982); Allen & Tildesley §3.2.1.)
Symplectic and time reversible: the total energy ``K + U`` shows bounded O(δt²) fluctuations
and no drift. Masses are in energy·time²/length² (see :mod:`jaxhybrid.md.units`).

Protocol shared by every MD integrator (:func:`nve`, :func:`~jaxhybrid.md.langevin.langevin`,
:func:`~jaxhybrid.md.nose_hoover.nose_hoover_chain`, :func:`~jaxhybrid.md.fire.fire`)::

    state       = integrator.init(positions, momenta=None, mass=1.0, aux=None)
    state, info = integrator.step(state, key)      # key ignored by the deterministic ones

``info`` is ``{"overflow": aux.overflow}`` when the force function's ``aux`` is a neighbour list
(its sticky overflow flag, so a driver can re-allocate and re-run), ``{}`` otherwise.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxhybrid.algorithm import Algorithm

__all__ = ["MDState", "nve", "check_init", "step_info"]


class MDState(NamedTuple):
    """Phase-space state of velocity Verlet and Langevin BAOAB (thermostats with more variables,
    Nosé–Hoover and FIRE, extend it)."""

    positions: jax.Array  # (N, 3), unwrapped
    momenta: jax.Array  # (N, 3)
    forces: jax.Array  # (N, 3)
    energy: jax.Array  # potential energy at positions
    mass: jax.Array  # (N, 1)
    aux: Any  # carried by the force function (e.g. NeighborList)


def check_init(positions, momenta, mass):
    positions = jnp.asarray(positions)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (N, 3), got {positions.shape}.")
    n = positions.shape[0]
    momenta = jnp.zeros_like(positions) if momenta is None else jnp.asarray(momenta, positions.dtype)
    if momenta.shape != positions.shape:
        raise ValueError(f"momenta shape {momenta.shape} does not match positions {positions.shape}.")
    m = jnp.asarray(mass, positions.dtype)
    if m.ndim == 0:
        m = jnp.full((n, 1), m)
    else:
        m = jnp.reshape(m, (-1, 1))
        if m.shape[0] != n:
            raise ValueError(f"mass must be a scalar or have N={n} entries, got {m.shape[0]}.")
    if not isinstance(m, jax.core.Tracer) and bool(jnp.any(m <= 0)):
        raise ValueError("mass must be positive.")
    return positions, momenta, m


def check_dt(dt):
    if not isinstance(dt, jax.core.Tracer) and not float(dt) > 0:
        raise ValueError(f"time step dt must be positive, got {dt}.")


def step_info(aux) -> dict:
    """The ``info`` of an integrator step: the neighbour list's sticky ``overflow`` flag when
    ``aux`` carries one (a :class:`~jaxhybrid.md.neighbours.NeighborList`), else ``{}``."""
    overflow = getattr(aux, "overflow", None)
    return {} if overflow is None else {"overflow": overflow}


def kick(p, f, h):
    return p + h * f


def drift(r, p, m, h):
    return r + h * p / m


def nve(force_fn: Callable, dt: float) -> Algorithm:
    """Velocity Verlet for ``force_fn(R, aux) -> (U, F, aux)`` (see :mod:`.forces`):
    ``init(positions, momenta=None, mass=1.0, aux=None) -> MDState``,
    ``step(state, key) -> (MDState, info)`` (the key is ignored; ``None`` is fine)."""
    check_dt(dt)

    def init(positions, momenta=None, mass=1.0, aux=None) -> MDState:
        positions, momenta, m = check_init(positions, momenta, mass)
        e, f, aux = force_fn(positions, aux)
        return MDState(positions, momenta, f, e, m, aux)

    def step(state: MDState, key: Any = None) -> tuple[MDState, dict]:
        del key  # deterministic
        h = jnp.asarray(dt, state.positions.dtype)
        p = kick(state.momenta, state.forces, 0.5 * h)
        r = drift(state.positions, p, state.mass, h)
        e, f, aux = force_fn(r, state.aux)
        p = kick(p, f, 0.5 * h)
        return MDState(r, p, f, e, state.mass, aux), step_info(aux)

    return Algorithm(init, step)
