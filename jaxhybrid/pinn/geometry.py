r"""Geometry for collocation: boxes, disks and constructive solid geometry (union, difference).

Every shape is described by a signed distance-like function ``sdf(x)`` (negative inside, zero on
the boundary, positive outside; exact for boxes and disks, the usual min/max combination for CSG:
``sdf_{A∪B} = min(sdf_A, sdf_B)``, ``sdf_{A∖B} = max(sdf_A, −sdf_B)``) and two samplers:

* ``sample_interior(key, n)`` — ``n`` points uniform in the interior,
* ``sample_boundary(key, n)`` — ``n`` points uniform (w.r.t. arc length / surface measure) on the
  boundary.

Primitive shapes sample directly (inverse transform). CSG shapes draw a fixed number of candidates
(the bounding box for the interior; the parts' boundaries, in proportion to their measure, for
the boundary), keep the valid ones — for ``A ∪ B`` the points of ``∂A`` outside ``B`` and of
``∂B`` outside ``A``; for ``A ∖ B`` the points of ``∂A`` outside ``B`` and of ``∂B`` inside ``A``
— and return the first ``n`` of them, so the samplers stay jit-compatible with static shapes.
The oversampling factor is fixed on construction from a Monte-Carlo estimate of the kept
fraction (with a safety factor 2 + 6 standard deviations); if a draw still falls short, the call
fails loudly inside jit (``eqx.error_if``) instead of returning duplicates.
"""

from __future__ import annotations

import math
from typing import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Box", "Disk", "Union", "Difference", "Shape", "Rescaled"]


class Shape:
    """Base class: ``sdf``, ``contains``, ``bbox``, samplers. Subclasses define ``sdf``,
    ``bbox`` (``(lo, hi)`` tuples), ``_boundary_candidates(key, m) -> (points, keep)`` and
    ``boundary_measure`` (measure of the candidate set that ``_boundary_candidates`` draws from)."""

    dim: int

    def sdf(self, x: jax.Array) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def contains(self, x: jax.Array, tol: float = 0.0) -> jax.Array:
        """``sdf(x) < −tol`` for a batch ``x`` of shape ``(n, dim)`` (or one point)."""
        return self.sdf(x) < -tol

    def __or__(self, other: "Shape") -> "Union":
        return Union(self, other)

    def __sub__(self, other: "Shape") -> "Difference":
        return Difference(self, other)

    # -- defaults for primitives -------------------------------------------------------------
    _interior_factor: float = 1.0
    _boundary_factor: float = 1.0

    def _check_n(self, n, what):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{type(self).__name__}.{what}: n must be a positive int, got {n!r}.")

    def sample_interior(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` points uniform in the interior (rejection from the bounding box)."""
        self._check_n(n, "sample_interior")
        lo, hi = (jnp.asarray(v, jnp.result_type(float)) for v in self.bbox)
        m = int(math.ceil(n * self._interior_factor))
        cand = lo + (hi - lo) * jax.random.uniform(key, (m, self.dim), lo.dtype)
        return _first_n(cand, self.contains(cand), n, "interior")

    def sample_boundary(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` points uniform on the boundary."""
        self._check_n(n, "sample_boundary")
        m = int(math.ceil(n * self._boundary_factor))
        cand, keep = self._boundary_candidates(key, m)
        return _first_n(cand, keep, n, "boundary")


def _first_n(cand, keep, n, what):
    order = jnp.argsort(~keep, stable=True)  # kept candidates first, in drawing order
    pts = cand[order[:n]]
    return eqx.error_if(pts, jnp.sum(keep) < n, f"geometry: too few valid {what} candidates; draw again with another key.")


def _mc_factor(frac: float, n_est: int) -> float:
    if frac <= 0:
        raise ValueError("geometry: the shape is empty (no valid points in a Monte-Carlo estimate).")
    sd = math.sqrt(frac * (1 - frac) / n_est)
    return 2.0 / max(frac - 6 * sd, frac / 4)


class Box(Shape):
    """Axis-aligned box ``∏_i [lo_i, hi_i]``; ``sdf`` is the exact signed distance."""

    def __init__(self, lo: Sequence[float], hi: Sequence[float]):
        lo, hi = tuple(float(v) for v in np.atleast_1d(lo)), tuple(float(v) for v in np.atleast_1d(hi))
        if len(lo) != len(hi) or not all(h > l for l, h in zip(lo, hi)):
            raise ValueError(f"Box: need lo < hi componentwise with equal lengths, got {lo}, {hi}.")
        self.lo, self.hi, self.dim = lo, hi, len(lo)
        self.bbox = (lo, hi)
        sides = [h - l for l, h in zip(lo, hi)]
        self.volume = float(np.prod(sides))
        # boundary measure: sum over faces (2 per axis) of the product of the other sides
        self.boundary_measure = float(sum(2 * np.prod(sides[:i] + sides[i + 1:]) for i in range(self.dim))) if self.dim > 1 else 2.0

    def sdf(self, x):
        x = jnp.asarray(x)
        lo, hi = jnp.asarray(self.lo, x.dtype), jnp.asarray(self.hi, x.dtype)
        c, h = (lo + hi) / 2, (hi - lo) / 2
        q = jnp.abs(x - c) - h
        outside = jnp.linalg.norm(jnp.maximum(q, 0.0), axis=-1)
        inside = jnp.minimum(jnp.max(q, axis=-1), 0.0)
        return outside + inside

    def grid(self, n: int):
        """``n`` points per axis over the closed box, ``linspace(lo_i, hi_i, n)``: an ``(n^d, d)``
        array of rows in ``meshgrid(..., indexing="ij")`` order (the last coordinate varies fastest)."""
        if n < 2:
            raise ValueError(f"Box.grid: need n >= 2 points per axis, got {n}.")
        axes = [jnp.linspace(l, h, n) for l, h in zip(self.lo, self.hi)]
        return jnp.stack([a.ravel() for a in jnp.meshgrid(*axes, indexing="ij")], -1)

    def sample_interior(self, key, n):
        self._check_n(n, "sample_interior")
        lo, hi = jnp.asarray(self.lo, jnp.result_type(float)), jnp.asarray(self.hi, jnp.result_type(float))
        return lo + (hi - lo) * jax.random.uniform(key, (n, self.dim), lo.dtype)

    def _boundary_candidates(self, key, m):
        dt = jnp.result_type(float)
        lo, hi = jnp.asarray(self.lo, dt), jnp.asarray(self.hi, dt)
        if self.dim == 1:
            side = jax.random.bernoulli(key, 0.5, (m, 1))
            return jnp.where(side, hi, lo), jnp.ones(m, bool)
        sides = hi - lo
        face_area = jnp.asarray([np.prod([s for j, s in enumerate(np.asarray(self.hi) - np.asarray(self.lo)) if j != i])
                                 for i in range(self.dim)], dt)
        k1, k2, k3 = jax.random.split(key, 3)
        axis = jax.random.categorical(k1, jnp.log(face_area), shape=(m,))
        upper = jax.random.bernoulli(k2, 0.5, (m,))
        pts = lo + sides * jax.random.uniform(k3, (m, self.dim), dt)
        onehot = jax.nn.one_hot(axis, self.dim, dtype=bool)
        face_val = jnp.where(upper[:, None], hi, lo)
        return jnp.where(onehot, face_val, pts), jnp.ones(m, bool)

    def sample_boundary(self, key, n):
        self._check_n(n, "sample_boundary")
        return self._boundary_candidates(key, n)[0]


class Disk(Shape):
    """Disk (ball in any dimension ≥ 2) ``‖x − c‖ < r``; ``sdf = ‖x − c‖ − r`` (exact)."""

    def __init__(self, center: Sequence[float], radius: float):
        self.center = tuple(float(v) for v in np.atleast_1d(center))
        self.radius = float(radius)
        self.dim = len(self.center)
        if self.dim < 2 or not self.radius > 0:
            raise ValueError(f"Disk: need a center with >= 2 coordinates and radius > 0, got {center}, {radius}.")
        self.bbox = (tuple(c - self.radius for c in self.center), tuple(c + self.radius for c in self.center))
        d, r = self.dim, self.radius
        self.volume = math.pi ** (d / 2) / math.gamma(d / 2 + 1) * r**d
        self.boundary_measure = d * self.volume / r

    def sdf(self, x):
        x = jnp.asarray(x)
        return jnp.linalg.norm(x - jnp.asarray(self.center, x.dtype), axis=-1) - self.radius

    def _direction(self, key, m, dt):
        v = jax.random.normal(key, (m, self.dim), dt)
        return v / jnp.linalg.norm(v, axis=-1, keepdims=True)

    def sample_interior(self, key, n):
        self._check_n(n, "sample_interior")
        dt = jnp.result_type(float)
        k1, k2 = jax.random.split(key)
        rad = self.radius * jax.random.uniform(k2, (n, 1), dt) ** (1.0 / self.dim)
        return jnp.asarray(self.center, dt) + rad * self._direction(k1, n, dt)

    def _boundary_candidates(self, key, m):
        dt = jnp.result_type(float)
        return jnp.asarray(self.center, dt) + self.radius * self._direction(key, m, dt), jnp.ones(m, bool)

    def sample_boundary(self, key, n):
        self._check_n(n, "sample_boundary")
        return self._boundary_candidates(key, n)[0]


class _CSG(Shape):
    def __init__(self, a: Shape, b: Shape, n_estimate: int = 20000):
        if not isinstance(a, Shape) or not isinstance(b, Shape):
            raise ValueError("CSG: both operands must be shapes (Box, Disk, Union, Difference).")
        if a.dim != b.dim:
            raise ValueError(f"CSG: shapes of different dimension ({a.dim} vs {b.dim}).")
        self.a, self.b, self.dim = a, b, a.dim
        self.boundary_measure = a.boundary_measure + b.boundary_measure
        self.bbox = self._make_bbox()
        key = jax.random.PRNGKey(12345)
        k1, k2 = jax.random.split(key)
        lo, hi = np.asarray(self.bbox[0]), np.asarray(self.bbox[1])
        cand = lo + (hi - lo) * np.asarray(jax.random.uniform(k1, (n_estimate, self.dim)))
        frac_in = float(np.mean(np.asarray(self.contains(jnp.asarray(cand)))))
        self.volume = frac_in * float(np.prod(hi - lo))
        self._interior_factor = _mc_factor(frac_in, n_estimate)
        frac_b = float(np.mean(np.asarray(self._boundary_candidates(k2, n_estimate)[1])))
        self.boundary_measure_exact = frac_b * self.boundary_measure  # of the CSG boundary itself
        self._boundary_factor = _mc_factor(frac_b, n_estimate)

    def _split(self, key, m):
        ka, kb, kc = jax.random.split(key, 3)
        pa = self.a.boundary_measure / (self.a.boundary_measure + self.b.boundary_measure)
        from_a = jax.random.uniform(kc, (m,)) < pa
        (xa, keep_a), (xb, keep_b) = self.a._boundary_candidates(ka, m), self.b._boundary_candidates(kb, m)
        return from_a, xa, keep_a, xb, keep_b


class Union(_CSG):
    """``A ∪ B``: ``sdf = min(sdf_A, sdf_B)``; boundary = (∂A outside B) ∪ (∂B outside A)."""

    def _make_bbox(self):
        return (tuple(np.minimum(self.a.bbox[0], self.b.bbox[0]).tolist()), tuple(np.maximum(self.a.bbox[1], self.b.bbox[1]).tolist()))

    def sdf(self, x):
        return jnp.minimum(self.a.sdf(x), self.b.sdf(x))

    def _boundary_candidates(self, key, m):
        from_a, xa, keep_a, xb, keep_b = self._split(key, m)
        keep_a = keep_a & (self.b.sdf(xa) > 0)
        keep_b = keep_b & (self.a.sdf(xb) > 0)
        return jnp.where(from_a[:, None], xa, xb), jnp.where(from_a, keep_a, keep_b)


class Difference(_CSG):
    """``A ∖ B``: ``sdf = max(sdf_A, −sdf_B)``; boundary = (∂A outside B) ∪ (∂B inside A)."""

    def _make_bbox(self):
        return self.a.bbox

    def sdf(self, x):
        return jnp.maximum(self.a.sdf(x), -self.b.sdf(x))

    def _boundary_candidates(self, key, m):
        from_a, xa, keep_a, xb, keep_b = self._split(key, m)
        keep_a = keep_a & (self.b.sdf(xa) > 0)
        keep_b = keep_b & (self.a.sdf(xb) < 0)
        return jnp.where(from_a[:, None], xa, xb), jnp.where(from_a, keep_a, keep_b)


class Rescaled(eqx.Module):
    """``x ↦ net(2 (x − lo) / (hi − lo) − 1)``: a network defined on [−1, 1]^d applied to the points
    of the box ``∏_i [lo_i, hi_i]`` (inputs of order one whatever the box)."""

    net: eqx.Module
    lo: tuple = eqx.field(static=True)
    hi: tuple = eqx.field(static=True)

    def __init__(self, net, box: Box):
        self.net, self.lo, self.hi = net, box.lo, box.hi

    def __call__(self, x):
        lo, hi = jnp.asarray(self.lo, x.dtype), jnp.asarray(self.hi, x.dtype)
        return self.net(2 * (x - lo) / (hi - lo) - 1)
