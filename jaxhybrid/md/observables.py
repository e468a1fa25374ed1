"""Observables: kinetic energy, temperature, pressure, radial distribution function, MSD
(Allen & Tildesley ch. 2 and §8.2), bond lengths and the L1 distance of two sampled
distributions (comparing the structure of two trajectories, e.g. learned-potential MD vs its
reference)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .space import make_box, perpendicular_widths, volume

__all__ = ["kinetic_energy", "temperature", "pressure_kinetic", "rdf", "rdf_peak", "msd", "bond_lengths",
           "histogram_edges", "histogram_l1"]


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


def rdf_peak(r, g, search: int = 40) -> tuple[float, float, float]:
    """First coordination shell of a liquid's ``g(r)`` (from :func:`rdf`): ``(r_peak, g(r_peak),
    r_min)`` with ``r_peak`` the position of the global maximum (the first peak of a simple
    liquid) and ``r_min`` the first minimum after it, searched over the next ``search`` bins."""
    r, g = np.asarray(r), np.asarray(g)
    if r.shape != g.shape or r.ndim != 1 or r.size < 2 or search < 1:
        raise ValueError(f"rdf_peak: need r and g of one shape (n_bins,) with n_bins >= 2 and search >= 1, got "
                         f"{r.shape}, {g.shape}, search={search}.")
    i = int(np.argmax(g))
    j = i + int(np.argmin(g[i: i + search]))
    return float(r[i]), float(g[i]), float(r[j])


def msd(trajectory) -> jax.Array:
    """Mean squared displacement from the first frame, ``⟨|r_i(t) − r_i(0)|²⟩`` per frame, for
    an *unwrapped* trajectory (T, N, 3) (integrators keep positions unwrapped)."""
    traj = jnp.asarray(trajectory)
    d = traj - traj[0]
    return jnp.mean(jnp.sum(d * d, -1), -1)


def bond_lengths(trajectory, pairs) -> np.ndarray:
    """``|r_j − r_i|`` of each ``(i, j)`` of ``pairs`` in every frame of a non-periodic
    trajectory (F, N, 3) (or one frame (N, 3)): an array (F, len(pairs))."""
    R = np.asarray(trajectory)
    R = R[None] if R.ndim == 2 else R
    pairs = np.asarray(pairs, int).reshape(-1, 2)
    if R.ndim != 3 or R.shape[-1] != 3 or pairs.size == 0 or pairs.min() < 0 or pairs.max() >= R.shape[1]:
        raise ValueError(f"bond_lengths: need a trajectory (F, N, 3) and atom pairs in [0, N); got {R.shape}, "
                         f"{pairs.tolist()}.")
    return np.linalg.norm(R[:, pairs[:, 1]] - R[:, pairs[:, 0]], axis=-1)


def histogram_edges(*samples, n_bins: int = 24, pad: float = 0.05) -> np.ndarray:
    """``n_bins + 1`` common bin edges spanning every sample, widened by ``pad`` of the range
    on each side."""
    if not samples or n_bins < 1:
        raise ValueError("histogram_edges: need at least one sample and n_bins >= 1.")
    lo = min(float(np.min(s)) for s in samples)
    hi = max(float(np.max(s)) for s in samples)
    w = pad * (hi - lo)
    return np.linspace(lo - w, hi + w, n_bins + 1)


def histogram_l1(a, b, edges) -> float:
    """``∫|p_a − p_b| dr`` of the histogram densities of samples ``a`` and ``b`` on ``edges``:
    ``Σ_bins |n_a/|a| − n_b/|b||`` (0 for identical histograms, 2 for disjoint ones). Samples
    outside the edges count as disjoint mass (each side adds its out-of-range fraction), so they
    can only raise it."""
    a, b = np.ravel(a), np.ravel(b)
    if not len(a) or not len(b):
        raise ValueError("histogram_l1: both samples must be non-empty.")
    pa = np.histogram(a, edges)[0] / len(a)
    pb = np.histogram(b, edges)[0] / len(b)
    return float(np.sum(np.abs(pa - pb)) + (1.0 - pa.sum()) + (1.0 - pb.sum()))
