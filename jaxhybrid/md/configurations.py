"""Initial configurations: crystal lattices, random packings, Maxwell–Boltzmann momenta."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .space import make_box, perpendicular_widths

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


def random_positions(key, n_atoms: int, box, min_distance: float = 0.0, dtype=None, *, max_attempts: int = 1000):
    """Uniform random positions in the cell, no two atoms closer than ``min_distance``.

    ``min_distance = 0`` draws every atom independently (``jax.random.uniform``, traceable).
    ``min_distance > 0`` uses random sequential addition (Widom 1966; Feder, J. Theor. Biol.
    87, 237 (1980)) on the host: atom after atom is drawn uniformly and rejected while it lies
    closer than ``min_distance`` (minimum-image distance) to an atom already placed, with at
    most ``max_attempts`` draws per atom. The result is random but not an equilibrium packing
    (use it as an MD start). Random addition of spheres of diameter ``d`` jams at a packing
    fraction ``φ = N π d³ / (6 V) ≈ 0.38``; a ``ValueError`` says which density or
    ``min_distance`` to lower when the atoms do not fit. The NumPy generator is seeded from
    ``key``, so the same key gives the same positions.
    """
    if not isinstance(n_atoms, (int, np.integer)) or isinstance(n_atoms, bool) or n_atoms < 1:
        raise ValueError(f"random_positions: n_atoms must be a positive int, got {n_atoms!r}.")
    try:
        d = float(min_distance)
    except (TypeError, ValueError):
        raise ValueError(f"random_positions: min_distance must be a number >= 0, got {min_distance!r}.") from None
    if not (np.isfinite(d) and d >= 0):
        raise ValueError(f"random_positions: min_distance must be finite and >= 0, got {min_distance!r}.")
    box = make_box(box)
    dtype = dtype or box.matrix.dtype
    if d == 0.0:
        s = jax.random.uniform(key, (n_atoms, 3), dtype)
        return s @ box.matrix.astype(dtype)
    if not isinstance(max_attempts, (int, np.integer)) or max_attempts < 1:
        raise ValueError(f"random_positions: max_attempts must be a positive int, got {max_attempts!r}.")
    H = np.asarray(box.matrix, np.float64)
    if not np.all(np.isfinite(H)):
        raise ValueError("random_positions: the box has NaN/Inf entries.")
    widths = np.asarray(perpendicular_widths(box), np.float64)
    if d > 0.5 * widths.min():
        raise ValueError(f"random_positions: min_distance={d} exceeds half the smallest width of the cell "
                         f"({0.5 * widths.min():.6g}); the minimum-image distance is not defined there. Lower "
                         "min_distance or use a larger box.")
    vol = abs(float(np.linalg.det(H)))
    phi = n_atoms * np.pi * d**3 / (6.0 * vol)
    if phi > 0.38:
        raise ValueError(f"random_positions: {n_atoms} atoms at min_distance={d} fill a packing fraction "
                         f"N·π·d³/(6V) = {phi:.3f}, beyond the random-addition jamming limit ≈ 0.38. Lower the density "
                         f"(n_atoms <= {int(0.3 * 6 * vol / (np.pi * d**3))} in this box) or min_distance "
                         f"(<= {(0.3 * 6 * vol / (np.pi * n_atoms)) ** (1 / 3):.4g} for {n_atoms} atoms).")
    seed = np.asarray(jax.random.randint(key, (4,), 0, np.iinfo(np.int32).max)).tolist()
    rng = np.random.default_rng(seed)
    # cell grid in fractional coordinates, cells at least d wide: every atom within d of a
    # candidate sits in one of the 27 surrounding cells. Image shifts scanned after fractional
    # rounding: none for an orthorhombic cell (rounding is the minimum image), the 26
    # neighbours for a triclinic one (rounding alone may miss it).
    nc = np.maximum((widths // d).astype(int), 1)
    cap = 4
    table = np.full((int(np.prod(nc)), cap), -1, np.int64)   # atoms per cell, padded with -1
    fill = np.zeros(int(np.prod(nc)), np.int64)
    offs = np.array(np.meshgrid(*[[-1, 0, 1]] * 3)).reshape(3, -1).T           # (27, 3)
    shifts = np.zeros((1, 3)) if box.is_orthorhombic else offs.astype(np.float64)
    shifts_c = shifts @ H
    frac = np.zeros((n_atoms + 1, 3))   # row n_atoms: a dummy for the padded slots (masked out)
    d2 = d * d

    def cell_id(ci):
        ci = ci % nc
        return (ci[..., 0] * nc[1] + ci[..., 1]) * nc[2] + ci[..., 2]

    for i in range(n_atoms):
        tried, fails = 0, 0
        while True:
            if tried >= max_attempts:
                raise ValueError(
                    f"random_positions: placed {i} of {n_atoms} atoms; atom {i} found no free spot in {max_attempts} "
                    f"attempts (packing fraction N·π·d³/(6V) = {phi:.3f}; random addition slows down sharply above "
                    f"≈ 0.3). Lower the density (fewer atoms or a larger box) or min_distance, or raise max_attempts.")
            k = min(2 ** min(fails, 6), max_attempts - tried)
            cand = rng.random((k, 3))
            tried += k
            fails += 1
            ci = np.minimum((cand * nc).astype(int), nc - 1)                     # (k, 3)
            near = table[cell_id(ci[:, None, :] + offs[None])].reshape(k, -1)    # (k, 27·cap)
            valid = near >= 0
            ds = cand[:, None, :] - frac[np.where(valid, near, n_atoms)]
            dc = (ds - np.round(ds)) @ H
            r2 = np.min(np.sum((dc[:, :, None, :] + shifts_c) ** 2, axis=-1), axis=-1)
            ok = np.all(~valid | (r2 >= d2), axis=1)
            if ok.any():
                j = int(np.argmax(ok))
                frac[i] = cand[j]
                c = int(cell_id(ci[j]))
                if fill[c] == table.shape[1]:
                    table = np.concatenate([table, np.full_like(table, -1)], axis=1)
                table[c, fill[c]] = i
                fill[c] += 1
                break
    cart = frac[:n_atoms] @ H
    return jnp.asarray(cart, dtype)


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
