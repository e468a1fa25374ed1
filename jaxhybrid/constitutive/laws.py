"""Reference constitutive laws that generate data.

Hyperelastic laws are stored-energy functions ``W(F)`` (per unit reference volume); the first
Piola–Kirchhoff stress is ``P = ∂W/∂F`` by autodiff (:meth:`Hyperelastic.pk1`). All are
frame-indifferent because they depend on ``F`` through ``C = FᵀF`` only.

* Neo-Hookean (compressible, Ogden form; Holzapfel 2000 eq. 6.148)::
      W = μ/2 (I₁ − 3) − μ ln J + λ/2 (ln J)²
* Mooney–Rivlin (isochoric invariants Ī₁ = J^{-2/3} I₁, Ī₂ = J^{-4/3} I₂)::
      W = c₁₀(Ī₁ − 3) + c₀₁(Ī₂ − 3) + κ/2 (J − 1)²
* St Venant–Kirchhoff::  W = λ/2 (tr E)² + μ E:E
* Cubic anisotropic (St Venant–Kirchhoff with a cubic elasticity tensor, axes = cube axes)::
      W = C₁₁/2 ΣE_ii² + C₁₂ Σ_{i<j} E_ii E_jj + 2 C₄₄ Σ_{i<j} E_ij²
  invariant under the 48 matrices of Oₕ (``W(FH) = W(F)``) but not isotropic when
  ``C₁₁ − C₁₂ ≠ 2C₄₄``.

Incremental (hypoelastic) law with strain hardening, in Mandel notation (6-vectors, see
:mod:`~jaxhybrid.constitutive.kinematics`), small strains::

    σⁿ⁺¹ = σⁿ + H(εⁿ⁺¹)(εⁿ⁺¹ − εⁿ),   H(ε) = 3K(ε) 𝕁 + 2G(ε) 𝕂,
    K(ε) = K₀(1 + b_K (tr ε / ε₀)²),   G(ε) = G₀(1 + b_G ‖dev ε‖² / ε₀²),

with the Mandel projectors 𝕁 = ⅓ δδᵀ (δ = (1,1,1,0,0,0)) and 𝕂 = I − 𝕁. The law *is* this
discrete update (tangent at the new strain, as in the SPD-NN form of Xu, Huang & Darve, J.
Comput. Phys. 428 (2021) 110072), so its response depends on the loading path (hypoelastic).
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .kinematics import green_lagrange, invariants

__all__ = [
    "Hyperelastic", "neo_hookean", "mooney_rivlin", "st_venant_kirchhoff", "cubic_hyperelastic",
    "HardeningHypoelastic", "mandel_projectors",
]


class Hyperelastic(eqx.Module):
    """A stored energy ``W(F)``; ``law(F)`` is the energy, ``law.pk1(F)`` the stress ``∂W/∂F``."""

    energy: Callable = eqx.field(static=True)
    name: str = eqx.field(static=True, default="hyperelastic")

    def __call__(self, F):
        return self.energy(F)

    def pk1(self, F):
        return jax.grad(self.energy)(F)


def _positive(**kw):
    for k, v in kw.items():
        if not float(v) > 0:
            raise ValueError(f"{k} must be positive, got {v}.")


def neo_hookean(mu: float = 1.0, lam: float = 1.0) -> Hyperelastic:
    """Compressible neo-Hookean law (see module docstring)."""
    _positive(mu=mu, lam=lam)

    def W(F):
        I1, _, J = invariants(F)
        lnJ = jnp.log(J)
        return 0.5 * mu * (I1 - 3.0) - mu * lnJ + 0.5 * lam * lnJ**2

    return Hyperelastic(W, "neo-Hookean")


def mooney_rivlin(c10: float = 0.5, c01: float = 0.1, kappa: float = 10.0) -> Hyperelastic:
    """Compressible Mooney–Rivlin law in isochoric invariants (see module docstring)."""
    _positive(c10=c10, kappa=kappa)
    if c01 < 0:
        raise ValueError(f"c01 must be non-negative, got {c01}.")

    def W(F):
        I1, I2, J = invariants(F)
        return c10 * (J ** (-2 / 3) * I1 - 3) + c01 * (J ** (-4 / 3) * I2 - 3) + 0.5 * kappa * (J - 1) ** 2

    return Hyperelastic(W, "Mooney-Rivlin")


def st_venant_kirchhoff(lam: float = 1.0, mu: float = 1.0) -> Hyperelastic:
    """St Venant–Kirchhoff law ``W = λ/2 (tr E)² + μ E:E``."""
    _positive(mu=mu, lam=lam)

    def W(F):
        E = green_lagrange(F)
        return 0.5 * lam * jnp.trace(E) ** 2 + mu * jnp.sum(E * E)

    return Hyperelastic(W, "St Venant-Kirchhoff")


def cubic_hyperelastic(C11: float = 2.0, C12: float = 1.2, C44: float = 0.6) -> Hyperelastic:
    """Cubic anisotropic St Venant–Kirchhoff law (axes along the cube axes)."""
    _positive(C11=C11, C44=C44)
    if not (C11 - C12 > 0 and C11 + 2 * C12 > 0):
        raise ValueError("cubic_hyperelastic: need C11 > |C12| type stability: C11 - C12 > 0 and C11 + 2 C12 > 0.")

    def W(F):
        E = green_lagrange(F)
        d = jnp.diagonal(E)
        off = jnp.stack([E[0, 1], E[1, 2], E[0, 2]])
        cross = d[0] * d[1] + d[1] * d[2] + d[0] * d[2]
        return 0.5 * C11 * jnp.sum(d * d) + C12 * cross + 2.0 * C44 * jnp.sum(off * off)

    return Hyperelastic(W, "cubic")


def mandel_projectors(dtype=None):
    """Mandel (6×6) volumetric and deviatoric projectors ``𝕁 = ⅓δδᵀ``, ``𝕂 = I − 𝕁``."""
    dtype = dtype or jnp.zeros(()).dtype
    delta = jnp.asarray([1.0, 1.0, 1.0, 0.0, 0.0, 0.0], dtype)
    Jp = jnp.outer(delta, delta) / 3.0
    return Jp, jnp.eye(6, dtype=dtype) - Jp


class HardeningHypoelastic(eqx.Module):
    """Strain-hardening hypoelastic law (see module docstring); Mandel 6-vectors."""

    K0: float = 1.0
    G0: float = 0.6
    bK: float = 0.5
    bG: float = 2.0
    eps0: float = 0.01

    def tangent(self, eps):
        """``H(ε)`` (6×6, symmetric positive definite)."""
        Jp, Kp = mandel_projectors(eps.dtype)
        tr = eps[0] + eps[1] + eps[2]
        dev = Kp @ eps
        K = self.K0 * (1.0 + self.bK * (tr / self.eps0) ** 2)
        G = self.G0 * (1.0 + self.bG * jnp.sum(dev * dev) / self.eps0**2)
        return 3.0 * K * Jp + 2.0 * G * Kp

    def step(self, sigma, eps_old, eps_new):
        """``σⁿ⁺¹ = σⁿ + H(εⁿ⁺¹)(εⁿ⁺¹ − εⁿ)``."""
        return sigma + self.tangent(eps_new) @ (eps_new - eps_old)
