"""PnP-ULA on an image task: the posterior driver, and the choice of its σ and α on validation data.

:func:`task_posterior` runs :func:`~jaxhybrid.inverse.score_pnp_posterior` on an
:class:`~jaxhybrid.inverse.ImageTask` (its likelihood score, data and Tikhonov start) with a
noise-conditional score network as the prior at level σ and weight α, and the step size of
Laumont et al.'s (2022) stability rule,

    δ = 1 / (3 (L_y + α/σ²)),           (:func:`~jaxhybrid.sampling.pnp_step_size`)

with ``L_y`` the Lipschitz constant of the likelihood score (``‖A‖²/η²``: ``1/η²`` for a normalised
blur or a mask); the chains are kept in the box ``[0, 1]`` by the projection term of weight
``λ = lam_steps · δ``. It returns ``E[X₀ | y]`` and its pixelwise error bar
(:class:`~jaxhybrid.inverse.PosteriorSummary`).

σ and α trade prior strength against data fit and have no value that suits every task and
network. :func:`validate_pnp` scores each pair of a grid by the PSNR of the posterior mean on a
*validation* task — an image the method is not evaluated on, with its own noise and mask — and
returns the best pair with every score (hyperparameters are chosen on validation data, never on
the test truth).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import jax

from jaxhybrid.sampling import pnp_step_size

from .data import psnr
from .posterior import PosteriorSummary, score_pnp_posterior
from .tasks import ImageTask

__all__ = ["task_posterior", "validate_pnp"]


def task_posterior(score_net, task: ImageTask, sigma: float, alpha: float, key: jax.Array, *,
                   likelihood_lipschitz: float, n_chains: int, n_samples: int, burn_in: int = 0,
                   box: Optional[Tuple[float, float]] = (0.0, 1.0), lam_steps: float = 5.0) -> PosteriorSummary:
    """PnP-ULA estimate ``E[X₀ | y]`` and its error bar on ``task`` (module docstring): ``n_chains``
    chains from ``task.start``, ``burn_in`` discarded and ``n_samples`` kept steps each, with the
    step size ``pnp_step_size(likelihood_lipschitz, sigma, alpha)``. Returns NumPy arrays."""
    step = pnp_step_size(likelihood_lipschitz, sigma, alpha)
    return score_pnp_posterior(score_net, sigma, step, task.likelihood_score, task.start, task.data, key,
                               n_chains=n_chains, n_samples=n_samples, burn_in=burn_in, alpha=alpha, box=box,
                               lam=lam_steps * step)


def validate_pnp(score_net, task: ImageTask, truth: jax.Array, sigmas: Sequence[float], alphas: Sequence[float],
                 key: jax.Array, **kw) -> Tuple[Tuple[float, float], dict]:
    """``((σ, α), {(σ, α): PSNR})``: the pair of ``sigmas × alphas`` whose :func:`task_posterior` mean
    (same ``key`` for every pair; ``kw``: its keywords) has the highest PSNR against ``truth`` on
    the validation ``task``, the first of equal scores winning, and every pair's PSNR (dB)."""
    if len(sigmas) == 0 or len(alphas) == 0:
        raise ValueError("validate_pnp: pass at least one sigma and one alpha.")
    scores = {(s, a): psnr(task_posterior(score_net, task, s, a, key, **kw)[0], truth) for s in sigmas for a in alphas}
    return max(scores, key=scores.get), scores
