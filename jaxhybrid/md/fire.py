"""FIRE energy minimiser (Bitzek, Koskinen, Gähler, Moseler & Gumbsch, PRL 97, 170201 (2006)),
as an :class:`~jaxhybrid.algorithm.Algorithm` (deterministic: ``step(state, key)`` ignores the key).

MD (velocity Verlet) with a velocity mixing ``v ← (1−α) v + α |v| F̂``; while the power
``P = F·v`` stays positive for more than ``n_min`` steps the step grows (``δt ← min(f_inc δt,
δt_max)``) and ``α ← f_α α``; when ``P ≤ 0`` the velocities are zeroed, ``δt ← f_dec δt`` and
``α ← α_start``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxhybrid.algorithm import Algorithm

from .nve import check_dt, check_init, step_info

__all__ = ["FIREState", "fire"]


class FIREState(NamedTuple):
    positions: jax.Array
    momenta: jax.Array  # velocities × mass
    forces: jax.Array
    energy: jax.Array
    mass: jax.Array
    aux: Any
    dt: jax.Array
    alpha: jax.Array
    n_pos: jax.Array


def fire(force_fn: Callable, dt_start: float = 0.1, dt_max: float = 0.4, n_min: int = 5, f_inc: float = 1.1,
         f_dec: float = 0.5, alpha_start: float = 0.1, f_alpha: float = 0.99) -> Algorithm:
    """FIRE minimiser: ``init(positions, momenta=None, mass=1.0, aux=None) -> FIREState`` (the
    momenta start at zero whatever is passed); ``step(state, key) -> (FIREState, info)`` does one
    MD step plus the FIRE velocity update (the key is ignored)."""
    check_dt(dt_start)
    check_dt(dt_max)

    def init(positions, momenta=None, mass=1.0, aux=None) -> FIREState:
        positions, momenta, m = check_init(positions, momenta, mass)
        dtype = positions.dtype
        e, f, aux = force_fn(positions, aux)
        return FIREState(positions, jnp.zeros_like(positions), f, e, m, aux, jnp.asarray(dt_start, dtype),
                         jnp.asarray(alpha_start, dtype), jnp.asarray(0, jnp.int32))

    def step(s: FIREState, key: Any = None) -> tuple[FIREState, dict]:
        del key  # deterministic
        h = s.dt
        v = s.momenta / s.mass + 0.5 * h * s.forces / s.mass
        r = s.positions + h * v
        e, f, aux = force_fn(r, s.aux)
        v = v + 0.5 * h * f / s.mass
        P = jnp.sum(f * v)
        fn = jnp.sqrt(jnp.sum(f * f))
        vn = jnp.sqrt(jnp.sum(v * v))
        v = (1 - s.alpha) * v + s.alpha * vn * f / jnp.maximum(fn, 1e-30)
        pos = P > 0
        grow = pos & (s.n_pos > n_min)
        dt_new = jnp.where(grow, jnp.minimum(h * f_inc, dt_max), jnp.where(pos, h, h * f_dec))
        alpha = jnp.where(grow, s.alpha * f_alpha, jnp.where(pos, s.alpha, alpha_start))
        n_pos = jnp.where(pos, s.n_pos + 1, 0)
        v = jnp.where(pos, v, 0.0)
        return (FIREState(r, v * s.mass, f, e, s.mass, aux, dt_new.astype(h.dtype), alpha.astype(h.dtype), n_pos),
                step_info(aux))

    return Algorithm(init, step)
