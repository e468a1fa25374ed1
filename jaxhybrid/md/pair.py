"""Pair potentials (Lennard-Jones, Morse, any ``φ(r)``) on neighbour lists, with an analytic
force fast path, plus the generic energy → forces / virial maps every potential shares.

The energy-function contract (how any model, a neural network included, plugs in)::

    energy_fn(positions (N,3), neighbours: NeighborList, box: Box, species (N,) int | None) -> E

Forces are ``F = -∂E/∂r`` (:func:`energy_and_forces`, by autodiff), the virial/stress from the
strain derivative (:func:`stress`). Pair potentials ``E = ½ Σ_i Σ_{j∈N(i)} φ(r_ij)`` (dense
list) also have an analytic fast path that fuses energy and force in one pass over the pairs
and never differentiates through the gather:

    F_i = Σ_j  φ'(r_ij)/r_ij · d_ij,      d_ij = r_j - r_i      (Allen & Tildesley §1.4, §5.1)

Everything is written in ``x = r²`` so that no square root is taken for LJ:
``φ'(r)/r = 2 dφ/dx``.

An energy on an overflowed neighbour list (pairs missing) or with a NaN/Inf position (an
atom the list cannot place) is NaN, never a plausible wrong number
(:func:`~jaxhybrid.md.neighbours.poison`); the same holds for forces and per-atom energies.

Cutoff treatments (``cutoff_mode``):

* ``"shift"``:  ``φ(r) - φ(r_c)`` for ``r < r_c`` (continuous energy, force jumps at ``r_c``).
* ``"smooth"``: ``S(r) φ(r)`` with the C¹ switch of HOOMD-blue / JAX-MD between ``r_on`` and
  ``r_c``: ``S = (r_c² - r²)² (r_c² + 2r² - 3r_on²) / (r_c² - r_on²)³`` (energy and force
  continuous; identical to ``jax_md.energy.lennard_jones_neighbor_list``).
* ``"none"``:   plain truncation.
"""

from __future__ import annotations

from typing import Callable, Optional

import equinox as eqx
import jax
import jax.numpy as jnp

from .neighbours import NeighborList, poison
from .space import Box, make_box, volume

__all__ = [
    "PairPotential",
    "lennard_jones",
    "morse",
    "pair_potential",
    "energy_and_forces",
    "stress",
    "pressure",
    "brute_force_energy",
    "pair_components",
]


def _species_param(p, species, idx_t):
    """Per-pair parameter: scalar, or an (S, S) table indexed by the two species."""
    p = jnp.asarray(p)
    if p.ndim == 0 or species is None:
        return p
    n = species.shape[0]
    si = species[None, :]
    sj = jnp.take(species, jnp.minimum(idx_t, n - 1), axis=0)
    return p[si, sj]


def pair_components(positions, nbrs: NeighborList, box):
    """Pair vectors as three (M, N) component arrays ``[dx, dy, dz]`` (``d = r_j - r_i``,
    neighbour-major, structure-of-arrays: the layout the fast kernels vectorise best) and the
    (M, N) validity mask."""
    box = make_box(box)
    n = positions.shape[0]
    idx = nbrs.idx_t
    valid = idx < n
    X = positions.T
    d = [jnp.take(X[k], idx, mode="clip") - X[k][None, :] for k in range(3)]
    if nbrs.shifts is not None:
        H = box.matrix.astype(positions.dtype)
        sh = nbrs.shifts.astype(positions.dtype)
        d = [d[k] + sh[..., 0] * H[0, k] + sh[..., 1] * H[1, k] + sh[..., 2] * H[2, k] for k in range(3)]
    elif box.is_orthorhombic:
        L = box.lengths.astype(positions.dtype)
        d = [d[k] - L[k] * jnp.round(d[k] / L[k]) for k in range(3)]
    else:
        H = box.matrix.astype(positions.dtype)
        G = jnp.linalg.inv(H)
        s = [d[0] * G[0, k] + d[1] * G[1, k] + d[2] * G[2, k] for k in range(3)]
        s = [sk - jnp.round(sk) for sk in s]
        d = [s[0] * H[0, k] + s[1] * H[1, k] + s[2] * H[2, k] for k in range(3)]
    return d, valid


class PairPotential(eqx.Module):
    """``E = Σ_{pairs} φ(r; params)`` with ``φ`` given as a function of ``x = r²``.

    ``phi_x(x, **params) -> (φ, dφ/dx)``. Parameters may be scalars or (S, S) species tables.
    Call it as ``pot(positions, nbrs, box, species)`` (energy), or use
    :meth:`energy_and_forces` (analytic fast path) and :meth:`per_atom`.
    """

    params: dict
    cutoff: float = eqx.field(static=True)
    phi_x: Callable = eqx.field(static=True)
    cutoff_mode: str = eqx.field(static=True, default="shift")
    r_onset: float = eqx.field(static=True, default=0.0)

    def _pair_terms(self, x, params):
        """φ_eff(x), dφ_eff/dx with the cutoff treatment applied (not yet masked)."""
        rc2 = self.cutoff * self.cutoff
        e, de = self.phi_x(x, **params)
        if self.cutoff_mode == "shift":
            ec, _ = self.phi_x(jnp.asarray(rc2, x.dtype), **params)
            e = e - ec
        elif self.cutoff_mode == "smooth":
            ro2 = self.r_onset * self.r_onset
            den = (rc2 - ro2) ** 3
            inner = x > ro2
            sw = jnp.where(inner, (rc2 - x) ** 2 * (rc2 + 2 * x - 3 * ro2) / den, 1.0)
            dsw = jnp.where(inner, 6 * (rc2 - x) * (ro2 - x) / den, 0.0)
            de = dsw * e + sw * de
            e = sw * e
        return e, de

    def _pairs(self, positions, nbrs, box, species):
        d, valid = pair_components(positions, nbrs, box)
        x = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
        rc2 = jnp.asarray(self.cutoff * self.cutoff, x.dtype)
        inside = valid & (x < rc2)
        x = jnp.where(inside, x, rc2)  # safe value: no 1/0 on padded or self slots
        params = {k: _species_param(v, species, nbrs.idx_t) for k, v in self.params.items()}
        e, de = self._pair_terms(x, params)
        e = jnp.where(inside, e, 0.0)
        de = jnp.where(inside, de, 0.0)
        return d, e, de

    def __call__(self, positions, nbrs: NeighborList, box, species=None) -> jax.Array:
        return self.energy(positions, nbrs, box, species)

    def energy(self, positions, nbrs: NeighborList, box, species=None) -> jax.Array:
        """Total energy (differentiable; use for autodiff forces, virial, Hessians)."""
        _, e, _ = self._pairs(positions, nbrs, make_box(box), species)
        w = 1.0 if nbrs.half else 0.5
        return poison(w * jnp.sum(e), positions, nbrs)  # NaN on an overflowed list or a NaN position

    def per_atom(self, positions, nbrs: NeighborList, box, species=None) -> jax.Array:
        """Per-atom energies ``½ Σ_j φ(r_ij)``."""
        _, e, _ = self._pairs(positions, nbrs, make_box(box), species)
        ea = 0.5 * jnp.sum(e, axis=0)
        if nbrs.half:  # each stored pair gives ½φ to both atoms
            ea = ea.at[nbrs.idx_t.reshape(-1)].add(0.5 * e.reshape(-1), mode="drop")
        return poison(ea, positions, nbrs)

    def energy_and_forces(self, positions, nbrs: NeighborList, box, species=None):
        """Analytic fast path: ``(E, F)`` in one fused pass, ``F_i = Σ_j 2 dφ/dx · d_ij``."""
        d, e, de = self._pairs(positions, nbrs, make_box(box), species)
        g = 2.0 * de
        fij = [g * dk for dk in d]  # force on i from j, (M, N) each
        f = jnp.stack([jnp.sum(fk, axis=0) for fk in fij], axis=1)
        if nbrs.half:
            flat = nbrs.idx_t.reshape(-1)
            react = jnp.stack([fk.reshape(-1) for fk in fij], axis=1)
            f = f.at[flat].add(-react, mode="drop")
            return poison((jnp.sum(e), f), positions, nbrs)
        return poison((0.5 * jnp.sum(e), f), positions, nbrs)


def _lj_x(x, sigma, epsilon):
    """LJ ``4ε[(σ²/x)⁶ − (σ²/x)³]`` and its ``x``-derivative (Allen & Tildesley §1.4.3)."""
    inv = sigma * sigma / x
    u3 = inv * inv * inv
    e = 4.0 * epsilon * (u3 * u3 - u3)
    de = -12.0 * epsilon * (2.0 * u3 * u3 - u3) / x
    return e, de


def _morse_x(x, D, alpha, r0):
    """Morse ``D[(1 − e^{−α(r−r0)})² − 1]`` (minimum −D at r0) and ``dφ/dx = φ'(r)/(2r)``."""
    r = jnp.sqrt(x)
    ex = jnp.exp(-alpha * (r - r0))
    e = D * ((1.0 - ex) ** 2 - 1.0)
    dr = 2.0 * D * alpha * ex * (1.0 - ex)
    return e, dr / (2.0 * r)


def lennard_jones(sigma=1.0, epsilon=1.0, cutoff: float = 2.5, cutoff_mode: str = "shift", r_onset: Optional[float] = None) -> PairPotential:
    """Lennard-Jones ``φ(r) = 4ε[(σ/r)¹² − (σ/r)⁶]`` (scalars or (S, S) species tables).

    ``cutoff_mode``: ``"shift"`` (default), ``"smooth"`` (JAX-MD's switch between ``r_onset``,
    default ``0.8·cutoff``, and ``cutoff``) or ``"none"``. ``cutoff`` is in length units (not
    σ units).
    """
    _check_cut(cutoff, cutoff_mode)
    r_onset = 0.8 * cutoff if r_onset is None else float(r_onset)
    if cutoff_mode == "smooth" and not 0 <= r_onset < cutoff:
        raise ValueError(f"lennard_jones: need 0 <= r_onset < cutoff, got r_onset={r_onset}, cutoff={cutoff}.")
    return PairPotential({"sigma": jnp.asarray(sigma), "epsilon": jnp.asarray(epsilon)}, float(cutoff), _lj_x, cutoff_mode, r_onset)


def morse(D=1.0, alpha=5.0, r0=1.0, cutoff: float = 2.5, cutoff_mode: str = "shift", r_onset: Optional[float] = None) -> PairPotential:
    """Morse ``φ(r) = D[(1 − e^{−α(r−r0)})² − 1]`` (Morse 1929)."""
    _check_cut(cutoff, cutoff_mode)
    r_onset = 0.8 * cutoff if r_onset is None else float(r_onset)
    return PairPotential({"D": jnp.asarray(D), "alpha": jnp.asarray(alpha), "r0": jnp.asarray(r0)}, float(cutoff), _morse_x, cutoff_mode, r_onset)


def pair_potential(phi: Callable, cutoff: float, cutoff_mode: str = "shift", r_onset: Optional[float] = None, **params) -> PairPotential:
    """Any pair potential from ``phi(r, **params) -> energy``; ``dφ/dr`` by autodiff."""
    _check_cut(cutoff, cutoff_mode)

    def phi_x(x, **p):
        r = jnp.sqrt(x)
        e, dr = jax.vmap(jax.value_and_grad(lambda rr, pp: phi(rr, **pp)), in_axes=(0, 0))(
            r.reshape(-1), jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, r.shape).reshape(-1), p)
        )
        return e.reshape(r.shape), (dr / (2 * jnp.sqrt(x).reshape(-1))).reshape(r.shape)

    r_onset = 0.8 * cutoff if r_onset is None else float(r_onset)
    return PairPotential({k: jnp.asarray(v) for k, v in params.items()}, float(cutoff), phi_x, cutoff_mode, r_onset)


def _check_cut(cutoff, mode):
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}.")
    if mode not in ("shift", "smooth", "none"):
        raise ValueError(f"cutoff_mode must be 'shift', 'smooth' or 'none', got {mode!r}.")


# --------------------------------------------------------------------------------------------
# generic maps for any energy function E(positions, neighbours, box, species)


def energy_and_forces(energy_fn: Callable) -> Callable:
    """``(positions, nbrs, box, species) -> (E, F = -∂E/∂r)`` by reverse-mode autodiff. Uses
    the analytic path when ``energy_fn`` has an ``energy_and_forces`` method."""
    if hasattr(energy_fn, "energy_and_forces"):
        return energy_fn.energy_and_forces

    def f(positions, nbrs, box, species=None):
        e, g = jax.value_and_grad(energy_fn)(positions, nbrs, box, species)
        return poison((e, -g), positions, nbrs)  # forces NaN too (the gradient of a NaN branch is 0)

    return f


def stress(energy_fn: Callable, positions, nbrs, box, species=None) -> jax.Array:
    """Configurational (virial) stress ``σ = -(1/V) ∂E/∂ε`` (3×3), from the homogeneous strain
    ``r → r(I+ε)``, ``H → H(I+ε)`` at ``ε = 0`` — valid for any energy function, pair or
    many-body or learned (Thompson, Plimpton & Mattson, J. Chem. Phys. 131, 154107 (2009)).
    For pair potentials ``-tr(∂E/∂ε) = Σ_{i<j} r_ij·f_ij`` is the classic virial ``W``."""
    box = make_box(box)
    H = box.matrix

    def e_of(eps):
        a = jnp.eye(3, dtype=positions.dtype) + eps
        return energy_fn(positions @ a, nbrs, Box(H @ a, False), species)

    g = jax.grad(e_of)(jnp.zeros((3, 3), positions.dtype))
    return -g / volume(box)


def pressure(energy_fn: Callable, positions, nbrs, box, kinetic_energy=0.0, species=None) -> jax.Array:
    """``P = (2 K + W) / (3V)`` with ``W = -tr(∂E/∂ε)`` the virial (Allen & Tildesley eq. 2.61).
    Returns energy/volume units (LJ: ε/σ³; metal: eV/Å³ — multiply by
    ``units.METAL.pressure_to_bar`` for bar)."""
    s = stress(energy_fn, positions, nbrs, box, species)
    return jnp.trace(s) / 3.0 + 2.0 * kinetic_energy / (3.0 * volume(box))


def brute_force_energy(phi_r: Callable, positions, box, cutoff: float) -> jax.Array:
    """Reference: ``Σ_{i<j} Σ_images φ(|r_j − r_i + n H|)`` over every image within ``cutoff``
    (no neighbour list, no minimum image). ``phi_r`` is a function of ``r`` (already shifted).
    For tests; O(N² · images)."""
    import numpy as np

    box = make_box(box)
    H = box.matrix
    w = 1.0 / np.linalg.norm(np.linalg.inv(np.asarray(H, np.float64)), axis=0)  # face distances
    m = [int(np.ceil(cutoff / wk + 0.5)) for wk in w]
    img = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in m], indexing="ij"), -1).reshape(-1, 3)
    n = positions.shape[0]
    s = positions @ jnp.linalg.inv(H)
    ds = s[None, :, :] - s[:, None, :]
    ds = ds - jax.lax.stop_gradient(jnp.round(ds))  # nearest image first, then all within reach
    d = (ds[:, :, None, :] + jnp.asarray(img, positions.dtype)[None, None]) @ H
    r2 = jnp.sum(d * d, -1)
    self_term = (jnp.eye(n, dtype=bool)[:, :, None]) & jnp.asarray(np.all(img == 0, 1))[None, None]
    inside = (r2 < cutoff * cutoff) & ~self_term
    r = jnp.sqrt(jnp.where(inside, r2, 1.0))
    return 0.5 * jnp.sum(jnp.where(inside, phi_r(r), 0.0))
