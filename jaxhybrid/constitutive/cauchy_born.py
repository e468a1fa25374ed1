"""Cauchy–Born stress of a Bravais crystal from the MD engine's interatomic potentials.

Cauchy–Born rule (Ericksen 1984; Tadmor & Miller, *Modeling Materials*, 2011, §11.2.2): under a
homogeneous deformation ``F`` every lattice vector ``R`` maps to ``FR``. For a one-atom basis
(FCC, BCC) every atom is equivalent, and the strain energy density is the energy per atom over
the reference atomic volume ``Ω₀``::

    W(F) = e(F) / Ω₀,
    e(F) = ½ Σ_{R≠0} φ(|FR|) + 𝓕(Σ_{R≠0} f(|FR|))       (EAM; pair potentials: 𝓕 = 0)
    P(F) = ∂W/∂F                                         (autodiff),

where the sums run over **all** lattice vectors with ``|FR| < r_c`` — every periodic image,
so the result does not depend on a simulation box (it equals the MD engine's energy per atom of
any periodic supercell of the deformed crystal, however small: see the tests, which compare with
multi-image neighbour lists). The candidate set ``{R : |R| ≤ r_c / s_min}`` is fixed on the
host for deformations whose smallest singular value is ``≥ s_min`` (``min_stretch``); a
deformation outside that range is flagged by :meth:`CauchyBorn.covers`.

The pair term uses the potential's own cutoff treatment (``PairPotential._pair_terms``); EAM its
``embed``/``density``/``pair`` functions, so the data come from exactly the MD engine's model.
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.md.eam import EAM
from jaxhybrid.md.pair import PairPotential

__all__ = ["CauchyBorn", "lattice_vectors", "equilibrium_lattice_constant", "equilibrium_cauchy_born", "PRIMITIVE"]

#: primitive vectors (rows, units of the cubic lattice constant) and atoms per cubic cell
PRIMITIVE = {
    "fcc": (np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]), 4),
    "bcc": (np.array([[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]]), 2),
}


def lattice_vectors(lattice: str, a: float, r_max: float) -> np.ndarray:
    """All nonzero lattice vectors of ``lattice`` ("fcc" | "bcc", cubic constant ``a``) with
    ``|R| ≤ r_max`` (float64, (M, 3))."""
    if lattice not in PRIMITIVE:
        raise ValueError(f"lattice must be one of {sorted(PRIMITIVE)}, got {lattice!r}.")
    if not (a > 0 and r_max > 0):
        raise ValueError("lattice_vectors: need a > 0 and r_max > 0.")
    A = PRIMITIVE[lattice][0] * a
    # |n·A| ≥ |n|·s_min(A): bound the integer range
    n = int(np.ceil(r_max / np.linalg.svd(A, compute_uv=False).min())) + 1
    g = np.stack(np.meshgrid(*[np.arange(-n, n + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
    R = g @ A
    r = np.linalg.norm(R, axis=1)
    keep = (r > 0) & (r <= r_max)
    return R[keep]


class CauchyBorn(eqx.Module):
    """Cauchy–Born energy density ``W(F)`` and stress ``P(F)`` of a Bravais crystal."""

    R: jax.Array
    omega0: float = eqx.field(static=True)
    potential: eqx.Module
    cutoff: float = eqx.field(static=True)
    min_stretch: float = eqx.field(static=True)

    def __init__(self, potential, lattice: str = "fcc", a: float = 1.5, min_stretch: float = 0.6, dtype=None):
        if not isinstance(potential, (PairPotential, EAM)):
            raise ValueError("CauchyBorn: potential must be a jaxhybrid.md PairPotential (lennard_jones, morse, "
                             f"pair_potential) or an EAM (eam_analytic, eam_from_setfl); got {type(potential).__name__}.")
        if not 0 < min_stretch <= 1:
            raise ValueError(f"CauchyBorn: min_stretch must be in (0, 1], got {min_stretch}.")
        self.potential = potential
        self.cutoff = float(potential.cutoff)
        self.min_stretch = float(min_stretch)
        R = lattice_vectors(lattice, float(a), self.cutoff / min_stretch)
        self.R = jnp.asarray(R, dtype or jnp.zeros(()).dtype)
        self.omega0 = float(a) ** 3 / PRIMITIVE[lattice][1]

    def covers(self, F) -> bool:
        """True when ``F``'s smallest singular value is ≥ ``min_stretch`` (host check)."""
        return bool(np.linalg.svd(np.asarray(F, np.float64), compute_uv=False).min() >= self.min_stretch)

    def energy_per_atom(self, F) -> jax.Array:
        R = jax.lax.stop_gradient(self.R).astype(F.dtype)
        d = R @ F.T
        x = jnp.sum(d * d, axis=1)
        rc2 = self.cutoff * self.cutoff
        inside = x < rc2
        xs = jnp.where(inside, x, 0.25 * rc2)  # safe value for masked terms
        pot = self.potential
        if isinstance(pot, PairPotential):
            e, _ = pot._pair_terms(xs, pot.params)
            return 0.5 * jnp.sum(jnp.where(inside, e, 0.0))
        r = jnp.sqrt(xs)
        s = jnp.zeros(r.shape, jnp.int32)
        rho = jnp.sum(jnp.where(inside, pot.density(r, s), 0.0))
        phi = jnp.sum(jnp.where(inside, pot.pair(r, s, s), 0.0))
        return pot.embed(rho, jnp.zeros((), jnp.int32)) + 0.5 * phi

    def energy_density(self, F) -> jax.Array:
        """``W(F) = e(F)/Ω₀`` (energy per reference volume)."""
        return self.energy_per_atom(F) / self.omega0

    def __call__(self, F) -> jax.Array:
        return self.energy_density(F)

    def pk1(self, F) -> jax.Array:
        """``P = ∂W/∂F`` (autodiff)."""
        return jax.grad(self.energy_density)(F)


def equilibrium_lattice_constant(potential, lattice: str = "fcc", a_guess: float = 1.5, iters: int = 30) -> float:
    """Zero-pressure cubic lattice constant: Newton on ``d e(sI)/ds = 0`` in float64."""
    with jax.enable_x64(True):
        cb = CauchyBorn(potential, lattice, a_guess, min_stretch=0.5, dtype=jnp.float64)
        e = lambda s: cb.energy_per_atom(s * jnp.eye(3, dtype=jnp.float64))
        both = jax.jit(lambda s: (jax.grad(e)(s), jax.grad(jax.grad(e))(s)))
        s = jnp.asarray(1.0, jnp.float64)
        for _ in range(iters):
            g, h = both(s)
            step = g / h
            if not bool(h > 0):
                raise ValueError("equilibrium_lattice_constant: energy not convex near a_guess; try another a_guess.")
            s = jnp.clip(s - step, 0.8 * s, 1.25 * s)
            if abs(float(step)) < 1e-13:
                break
        return float(s) * a_guess


def equilibrium_cauchy_born(make_potential: Callable[[], object], lattice: str = "fcc",
                            a_guess: float = 1.5) -> tuple[CauchyBorn, float]:
    """``(law, a₀)``: the float64 Cauchy–Born law of the potential ``make_potential()`` at its
    zero-pressure lattice constant ``a₀`` (:func:`equilibrium_lattice_constant`), so the reference
    ``F = I`` is stress free. The potential is built with x64 enabled (its parameters are then
    float64 arrays, as the law's float64 evaluation needs)."""
    with jax.enable_x64(True):
        potential = make_potential()
        a0 = equilibrium_lattice_constant(potential, lattice, a_guess)
        return CauchyBorn(potential, lattice, a0, dtype=jnp.float64), a0
