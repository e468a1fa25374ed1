"""Unit systems. Integrators are unit-agnostic: they take masses in *energy·time²/length²*
so that ``K = ½ Σ p²/m`` is in energy units and ``a = F/m``. :meth:`Units.mass` converts a mass
in the system's mass unit.

* ``LJ`` (reduced): σ = ε = m = k_B = 1; time unit τ = σ√(m/ε).
* ``METAL`` (LAMMPS ``units metal``): eV, Å, ps, amu, K, bar.
  1 amu·Å²/ps² = 1.0364269e-4 eV; k_B = 8.617333262e-5 eV/K; 1 eV/Å³ = 1.6021766e6 bar.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

__all__ = ["Units", "LJ", "METAL"]


class Units(NamedTuple):
    name: str
    kB: float  # energy per temperature unit
    mvv2e: float  # mass·length²/time² → energy
    pressure_to_bar: float  # energy/length³ → output pressure unit (bar for metal, 1 for LJ)

    def mass(self, m):
        """Mass in this system's mass unit → integrator mass (energy·time²/length²)."""
        return jnp.asarray(m) * self.mvv2e

    def kT(self, temperature):
        return self.kB * temperature


LJ = Units("lj", 1.0, 1.0, 1.0)
METAL = Units("metal", 8.617333262e-5, 1.0364269e-4, 1.6021766208e6)
