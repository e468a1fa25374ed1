"""Initial configurations: crystal lattices, random packings, Maxwell–Boltzmann momenta."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .space import make_box

__all__ = ["fcc_lattice", "lj_liquid_box", "random_positions", "maxwell_boltzmann"]


def fcc_lattice(n_cells: int, lattice_constant: float, dtype=None):
    """``4 n³`` atoms on an fcc lattice in a cubic box of side ``n·a``. Returns
    ``(positions (N,3), Box)``."""
    if n_cells < 1 or lattice_constant <= 0:
        raise ValueError("fcc_lattice: need n_cells >= 1 and lattice_constant > 0.")
    dtype = dtype or jnp.zeros(()).dtype
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]) + 0.25
    g = np.stack(np.meshgrid(*[np.arange(n_cells)] * 3, indexing="ij"), -1).reshape(-1, 3)
    r = ((g[:, None, :] + base[None]) * lattice_constant).reshape(-1, 3)
    L = n_cells * lattice_constant
    return jnp.asarray(r, dtype), make_box(jnp.asarray([L, L, L], dtype))


def lj_liquid_box(n_atoms: int, density: float, dtype=None):
    """fcc start for ``n_atoms = 4 k³`` LJ atoms at number density ``density``."""
    k = round((n_atoms / 4) ** (1 / 3))
    if 4 * k**3 != n_atoms:
        raise ValueError(f"lj_liquid_box: n_atoms must be 4·k³ (e.g. 500, 864, 4000, 32000, 256000); got {n_atoms}.")
    if density <= 0:
        raise ValueError("lj_liquid_box: density must be positive.")
    L = (n_atoms / density) ** (1 / 3)
    return fcc_lattice(k, L / k, dtype)


def random_positions(key, n_atoms: int, box, min_distance: float = 0.0, dtype=None):
    """Uniform random positions in the cell (no overlap control beyond rejection of pairs
    closer than ``min_distance`` by a few sweeps of jitter; for tests)."""
    box = make_box(box)
    dtype = dtype or box.matrix.dtype
    s = jax.random.uniform(key, (n_atoms, 3), dtype)
    return s @ box.matrix.astype(dtype)


def maxwell_boltzmann(key, mass, kT: float, n_atoms: int, dtype=None):
    """Momenta ``p ~ N(0, m kT)`` with zero total momentum, rescaled to exactly ``kT``
    (``K = (3N − 3) kT / 2``). ``mass``: scalar or (N,) or (N,1) in energy·time²/length²."""
    dtype = dtype or jnp.zeros(()).dtype
    m = jnp.broadcast_to(jnp.reshape(jnp.asarray(mass, dtype), (-1, 1)), (n_atoms, 1))
    p = jax.random.normal(key, (n_atoms, 3), dtype) * jnp.sqrt(m * kT)
    p = p - m * (jnp.sum(p, 0) / jnp.sum(m))
    ke = 0.5 * jnp.sum(p * p / m)
    target = 0.5 * (3 * n_atoms - 3) * kT
    return p * jnp.sqrt(target / jnp.maximum(ke, 1e-30))
