"""Underdamped (kinetic) Langevin dynamics: the MD engine's BAOAB with the score as the force.

The kinetic Langevin diffusion with unit mass and friction γ (Cheng, Chatterji, Bartlett &
Jordan 2018, *Underdamped Langevin MCMC: a non-asymptotic analysis*, COLT):

    dX = V dt,     dV = ∇log π(X) dt − γ V dt + √(2γ) dW,

has invariant law ``π(x) N(v; 0, I)``. It is Langevin molecular dynamics with force
``∇log π``, mass 1 and ``kT = 1``, so the step *is* :func:`jaxhybrid.md.langevin.langevin`'s
BAOAB splitting (Leimkuhler & Matthews 2013, *Rational construction of stochastic numerical
methods for molecular sampling*, AMRX) — half kick, half drift, exact Ornstein–Uhlenbeck, half
drift, half kick, one gradient per step — not a second implementation of it. We use BAOAB
rather than Cheng et al.'s exact-OU integrator because its *position* marginal is exact for
Gaussian targets at any stable step (h < 2/√λ_max): the linear-Gaussian test compares mean and
variance to the exact posterior with no bias term.

The sampler keeps its own thin state (``position``, ``momentum``, ``score``: what the chain
drivers observe) and maps it onto :class:`~jaxhybrid.md.MDState` for the step;
the mapping is free under ``jit``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.md.langevin import langevin
from jaxhybrid.md.nve import MDState
from jaxhybrid.random import normal as fused_normal

from .base import check_positive, score_of

__all__ = ["UnderdampedState", "underdamped_langevin"]


class UnderdampedState(NamedTuple):
    """``position`` x, ``momentum`` v (unit mass), ``score`` ∇log π(x) (reused by the next step)."""

    position: jax.Array
    momentum: jax.Array
    score: jax.Array


def underdamped_langevin(logdensity_fn: Optional[Callable] = None, step_size: float = None,
                         friction: float = 1.0, *, score_fn: Optional[Callable] = None) -> Algorithm:
    """Kinetic Langevin (BAOAB) for one chain.

    Args:
        logdensity_fn: ``log π(x)`` up to a constant (differentiated by JAX), or ``None`` when
            ``score_fn`` is given.
        step_size: h > 0.
        friction: γ > 0 (1/time).
        score_fn: ``∇log π(x)`` directly.

    Returns:
        :class:`~jaxhybrid.algorithm.Algorithm` with ``init(position, key=None) ->
        UnderdampedState`` (momentum drawn from ``N(0, I)`` when a key is given, zero otherwise)
        and ``step(state, key) -> (UnderdampedState, {})``.
    """
    if step_size is None:
        raise ValueError("underdamped_langevin: step_size is required (h > 0).")
    check_positive("underdamped_langevin", "step_size", step_size)
    check_positive("underdamped_langevin", "friction", friction)
    score = score_of("underdamped_langevin", logdensity_fn, score_fn)

    def force_fn(x, aux):
        return jnp.zeros((), x.dtype), score(x), aux  # the energy is not needed by the sampler

    baoab = langevin(force_fn, step_size, 1.0, friction)

    def init(position, key=None) -> UnderdampedState:
        x = jnp.asarray(position)
        v = jnp.zeros_like(x) if key is None else fused_normal(key, x.shape, x.dtype)
        return UnderdampedState(x, v, score(x))

    def step(state: UnderdampedState, key) -> tuple[UnderdampedState, dict]:
        x = state.position
        md_state = MDState(x, state.momentum, state.score, jnp.zeros((), x.dtype), jnp.ones((), x.dtype), None)
        new, info = baoab.step(md_state, key)
        return UnderdampedState(new.positions, new.momenta, new.forces), info

    return Algorithm(init, step)
