"""prior-poisson-source — a source field from sparse noisy potentials, with a learned prior (paradigm 1).

Mechanism: ``−Δu = f`` on the unit square (``u = 0`` on the boundary, 32² interior grid); data: ``u`` at 64
random points with 10% Gaussian noise; unknown: ``f``, drawn from a generator of four random Gaussian bumps
(:func:`jaxhybrid.inverse.source_problem`: the set-up, and why the problem is severely ill-posed).

* **hybrid** — annealed Langevin with the noise-level-aware PDE likelihood
  (:func:`jaxhybrid.inverse.annealed_sampler`) and a prior learned from generator samples: a fitted
  Gaussian plus a DSM-trained conv correction of weight w chosen on validation fields
  (:mod:`jaxhybrid.inverse.residual_prior`);
* **tikhonov** (mechanism only: gradient penalty, λ tuned on the test fields), **gaussian_prior** (the
  fitted Gaussian alone, in closed form), **data_only** (an MLP from the 64 observations to ``f``).

Both networks come from :func:`jaxhybrid.pretrained.obtain`, keyed by their training
configuration: quick mode evaluates the full run's networks (shipped in ``jaxhybrid/weights/``; only the
correction is stored, the Gaussian is refitted) with the weight w its validation chose (VALIDATED),
fewer test fields and shorter chains; only when those weights are missing (or with ``--retrain``) does
it train the PRIOR_QUICK / MLP_QUICK budgets (then w is chosen on validation fields as in the full run).

Measured: mean relative L2 error of ``f`` on held-out fields, 90% interval coverage, posterior std.
Figures, and why a Gaussian base and a weight: README, "Learned priors".
"""

from __future__ import annotations

import time
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from jaxhybrid.pretrained import obtain
from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.inverse import (annealed_sampler, conv_correction, heldout_dsm, linear_gaussian_posterior, show_images,
                               observation_mlp, posterior_panels, source_problem, tikhonov, tikhonov_posterior,
                               train_observation_mlp, train_residual_correction, tuned_map, validate_correction_weight)
from jaxhybrid.metrics import coverage, rel_l2
from jaxhybrid.sampling import ResidualScore, WeightedCorrection, geometric_sigmas

NAME = "prior-poisson-source"
N, N_OBS = 32, 64
F_SCALE = 10.0  # fields are ~O(10); the prior works on f / F_SCALE
NOISE_REL = 0.1
N_TRAIN = 8000  # generator fields: the Gaussian base, the noise scale and both networks' training set (both modes)
SIGMA_RANGE = (0.02, 1.0)  # noise levels of the conditional score net (normalised units)
N_LEVELS, EPS = 20, 0.2  # annealing levels (geometric over SIGMA_RANGE), step ε σ² per level
DSM_CHECK_SIGMAS = (0.02, 0.05, 0.1, 0.3, 1.0)
#: candidate weights of the DSM correction on top of the fitted Gaussian (chosen on validation fields)
CORRECTION_WEIGHTS = (0.0, 0.5, 1.0)
#: the weight the full run chose on its validation fields for its networks, by seed (record
#: benchmarks/results/examples/prior-poisson-source-full-cpu.json); quick mode reuses it with those networks
VALIDATED = {0: 0.5}
#: training of the DSM correction (ConvScore) and of the data-only MLP: full and quick budgets
PRIOR_FULL = {"width": 32, "kernel_sizes": (5, 1, 5), "steps": 1000, "batch": 32, "lr": 3e-3,
              "sigma_range": SIGMA_RANGE}
PRIOR_QUICK = {**PRIOR_FULL, "steps": 200}
MLP_FULL = {"width": 256, "depth": 2, "steps": 5000, "batch": 64, "lr": 1e-3}
MLP_QUICK = {**MLP_FULL, "steps": 1000}
#: (test fields, chains per field, steps per annealing level, kept samples per chain): quick, full
SAMPLING_QUICK, SAMPLING_FULL = (4, 8, 5, 60), (8, 16, 20, 300)


def keys(seed):
    """The example's eight PRNG keys: train, test, noise, net, fit, mlp, reg, samp."""
    return jax.random.split(jax.random.PRNGKey(seed), 8)


def problem_config(seed: int) -> dict:
    """What fixes the training data of both networks: the generator fields (seed, count, grid, scale) and,
    for the MLP, the sensors and the noise (10% of the RMS potential of the first 500 fields)."""
    return {"seed": seed, "n_train": N_TRAIN, "grid": N, "f_scale": F_SCALE, "n_obs": N_OBS, "noise_rel": NOISE_REL}


def prior_config(cfg: dict, seed: int) -> dict:
    return {**problem_config(seed), "prior": cfg}


def mlp_config(cfg: dict, seed: int) -> dict:
    return {**problem_config(seed), "mlp": cfg}


def like_prior(cfg: dict, meta: dict):
    return eqx.filter_eval_shape(conv_correction, cfg["prior"], jax.random.PRNGKey(0))


def like_mlp(cfg: dict, meta: dict):
    return eqx.filter_eval_shape(observation_mlp, cfg["n_obs"], cfg["grid"] ** 2, cfg["mlp"], jax.random.PRNGKey(0))


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t_start = time.perf_counter()
    Path(out).mkdir(parents=True, exist_ok=True)
    _, k_test, k_noise, _, _, _, _, k_samp = keys(seed)
    n_test, n_chains, n_each, n_samples = SAMPLING_QUICK if quick else SAMPLING_FULL
    # sensors, N_TRAIN generator fields, their fitted Gaussian, noise NOISE_REL × RMS potential of the first 500
    prob = source_problem(keys(seed)[0], grid=N, n_obs=N_OBS, n_train=N_TRAIN, f_scale=F_SCALE, noise_rel=NOISE_REL,
                          sensor_seed=seed + 123)
    op, train_f, gauss, u_scale, noise = prob.op, prob.train_f, prob.gauss, prob.u_scale, prob.noise
    test_f, y = prob.draw(k_test, k_noise, n_test)
    rel = lambda est, f=test_f: float(rel_l2(est, f, axis=0))  # mean over fields of ‖est − f‖/‖f‖
    cov = lambda m, s, f=test_f: float(coverage(m, s, f))  # fraction of pixels in mean ± 1.645 std

    # --- prior: the fitted Gaussian + a conv correction trained by DSM (stored weights of the full budget; quick
    # mode: else the quick budget); held-out DSM loss per σ on fresh generator fields (the same noise for both)
    cfgs = [prior_config(c, seed) for c in ((PRIOR_FULL, PRIOR_QUICK) if quick else (PRIOR_FULL,))]
    train_prior = lambda c: train_residual_correction(gauss, train_f, c["prior"], *keys(c["seed"])[3:5])
    got = obtain(NAME, cfgs, train_prior, like_prior, retrain=retrain, log=print)
    net = ResidualScore(gauss, got.model, zero_init=False)
    kf, kz = jax.random.split(jax.random.fold_in(k_test, 1))
    f_check = prob.fields(kf, 64 if quick else 128)
    dsm_gauss, dsm_net = heldout_dsm(net, f_check, DSM_CHECK_SIGMAS, kz)

    # --- mechanism only: Tikhonov (gradient penalty), λ tuned on the test fields
    tik_err, tik_lam, tik_est = tuned_map(tikhonov, op, y, test_f, np.geomspace(1e-4, 1e4, 9 if quick else 17),
                                          scale=noise**2, score=rel, best="min", reg="gradient", maxiter=1000)

    # --- hybrid: annealed Langevin with the PDE likelihood at each noise level; the correction's weight w is
    # chosen on validation fields (never the test fields); quick mode with the full run's networks takes its choice
    sigmas = geometric_sigmas(SIGMA_RANGE[1], SIGMA_RANGE[0], N_LEVELS)
    eps = EPS * SIGMA_RANGE[0] ** 2
    sample_all = annealed_sampler(op, noise, sigmas=sigmas, eps=eps, n_each=n_each, n_chains=n_chains,
                                  n_samples=n_samples, shape=(N, N))
    if quick and got.config == prior_config(PRIOR_FULL, seed) and seed in VALIDATED:
        weight, val_scores, chosen_by = VALIDATED[seed], {}, f"full run's validation (VALIDATED[{seed}])"
    else:
        k_val, k_val_noise, k_val_samp = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 77), 3)
        val_f, y_val = prob.draw(k_val, k_val_noise, n_test)
        weight, val_scores = validate_correction_weight(sample_all, net, CORRECTION_WEIGHTS, val_f, y_val, k_val_samp)
        chosen_by = "validation"
    means, stds = map(np.asarray, sample_all(WeightedCorrection(net, weight), y, k_samp))

    # --- the fitted Gaussian prior alone, and Tikhonov's own posterior (prior precision λ∇ᵀ∇): closed form
    g_mean, g_std = linear_gaussian_posterior(op, noise, y, gauss.mean.reshape(N, N), prior_cov=gauss.covariance())
    tik_std = tikhonov_posterior(op, noise, y, tik_lam).std

    # --- data only: an MLP from the (scaled) observations to the field, its own training budget (the full
    # one with the full run's prior, else the quick one)
    mlp_budget = MLP_FULL if got.config == prior_config(PRIOR_FULL, seed) else MLP_QUICK
    train_mlp = lambda c: train_observation_mlp(op, train_f, noise, u_scale, c["mlp"], *keys(c["seed"])[5:7])
    got_mlp = obtain(NAME + "-mlp", [mlp_config(mlp_budget, seed)], train_mlp, like_mlp, retrain=retrain, log=print)
    mlp_est = np.asarray(jax.vmap(got_mlp.model)(y / u_scale)).reshape(n_test, N, N)

    metrics = {"f_rel_l2": rel(means), "coverage_90": cov(means, stds),
               "mean_posterior_std_rel": float(np.mean(stds) / np.sqrt(np.mean(np.asarray(test_f) ** 2)))}
    baselines = {"tikhonov": {"f_rel_l2": tik_err, "coverage_90": cov(tik_est, tik_std[None])},
                 "data_only": {"f_rel_l2": rel(mlp_est)},
                 "gaussian_prior": {"f_rel_l2": rel(g_mean), "coverage_90": cov(g_mean, g_std[None])}}
    _plot(out, np.asarray(test_f), means, stds, tik_est, mlp_est, metrics, baselines)
    return record(
        NAME, 1, quick, t_start, metrics, {"f_rel_l2": "min", "coverage_90": "max", "mean_posterior_std_rel": "min"},
        baselines, headline="f_rel_l2", config={
            "grid": N, "n_obs": N_OBS, "noise": noise, "noise_rel": NOISE_REL, "n_train": N_TRAIN, "n_test": n_test,
            "dsm_steps": got.config["prior"]["steps"], "mlp_steps": got_mlp.config["mlp"]["steps"],
            "sigma_range": list(SIGMA_RANGE), "levels": N_LEVELS, "steps_per_level": n_each,
            "eps": eps, "chains": n_chains, "samples_per_chain": n_samples, "tikhonov_lambda": tik_lam,
            "correction_weight": weight, "correction_weight_chosen_by": chosen_by, "f_scale": F_SCALE,
            "validation_rel_l2_coverage_by_weight": {str(w): v for w, v in val_scores.items()},
            "dsm_heldout_sigmas": list(DSM_CHECK_SIGMAS), "dsm_heldout_gaussian": dsm_gauss,
            "dsm_heldout_prior": dsm_net, "final_dsm_loss": got.meta.get("final_dsm_loss")},
        weights={"prior": got.summary(), "regressor": got_mlp.summary()})


def _plot(out, truth, means, stds, tik, mlp, m, b):
    k = min(3, truth.shape[0])
    fig, ax = figure(k, 6, figsize=(18, 3 * k), squeeze=False)
    for i in range(k):
        show_images(fig, ax[i], posterior_panels(
            truth[i], [(tik[i], f"Tikhonov (rel {b['tikhonov']['f_rel_l2']:.2f})"),
                       (mlp[i], f"data-only (rel {b['data_only']['f_rel_l2']:.2f})")], means[i], stds[i],
            kind="signed", truth_title="truth f", mean_title=f"learned-prior mean (rel {m['f_rel_l2']:.2f})",
            std_title=f"posterior std (cov90 {m['coverage_90']:.2f})"))
    save_figure(fig, out, NAME, dpi=100)
