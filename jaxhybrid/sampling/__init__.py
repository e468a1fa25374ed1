"""jaxhybrid.sampling — Langevin samplers and learned (score-based) priors (mechanism layer).

Samplers (one chain each, as a :class:`jaxhybrid.algorithm.Algorithm`: ``step(state, key) -> (state,
info)``; they take a log-density or score *function*; MALA's acceptance is in ``info``):
    ula                     — unadjusted Langevin (Roberts & Tweedie 1996)
    mala                    — Metropolis-adjusted Langevin (Roberts & Tweedie 1996)
    pnp_ula, pnp_step_size  — plug-and-play ULA, prior from a denoiser via Tweedie (Laumont et al. 2022)
    annealed_langevin       — annealed Langevin over a noise schedule (Song & Ermon 2019)
    underdamped_langevin    — kinetic Langevin, BAOAB (Cheng et al. 2018; Leimkuhler & Matthews 2013)
Running many chains (``vmap`` + :func:`jaxhybrid.rollout.evolve`, running moments only):
    run_chains (host: chunks, progress, divergence guard), chains_summary (pure, inside jit),
    chains_algorithm, ChainsState, ChainSummary, RunningMoments, moments_init, moments_update,
    pool, mc_standard_error
Score learning (Vincent 2011 DSM; trained with :func:`jaxhybrid.train.fit`):
    ConvScore (images, any size), BiasFreeDnCNN, BiasFreeUNet (noise predictors, NoisePredictor),
    MLPScore (vectors), GaussianScore, ResidualScore (base + learned correction),
    WeightedCorrection (its prior weight), score_network (from a configuration), dsm_loss,
    dsm_loss_by_sigma (held-out, per noise level), train_score, score_from_denoiser, denoiser_from_score
"""

from .ula import ULAState, ula
from .mala import MALAState, mala, mala_log_proposal
from .pnp import PnPState, pnp_ula, pnp_step_size, score_from_denoiser, denoiser_from_score, tweedie_variance
from .annealed import AnnealedState, annealed_langevin, geometric_sigmas
from .underdamped import UnderdampedState, underdamped_langevin
from .stats import RunningMoments, moments_init, moments_update, pool, mc_standard_error
from .chains import ChainSummary, ChainsState, chains_algorithm, chains_summary, run_chains
from .score import (ConvScore, NoisePredictor, BiasFreeDnCNN, BiasFreeUNet, MLPScore, GaussianScore, ResidualScore,
                    WeightedCorrection, score_network, dsm_loss, dsm_loss_by_sigma, train_score)

__all__ = [
    "ULAState", "ula", "MALAState", "mala", "mala_log_proposal", "PnPState", "pnp_ula", "pnp_step_size", "tweedie_variance",
    "score_from_denoiser", "denoiser_from_score", "AnnealedState", "annealed_langevin",
    "geometric_sigmas", "UnderdampedState", "underdamped_langevin", "RunningMoments",
    "moments_init", "moments_update", "pool", "mc_standard_error", "ChainSummary", "ChainsState",
    "chains_algorithm", "chains_summary", "run_chains",
    "ConvScore", "NoisePredictor", "BiasFreeDnCNN", "BiasFreeUNet", "MLPScore", "GaussianScore", "ResidualScore",
    "WeightedCorrection", "score_network", "dsm_loss", "dsm_loss_by_sigma", "train_score",
]
