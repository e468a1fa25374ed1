"""Rigid and similarity transforms from point correspondences (Procrustes), in JAX.

Given corresponding points ``x_i → y_i`` (``i = 1..N``, dimension ``d``) and weights
``w_i ≥ 0`` (normalised to ``Σ w_i = 1``), find ``(c, R, t)`` minimising

    E(c, R, t) = Σ_i w_i ‖y_i − (c R x_i + t)‖²,   R ∈ SO(d), c > 0.

Closed form (Kabsch 1976, *Acta Cryst.* A32:922; Umeyama 1991, *IEEE TPAMI* 13(4):376):

    μ_x = Σ w_i x_i,   μ_y = Σ w_i y_i,   Σ_xy = Σ w_i (y_i − μ_y)(x_i − μ_x)ᵀ = U D Vᵀ,
    S = diag(1, …, 1, sign(det U · det V)),
    R = U S Vᵀ,   c = tr(D S) / σ_x²  (σ_x² = Σ w_i ‖x_i − μ_x‖²),   t = μ_y − c R μ_x.

``S`` is the reflection fix: without it the SVD solution may be a rotation-reflection
(``det R = −1``) when the points are noisy or nearly planar. Everything is ``jit``/``vmap``/
``grad``-compatible; batches of problems are a ``vmap`` away (:func:`local_rigid` uses one to
estimate a transform that varies smoothly with time, by kernel-weighted Procrustes).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

__all__ = ["Transform", "umeyama", "kabsch", "apply", "compose", "inverse", "local_rigid", "apply_local"]


class Transform(NamedTuple):
    """``x ↦ scale · R x + t``; leading batch axes are allowed (``R``: ``(..., d, d)``)."""

    R: Float[Array, "... d d"]
    t: Float[Array, "... d"]
    scale: Float[Array, "..."]


def _is_concrete(*xs) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def _validate(src, dst, weights, name):
    src, dst = jnp.asarray(src), jnp.asarray(dst)
    if src.ndim != 2 or dst.ndim != 2 or src.shape != dst.shape:
        raise ValueError(f"{name}: src and dst must both be (N, d) arrays of corresponding points, "
                         f"got {src.shape} and {dst.shape}.")
    n, d = src.shape
    if d < 2:
        raise ValueError(f"{name}: need points of dimension d >= 2, got d = {d}.")
    if n < d:
        raise ValueError(f"{name}: need at least d = {d} correspondences to fix a {d}-D transform, got {n}.")
    if weights is not None:
        weights = jnp.asarray(weights)
        if weights.shape != (n,):
            raise ValueError(f"{name}: weights must have shape ({n},), got {weights.shape}.")
    if _is_concrete(src, weights):
        # degenerate configurations: all (weighted) points on a (d-2)-dimensional subspace
        x = np.asarray(src, np.float64)
        w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
        if not np.all(np.isfinite(x)) or (weights is not None and (np.any(w < 0) or w.sum() <= 0)):
            raise ValueError(f"{name}: points must be finite and weights non-negative with a positive sum.")
        keep = w > 0
        xc = x[keep] - np.average(x[keep], axis=0, weights=w[keep])
        sv = np.linalg.svd(xc, compute_uv=False) if keep.sum() > 1 else np.zeros(1)
        scale = max(float(sv[0]) if sv.size else 0.0, 1e-300)
        rank = int(np.sum(sv > 1e-9 * scale)) if sv[0] > 0 else 0
        if rank < d - 1:
            raise ValueError(f"{name}: degenerate configuration: the source points span only {rank} "
                             f"dimension(s); a {d}-D rotation needs points spanning at least {d - 1} "
                             "(e.g. not all on one line in 3-D). Add non-collinear points.")
    return src, dst, weights


def _umeyama(src, dst, w, with_scale):
    d = src.shape[-1]
    w = jnp.ones(src.shape[0], src.dtype) if w is None else w.astype(src.dtype)
    w = w / jnp.sum(w)
    mx, my = w @ src, w @ dst
    xc, yc = src - mx, dst - my
    cov = (yc * w[:, None]).T @ xc
    U, D, Vt = jnp.linalg.svd(cov)
    sgn = jnp.sign(jnp.linalg.det(U) * jnp.linalg.det(Vt))
    sgn = jnp.where(sgn == 0, 1.0, sgn)
    S = jnp.ones(d, src.dtype).at[-1].set(sgn)
    R = (U * S) @ Vt
    if with_scale:
        var_x = jnp.sum(w * jnp.sum(xc**2, -1))
        c = jnp.sum(D * S) / var_x
    else:
        c = jnp.asarray(1.0, src.dtype)
    t = my - c * R @ mx
    return Transform(R, t, c)


def _kabsch_local_linear(src, dst, w, tau, ridge=1e-9):
    """Weighted rigid fit with a translation linear in ``tau``: ``y ≈ R x + t₀ + t₁ τ``.
    Profiling out ``(t₀, t₁)`` replaces weighted centring by weighted detrending against
    ``[1, τ]``; the rotation is then Kabsch on the detrended points and ``t = t₀`` (τ = 0)."""
    d = src.shape[-1]
    w = w / jnp.sum(w)
    B = jnp.stack([jnp.ones_like(tau), tau], -1)
    G = (B * w[:, None]).T @ B + ridge * jnp.eye(2, dtype=src.dtype) * (1.0 + jnp.sum(w * tau**2))
    Cx = jnp.linalg.solve(G, (B * w[:, None]).T @ src)
    Cy = jnp.linalg.solve(G, (B * w[:, None]).T @ dst)
    xc, yc = src - B @ Cx, dst - B @ Cy
    U, _, Vt = jnp.linalg.svd((yc * w[:, None]).T @ xc)
    sgn = jnp.sign(jnp.linalg.det(U) * jnp.linalg.det(Vt))
    S = jnp.ones(d, src.dtype).at[-1].set(jnp.where(sgn == 0, 1.0, sgn))
    R = (U * S) @ Vt
    return Transform(R, Cy[0] - R @ Cx[0], jnp.asarray(1.0, src.dtype))


def umeyama(
    src: Float[Array, "N d"],
    dst: Float[Array, "N d"],
    weights: Optional[Float[Array, " N"]] = None,
    with_scale: bool = True,
) -> Transform:
    """Weighted similarity (``with_scale=True``, Umeyama 1991) or rigid (Kabsch 1976) transform
    mapping ``src`` onto ``dst`` in the least-squares sense (see the module docstring).

    Raises ``ValueError`` for mismatched shapes, fewer than ``d`` points, or (when called
    outside ``jit``) points spanning fewer than ``d − 1`` dimensions.
    """
    src, dst, weights = _validate(src, dst, weights, "umeyama")
    return _umeyama(src, dst, weights, with_scale)


def kabsch(src: Float[Array, "N d"], dst: Float[Array, "N d"], weights: Optional[Float[Array, " N"]] = None) -> Transform:
    """Rigid transform (``scale = 1``) mapping ``src`` onto ``dst``: Kabsch (1976)."""
    return umeyama(src, dst, weights, with_scale=False)


def apply(T: Transform, x: Float[Array, "... d"]) -> Float[Array, "... d"]:
    """``scale · R x + t`` for points ``x`` (one transform for all points)."""
    return T.scale * jnp.einsum("ij,...j->...i", T.R, x) + T.t


def compose(A: Transform, B: Transform) -> Transform:
    """``A ∘ B`` (apply ``B`` first)."""
    return Transform(A.R @ B.R, A.scale * A.R @ B.t + A.t, A.scale * B.scale)


def inverse(T: Transform) -> Transform:
    """``T⁻¹: y ↦ R ᵀ(y − t) / scale``."""
    Rt = jnp.swapaxes(T.R, -1, -2)
    return Transform(Rt, -(Rt @ T.t[..., None])[..., 0] / T.scale[..., None], 1.0 / T.scale)


def local_rigid(
    src: Float[Array, "N d"],
    dst: Float[Array, "N d"],
    times: Float[Array, " N"],
    query_times: Float[Array, " Q"],
    bandwidth: float,
    weights: Optional[Float[Array, " N"]] = None,
    floor: float = 1e-6,
    order: int = 1,
) -> Transform:
    """A rigid transform that varies smoothly with time: kernel-weighted Kabsch at each query.

    ``order=0`` (locally constant, Nadaraya–Watson type):
    ``T(q) = argmin Σ_i w_i K_h(t_i − q) ‖y_i − (R x_i + t)‖²``, with Gaussian kernel
    ``K_h(τ) = exp(−τ²/2h²)``. Its bias is first order in the drift's slope wherever the samples
    are not symmetric about ``q`` (ends of the data, alternating left/right controls: a drifting
    translation then masquerades as a rotation).

    ``order=1`` (locally linear, the default): the translation may vary linearly in time,
    ``y_i ≈ R x_i + t₀ + t₁ (t_i − q)``; profiling out ``(t₀, t₁)`` turns weighted centring into
    weighted detrending against ``[1, t_i − q]`` and ``T(q) = (R, t₀)``. The bias is then of the
    order ``h² T''`` (local polynomial regression; Fan & Gijbels 1996).

    ``floor`` adds ``floor · w_i`` to every weight so that queries far from all data fall back
    to the global fit instead of dividing by zero. Returns a batched :class:`Transform` with
    leading axis ``Q`` (one ``vmap``-ed fit per query).
    """
    src, dst, weights = _validate(src, dst, weights, "local_rigid")
    times, query_times = jnp.asarray(times, src.dtype), jnp.asarray(query_times, src.dtype)
    if times.shape != (src.shape[0],) or query_times.ndim != 1:
        raise ValueError(f"local_rigid: times must be ({src.shape[0]},) and query_times 1-D, "
                         f"got {times.shape} and {query_times.shape}.")
    if not bandwidth > 0:
        raise ValueError(f"local_rigid: bandwidth must be positive, got {bandwidth}.")
    if order not in (0, 1):
        raise ValueError(f"local_rigid: order must be 0 (locally constant) or 1 (locally linear), got {order}.")
    w = jnp.ones(src.shape[0], src.dtype) if weights is None else weights.astype(src.dtype)
    return _local_rigid(src, dst, times, query_times, bandwidth, w, floor, order)


def _local_rigid(src, dst, times, query_times, bandwidth, w, floor, order):
    def one(q):
        k = w * (jnp.exp(-0.5 * ((times - q) / bandwidth) ** 2) + floor)
        if order == 0:
            return _umeyama(src, dst, k, False)
        return _kabsch_local_linear(src, dst, k, (times - q) / bandwidth)

    return jax.vmap(one)(query_times)


def apply_local(T: Transform, index: Array, x: Float[Array, "N d"]) -> Float[Array, "N d"]:
    """Apply per-point transforms: point ``x_n`` gets ``T[index_n]`` (``T`` batched on axis 0)."""
    R, t, c = T.R[index], T.t[index], jnp.broadcast_to(T.scale, T.t.shape[:-1])[index]
    return c[:, None] * jnp.einsum("nij,nj->ni", R, x) + t
