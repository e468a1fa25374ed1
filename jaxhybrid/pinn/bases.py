r"""Spectral bases for unknown fields of PINN inverse problems (a source, a coefficient).

:class:`Chebyshev2D` is a tensor Chebyshev expansion on the unit square,

    f(x) = s Σ_{n,m ≤ p} c_nm T_n(2x₁ − 1) T_m(2x₂ − 1),    T_n(t) = cos(n arccos t),

whose degree ``p`` is a regularity prior: analytic functions have geometrically decaying
Chebyshev coefficients (Trefethen 2013, *Approximation Theory and Approximation Practice*,
Thm 8.2), so a low degree regularises a noisy inversion and a higher one resolves a smooth
field to near machine precision.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["Chebyshev2D"]


class Chebyshev2D(eqx.Module):
    """``f(x) = scale · Σ c_nm T_n(2x₁ − 1) T_m(2x₂ − 1)`` on [0, 1]² (module docstring); ``coef``
    is ``(p + 1, p + 1)``; ``scale`` sets the unit so that the coefficients are of order one."""

    coef: jax.Array
    scale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if jnp.ndim(self.coef) != 2 or self.coef.shape[0] != self.coef.shape[1]:
            raise ValueError(f"Chebyshev2D: coef must be a square (p + 1, p + 1) array, got shape {jnp.shape(self.coef)}.")

    @classmethod
    def zeros(cls, degree: int, scale: float = 1.0, dtype=jnp.float32) -> "Chebyshev2D":
        """The zero expansion of degree ``degree`` (``>= 0``)."""
        if not isinstance(degree, int) or degree < 0:
            raise ValueError(f"Chebyshev2D.zeros: the degree must be an int >= 0, got {degree!r}.")
        return cls(jnp.zeros((degree + 1, degree + 1), dtype), scale)

    def __call__(self, x: jax.Array) -> jax.Array:
        n = jnp.arange(self.coef.shape[0], dtype=x.dtype)
        t = jnp.clip(2 * x - 1, -1.0, 1.0)
        tx, ty = jnp.cos(n * jnp.arccos(t[0])), jnp.cos(n * jnp.arccos(t[1]))
        return self.scale * (tx @ self.coef @ ty)
