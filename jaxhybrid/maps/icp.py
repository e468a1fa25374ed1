"""Robust iterative closest point (ICP) registration in JAX: rigid and time-varying.

Besl & McKay (1992), *A method for registration of 3-D shapes*, IEEE TPAMI 14(2):239. Each
iteration ``k`` pairs every source point with its nearest target point under the current
transform and re-solves the weighted Procrustes problem (:mod:`jaxhybrid.maps.procrustes`):

    j(i) = argmin_j ‖T_k x_i − y_j‖,    r_i = ‖T_k x_i − y_{j(i)}‖,
    T_{k+1} = argmin_T Σ_i ω(r_i) ‖T x_i − y_{j(i)}‖²,

with Cauchy iteratively-reweighted least squares weights ``ω(r) = 1 / (1 + (r/c)²)`` and a hard
gate ``ω = 0`` for ``r > max_dist`` (robust ICP as in Zhang 1994, *Iterative point matching for
registration of free-form curves and surfaces*, IJCV 13:119). Outliers, partial overlap and
occlusion therefore pull far less than in plain least squares.

:func:`local_icp` estimates a *drifting* pose: one rigid transform per query time, fitted by
kernel-weighted Procrustes (:func:`~jaxhybrid.maps.procrustes.local_rigid`) over the current
correspondences, each source point moving with the transform of its nearest query time. This
is what registers a vehicle pass whose pose error varies along the path.

Nearest neighbours are brute force, chunked with ``lax.map`` (memory ``chunk × M``), so every
function is pure, fixed-shape and ``vmap``-able over a batch of (padded, masked) passes.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxhybrid.maps.procrustes import Transform, _umeyama, apply, apply_local

__all__ = ["nearest", "icp", "local_icp", "ICPResult"]


class ICPResult(NamedTuple):
    """``transform``: source → target (batched over queries for :func:`local_icp`);
    ``rms``: per-iteration root-mean-square distance of the gated (inlier) pairs, before the
    update of that iteration; ``inlier_fraction``: final fraction of pairs within ``max_dist``."""

    transform: Transform
    rms: Float[Array, " iters"]
    inlier_fraction: Float[Array, ""]


def nearest(src: Float[Array, "N d"], tgt: Float[Array, "M d"], tgt_mask: Optional[Array] = None, chunk: int = 512):
    """Brute-force nearest neighbour of each ``src`` point in ``tgt`` → ``(index, squared distance)``.

    Masked-out targets (``tgt_mask`` false) are never chosen.
    """
    n = src.shape[0]
    chunk = int(min(chunk, n))
    pad = (-n) % chunk
    s = jnp.concatenate([src, jnp.zeros((pad, src.shape[1]), src.dtype)]).reshape(-1, chunk, src.shape[1])
    t2 = jnp.sum(tgt**2, -1)
    if tgt_mask is not None:
        t2 = jnp.where(tgt_mask, t2, jnp.inf)

    def block(x):
        d2 = jnp.sum(x**2, -1)[:, None] - 2.0 * x @ tgt.T + t2[None]
        j = jnp.argmin(d2, -1)
        return j, jnp.maximum(jnp.take_along_axis(d2, j[:, None], 1)[:, 0], 0.0)

    idx, d2 = jax.lax.map(block, s)
    return idx.reshape(-1)[:n], d2.reshape(-1)[:n]


def _check(source, target, max_dist, robust_scale, iters, name):
    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(f"{name}: source (N, d) and target (M, d) must be point arrays of one dimension, "
                         f"got {source.shape} and {target.shape}.")
    if source.shape[0] < source.shape[1] or target.shape[0] < 1:
        raise ValueError(f"{name}: need at least d source points and one target point, got "
                         f"{source.shape[0]} and {target.shape[0]}.")
    if not (max_dist > 0 and robust_scale > 0):
        raise ValueError(f"{name}: max_dist and robust_scale must be positive, got {max_dist}, {robust_scale}.")
    if int(iters) < 1:
        raise ValueError(f"{name}: iters must be >= 1, got {iters}.")


def _weights(d2, max_dist, robust_scale, mask):
    w = 1.0 / (1.0 + d2 / robust_scale**2)
    w = jnp.where(d2 <= max_dist**2, w, 0.0)
    return w if mask is None else w * mask


def icp(
    source: Float[Array, "N d"],
    target: Float[Array, "M d"],
    *,
    iters: int = 30,
    init: Optional[Transform] = None,
    max_dist: float = 1.0,
    robust_scale: float = 0.2,
    source_mask: Optional[Array] = None,
    target_mask: Optional[Array] = None,
) -> ICPResult:
    """Robust rigid point-to-point ICP from ``source`` onto ``target`` (module docstring).

    Args:
        init: starting transform (default identity); ICP converges to the nearest local
            optimum, so the start must be within about ``max_dist`` of the truth.
        max_dist: pairs farther than this are ignored (gate).
        robust_scale: Cauchy scale ``c`` (about the noise level times a few).
        source_mask / target_mask: booleans marking real (not padding) points.
    """
    source, target = jnp.asarray(source), jnp.asarray(target)
    _check(source, target, max_dist, robust_scale, iters, "icp")
    d = source.shape[1]
    if init is None:
        init = Transform(jnp.eye(d, dtype=source.dtype), jnp.zeros(d, source.dtype), jnp.asarray(1.0, source.dtype))
    sm = None if source_mask is None else jnp.asarray(source_mask, source.dtype)

    def step(T, _):
        x = apply(T, source)
        j, d2 = nearest(x, target, target_mask)
        w = _weights(d2, max_dist, robust_scale, sm)
        gate = (d2 <= max_dist**2) * (1.0 if sm is None else sm)
        rms = jnp.sqrt(jnp.sum(gate * d2) / jnp.maximum(jnp.sum(gate), 1.0))
        T_new = _umeyama(source, target[j], w + 1e-12, False)
        return T_new, (rms, jnp.sum(gate) / (source.shape[0] if sm is None else jnp.sum(sm)))

    T, (rms, frac) = jax.lax.scan(step, init, None, length=int(iters))
    return ICPResult(T, rms, frac[-1])


def local_icp(
    source: Float[Array, "N d"],
    times: Float[Array, " N"],
    target: Float[Array, "M d"],
    query_times: Float[Array, " Q"],
    *,
    bandwidth: float,
    iters: int = 30,
    max_dist: float = 1.0,
    robust_scale: float = 0.2,
    source_mask: Optional[Array] = None,
    target_mask: Optional[Array] = None,
) -> ICPResult:
    """Robust ICP for a pose that drifts with time: one rigid transform per ``query_times``.

    Each iteration pairs ``T(q(i)) x_i`` with its nearest target (``q(i)``: the query time
    nearest to ``times[i]``) and refits every ``T(q)`` by kernel-weighted Kabsch with Gaussian
    bandwidth ``bandwidth`` (same units as ``times``), Cauchy weights and gate as in :func:`icp`.
    The start is the identity. Returns the batched transforms (leading axis ``Q``).
    """
    source, target = jnp.asarray(source), jnp.asarray(target)
    _check(source, target, max_dist, robust_scale, iters, "local_icp")
    times, query_times = jnp.asarray(times, source.dtype), jnp.asarray(query_times, source.dtype)
    if times.shape != (source.shape[0],) or query_times.ndim != 1 or query_times.shape[0] < 1:
        raise ValueError(f"local_icp: times must be ({source.shape[0]},) and query_times a non-empty 1-D array, "
                         f"got {times.shape} and {query_times.shape}.")
    if not bandwidth > 0:
        raise ValueError(f"local_icp: bandwidth must be positive, got {bandwidth}.")
    n, d = source.shape
    q = query_times.shape[0]
    index = jnp.argmin(jnp.abs(times[:, None] - query_times[None]), axis=1)
    sm = jnp.ones(n, source.dtype) if source_mask is None else jnp.asarray(source_mask, source.dtype)
    kern = jnp.exp(-0.5 * ((times[None] - query_times[:, None]) / bandwidth) ** 2)  # (Q, N)
    T0 = Transform(jnp.broadcast_to(jnp.eye(d, dtype=source.dtype), (q, d, d)),
                   jnp.zeros((q, d), source.dtype), jnp.ones(q, source.dtype))

    def step(T, _):
        x = apply_local(T, index, source)
        j, d2 = nearest(x, target, target_mask)
        w = _weights(d2, max_dist, robust_scale, sm)
        gate = (d2 <= max_dist**2) * sm
        rms = jnp.sqrt(jnp.sum(gate * d2) / jnp.maximum(jnp.sum(gate), 1.0))
        y = target[j]
        T_new = jax.vmap(lambda k: _umeyama(source, y, w * (k + 1e-6) + 1e-12, False))(kern)
        return T_new, (rms, jnp.sum(gate) / jnp.maximum(jnp.sum(sm), 1.0))

    T, (rms, frac) = jax.lax.scan(step, T0, None, length=int(iters))
    return ICPResult(T, rms, frac[-1])
