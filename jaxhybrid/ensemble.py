"""Vectorised ensembles, sharded over all devices when there are several.

``ensemble(fn)(xs)`` maps ``fn`` over the leading axis of its batched arguments with ``vmap``.
With more than one device it builds a one-axis mesh ``("batch",)`` over all devices, places the
batched arguments with ``NamedSharding(mesh, P("batch"))`` and lets ``jit`` partition the
computation (GSPMD). A batch that does not divide the device count is padded with copies of its
last member and the padding is dropped from the result, so the answer is the same as the
unsharded one for any batch size. Across hosts the same code runs after
``jax.distributed.initialize()`` (the mesh then spans every process's devices).

This is the single way jaxhybrid shards: engines and examples call :func:`ensemble` rather than
building meshes of their own. Drivers whose *state* carries the batch axis — many Langevin
chains, MD replicas — place it with :func:`shard_batch` (the same mesh and ``P("batch")``) and
let ``jit`` keep the sharding from step to step.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

__all__ = ["ensemble", "batch_mesh", "shard_batch"]


def batch_mesh(devices: Optional[Sequence[jax.Device]] = None) -> Mesh:
    """A one-dimensional mesh named ``"batch"`` over ``devices`` (default: all devices)."""
    devs = np.asarray(jax.devices() if devices is None else list(devices))
    return Mesh(devs, ("batch",))


def ensemble(
    fn: Callable,
    in_axes: int | None | Sequence[int | None] = 0,
    *,
    devices: Optional[Sequence[jax.Device]] = None,
    shard: bool = True,
) -> Callable:
    """Return ``batched(*args)`` = ``vmap(fn, in_axes)(*args)``, jit-compiled and sharded.

    Args:
        fn: function of one ensemble member.
        in_axes: as for ``jax.vmap``, restricted to ``0`` (batched along the leading axis) or
            ``None`` (shared by all members) per positional argument.
        devices: devices to shard over (default all); sharding is used when there are ≥ 2.
        shard: set ``False`` to force the single-device path.
    """
    n_args_axes = None if isinstance(in_axes, (int, type(None))) else tuple(in_axes)
    for ax in ([in_axes] if n_args_axes is None else n_args_axes):
        if ax not in (0, None):
            raise ValueError(f"ensemble: in_axes entries must be 0 or None, got {ax!r}.")
    vfn = jax.vmap(fn, in_axes=in_axes)
    devs = list(jax.devices() if devices is None else devices)
    if not shard or len(devs) < 2:
        return jax.jit(vfn)

    mesh = batch_mesh(devs)
    n_dev = len(devs)
    batched = NamedSharding(mesh, P("batch"))
    replicated = NamedSharding(mesh, P())
    jitted = jax.jit(vfn)

    @functools.wraps(fn)
    def run(*args):
        axes = (in_axes,) * len(args) if n_args_axes is None else n_args_axes
        if len(axes) != len(args):
            raise ValueError(f"ensemble: got {len(args)} arguments but {len(axes)} in_axes.")
        sizes = {
            int(jnp.shape(leaf)[0])
            for a, ax in zip(args, axes) if ax == 0
            for leaf in jax.tree_util.tree_leaves(a)
        }
        if len(sizes) != 1:
            raise ValueError(f"ensemble: batched arguments disagree on the ensemble size: {sorted(sizes)}.")
        size = sizes.pop()
        pad = (-size) % n_dev

        def place(a, ax):
            if ax is None:
                return jax.device_put(a, replicated)

            def leaf(x):
                x = jnp.asarray(x)
                if pad:
                    x = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)], axis=0)
                return jax.device_put(x, batched)

            return jax.tree_util.tree_map(leaf, a)

        out = jitted(*(place(a, ax) for a, ax in zip(args, axes)))
        return jax.tree_util.tree_map(lambda y: y[:size], out) if pad else out

    return run


def shard_batch(tree, size: int, *, devices: Optional[Sequence[jax.Device]] = None):
    """Place ``tree`` on the batch mesh: leaves whose leading axis has length ``size`` are split
    over the devices (``P("batch")``), every other leaf is replicated. With one device, or when
    ``size`` does not divide the device count, ``tree`` is returned as it is (a batch of chains
    cannot be padded without changing what it computes). Results are those of the unsharded run:
    only per-member work is split; reductions across members are done by ``jit`` over the whole."""
    devs = list(jax.devices() if devices is None else devices)
    if len(devs) < 2 or size % len(devs):
        return tree
    mesh = batch_mesh(devs)
    batched, replicated = NamedSharding(mesh, P("batch")), NamedSharding(mesh, P())

    def place(x):
        if not isinstance(x, (jax.Array, np.ndarray)):
            return x
        return jax.device_put(x, batched if (np.ndim(x) and np.shape(x)[0] == size) else replicated)

    return jax.tree_util.tree_map(place, tree)
