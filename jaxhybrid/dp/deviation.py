"""Ensembles of Deep Potentials and the model deviation of DP-GEN.

Model deviation (Zhang, Wang, Chen, Wang & E, Comput. Phys. Commun. 253, 107206 (2020)) of a
configuration under an ensemble of K models with forces ``F_i^(k)``::

    ε_f = max_i sqrt( (1/K) Σ_k |F_i^(k) − F̄_i|² ),   F̄_i = (1/K) Σ_k F_i^(k)

An ensemble (a committee) is one :class:`~jaxhybrid.dp.model.DeepPot` whose arrays carry a
leading member axis (built by ``eqx.filter_vmap`` over seeds). It is trained by a single
:func:`jaxhybrid.train.fit` call on the sum of the members' losses: the members share no
parameters and Adam is element-wise, so this equals training each member alone on the same
minibatches, at one compilation. Every computation over the members (the training loss, the
forces behind the deviation) is mapped with :func:`jaxhybrid.ensemble.ensemble`: ``vmap`` on
one device, the member axis sharded over all devices when there are several (the same numbers).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.ensemble import ensemble

from .data import Packed, System, pack
from .model import DeepPot

__all__ = ["make_ensemble", "member", "ensemble_forces", "frame_forces", "force_deviation", "model_deviation"]


def make_ensemble(n_models: int, key, **model_kwargs) -> DeepPot:
    """``n_models`` Deep Potentials with different initial seeds, stacked on a leading axis."""
    if n_models < 2:
        raise ValueError(f"make_ensemble: need at least 2 models for a deviation, got {n_models}.")
    return eqx.filter_vmap(lambda k: DeepPot(key=k, **model_kwargs))(jax.random.split(key, n_models))


def member(ens: DeepPot, k: int) -> DeepPot:
    """Member ``k`` of a stacked ensemble."""
    return jax.tree_util.tree_map(lambda a: a[k] if eqx.is_array(a) else a, ens)


def _member_forces(model: DeepPot, positions, nbrs, box, species):
    return -jax.grad(lambda R: model(R, nbrs, box, species))(positions)


@functools.cache
def _forces_over_members():
    return ensemble(_member_forces, (0, None, None, None, None))


def ensemble_forces(ens: DeepPot, positions, nbrs, box, species=None) -> jax.Array:
    """Forces of every member (K, N, 3) on one configuration (MD-engine neighbour list), the
    members mapped with :func:`jaxhybrid.ensemble.ensemble` (compiled once per shape)."""
    return _forces_over_members()(ens, positions, nbrs, box, species)


def _frames_forces(model: DeepPot, batch: dict):
    from .training import _frame_efv

    return jax.vmap(lambda fr: _frame_efv(model, fr)[1])(batch)


@functools.cache
def _frames_over_members():
    return ensemble(_frames_forces, (0, None))


def frame_forces(ens: DeepPot, data: Packed, chunk: int = 16) -> np.ndarray:
    """Forces of every member on every frame of ``data``, ``(F, K, N, 3)`` (the input of
    :func:`force_deviation` with the member axis third from last), in chunks of ``chunk``
    frames padded to one shape (one compilation); members mapped with
    :func:`jaxhybrid.ensemble.ensemble`."""
    if chunk < 1 or len(data.energy) == 0:
        raise ValueError(f"frame_forces: need chunk >= 1 and at least one frame, got chunk={chunk}, "
                         f"{len(data.energy)} frames.")
    d = {k: np.asarray(v) for k, v in data._asdict().items()}
    F, outs = len(data.energy), []
    for s in range(0, F, chunk):
        idx = np.arange(s, min(s + chunk, F))
        idx = np.concatenate([idx, np.full(chunk - len(idx), idx[-1])])
        f = _frames_over_members()(ens, {k: jnp.asarray(v[idx]) for k, v in d.items()})  # (K, chunk, N, 3)
        outs.append(np.asarray(f)[:, : min(chunk, F - s)])
    return np.moveaxis(np.concatenate(outs, axis=1), 0, 1)


def force_deviation(forces: jax.Array) -> jax.Array:
    """``ε_f`` from member forces (K, N, 3) (or batched (..., K, N, 3))."""
    mean = jnp.mean(forces, axis=-3, keepdims=True)
    var = jnp.mean(jnp.sum((forces - mean) ** 2, axis=-1), axis=-2)  # (..., N)
    return jnp.max(jnp.sqrt(var), axis=-1)


def model_deviation(ens: DeepPot, frames, cell, types, *, k_max: int | None = None, chunk: int = 16) -> np.ndarray:
    """``ε_f`` of every frame of a trajectory ``frames`` (F, N, 3) in the periodic ``cell``
    (3, 3), atom types ``types`` (N,) (indices into ``ens.type_map``): member forces on
    neighbour tables of ``k_max`` slots (:func:`frame_forces`; a fixed ``k_max``, e.g. the
    model's ``sel``, keeps every call at one compiled shape), then :func:`force_deviation`."""
    frames, cell, types = np.asarray(frames), np.asarray(cell, np.float64), np.asarray(types, int)
    if frames.ndim != 3 or frames.shape[1:] != (len(types), 3) or cell.shape != (3, 3):
        raise ValueError(f"model_deviation: need frames (F, N, 3), cell (3, 3) and types (N,); got {frames.shape}, "
                         f"{cell.shape}, {types.shape}.")
    F = len(frames)
    dummy = System(tuple(ens.type_map), types, frames, np.tile(cell, (F, 1, 1)), np.zeros(F), np.zeros_like(frames))
    data = pack([dummy], ens.rcut, k_max=k_max)
    return np.asarray(force_deviation(jnp.asarray(frame_forces(ens, data, chunk))))
