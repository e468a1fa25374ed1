"""Nosé–Hoover chain thermostat (NVT), as an :class:`~jaxhybrid.algorithm.Algorithm`, with its
conserved energy.

Equations of motion (Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635 (1992)), chain of
length M, ``N_f = 3N − 3`` degrees of freedom::

    ṙ = p/m,  ṗ = F − v₁ p,
    ξ̇_k = v_k,   Q₁ v̇₁ = 2K − N_f kT − Q₁ v₁ v₂,
    Q_k v̇_k = Q_{k−1} v_{k−1}² − kT − Q_k v_k v_{k+1}   (v_{M+1} ≡ 0),
    Q₁ = N_f kT τ²,  Q_k = kT τ².

Integrator (Martyna, Tuckerman, Tobias & Klein, Mol. Phys. 87, 1117 (1996)): the Trotter
splitting ``e^{iL_NHC δt/2} e^{iL_VV δt} e^{iL_NHC δt/2}``, each thermostat half step done with
``n_chain_steps`` sub-steps and Suzuki–Yoshida weights (order 3 or 5). The quantity

    H' = K + U + Σ_k ½ Q_k v_k² + N_f kT ξ₁ + kT Σ_{k≥2} ξ_k

is conserved by the exact flow; :func:`conserved_energy` evaluates it (its drift measures
integration error).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxhybrid.algorithm import Algorithm

from .nve import check_dt, check_init, drift, kick, step_info

__all__ = ["NHCState", "nose_hoover_chain", "conserved_energy"]

_SY = {1: (1.0,), 3: (0.828981543588751, -0.657963087177502, 0.828981543588751),
       5: (0.2967324292201065, 0.2967324292201065, -0.186929716880426, 0.2967324292201065, 0.2967324292201065)}


class NHCState(NamedTuple):
    positions: jax.Array
    momenta: jax.Array
    forces: jax.Array
    energy: jax.Array
    mass: jax.Array
    aux: Any
    xi: jax.Array  # (M,) thermostat positions
    v_xi: jax.Array  # (M,) thermostat velocities
    Q: jax.Array  # (M,) thermostat masses
    kT: jax.Array
    n_dof: jax.Array


def _half_chain(p, m, xi, v, Q, kT, n_dof, dt_half, n_sub, weights):
    """Propagate the thermostat chain by ``dt_half`` (MTK 1996, Suzuki–Yoshida)."""
    K2 = jnp.sum(p * p / m)  # 2K
    M = xi.shape[0]
    scale_total = jnp.ones((), p.dtype)
    for w in weights:
        for _ in range(n_sub):
            d = w * dt_half / n_sub
            G = [(K2 - n_dof * kT) / Q[0]] + [(Q[k - 1] * v[k - 1] ** 2 - kT) / Q[k] for k in range(1, M)]
            v = list(v[i] for i in range(M))
            v[M - 1] = v[M - 1] + 0.5 * d * G[M - 1]
            for k in range(M - 2, -1, -1):
                a = jnp.exp(-0.25 * d * v[k + 1])
                v[k] = (v[k] * a + 0.5 * d * G[k]) * a
            s = jnp.exp(-d * v[0])
            scale_total = scale_total * s
            K2 = K2 * s * s
            xi = xi + d * jnp.stack(v)
            G0 = (K2 - n_dof * kT) / Q[0]
            for k in range(M - 1):
                a = jnp.exp(-0.25 * d * v[k + 1])
                gk = G0 if k == 0 else (Q[k - 1] * v[k - 1] ** 2 - kT) / Q[k]
                v[k] = (v[k] * a + 0.5 * d * gk) * a
            gM = G0 if M == 1 else (Q[M - 2] * v[M - 2] ** 2 - kT) / Q[M - 1]
            v[M - 1] = v[M - 1] + 0.5 * d * gM
            v = jnp.stack(v)
    return p * scale_total, xi, v


def nose_hoover_chain(force_fn: Callable, dt: float, kT: float, tau: float, chain_length: int = 3,
                      n_chain_steps: int = 2, sy_order: int = 3) -> Algorithm:
    """Nosé–Hoover chain NVT integrator; ``tau`` is the thermostat period (time units,
    typically ~100 δt). ``init(positions, momenta=None, mass=1.0, aux=None) -> NHCState``;
    ``step(state, key) -> (NHCState, info)`` (deterministic: the key is ignored)."""
    check_dt(dt)
    if not float(kT) > 0:
        raise ValueError(f"nose_hoover_chain: kT must be positive, got {kT}.")
    if not float(tau) > 0:
        raise ValueError(f"nose_hoover_chain: tau must be positive, got {tau}.")
    if chain_length < 1 or n_chain_steps < 1 or sy_order not in _SY:
        raise ValueError("nose_hoover_chain: need chain_length >= 1, n_chain_steps >= 1, sy_order in {1, 3, 5}.")
    weights = _SY[sy_order]

    def init(positions, momenta=None, mass=1.0, aux=None) -> NHCState:
        positions, momenta, m = check_init(positions, momenta, mass)
        dtype = positions.dtype
        e, f, aux = force_fn(positions, aux)
        n_dof = jnp.asarray(3 * positions.shape[0] - 3, dtype)
        Q = jnp.full((chain_length,), kT * tau * tau, dtype).at[0].multiply(n_dof)
        z = jnp.zeros((chain_length,), dtype)
        return NHCState(positions, momenta, f, e, m, aux, z, z, Q, jnp.asarray(kT, dtype), n_dof)

    def step(s: NHCState, key: Any = None) -> tuple[NHCState, dict]:
        del key  # deterministic
        h = jnp.asarray(dt, s.positions.dtype)
        p, xi, v = _half_chain(s.momenta, s.mass, s.xi, s.v_xi, s.Q, s.kT, s.n_dof, 0.5 * h, n_chain_steps, weights)
        p = kick(p, s.forces, 0.5 * h)
        r = drift(s.positions, p, s.mass, h)
        e, f, aux = force_fn(r, s.aux)
        p = kick(p, f, 0.5 * h)
        p, xi, v = _half_chain(p, s.mass, xi, v, s.Q, s.kT, s.n_dof, 0.5 * h, n_chain_steps, weights)
        return NHCState(r, p, f, e, s.mass, aux, xi, v, s.Q, s.kT, s.n_dof), step_info(aux)

    return Algorithm(init, step)


def conserved_energy(s: NHCState) -> jax.Array:
    """``H' = K + U + Σ ½ Q_k v_k² + N_f kT ξ₁ + kT Σ_{k≥2} ξ_k``."""
    K = 0.5 * jnp.sum(s.momenta * s.momenta / s.mass)
    th = 0.5 * jnp.sum(s.Q * s.v_xi**2) + s.n_dof * s.kT * s.xi[0] + s.kT * jnp.sum(s.xi[1:])
    return K + s.energy + th
