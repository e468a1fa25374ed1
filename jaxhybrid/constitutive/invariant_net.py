"""Isotropic hyperelastic network ``W(I₁, I₂, J)`` that is polyconvex by construction.

Following the input-convex construction (Amos, Xu & Kolter, ICML 2017) as used for
constitutive modelling by Klein et al., J. Mech. Phys. Solids 159 (2022) 104703::

    W(F) = W₁(I₁ − 3, I₂ − 3) + W₂(J) − c (J − 1) − W₀,

* ``W₁``: input-convex network, non-negative weights on hidden paths and on the inputs,
  convex non-decreasing activation (softplus) ⇒ convex and non-decreasing in ``(I₁, I₂)``;
  ``I₁ = ‖F‖²`` is convex in ``F`` and ``I₂ = ‖cof F‖²`` convex in ``cof F``, so ``W₁`` is
  convex in ``(F, cof F)``;
* ``W₂``: a convex function of ``J`` (input-convex network of one input);
* ``c (J − 1)`` with ``c = (2∂₁W + 4∂₂W + W₂')`` at ``F = I``: an affine function of ``det F``
  (keeps polyconvexity) that makes the reference configuration stress free, ``P(I) = 0``;
  ``W₀`` makes ``W(I) = 0``.

Hence ``W`` is polyconvex (Ball 1977), objective and isotropic (invariants only), and
``P = ∂W/∂F`` by autodiff. Non-negativity of the weights is enforced with softplus.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .kinematics import invariants

__all__ = ["ICNN", "InvariantHyperelastic"]


class ICNN(eqx.Module):
    """Input-convex network ``R^d → R``, non-decreasing in its inputs when ``monotone``."""

    Wx: list
    Wz: list
    b: list
    monotone: bool = eqx.field(static=True)

    def __init__(self, in_size: int, width: int = 16, depth: int = 2, monotone: bool = True, *, key: PRNGKeyArray):
        keys = jax.random.split(key, 2 * depth + 2)
        sizes = [width] * depth + [1]
        self.Wx = [0.3 * jax.random.normal(keys[i], (s, in_size)) for i, s in enumerate(sizes)]
        self.Wz = [0.3 * jax.random.normal(keys[depth + 1 + i], (s, p)) - 1.0 for i, (p, s) in enumerate(zip(sizes[:-1], sizes[1:]))]
        self.b = [jnp.zeros((s,)) for s in sizes]
        self.monotone = monotone

    def __call__(self, x):
        pos = jax.nn.softplus
        wx = (lambda w: pos(w)) if self.monotone else (lambda w: w)
        z = pos(wx(self.Wx[0]) @ x + self.b[0])
        last = len(self.Wx) - 1
        for k in range(1, last + 1):
            a = pos(self.Wz[k - 1]) @ z + wx(self.Wx[k]) @ x + self.b[k]
            z = a if k == last else pos(a)
        return z[0]


class InvariantHyperelastic(eqx.Module):
    """Polyconvex isotropic energy ``W(F)`` (see module docstring); ``pk1(F) = ∂W/∂F``."""

    w1: ICNN
    w2: ICNN
    scale: float = eqx.field(static=True)

    def __init__(self, width: int = 16, depth: int = 2, scale: float = 1.0, *, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        self.w1 = ICNN(2, width, depth, monotone=True, key=k1)
        self.w2 = ICNN(1, width, depth, monotone=False, key=k2)
        self.scale = float(scale)

    def _raw(self, I1, I2, J):
        return self.w1(jnp.stack([I1 - 3.0, I2 - 3.0])) + self.w2(jnp.reshape(J - 1.0, (1,)))

    def __call__(self, F):
        I1, I2, J = invariants(F)
        one = jnp.ones((), F.dtype)
        d1, d2, dJ = jax.grad(self._raw, argnums=(0, 1, 2))(3.0 * one, 3.0 * one, one)
        c = 2.0 * d1 + 4.0 * d2 + dJ
        return self.scale * (self._raw(I1, I2, J) - c * (J - 1.0) - self._raw(3.0 * one, 3.0 * one, one))

    def pk1(self, F):
        return jax.grad(self.__call__)(F)
