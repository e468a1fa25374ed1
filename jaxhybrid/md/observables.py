"""Observables: kinetic energy, temperature, pressure, radial distribution function, MSD
(Allen & Tildesley ch. 2 and §8.2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .space import make_box, perpendicular_widths, volume

__all__ = ["kinetic_energy", "temperature", "pressure_kinetic", "rdf", "msd"]


def kinetic_energy(momenta, mass) -> jax.Array:
    """``K = Σ_i |p_i|² / (2 m_i)`` (mass in energy·time²/length²)."""
    m = jnp.reshape(jnp.asarray(mass, momenta.dtype), (-1, 1)) if jnp.ndim(mass) else mass
    return 0.5 * jnp.sum(momenta * momenta / m)


def temperature(momenta, mass, kB: float = 1.0, n_dof=None) -> jax.Array:
    """Instantaneous ``T = 2K / (N_f k_B)``, ``N_f = 3N − 3`` by default (momentum conserved)."""
    n = momenta.shape[-2]
    n_dof = 3 * n - 3 if n_dof is None else n_dof
    return 2.0 * kinetic_energy(momenta, mass) / (n_dof * kB)


def pressure_kinetic(momenta, mass, box) -> jax.Array:
    """Kinetic part of the pressure ``2K / (3V)``; add the virial part from
    :func:`jaxhybrid.md.pair.pressure` / :func:`~jaxhybrid.md.pair.stress`."""
    return 2.0 * kinetic_energy(momenta, mass) / (3.0 * volume(box))


def rdf(positions, box, r_max: float, n_bins: int = 100, chunk: int = 1024):
    """Radial distribution function ``g(r) = V / (N (N−1)) · ⟨Σ_{i≠j} δ(r − r_ij)⟩ / (4π r² δr)``
    (Allen & Tildesley §8.2). ``positions``: (N, 3) or a trajectory (T, N, 3), averaged.
    Minimum image, so ``r_max`` must be below half the smallest box width. Returns
    ``(r_centres, g)`` as NumPy arrays."""
    box = make_box(box)
    w = float(np.asarray(perpendicular_widths(box)).min())
    if not 0 < r_max <= 0.5 * w:
        raise ValueError(f"rdf: r_max={r_max} must be in (0, {0.5 * w:.4g}] (half the smallest box width).")
    pos = jnp.asarray(positions)
    if pos.ndim == 2:
        pos = pos[None]
    T, n, _ = pos.shape
    edges = jnp.linspace(0.0, r_max, n_bins + 1)
    H = box.matrix.astype(pos.dtype)
    G = jnp.linalg.inv(H)

    @jax.jit
    def frame_hist(R):
        s = R @ G

        def rows(i0):
            si = jax.lax.dynamic_slice_in_dim(s, i0, chunk) if n > chunk else s
            d = s[None, :, :] - si[:, None, :]
            d = (d - jnp.round(d)) @ H
            r = jnp.sqrt(jnp.sum(d * d, -1))
            r = jnp.where(r > 0, r, r_max * 2)  # drop self
            return jnp.histogram(r.reshape(-1), bins=edges)[0]

        if n <= chunk:
            return rows(0)
        starts = jnp.arange(0, n - chunk + 1, chunk)
        h = jax.lax.map(rows, starts).sum(0)
        rem = n - (n // chunk) * chunk
        if rem:
            sl = s[n - rem:]
            d = s[None] - sl[:, None]
            d = (d - jnp.round(d)) @ H
            r = jnp.sqrt(jnp.sum(d * d, -1))
            r = jnp.where(r > 0, r, r_max * 2)
            h = h + jnp.histogram(r.reshape(-1), bins=edges)[0]
        return h

    hist = sum(np.asarray(frame_hist(pos[t]), np.float64) for t in range(T))
    e = np.asarray(edges, np.float64)
    shell = 4.0 / 3.0 * np.pi * (e[1:] ** 3 - e[:-1] ** 3)
    V = float(volume(box))
    g = hist / T * V / (n * (n - 1)) / shell
    return 0.5 * (e[1:] + e[:-1]), g


def msd(trajectory) -> jax.Array:
    """Mean squared displacement from the first frame, ``⟨|r_i(t) − r_i(0)|²⟩`` per frame, for
    an *unwrapped* trajectory (T, N, 3) (integrators keep positions unwrapped)."""
    traj = jnp.asarray(trajectory)
    d = traj - traj[0]
    return jnp.mean(jnp.sum(d * d, -1), -1)
