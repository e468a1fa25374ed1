"""Geometric primitives under constraints: parallel lanes of constant width, vertical poles.

**Lanes (constrained).** In a road-aligned frame (origin ``o`` and direction ``e`` from the
principal axis of the marking points; ``s = (x − o)·e``, ``v = (x − o)·e⊥``) the centreline is the
polynomial ``C(s) = (s, p(s))``, ``p(s) = Σ_k a_k (s/h)^k``, and marking ``k = 0..K−1`` is the
exact offset curve

    M_k(s) = C(s) + (k − (K−1)/2) · w · n(s),     n = (−p', 1)/√(1 + p'²),

so all markings are parallel and equally spaced *by construction* (a hard constraint: the
architecture cannot express anything else); kerbs are offset curves with free offsets
``κ_L, κ_R``. A point's signed distance to ``C`` is ``d = (x − C(s*))·n(s*)`` at its foot point
``s* = argmin_s ‖x − C(s)‖`` (three Newton steps, held fixed under differentiation: by the
envelope theorem ``∂d/∂s* = 0`` at the foot). The parameters ``θ = (a, w, κ)`` minimise the
robust composite loss built with :func:`jaxhybrid.paradigms.constrain`

    L(θ) = mean_i ρ(min_k |d_i − (k − (K−1)/2) w|) + mean_j ρ(min_± |d_j − κ_±|),
    ρ(r) = c² log(1 + r²/c²)  (Cauchy),

minimised by iteratively reweighted Gauss–Newton (optionally warm-started with Adam through
:func:`jaxhybrid.train.fit`).

**Lanes (unconstrained baseline).** Each marking separately: points assigned to the nearest
initial offset, then a robust polynomial ``v = q_k(s)`` per marking (IRLS least squares).

**Poles.** Vertical: the axis is the vertical line through the (coordinate-wise median) centre of
the points. Free: the principal axis of the points (total least squares line, Pearson 1901),
read at the bottom of the cluster.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.paradigms import constrain
from jaxhybrid.train import fit

__all__ = ["LaneModel", "FreeLanes", "fit_lanes", "fit_lanes_free", "lane_points", "free_lane_points",
           "pole_vertical", "pole_free", "road_frame"]


class LaneModel(NamedTuple):
    """Constrained lane model (module docstring). ``coeffs``: ``a_k`` (m); ``width``: ``w``;
    ``kerbs``: ``(κ_L, κ_R)`` (NaN when no kerb points were given); ``loss_terms``: final values
    of the loss terms."""

    origin: np.ndarray
    direction: np.ndarray
    half: float
    coeffs: np.ndarray
    width: float
    n_markings: int
    kerbs: np.ndarray
    s_range: tuple
    loss_terms: dict


class FreeLanes(NamedTuple):
    """Independently fitted markings: ``coeffs[k]`` of ``v = q_k(s)``, same frame as :class:`LaneModel`."""

    origin: np.ndarray
    direction: np.ndarray
    half: float
    coeffs: np.ndarray
    s_range: tuple

    @property
    def width(self) -> float:
        s = np.linspace(*self.s_range, 200) / self.half
        v = np.stack([np.polynomial.polynomial.polyval(s, c) for c in self.coeffs])
        return float(np.mean(np.diff(v, axis=0)))


def road_frame(points: np.ndarray):
    """Origin (centroid) and unit principal direction of 2-D points; ``s`` range and ``h``."""
    x = np.asarray(points, np.float64)
    o = x.mean(0)
    _, _, vt = np.linalg.svd(x - o, full_matrices=False)
    e = vt[0] * np.sign(vt[0][0] if abs(vt[0][0]) > 1e-12 else vt[0][1])
    s = (x - o) @ e
    return o, e, float(max(np.abs(s).max(), 1.0)), (float(s.min()), float(s.max()))


def _local(points, o, e):
    d = np.asarray(points, np.float64)[:, :2] - o
    return np.stack([d @ e, d @ np.array([-e[1], e[0]])], 1)


def _signed_distance(coeffs, sv, half, newton: int = 3):
    """Signed distance of local points ``sv`` (N, 2) from the curve ``v = p(s)``."""
    def horner(c, u):
        out = jnp.zeros_like(u) + c[-1]
        for k in range(c.shape[0] - 2, -1, -1):
            out = out * u + c[k]
        return out

    def deriv(c):  # coefficients of d/ds p(s) = d/ds Σ c_k (s/h)^k
        return c[1:] * jnp.arange(1, c.shape[0]) / half if c.shape[0] > 1 else jnp.zeros(1, c.dtype)

    sq, vq = sv[:, 0], sv[:, 1]
    c = jax.lax.stop_gradient(coeffs)
    c1 = deriv(c)
    c2 = deriv(c1 * half) if c.shape[0] > 2 else jnp.zeros(1, c.dtype)
    s = sq
    for _ in range(newton):
        r = horner(c, s / half) - vq
        d1 = horner(c1, s / half)
        g = (s - sq) + r * d1
        hss = 1.0 + d1**2 + r * horner(c2, s / half)
        s = s - g / jnp.maximum(hss, 0.5)
    s = jax.lax.stop_gradient(s)
    slope = horner(deriv(coeffs), s / half)
    return ((sq - s) * (-slope) + (vq - horner(coeffs, s / half))) / jnp.sqrt(1.0 + slope**2)


def _cauchy(r, c):
    return c**2 * jnp.log1p((r / c) ** 2)


def _offsets(width, n):
    return (jnp.arange(n) - (n - 1) / 2) * width


def _init(sv, n_markings, degree, half, width_range=(2.0, 5.0), tol=0.2):
    """Initial centreline (least squares through all points) and lane width and centre by a grid
    search maximising the number of points within ``tol`` of the ``n_markings`` offsets (robust to
    misclassified points, unlike extreme quantiles)."""
    u = sv[:, 0] / half
    A = u[:, None] ** np.arange(degree + 1)
    a = np.linalg.lstsq(A, sv[:, 1], rcond=None)[0]
    r = sv[:, 1] - A @ a
    edges = np.arange(-30.0, 30.0 + 1e-9, 0.02)
    cum = np.concatenate([[0], np.cumsum(np.histogram(r, edges)[0])])
    ws = np.arange(width_range[0], width_range[1] + 1e-9, 0.02)
    cs = np.arange(-3.0, 3.0 + 1e-9, 0.02)
    k = np.arange(n_markings) - (n_markings - 1) / 2
    pos = cs[None, :, None] + ws[:, None, None] * k[None, None, :]          # (W, C, K)
    lo = np.clip(np.searchsorted(edges, pos - tol), 0, len(cum) - 1)
    hi = np.clip(np.searchsorted(edges, pos + tol), 0, len(cum) - 1)
    score = np.sum(cum[hi] - cum[lo], -1)
    wi, ci = np.unravel_index(np.argmax(score), score.shape)
    a[0] += cs[ci]
    return a, float(ws[wi])


def _pad(x, n):
    out = np.zeros((n, x.shape[1]))
    out[: len(x)] = x
    return jnp.asarray(out), jnp.asarray(np.arange(n) < len(x), jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)


def _bucket(n):
    return int(2 ** np.ceil(np.log2(max(n, 16))))


def _residuals(z, K, Km, KB, KBm, half, n_markings, degree):
    a, w = z[: degree + 1], z[degree + 1]
    d = _signed_distance(a, K, half)
    rm = jnp.min(jnp.abs(d[:, None] - _offsets(w, n_markings)[None]), 1)
    dk = _signed_distance(a, KB, half)
    rk = jnp.min(jnp.abs(dk[:, None] - z[degree + 2:][None]), 1)
    return rm, rk


@lru_cache(maxsize=32)
def _lane_loss(robust_scale, n_markings, degree):
    """The composite loss ``L = markings + kerbs`` of the module docstring, via ``constrain``."""
    def term(i):
        def f(z, batch):
            r = _residuals(z, *batch, n_markings, degree)[i]
            m = batch[1] if i == 0 else batch[3]
            return jnp.sum(m * _cauchy(r, robust_scale)) / jnp.maximum(jnp.sum(m), 1.0)
        return f
    return constrain({"markings": term(0), "kerbs": term(1)})


@lru_cache(maxsize=32)
def _jitted_loss(robust_scale, n_markings, degree):
    return jax.jit(_lane_loss(robust_scale, n_markings, degree))


@partial(jax.jit, static_argnames=("n_markings", "degree", "iters"))
def _gauss_newton(z, batch, robust_scale, n_markings, degree, iters):
    K, Km, KB, KBm, half = batch
    nm, nk = jnp.maximum(jnp.sum(Km), 1.0), jnp.maximum(jnp.sum(KBm), 1.0)

    def stacked(z):
        rm, rk = _residuals(z, *batch, n_markings, degree)
        return jnp.concatenate([rm, rk])

    def step(z, _):
        r, J = stacked(z), jax.jacfwd(stacked)(z)
        # IRLS weights of the Cauchy loss, scaled like the means in the loss
        wt = jnp.concatenate([Km / nm, KBm / nk]) / (1.0 + (r / robust_scale) ** 2)
        Jw, rw = J * jnp.sqrt(wt)[:, None], r * jnp.sqrt(wt)
        H = Jw.T @ Jw + 1e-12 * jnp.eye(z.shape[0])
        return z - jnp.linalg.solve(H, Jw.T @ rw), None

    return jax.lax.scan(step, z, None, length=iters)[0]


def fit_lanes(
    markings: np.ndarray,
    n_markings: int,
    *,
    kerbs: Optional[np.ndarray] = None,
    degree: int = 5,
    robust_scale: float = 0.1,
    gauss_newton: int = 10,
    steps: int = 0,
    key: Optional[jax.Array] = None,
    progress: bool = False,
) -> LaneModel:
    """Fit the constrained lane model (module docstring) to marking points (N, ≥2; the first two
    columns are used) and optional kerb points.

    The loss is built by :func:`jaxhybrid.paradigms.constrain`; it is minimised by
    ``gauss_newton`` iteratively reweighted Gauss–Newton steps (the majorise–minimise iteration
    of the Cauchy loss), optionally after ``steps`` Adam steps through :func:`jaxhybrid.train.fit`
    (a first-order warm start for poor initial guesses). Point arrays are padded to powers of
    two so that repeated fits reuse the compiled solver.

    Raises ``ValueError`` for too few points or ``n_markings < 2``.
    """
    m = np.asarray(markings, np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(f"fit_lanes: markings must be (N, 2) or (N, 3) points, got {m.shape}.")
    if n_markings < 2:
        raise ValueError(f"fit_lanes: need n_markings >= 2 to define a lane width, got {n_markings}.")
    if len(m) < degree + 3 * n_markings:
        raise ValueError(f"fit_lanes: {len(m)} marking points are too few for degree {degree} and "
                         f"{n_markings} markings; lower the degree or supply more points.")
    o, e, half, s_range = road_frame(m[:, :2])
    sv = _local(m, o, e)
    a0, w0 = _init(sv, n_markings, degree, half)
    have_kerbs = kerbs is not None and len(kerbs) >= 2
    if have_kerbs:
        kv = _local(np.asarray(kerbs, np.float64), o, e)
        dk = kv[:, 1] - np.polynomial.polynomial.polyval(kv[:, 0] / half, a0)
        left, right = dk[dk < 0], dk[dk >= 0]
        k0 = [np.median(left) if len(left) else -w0 * n_markings / 2 - 0.5,
              np.median(right) if len(right) else w0 * n_markings / 2 + 0.5]
    else:
        kv, k0 = np.zeros((1, 2)), [np.nan, np.nan]
    K, Km = _pad(sv, _bucket(len(sv)))
    KB, KBm = _pad(kv, _bucket(len(kv)))
    if not have_kerbs:
        KBm = KBm * 0
    batch = (K, Km, KB, KBm, jnp.asarray(half, K.dtype))
    z = jnp.asarray(np.concatenate([a0, [w0], np.nan_to_num(k0)]), K.dtype)
    loss = _lane_loss(float(robust_scale), int(n_markings), int(degree))
    if steps > 0:
        opt = optax.adam(optax.cosine_decay_schedule(1e-2, steps, alpha=0.01))
        z = fit(lambda p, _: loss(p, batch), z, None, opt, steps=steps, has_aux=True, key=key,
                log_every=max(1, steps // 4), progress=progress, desc="lanes").params
    if gauss_newton > 0:
        z = _gauss_newton(z, batch, robust_scale, n_markings, degree, int(gauss_newton))
    total, terms = _jitted_loss(float(robust_scale), int(n_markings), int(degree))(z, batch)
    z = np.asarray(z, np.float64)
    return LaneModel(o, e, half, z[: degree + 1], float(z[degree + 1]), int(n_markings),
                     z[degree + 2:] if have_kerbs else np.full(2, np.nan), s_range,
                     {k: float(v) for k, v in terms.items()})


def fit_lanes_free(markings: np.ndarray, n_markings: int, *, degree: int = 5, robust_scale: float = 0.1,
                   irls: int = 10) -> FreeLanes:
    """Fit each marking independently (no parallelism, no common width): the baseline."""
    m = np.asarray(markings, np.float64)
    if m.ndim != 2 or m.shape[1] < 2 or len(m) < (degree + 2) * n_markings or n_markings < 1:
        raise ValueError(f"fit_lanes_free: need (N, 2) points with N >= (degree + 2) · n_markings, got {m.shape}.")
    o, e, half, s_range = road_frame(m[:, :2])
    sv = _local(m, o, e)
    a0, w0 = _init(sv, n_markings, degree, half)
    u = sv[:, 0] / half
    A = u[:, None] ** np.arange(degree + 1)
    base = A @ a0
    off = np.asarray(_offsets(w0, n_markings))
    pred = base[:, None] + off[None]                                         # (N, K) initial marking positions
    coeffs = [a0 + np.eye(degree + 1)[0] * off[j] for j in range(n_markings)]
    for _ in range(2):  # assign each point to the nearest current marking, refit each marking
        k = np.argmin(np.abs(sv[:, 1, None] - pred), 1)
        near = np.min(np.abs(sv[:, 1, None] - pred), 1) < 1.0
        for j in range(n_markings):
            sel = (k == j) & near
            if sel.sum() < degree + 2:
                raise ValueError(f"fit_lanes_free: marking {j} has only {sel.sum()} points; lower the degree.")
            Aj, vj = A[sel], sv[sel, 1]
            c = coeffs[j]
            for _ in range(irls):
                w = 1.0 / (1.0 + ((vj - Aj @ c) / robust_scale) ** 2)
                c = np.linalg.lstsq(Aj * np.sqrt(w)[:, None], vj * np.sqrt(w), rcond=None)[0]
            coeffs[j] = c
        pred = np.stack([A @ c for c in coeffs], 1)
    return FreeLanes(o, e, half, np.stack(coeffs), s_range)


def _to_world(o, e, s, v):
    n = np.array([-e[1], e[0]])
    return o + s[:, None] * e + v[:, None] * n


def lane_points(model: LaneModel, k: int, n: int = 400, kerb: Optional[int] = None) -> np.ndarray:
    """World (x, y) samples of marking ``k`` (or of kerb 0/1 with ``kerb=``) along the fitted range."""
    s = np.linspace(*model.s_range, n)
    u = s / model.half
    p = np.polynomial.polynomial.polyval(u, model.coeffs)
    dp = np.polynomial.polynomial.polyval(u, np.polynomial.polynomial.polyder(model.coeffs)) / model.half
    nrm = np.stack([-dp, np.ones_like(dp)], 1) / np.sqrt(1 + dp**2)[:, None]
    off = model.kerbs[kerb] if kerb is not None else (k - (model.n_markings - 1) / 2) * model.width
    sv = np.stack([s, p], 1) + off * nrm
    return _to_world(model.origin, model.direction, sv[:, 0], sv[:, 1])


def free_lane_points(model: FreeLanes, k: int, n: int = 400) -> np.ndarray:
    """World (x, y) samples of independently fitted marking ``k``."""
    s = np.linspace(*model.s_range, n)
    return _to_world(model.origin, model.direction, s, np.polynomial.polynomial.polyval(s / model.half, model.coeffs[k]))


def pole_vertical(points: np.ndarray) -> np.ndarray:
    """Vertical-pole constraint: base point ``(median x, median y, min z)``."""
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 1:
        raise ValueError(f"pole_vertical: need (N >= 1, 3) points, got {p.shape}.")
    return np.array([np.median(p[:, 0]), np.median(p[:, 1]), p[:, 2].min()])


def pole_free(points: np.ndarray) -> np.ndarray:
    """Free axis (principal direction through the centroid), read at the cluster's lowest height."""
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 2:
        raise ValueError(f"pole_free: need (N >= 2, 3) points, got {p.shape}.")
    c = p.mean(0)
    _, _, vt = np.linalg.svd(p - c, full_matrices=False)
    a = vt[0] if abs(vt[0][2]) > 1e-6 else np.array([0.0, 0.0, 1.0])
    z0 = p[:, 2].min()
    return c + a * (z0 - c[2]) / a[2]
