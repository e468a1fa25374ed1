"""Classic MAP baselines with hand-crafted regularisers (mechanism-only reconstructions).

* :func:`tikhonov` — ``x̂ = argmin ½‖Ax − y‖² + (λ/2)‖Lx‖²`` with ``L = I`` or the discrete
  gradient ``∇`` (Tikhonov 1963), i.e. the linear system ``(AᵀA + λLᵀL) x = Aᵀy``, solved by
  conjugate gradients (Hestenes & Stiefel 1952) — the operator is symmetric positive definite.
* :func:`tv_map` — ``x̂ = argmin ½‖Ax − y‖² + λ TV(x)`` with isotropic total variation
  ``TV(x) = Σ_ij ‖(∇x)_ij‖₂`` (Rudin, Osher & Fatemi 1992), optionally constrained to a box,
  by FISTA (Beck & Teboulle 2009, *Fast gradient-based algorithms for constrained total
  variation image denoising and deblurring*, IEEE TIP 18(11)): gradient step on the data term
  with step ``1/‖A‖²``, then the proximal map of ``(λ/‖A‖²) TV`` computed by Chambolle's (2004,
  *An algorithm for total variation minimization and applications*, JMIV 20) dual projection
  iteration, warm-started from the previous outer iteration's dual variable:

      p ← (p + τ ∇(div p − b/θ)) / (1 + τ |∇(div p − b/θ)|),   τ = 1/8,     prox = b − θ div p.

``∇`` uses forward differences with a zero difference at the last row/column (Neumann) and
``div = −∇ᵀ``.

:func:`denoising_psnr` measures a (learned) denoiser against this baseline: TV denoising is
``tv_prox`` of the noisy image, ``argmin ½‖x − b‖² + θ TV(x)``. :func:`tune_weight` picks a
baseline's weight λ on the truth (oracle tuning, which favours the baseline); :func:`tuned_map`
does so for :func:`tikhonov` or :func:`tv_map`, compiled once with λ traced (a batch of
observations solved by ``vmap``);
:func:`gradient_precision` is the dense matrix ``∇ᵀ∇`` of the gradient penalty, i.e. the prior
precision ``λ∇ᵀ∇`` whose Gaussian posterior gives Tikhonov's own error bar.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.sparse.linalg import cg

from .data import psnr
from .operators import LinearOperator, operator_norm

__all__ = ["grad2d", "div2d", "total_variation", "tikhonov", "tv_prox", "tv_map", "denoising_psnr", "tune_weight",
           "tuned_map", "gradient_precision"]


def grad2d(x):
    """Forward differences ``(∂_0 x, ∂_1 x)`` with zeros on the last row/column; shape (2, H, W)."""
    gx = jnp.concatenate([x[1:] - x[:-1], jnp.zeros_like(x[:1])], 0)
    gy = jnp.concatenate([x[:, 1:] - x[:, :-1], jnp.zeros_like(x[:, :1])], 1)
    return jnp.stack([gx, gy])


def div2d(p):
    """Discrete divergence, the negative adjoint of :func:`grad2d`: ``⟨∇x, p⟩ = −⟨x, div p⟩``."""
    px, py = p[0], p[1]
    dx = jnp.concatenate([px[:1], px[1:-1] - px[:-2], -px[-2:-1]], 0)
    dy = jnp.concatenate([py[:, :1], py[:, 1:-1] - py[:, :-2], -py[:, -2:-1]], 1)
    return dx + dy


def total_variation(x):
    """Isotropic TV ``Σ ‖(∇x)_ij‖₂``."""
    g = grad2d(x)
    return jnp.sum(jnp.sqrt(jnp.sum(g * g, 0)))


def _check(op, y, lam, name):
    if not isinstance(op, LinearOperator):
        raise ValueError(f"{name}: needs a LinearOperator (with adjoint), got {type(op).__name__}.")
    if tuple(jnp.shape(y)) != tuple(op.out_shape):
        raise ValueError(f"{name}: y has shape {jnp.shape(y)}, the operator outputs {op.out_shape}.")
    if not isinstance(lam, jax.core.Tracer) and not lam >= 0:
        raise ValueError(f"{name}: regularisation weight must be >= 0, got {lam}.")


def tikhonov(op: LinearOperator, y, lam: float, *, reg: str = "gradient", maxiter: int = 500, tol: float = 1e-6):
    """Tikhonov MAP: solve ``(AᵀA + λ LᵀL) x = Aᵀ y`` by CG (``reg``: ``"identity"`` or ``"gradient"``).

    With ``reg="gradient"`` and ``λ = 0`` the system may be singular; use ``λ > 0``.
    """
    _check(op, y, lam, "tikhonov")
    if reg == "identity":
        lt_l = lambda x: x
    elif reg == "gradient":
        if len(op.in_shape) != 2:
            raise ValueError("tikhonov: reg='gradient' is for 2-D images; use reg='identity'.")
        lt_l = lambda x: -div2d(grad2d(x))
    else:
        raise ValueError(f"tikhonov: reg must be 'identity' or 'gradient', got {reg!r}.")
    rhs = op.adjoint(jnp.asarray(y))
    x, _ = cg(lambda x: op.adjoint(op.apply(x)) + lam * lt_l(x), rhs, x0=rhs, tol=tol, maxiter=maxiter)
    return x


def tv_prox(b, theta, p0=None, n_iter: int = 20):
    """``argmin_x ½‖x − b‖² + θ TV(x)`` by Chambolle's projection algorithm; returns ``(x, p)``."""
    p = jnp.zeros((2,) + b.shape, b.dtype) if p0 is None else p0
    tau = 0.125

    def body(p, _):
        g = grad2d(div2d(p) - b / theta)
        nrm = jnp.sqrt(jnp.sum(g * g, 0))
        return (p + tau * g) / (1.0 + tau * nrm), None

    p, _ = jax.lax.scan(body, p, None, length=n_iter)
    return b - theta * div2d(p), p


def tv_map(op: LinearOperator, y, lam: float, *, n_iter: int = 300, inner: int = 10,
           box: Optional[Tuple[float, float]] = None, x0=None, lipschitz: Optional[float] = None):
    """TV-regularised MAP ``argmin ½‖Ax − y‖² + λ TV(x)`` (over the box if given) by FISTA
    with Chambolle inner solves (see module docstring). Returns the estimate."""
    _check(op, y, lam, "tv_map")
    if len(op.in_shape) != 2:
        raise ValueError("tv_map: total variation is implemented for 2-D images.")
    y = jnp.asarray(y)
    L = (operator_norm(op, jax.random.PRNGKey(0)) ** 2 * 1.01) if lipschitz is None else lipschitz
    x = op.adjoint(y) if x0 is None else jnp.asarray(x0)
    p = jnp.zeros((2,) + x.shape, x.dtype)

    def body(c, _):
        x, z, t, p = c
        b = z - op.adjoint(op.apply(z) - y) / L
        xn, p = tv_prox(b, lam / L, p, inner)
        if box is not None:
            xn = jnp.clip(xn, box[0], box[1])
        tn = 0.5 * (1 + jnp.sqrt(1 + 4 * t * t))
        z = xn + ((t - 1) / tn) * (xn - x)
        return (xn, z, tn, p), None

    (x, _, _, _), _ = jax.lax.scan(body, (x, x, jnp.asarray(1.0, x.dtype), p), None, length=n_iter)
    return x


def denoising_psnr(denoise: Callable, clean, sigma: float, key, *, tv_weights: Sequence[float],
                   tv_iter: int = 100) -> dict:
    """PSNR (dB, data range 1) of denoising ``clean`` images ``(B, H, W)`` corrupted by ``N(0, σ²)``
    noise drawn with ``key``: ``{"noisy": input, "denoiser": denoise(noisy), "tv": best TV}``.

    ``denoise`` maps the batch of noisy images to estimates (e.g. a learned MMSE denoiser
    ``D_σ``, vmapped); TV denoising (:func:`tv_prox`, ``tv_iter`` Chambolle iterations) takes the
    best weight θ of ``tv_weights`` on these very images, which favours the baseline.
    """
    clean = jnp.asarray(clean)
    if clean.ndim != 3:
        raise ValueError(f"denoising_psnr: clean must be a batch of images (B, H, W), got shape {clean.shape}.")
    if not sigma > 0 or len(tv_weights) == 0:
        raise ValueError(f"denoising_psnr: need sigma > 0 and at least one TV weight, got {sigma}, {tv_weights}.")
    noisy = clean + sigma * jax.random.normal(key, clean.shape, clean.dtype)
    tvd = jax.jit(lambda th: jax.vmap(lambda a: tv_prox(a, th, n_iter=tv_iter)[0])(noisy))
    return {"noisy": psnr(noisy, clean), "denoiser": psnr(denoise(noisy), clean),
            "tv": max(psnr(tvd(th), clean) for th in tv_weights)}


def tune_weight(estimate: Callable[[Any], Any], weights: Sequence[float], truth, *,
                score: Callable[[Any, Any], float] = psnr, best: str = "max") -> Tuple[float, float, Any]:
    """Oracle tuning of a regularisation weight: ``(score, weight, estimate)`` of the weight ``w``
    of ``weights`` whose ``estimate(w)`` scores best against ``truth``.

    ``score(estimate, truth) -> float`` (default :func:`psnr`); ``best="max"`` (a PSNR) or
    ``"min"`` (an error); the first of equal scores wins. Choosing λ on the test truth gives the
    baseline its best possible accuracy: use it for baselines only, never for the method under test.
    """
    if best not in ("max", "min"):
        raise ValueError(f"tune_weight: best must be 'max' or 'min', got {best!r}.")
    if len(weights) == 0:
        raise ValueError("tune_weight: weights is empty; pass at least one candidate weight.")
    trials = [(float(score(x, truth)), float(w), x) for w in weights for x in [estimate(w)]]
    return (max if best == "max" else min)(trials, key=lambda t: t[0])


def tuned_map(solver: Callable, op: LinearOperator, y, truth, weights: Sequence[float], *, scale: float = 1.0,
              score: Callable[[Any, Any], float] = psnr, best: str = "max", **kw) -> Tuple[float, float, Any]:
    """Oracle-tuned MAP baseline: :func:`tune_weight` over ``w ∈ weights`` of the estimate ``solver(op, y,
    w · scale, **kw)`` (``solver``: :func:`tikhonov` or :func:`tv_map`, ``kw`` its keywords), scored against
    ``truth``. One compiled program serves every weight (``w`` is traced). ``y`` is one observation
    (``op.out_shape``) or a batch ``(n, *op.out_shape)``, solved by ``vmap`` and returned as NumPy; score the
    batch e.g. with the mean relative error ``rel_l2(·, ·, axis=0)`` and ``best="min"``.

    Returns ``(score, w, estimate)`` (``w`` unscaled: the weight of the penalty is ``w · scale``, e.g.
    ``scale = η²`` makes ``w`` the prior precision factor of noise-whitened data)."""
    y = jnp.asarray(y)
    if y.ndim == len(op.out_shape):
        return tune_weight(jax.jit(lambda w: solver(op, y, w * scale, **kw)), weights, truth, score=score, best=best)
    if y.ndim != len(op.out_shape) + 1:
        raise ValueError(f"tuned_map: y must have shape {op.out_shape} or (n, *{op.out_shape}), got {y.shape}.")
    solve_all = jax.jit(jax.vmap(lambda yi, w: solver(op, yi, w * scale, **kw), in_axes=(0, None)))
    return tune_weight(lambda w: np.asarray(solve_all(y, w)), weights, truth, score=score, best=best)


def gradient_precision(shape: Tuple[int, int]) -> jax.Array:
    """Dense ``∇ᵀ∇ = −div ∘ ∇`` of :func:`grad2d` on ``(H, W)`` images, ``(HW, HW)``: ``xᵀ(∇ᵀ∇)x =
    ‖∇x‖²`` (symmetric positive semi-definite, constants in its null space). ``λ∇ᵀ∇`` is the prior
    precision of Tikhonov's gradient penalty (for a few thousand pixels: the matrix is dense)."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"gradient_precision: shape must be (H, W) with H, W >= 1, got {shape!r}.")
    n = int(shape[0]) * int(shape[1])
    return jax.vmap(lambda e: -div2d(grad2d(e)))(jnp.eye(n).reshape(-1, *shape)).reshape(n, n)
