"""Ensembles of Deep Potentials and the model deviation of DP-GEN.

Model deviation (Zhang, Wang, Chen, Wang & E, Comput. Phys. Commun. 253, 107206 (2020)) of a
configuration under an ensemble of K models with forces ``F_i^(k)``::

    ε_f = max_i sqrt( (1/K) Σ_k |F_i^(k) − F̄_i|² ),   F̄_i = (1/K) Σ_k F_i^(k)

An ensemble is one :class:`~jaxhybrid.dp.model.DeepPot` whose arrays carry a leading member
axis (built by ``eqx.filter_vmap`` over seeds). It is trained by a single
:func:`jaxhybrid.train.fit` call on the sum of the members' losses: the members share no
parameters and Adam is element-wise, so this equals training each member alone on the same
minibatches, at one compilation.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .model import DeepPot

__all__ = ["make_ensemble", "member", "ensemble_forces", "force_deviation"]


def make_ensemble(n_models: int, key, **model_kwargs) -> DeepPot:
    """``n_models`` Deep Potentials with different initial seeds, stacked on a leading axis."""
    if n_models < 2:
        raise ValueError(f"make_ensemble: need at least 2 models for a deviation, got {n_models}.")
    return eqx.filter_vmap(lambda k: DeepPot(key=k, **model_kwargs))(jax.random.split(key, n_models))


def member(ens: DeepPot, k: int) -> DeepPot:
    """Member ``k`` of a stacked ensemble."""
    return jax.tree_util.tree_map(lambda a: a[k] if eqx.is_array(a) else a, ens)


@eqx.filter_jit
def ensemble_forces(ens: DeepPot, positions, nbrs, box, species=None):
    """Forces of every member (K, N, 3) on one configuration (MD-engine neighbour list)."""
    return eqx.filter_vmap(lambda m: -jax.grad(lambda R: m(R, nbrs, box, species))(positions))(ens)


def force_deviation(forces: jax.Array) -> jax.Array:
    """``ε_f`` from member forces (K, N, 3) (or batched (..., K, N, 3))."""
    mean = jnp.mean(forces, axis=-3, keepdims=True)
    var = jnp.mean(jnp.sum((forces - mean) ** 2, axis=-1), axis=-2)  # (..., N)
    return jnp.max(jnp.sqrt(var), axis=-1)
