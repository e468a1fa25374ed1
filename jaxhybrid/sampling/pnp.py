"""Plug-and-play ULA (PnP-ULA): posterior sampling with a prior given by a denoiser.

Laumont, Bortoli, Almansa, Delon, Durmus & Pereyra (2022), *Bayesian imaging using
Plug & Play priors: when Langevin meets Tweedie*, SIAM J. Imaging Sci. 15(2):

    X_{k+1} = X_k + δ ∇log p(y|X_k) + (αδ/σ²) (D_σ(X_k) − X_k)
                  + (δ/λ) (Π_C(X_k) − X_k) + √(2δ) ξ_k.

``(D_σ(x) − x)/σ²`` is Tweedie's formula for the score of the prior smoothed by Gaussian noise of
standard deviation σ (Efron 2011): for the MMSE denoiser ``D_σ(x) = E[X | X + σZ = x]``,
``∇log π_σ(x) = (D_σ(x) − x)/σ²``. ``α`` weights the prior (α = 1: the smoothed prior itself),
and the optional term with ``Π_C`` (projection onto a box ``C = [lo, hi]``) keeps the chain in
a compact set, which the convergence theory needs (λ > 0, typically a few δ).

Plug & play: one denoiser (one trained prior) serves any forward operator through
``log p(y|x)``, without retraining.

Estimating the clean image. PnP-ULA's target ``π(x) ∝ p(y|x) π_σ(x)`` is the posterior of the noisy
variable ``X = X₀ + σZ`` (``X₀ ~ π``) under ``y = A X + η``, so ``E_π[X]`` still carries the
σ-noise in the directions the likelihood does not pin down. Each state also holds ``D_σ(X_k)``
(computed for the drift anyway); for α = 1 and the MMSE denoiser, the tower rule gives
``E_π[D_σ(X)] = E[X₀ | y]`` — the MMSE
estimate of the clean image under that model (Laumont et al. 2022, §2.3; Kadkhodaie &
Simoncelli 2021). Average it with ``run_chains(..., observe=lambda s: s.denoised)``. Its error
bar is the law of total variance, ``Var[X₀ | y] = Var_π[D_σ(X)] + E_π[Var(X₀ | X)]``, with the
second-order Tweedie identity ``Cov(X₀ | X = x) = σ² ∂D_σ/∂x`` (Efron 2011; Meng, Song, Li & Ermon
2021) for the inner term: :func:`tweedie_variance`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.random import normal as fused_normal

from .base import check_positive, score_of

__all__ = ["PnPState", "pnp_ula", "pnp_step_size", "score_from_denoiser", "denoiser_from_score", "tweedie_variance"]


class PnPState(NamedTuple):
    """``position``: current sample ``X_k``; ``score``: the drift at ``X_k`` (reused by the next
    step); ``denoised``: ``D_σ(X_k)``, whose chain average estimates ``E[X₀ | y]``."""

    position: jax.Array
    score: jax.Array
    denoised: jax.Array


def score_from_denoiser(denoiser: Callable, sigma) -> Callable:
    """Tweedie: ``s(x) = (D_σ(x) − x) / σ²``."""
    check_positive("score_from_denoiser", "sigma", sigma)
    return lambda x: (denoiser(x) - x) / sigma**2


def denoiser_from_score(score: Callable, sigma) -> Callable:
    """Inverse Tweedie: ``D_σ(x) = x + σ² s_σ(x)`` (a score net trained at noise σ is a denoiser)."""
    check_positive("denoiser_from_score", "sigma", sigma)
    return lambda x: x + sigma**2 * score(x)


def tweedie_variance(denoiser: Callable, sigma, positions: jax.Array, key: jax.Array, n_probes: int = 4) -> jax.Array:
    """Pixelwise ``E[Var(X₀ | X)] ≈ σ² · mean_k diag ∂D_σ/∂x (x_k)`` over ``positions`` (leading
    axis, e.g. the final states of PnP-ULA chains).

    ``Cov(X₀ | X = x) = σ² ∂D_σ(x)/∂x`` for the MMSE denoiser (second-order Tweedie). The
    Jacobian diagonal is estimated without forming the Jacobian: ``diag J = E[v ⊙ J v]`` for
    Rademacher ``v`` (Bekas, Kokiopoulou & Saad 2007), ``n_probes`` Jacobian-vector products per
    position; the estimate is unbiased, exact for a diagonal ``J``, and a single pixel's value can
    come out negative (clip at 0 before taking a square root).
    """
    check_positive("tweedie_variance", "sigma", sigma)
    if not isinstance(n_probes, int) or n_probes < 1:
        raise ValueError(f"tweedie_variance: n_probes must be an int >= 1, got {n_probes!r}.")
    positions = jnp.asarray(positions)
    if positions.ndim < 1 or positions.shape[0] < 1:
        raise ValueError(f"tweedie_variance: positions need a leading axis of states, got shape {positions.shape}.")
    keys = jax.random.split(key, (positions.shape[0], n_probes))

    def one(x, k):
        v = jax.random.rademacher(k, x.shape, x.dtype)
        return v * jax.jvp(denoiser, (x,), (v,))[1]

    diag = jax.vmap(lambda x, ks: jax.vmap(lambda k: one(x, k))(ks))(positions, keys)
    return sigma**2 * jnp.mean(diag, axis=(0, 1))


def pnp_step_size(likelihood_lipschitz: float, sigma: float, alpha: float = 1.0, *,
                  denoiser_lipschitz: float = 1.0, safety: float = 3.0) -> float:
    """Step size of PnP-ULA by Laumont et al.'s (2022) stability rule,

        δ = 1 / (safety · (L_y + α L_D / σ²)),

    with ``L_y`` the Lipschitz constant of the likelihood score (``‖A‖²/σ_n²`` for a Gaussian
    likelihood), ``L_D`` the denoiser's (1 for a non-expansive denoiser) and their bound
    ``δ < 1/(3(L_y + α L_D/σ²))`` met with ``safety = 3``. Add ``1/λ`` to ``L_y`` when the
    projection term's λ is small."""
    for name, v in (("likelihood_lipschitz", likelihood_lipschitz), ("sigma", sigma), ("alpha", alpha),
                    ("denoiser_lipschitz", denoiser_lipschitz), ("safety", safety)):
        check_positive("pnp_step_size", name, v)
    return 1.0 / (safety * (likelihood_lipschitz + alpha * denoiser_lipschitz / sigma**2))


def pnp_ula(
    denoiser: Callable,
    sigma: float,
    step_size: float,
    *,
    log_likelihood_fn: Optional[Callable] = None,
    likelihood_score_fn: Optional[Callable] = None,
    alpha: float = 1.0,
    box: Optional[Tuple[float, float]] = None,
    lam: Optional[float] = None,
) -> Algorithm:
    """PnP-ULA for one chain: ``init(position) -> PnPState``, ``step(state, key) -> (PnPState, {})``.

    Args:
        denoiser: ``D_σ(x)`` with the shape of ``x`` (e.g. a trained network).
        sigma: the denoiser's noise level σ > 0.
        step_size: δ > 0; stability needs roughly ``δ < 1/(L_y + α/σ² + 1/λ)`` with ``L_y`` the
            Lipschitz constant of the likelihood score.
        log_likelihood_fn / likelihood_score_fn: ``log p(y|x)`` (differentiated by JAX) or its
            gradient (exactly one).
        alpha: prior weight α > 0.
        box: optional ``(lo, hi)``; adds the projection drift ``(δ/λ)(Π_C(x) − x)``.
        lam: λ > 0 of the projection term (default ``5 δ``).
    """
    check_positive("pnp_ula", "sigma", sigma)
    check_positive("pnp_ula", "step_size", step_size)
    check_positive("pnp_ula", "alpha", alpha)
    if not callable(denoiser):
        raise ValueError("pnp_ula: `denoiser` must be a function x -> D_σ(x).")
    lik_score = score_of("pnp_ula", log_likelihood_fn, likelihood_score_fn)
    if box is not None:
        lo, hi = box
        if not lo < hi:
            raise ValueError(f"pnp_ula: box must be (lo, hi) with lo < hi, got {box!r}.")
        lam = 5.0 * step_size if lam is None else lam
        check_positive("pnp_ula", "lam", lam)

    def state_at(x) -> PnPState:
        dx = denoiser(x)
        d = lik_score(x) + (alpha / sigma**2) * (dx - x)
        if box is not None:
            d = d + (jnp.clip(x, lo, hi) - x) / lam
        return PnPState(x, d, dx)

    def init(position):
        return state_at(jnp.asarray(position))

    def step(state: PnPState, key) -> tuple[PnPState, dict]:
        x = state.position
        x = x + step_size * state.score + jnp.sqrt(2.0 * step_size) * fused_normal(key, x.shape, x.dtype)
        return state_at(x), {}

    return Algorithm(init, step)
