"""A prior learned as a correction to a Gaussian, and the choice of the correction's weight.

For fields drawn from a generator (e.g. :func:`~jaxhybrid.inverse.random_source_fields`) the
prior score is the exact smoothed score of the Gaussian ``N(μ̂, Ĉ)`` fitted to the samples plus a
learned correction, weighted:

    s_w(x, σ) = −(Ĉ + σ² I)⁻¹(x − μ̂) + w · c_θ(x, σ)
              (:class:`~jaxhybrid.sampling.WeightedCorrection` of a
               :class:`~jaxhybrid.sampling.ResidualScore` with a
               :class:`~jaxhybrid.sampling.GaussianScore` base).

:func:`train_residual_correction` trains the convolutional correction ``c_θ``
(:func:`conv_correction`) by continuous-σ denoising score matching (Vincent 2011) on the same
samples, the base held fixed and the correction's last layer starting at zero (training starts
at the Gaussian and learns what it misses: the non-Gaussian structure of the fields):

    θ* = argmin_θ E_{σ, x, z} ‖σ (s_G + c_θ)(x + σ z, σ) + z‖²,    σ log-uniform in ``sigma_range``.

A correction trained on a finite budget can be wrong where the data are thin, so its weight
``w ∈ [0, 1]`` is a sampler setting, like PnP-ULA's prior weight α: :func:`validate_correction_weight`
picks it by the mean relative L2 error of the posterior mean on *validation* fields (never the
test fields). :func:`heldout_dsm` checks on held-out fields that the correction improves on its base:
the DSM loss ``E‖σ s(x + σz, σ) + z‖²`` at each σ of both scores, with the same noise (a paired comparison).
Why a Gaussian base and a weight: README, "Learned priors".
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import jax

from jaxhybrid.metrics import coverage, rel_l2
from jaxhybrid.sampling import (ConvScore, GaussianScore, ResidualScore, WeightedCorrection, dsm_loss_by_sigma,
                                train_score)

__all__ = ["conv_correction", "train_residual_correction", "validate_correction_weight", "heldout_dsm"]


def conv_correction(config: dict, key: jax.Array) -> ConvScore:
    """The correction network ``c_θ``: ``ConvScore(config["width"], kernel_sizes=config["kernel_sizes"])``
    initialised with ``key`` (its shapes alone: ``equinox.filter_eval_shape(conv_correction, config, key)``)."""
    missing = [k for k in ("width", "kernel_sizes") if k not in config]
    if missing:
        raise ValueError(f"conv_correction: the configuration lacks {missing}.")
    return ConvScore(config["width"], kernel_sizes=config["kernel_sizes"], key=key)


def train_residual_correction(base: GaussianScore, samples: jax.Array, config: dict, net_key: jax.Array,
                              key: jax.Array, *, desc: str = "DSM source prior", loop: str = "host"):
    """Train :func:`conv_correction` (initialised with ``net_key``) on top of the fixed ``base`` by DSM on
    ``samples`` ``(n, H, W)`` (module docstring; ``config``: ``width``, ``kernel_sizes``, ``steps``,
    ``batch``, ``lr``, ``sigma_range``; minibatches and noise from ``key``).

    Returns ``(c_θ, {"final_dsm_loss": last logged DSM loss or None})`` — the ``train`` protocol of
    :func:`jaxhybrid.pretrained.obtain`; rebuild the prior as ``ResidualScore(base, c_θ, zero_init=False)``.
    """
    missing = [k for k in ("steps", "batch", "lr", "sigma_range") if k not in config]
    if missing:
        raise ValueError(f"train_residual_correction: the configuration lacks {missing}.")
    res = train_score(ResidualScore(base, conv_correction(config, net_key)), samples, config["sigma_range"],
                      steps=config["steps"], batch_size=config["batch"], learning_rate=config["lr"], key=key,
                      log_every=max(1, config["steps"] // 10), desc=desc, continuous=True, loop=loop)
    return res.params.net, {"final_dsm_loss": res.history[-1]["loss_mean"] if res.history else None}


def validate_correction_weight(sample: Callable, prior: ResidualScore, weights: Sequence[float], truth: jax.Array,
                               y: jax.Array, key: jax.Array) -> Tuple[float, dict]:
    """``(w, {w: (rel_l2, coverage_90)})``: the weight of ``weights`` whose posterior mean has the least mean
    relative L2 error ``mean_i ‖m_i − f_i‖/‖f_i‖`` against the validation fields ``truth`` ``(n, ...)``
    (the first of equal scores winning), and every weight's error and 90% interval coverage.

    ``sample(score, y, key) -> (means, stds)`` samples the posterior of the observations ``y`` (one row
    per field) under the prior ``WeightedCorrection(prior, w)`` (e.g. an
    :func:`~jaxhybrid.inverse.annealed_sampler`); every weight uses the same ``key``."""
    if len(weights) == 0:
        raise ValueError("validate_correction_weight: pass at least one candidate weight.")
    scores = {w: (float(rel_l2(m, truth, axis=0)), float(coverage(m, s, truth))) for w in weights
              for m, s in [sample(WeightedCorrection(prior, w), y, key)]}
    return min(scores, key=lambda w: scores[w][0]), scores


def heldout_dsm(prior: ResidualScore, fields: jax.Array, sigmas: Sequence[float], key: jax.Array, *,
                digits: Optional[int] = 5) -> Tuple[List[float], List[float]]:
    """``(base, prior)``: the held-out DSM loss per σ of ``sigmas``
    (:func:`~jaxhybrid.sampling.dsm_loss_by_sigma`) of ``prior.base`` and of ``prior`` on ``fields`` (samples
    neither saw), the same noise from ``key`` for both; rounded to ``digits`` decimals (``None``: not)."""
    out = ([float(v) for v in dsm_loss_by_sigma(m, fields, sigmas, key)] for m in (prior.base, prior))
    return tuple([v if digits is None else round(v, digits) for v in losses] for losses in out)
