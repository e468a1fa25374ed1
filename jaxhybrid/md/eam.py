"""Embedded-atom method (Daw & Baskes, Phys. Rev. B 29, 6443 (1984)):

    E = Σ_i F_{s_i}(ρ_i) + ½ Σ_i Σ_{j≠i} φ_{s_i s_j}(r_ij),      ρ_i = Σ_{j≠i} f_{s_j}(r_ij).

Two sources of ``F, f, φ``: analytic forms (:func:`eam_analytic`, a Finnis–Sinclair-type
model with exponential density and Morse-like pair term, smoothly tapered to zero at the
cutoff) and LAMMPS ``setfl`` tables (:func:`eam_from_setfl`) interpolated with the C¹ cubic
Hermite scheme of LAMMPS ``pair_eam`` (slopes from 4th-order central differences).

Forces are ``-∂E/∂r`` by autodiff through the neighbour-list energy (a many-body energy; the
interpolants are C¹, so autodiff forces equal finite differences of the energy). Needs a
``"dense"`` neighbour list (densities are row sums).
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .io import SetflTables, read_setfl
from .neighbours import NeighborList, poison
from .pair import pair_components

__all__ = ["EAM", "eam_analytic", "eam_from_setfl", "hermite_table", "HermiteTable"]


def _hermite_slopes(f: np.ndarray) -> np.ndarray:
    """LAMMPS ``PairEAM::interpolate`` slopes (per grid step)."""
    n = f.shape[-1]
    s = np.zeros_like(f)
    s[..., 0] = f[..., 1] - f[..., 0]
    s[..., 1] = 0.5 * (f[..., 2] - f[..., 0])
    s[..., n - 2] = 0.5 * (f[..., n - 1] - f[..., n - 3])
    s[..., n - 1] = f[..., n - 1] - f[..., n - 2]
    s[..., 2 : n - 2] = ((f[..., 0 : n - 4] - f[..., 4:n]) + 8.0 * (f[..., 3 : n - 1] - f[..., 1 : n - 3])) / 12.0
    return s


class HermiteTable(eqx.Module):
    """C¹ cubic-Hermite interpolant of tabulated values on ``x = k·step`` (last axis), with
    the LAMMPS slopes; leading axes are species. ``table(x, *species_index)``; beyond the
    last grid point the last cubic is extended (callers mask beyond the cutoff)."""

    f: jax.Array
    s: jax.Array
    step: float = eqx.field(static=True)

    def __call__(self, x, *index):
        n = self.f.shape[-1]
        t = x / self.step
        m = jnp.clip(jnp.floor(t), 0, n - 2).astype(jnp.int32)
        p = t - m
        f0, f1 = self.f[(*index, m)], self.f[(*index, m + 1)]
        s0, s1 = self.s[(*index, m)], self.s[(*index, m + 1)]
        c3 = s0 + s1 - 2.0 * (f1 - f0)
        c2 = 3.0 * (f1 - f0) - 2.0 * s0 - s1
        return ((c3 * p + c2) * p + s0) * p + f0


def hermite_table(values, step: float) -> HermiteTable:
    """Build a :class:`HermiteTable` from values on the grid ``x = k·step``."""
    v = np.asarray(values, np.float64)
    if v.shape[-1] < 5:
        raise ValueError("hermite_table: need at least 5 grid points.")
    dtype = jnp.zeros(()).dtype
    return HermiteTable(jnp.asarray(v, dtype), jnp.asarray(_hermite_slopes(v), dtype), float(step))


class EAM(eqx.Module):
    """EAM energy ``E(positions, nbrs, box, species)``.

    ``embed(rho, s)``, ``density(r, s_j)``, ``pair(r, s_i, s_j)`` are elementwise functions
    (species arrays broadcast with ``r``)."""

    embed: Callable = eqx.field(static=True)
    density: Callable = eqx.field(static=True)
    pair: Callable = eqx.field(static=True)
    cutoff: float = eqx.field(static=True)

    def _terms(self, positions, nbrs: NeighborList, box, species):
        if nbrs.half:
            raise ValueError("EAM needs a 'dense' neighbour list (densities are row sums); got format='half'.")
        n = positions.shape[0]
        d, valid = pair_components(positions, nbrs, box)
        x = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
        inside = valid & (x < self.cutoff * self.cutoff)
        r = jnp.sqrt(jnp.where(inside, x, 1.0))
        if species is None:
            species = jnp.zeros((n,), jnp.int32)
        si = jnp.broadcast_to(species[None, :], r.shape)
        sj = jnp.take(species, jnp.minimum(nbrs.idx_t, n - 1))
        rho = jnp.sum(jnp.where(inside, self.density(r, sj), 0.0), axis=0)
        phi = jnp.where(inside, self.pair(r, si, sj), 0.0)
        return self.embed(rho, species), 0.5 * jnp.sum(phi, axis=0)

    def __call__(self, positions, nbrs: NeighborList, box, species=None) -> jax.Array:
        return self.energy(positions, nbrs, box, species)

    def energy(self, positions, nbrs, box, species=None) -> jax.Array:
        emb, pair = self._terms(positions, nbrs, box, species)
        return poison(jnp.sum(emb) + jnp.sum(pair), positions, nbrs)  # NaN: overflowed list / NaN position

    def per_atom(self, positions, nbrs, box, species=None) -> jax.Array:
        emb, pair = self._terms(positions, nbrs, box, species)
        return poison(emb + pair, positions, nbrs)


def _taper(r, rc):
    """C² taper ``(1 − (r/rc)²)³`` → 0 with two vanishing derivatives at ``rc``."""
    u = 1.0 - (r / rc) ** 2
    return jnp.where(r < rc, u * u * u, 0.0)


def eam_analytic(A=1.0, beta=3.0, D=0.3, alpha=1.5, r0=1.0, cutoff=2.5) -> EAM:
    """Single-species analytic EAM: ``f(r) = e^{−β(r−r0)} t(r)``, ``F(ρ) = −A √ρ``
    (Finnis & Sinclair, Phil. Mag. A 50, 45 (1984)), ``φ(r) = D[(1−e^{−α(r−r0)})² − 1] t(r)``
    with the taper ``t(r) = (1 − r²/r_c²)³``. Parameters are scalars or per-species arrays."""
    if not cutoff > 0:
        raise ValueError("eam_analytic: cutoff must be positive.")
    A, beta, D, alpha, r0 = (jnp.asarray(v) for v in (A, beta, D, alpha, r0))

    def pick(p, s):
        return p if p.ndim == 0 else p[s]

    def density(r, sj):
        return jnp.exp(-pick(beta, sj) * (r - pick(r0, sj))) * _taper(r, cutoff)

    def embed(rho, s):
        return -pick(A, s) * jnp.sqrt(rho + 1e-30)

    def pair(r, si, sj):
        ex = jnp.exp(-pick(alpha, si) * (r - pick(r0, si)))
        return pick(D, si) * ((1.0 - ex) ** 2 - 1.0) * _taper(r, cutoff)

    return EAM(embed, density, pair, float(cutoff))


def eam_from_setfl(source) -> EAM:
    """EAM from a LAMMPS setfl file path (or parsed :class:`SetflTables`); energies in eV,
    distances in Å (use ``units.METAL``). Masses (amu) are in ``read_setfl(path).masses``."""
    t = source if isinstance(source, SetflTables) else read_setfl(source)
    F = hermite_table(t.embed, t.drho)
    f = hermite_table(t.density, t.dr)
    rp = hermite_table(t.rphi, t.dr)

    def embed(rho, s):
        return F(rho, s)

    def density(r, sj):
        return f(r, sj)

    def pair(r, si, sj):
        return rp(r, si, sj) / r

    return EAM(embed, density, pair, float(t.cutoff))
