"""The Deep Potential smooth edition, ``se_e2_a`` descriptor + per-type fitting nets.

Zhang, Han, Wang, Saidi, Car & E, "End-to-end symmetry preserving inter-atomic potential energy
model for finite and extended systems", NeurIPS 2018 (DeepPot-SE); DeePMD-kit's ``se_e2_a``.

For atom ``i`` with neighbours ``j`` inside ``r_c`` (pair vector ``d_ij = r_j − r_i``, ``r = |d|``):

* switching function (C² at ``r_s`` and ``r_c``; ``u = (r − r_s)/(r_c − r_s)``)::

      s(r) = 1/r                                  r < r_s
      s(r) = (1/r) · [u³(−6u² + 15u − 10) + 1]    r_s ≤ r < r_c
      s(r) = 0                                    r ≥ r_c

* environment matrix rows ``R̃_ij = (s, s·x/r, s·y/r, s·z/r)``, each column divided by a
  per-centre-type scale measured on the training data (radial / angular); there is no mean
  shift, so absent neighbours are exact zero rows and the descriptor does not depend on how
  many padding slots the neighbour list carries;
* embedding ``G_ij = G_{t_j}(s̃_ij) ∈ ℝ^{M₁}``, one net per neighbour type (DeePMD's
  ``type_one_side``), tanh layers with the ResNet skips of DeePMD-kit (identity when the width
  stays, ``[x, x]`` when it doubles);
* ``T_i = R̃_iᵀ G_i / sel`` (4 × M₁), descriptor ``D_i = T_iᵀ T_i^{<}`` (M₁ × ``axis``), where
  ``T^{<}`` are the first ``axis`` columns; ``D_i`` is invariant under rotations (``R̃ → R̃ Q``
  leaves ``R̃ᵀ ... `` contractions ``TᵀT`` unchanged), translations and permutations of
  same-type neighbours (sum over j);
* atomic energy ``E_i = F_{t_i}(D_i) + b_{t_i}``, one fitting net per centre type, ``b`` the
  per-type energy bias from a least-squares fit to the training energies; ``E = Σ_i E_i``,
  forces ``F = −∂E/∂R``, virial ``Ξ = −∂E/∂ε`` under the homogeneous strain ``d → d(I + ε)``.

``sel`` is the number of neighbour slots DeePMD-kit reserves; here it only normalises
``T_i`` (the neighbour list of :mod:`jaxhybrid.md` grows on overflow, so nothing is ever
truncated, a difference from DeePMD-kit, which drops neighbours beyond ``sel``).

The model plugs into the MD engine's energy contract ``E(positions, neighbours, box, species)``
(a dense neighbour list of cutoff ``model.cutoff``), and into training through
:meth:`DeepPot.energy_from_pairs` on precomputed, padded neighbour tables;
:func:`molecule_energy_fn` is ``E(R)`` of an isolated molecule (every other atom a neighbour).
"""

from __future__ import annotations

from typing import Optional, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["DeepPot", "ResNet", "switch", "environment", "cast", "molecule_energy_fn"]


def switch(r: jax.Array, rcut_smth: float, rcut: float) -> jax.Array:
    """DeePMD's ``s(r)`` (see module docstring); ``r`` must be positive where used."""
    u = jnp.clip((r - rcut_smth) / (rcut - rcut_smth), 0.0, 1.0)
    poly = u**3 * (-6.0 * u**2 + 15.0 * u - 10.0) + 1.0
    return jnp.where(r < rcut, poly / r, 0.0)


def environment(d: jax.Array, mask: jax.Array, rcut_smth: float, rcut: float) -> jax.Array:
    """Environment matrix rows ``(s, s x/r, s y/r, s z/r)`` for pair vectors ``d`` (..., 3);
    rows where ``mask`` is false or ``r ≥ r_c`` are exactly zero (with zero gradient)."""
    r2 = jnp.sum(d * d, axis=-1)
    inside = mask & (r2 < rcut * rcut)
    r = jnp.sqrt(jnp.where(inside, r2, 1.0))
    s = jnp.where(inside, switch(r, rcut_smth, rcut), 0.0)
    return jnp.concatenate([s[..., None], (s / r)[..., None] * d], axis=-1)


class ResNet(eqx.Module):
    """tanh MLP with DeePMD-kit's skips: ``x ← x + tanh(Wx + b)`` when the width stays,
    ``x ← [x, x] + tanh(Wx + b)`` when it doubles; optional final linear layer to ``out``.
    Weights ~ N(0, 1/(n_in + n_out)) as DeePMD-kit; the final linear layer starts at zero so
    that an untrained fitting net predicts exactly the per-type energy bias (short training
    budgets then start from the mean energy instead of an O(1 eV/atom) random offset)."""

    weights: list
    biases: list
    linear_out: bool = eqx.field(static=True)

    def __init__(self, sizes: Sequence[int], *, out: Optional[int] = None, key, bias_std: float = 1.0):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"ResNet: need an input size and at least one positive layer width, got {sizes}.")
        dims = sizes + ([out] if out is not None else [])
        keys = jax.random.split(key, 2 * (len(dims) - 1))
        self.weights, self.biases = [], []
        for k, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            last = out is not None and k == len(dims) - 2
            self.weights.append(jax.random.normal(keys[2 * k], (a, b)) / np.sqrt(a + b) * (0.0 if last else 1.0))
            std = 0.0 if last else bias_std
            self.biases.append(std * jax.random.normal(keys[2 * k + 1], (b,)))
        self.linear_out = out is not None

    def __call__(self, x: jax.Array) -> jax.Array:
        n = len(self.weights)
        for k, (W, b) in enumerate(zip(self.weights, self.biases)):
            y = x @ W + b
            if self.linear_out and k == n - 1:
                return y
            y = jnp.tanh(y)
            if y.shape[-1] == x.shape[-1]:
                x = x + y
            elif y.shape[-1] == 2 * x.shape[-1]:
                x = jnp.concatenate([x, x], axis=-1) + y
            else:
                x = y
        return x


class DeepPot(eqx.Module):
    """Deep Potential ``se_e2_a`` model (see module docstring).

    Args:
        type_map: element names, index = species id (e.g. ``("O", "H")``).
        rcut, rcut_smth: outer cutoff ``r_c`` and switch onset ``r_s`` (Å), ``0 < r_s < r_c``.
        sel: neighbour slots (sum over types) used to normalise ``T_i``.
        embedding: embedding widths (default DeePMD-kit's ``[25, 50, 100]``).
        fitting: fitting hidden widths (default ``[240, 240, 240]``).
        axis: ``axis_neuron`` (default 16), at most ``embedding[-1]``.
        key: PRNG key.
    """

    embeddings: tuple
    fittings: tuple
    env_scale: jax.Array  # (ntypes, 2): radial, angular column scales
    e_bias: jax.Array  # (ntypes,)
    type_map: tuple = eqx.field(static=True)
    rcut: float = eqx.field(static=True)
    rcut_smth: float = eqx.field(static=True)
    sel: int = eqx.field(static=True)
    axis: int = eqx.field(static=True)
    atom_block: int = eqx.field(static=True)

    def __init__(self, type_map: Sequence[str] = ("Cu",), *, rcut: float = 6.0, rcut_smth: float = 0.5, sel: int = 100,
                 embedding: Sequence[int] = (25, 50, 100), fitting: Sequence[int] = (240, 240, 240), axis: int = 16,
                 atom_block: int = 256, key=None):
        type_map = tuple(str(t) for t in type_map)
        if not type_map:
            raise ValueError("DeepPot: type_map must name at least one element.")
        if not 0 < rcut_smth < rcut:
            raise ValueError(f"DeepPot: need 0 < rcut_smth < rcut, got rcut_smth={rcut_smth}, rcut={rcut}.")
        if sel < 1:
            raise ValueError(f"DeepPot: sel must be positive, got {sel}.")
        embedding, fitting = tuple(int(e) for e in embedding), tuple(int(f) for f in fitting)
        if not embedding or not fitting:
            raise ValueError("DeepPot: embedding and fitting need at least one layer each.")
        if not 1 <= axis <= embedding[-1]:
            raise ValueError(f"DeepPot: axis must be in [1, embedding[-1]={embedding[-1]}], got {axis}.")
        key = jax.random.PRNGKey(0) if key is None else key
        nt = len(type_map)
        ke, kf = jax.random.split(key)
        self.embeddings = tuple(ResNet((1,) + embedding, key=k) for k in jax.random.split(ke, nt))
        self.fittings = tuple(ResNet((embedding[-1] * axis,) + fitting, out=1, key=k) for k in jax.random.split(kf, nt))
        self.env_scale = jnp.ones((nt, 2))
        self.e_bias = jnp.zeros((nt,))
        self.type_map, self.rcut, self.rcut_smth, self.sel, self.axis = type_map, float(rcut), float(rcut_smth), int(sel), int(axis)
        if atom_block < 1:
            raise ValueError(f"DeepPot: atom_block must be positive, got {atom_block}.")
        self.atom_block = int(atom_block)

    # ------------------------------------------------------------------------------------------
    @property
    def cutoff(self) -> float:
        """Neighbour-list cutoff for :func:`jaxhybrid.md.simulate`."""
        return self.rcut

    @property
    def ntypes(self) -> int:
        return len(self.type_map)

    def descriptor(self, d: jax.Array, nbr_type: jax.Array, nbr_mask: jax.Array, types: jax.Array) -> jax.Array:
        """``D_i`` (N, M₁·axis) from pair vectors ``d`` (N, M, 3), neighbour types (N, M),
        validity mask (N, M) and centre types (N,) (negative = padding atom)."""
        env = environment(d, nbr_mask, self.rcut_smth, self.rcut)  # (N, M, 4)
        scale = jax.lax.stop_gradient(self.env_scale)[jnp.clip(types, 0, self.ntypes - 1)]  # (N, 2)
        scale = jnp.concatenate([scale[:, :1], jnp.repeat(scale[:, 1:], 3, axis=1)], axis=1)
        env = env / scale[:, None, :]
        s = env[..., :1]
        if self.ntypes == 1:
            G = self.embeddings[0](s)
        else:
            G = sum(jnp.where((nbr_type == t)[..., None], net(s), 0.0) for t, net in enumerate(self.embeddings))
        T = jnp.einsum("nmc,nmf->ncf", env, G) / self.sel  # (N, 4, M1)
        D = jnp.einsum("ncf,ncg->nfg", T, T[..., : self.axis])
        return D.reshape(D.shape[0], -1)

    def atomic_energies(self, d, nbr_type, nbr_mask, types) -> jax.Array:
        """``E_i`` (N,), zero for padding atoms (``types < 0``)."""
        D = self.descriptor(d, nbr_type, nbr_mask, types)
        bias = jax.lax.stop_gradient(self.e_bias)
        if self.ntypes == 1:
            e = self.fittings[0](D)[:, 0] + bias[0]
        else:
            e = sum(jnp.where(types == t, net(D)[:, 0] + bias[t], 0.0) for t, net in enumerate(self.fittings))
        return jnp.where(types >= 0, e, 0.0)

    # ---- energy-function contract of jaxhybrid.md ---------------------------------------------
    def __call__(self, positions, nbrs, box, species=None) -> jax.Array:
        """Total energy for the MD engine: ``E(positions, neighbours, box, species)``."""
        from jaxhybrid.md import pair_components
        from jaxhybrid.md.neighbours import poison

        if nbrs.half:
            raise ValueError("DeepPot needs a dense (full) neighbour list; use neighbor_format='dense'.")
        if nbrs.cutoff < self.rcut:
            raise ValueError(f"DeepPot: neighbour-list cutoff {nbrs.cutoff} is below the model's rcut {self.rcut}.")
        n = positions.shape[0]
        comps, valid = pair_components(positions, nbrs, box)  # (M, N) each
        d = jnp.stack(comps, axis=-1).swapaxes(0, 1)  # (N, M, 3)
        types = jnp.zeros((n,), jnp.int32) if species is None else jnp.asarray(species, jnp.int32)
        nbr_type = jnp.take(types, nbrs.idx, mode="clip")
        # NaN (never a plausible wrong number) on an overflowed list or with a non-finite position
        return poison(self.blocked_energy(d, nbr_type, valid.T, types), positions, nbrs)

    def blocked_energy(self, d, nbr_type, nbr_mask, types) -> jax.Array:
        """``Σ_i E_i`` evaluated ``atom_block`` atoms at a time (``lax.map``), so that the
        per-pair temporaries of a large system stay cache-sized and the cost per atom does not
        grow with N (linear scaling)."""
        n, b = types.shape[0], self.atom_block
        if n <= b:
            return jnp.sum(self.atomic_energies(d, nbr_type, nbr_mask, types))
        nb = -(-n // b)
        pad = nb * b - n
        padded = lambda x, v: jnp.concatenate([x, jnp.full((pad,) + x.shape[1:], v, x.dtype)]).reshape((nb, b) + x.shape[1:])  # noqa: E731
        blocks = (padded(d, 1.0), padded(nbr_type, 0), padded(nbr_mask, False), padded(types, -1))
        return jnp.sum(jax.lax.map(lambda x: jnp.sum(self.atomic_energies(*x)), blocks))

    # ---- training / evaluation path on padded neighbour tables --------------------------------
    def energy_from_pairs(self, positions, cell, types, idx, shifts, strain=None) -> jax.Array:
        """Energy of one frame from a fixed neighbour table: ``idx`` (N, M) neighbour indices
        padded with ``N`` (or any index ≥ N), ``shifts`` (N, M, 3) integer image shifts so that
        ``d_ij = r_j − r_i + shift @ cell``; ``types`` (N,) with −1 for padding atoms;
        optional ``strain`` ε (3, 3) applied as ``d → d(I + ε)`` (for the virial)."""
        n = positions.shape[0]
        mask = idx < n
        rj = jnp.take(positions, idx, axis=0, mode="clip")
        d = rj - positions[:, None, :] + shifts.astype(positions.dtype) @ cell
        if strain is not None:
            d = d @ (jnp.eye(3, dtype=d.dtype) + strain)
        nbr_type = jnp.take(types, idx, mode="clip")
        return jnp.sum(self.atomic_energies(d, nbr_type, mask, types))

    def energy_forces_virial(self, positions, cell, types, idx, shifts):
        """``(E, F = −∂E/∂R, Ξ = −∂E/∂ε)`` for one frame (see :meth:`energy_from_pairs`)."""
        eps = jnp.zeros((3, 3), positions.dtype)
        e, (gR, gE) = jax.value_and_grad(lambda R, s: self.energy_from_pairs(R, cell, types, idx, shifts, s), argnums=(0, 1))(positions, eps)
        return e, -gR, -gE


def cast(model: eqx.Module, dtype) -> eqx.Module:
    """Copy of ``model`` with every floating-point array cast to ``dtype`` (e.g. float64)."""
    return jax.tree_util.tree_map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, model)


def molecule_energy_fn(model: DeepPot, types: Sequence[int], cell: float = 100.0):
    """``E(R)`` of an isolated molecule of atom types ``types``: every other atom is a neighbour
    (no periodic images; pairs beyond ``r_c`` get zero environment rows from the switching
    function), the same numbers as the training path on a nominal cubic cell of side ``cell``.
    Pass it to :func:`jaxhybrid.md.energy_force_fn` for MD."""
    n = len(types)
    if n < 2:
        raise ValueError(f"molecule_energy_fn: a molecule needs at least 2 atoms, got {n}.")
    idx = jnp.asarray([[j for j in range(n) if j != i] for i in range(n)], jnp.int32).reshape(n, n - 1)
    shifts = jnp.zeros((n, n - 1, 3), jnp.int8)
    types = jnp.asarray(types, jnp.int32)

    def energy(R):
        return model.energy_from_pairs(R, jnp.eye(3, dtype=R.dtype) * cell, types, idx, shifts)

    return energy
