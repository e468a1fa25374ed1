"""prior-deblur — a learned image prior inside Langevin posterior sampling (paradigm 1, ``refine``).

Mechanism: ``y = A x + η`` (Gaussian blur, PSF std 1.5 px; ``η ~ N(0, 0.02² I)``) on a 96×96 crop of
*camera* that the prior never sees, then (no retraining) inpainting with 50% of the pixels missing.
Prior: a score network trained by DSM on patches of other images (:func:`jaxhybrid.inverse.patch_prior_from_config`).

* **hybrid** — PnP-ULA (:func:`jaxhybrid.inverse.task_posterior`): ``E[X₀ | y]`` and its Tweedie
  error bar; σ and α chosen per task on a validation crop of a training image
  (:func:`~jaxhybrid.inverse.validate_pnp`);
* **tv**, **tikhonov** — MAP (mechanism only), λ tuned on the test image itself (favours them);
* **data_only** — the same network regressing the clean patch from its blurred, noisy version
  (:func:`jaxhybrid.inverse.deblur_regressor_from_config`).

Both networks come from :func:`jaxhybrid.pretrained.obtain`, keyed by their training
configuration: quick mode evaluates the full run's networks (shipped in ``jaxhybrid/weights/``) with
the σ, α its validation chose (VALIDATED) and shorter chains; only when those weights are missing
(or with ``--retrain``) does it train the small PRIOR_QUICK networks (then σ = 0.03, α = 4).

Measured: PSNR, 90% pixelwise interval coverage, posterior std. Figures: README, "Learned priors".
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.pretrained import obtain
from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.inverse import (deblur_regressor_from_config, gaussian_psf, image_task, load_images,
                               patch_prior_from_config, posterior_panels, psnr, residual_estimate, score_network_like,
                               show_images, task_posterior, textured_denoising_psnr, tikhonov, tuned_map, tv_map,
                               validate_pnp)
from jaxhybrid.metrics import coverage, rmse
from jaxhybrid.sampling import pnp_step_size

NAME, TEST_IMAGE = "prior-deblur", "camera"
#: training images of the prior and the data-only regressor (full mode, quick mode)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "grace_hopper", "clock", "coins")
SAMPLES = ("astronaut", "coins", "moon", "text", "page", "brick", "grass", "gravel", "clock", "chelsea", "coffee",
           "rocket")
TRAIN_IMAGES = tuple(dict.fromkeys(PHOTOS + SAMPLES))  # every image either mode trains on
CROP = (slice(40, 136), slice(200, 296))  # 96×96: the cameraman's head, camera and coat
PSF_STD, PSF_SIZE, NOISE = 1.5, 9, 0.02
L_Y = 1.0 / NOISE**2  # Lipschitz constant of the likelihood score (‖A‖ = 1: a normalised blur or a mask)
SIGMA_PRIOR = 0.03  # default denoiser level σ of PnP-ULA (full mode: chosen on the validation crop)
SIGMA_GRID = (0.02, 0.03, 0.04)  # candidate σ, scored on the validation crop of a training image
#: default prior weight α (quick mode with the PRIOR_QUICK networks; picked on the validation crop, README) and
#: the candidates of the full mode
ALPHA, ALPHA_GRID = 4.0, (1.0, 2.0)
#: (σ, α) per task that the full run chose on the validation crop for its networks, by seed (record
#: benchmarks/results/examples/prior-deblur-full-cpu.json); quick mode reuses them with those networks
VALIDATED = {0: {"deblur": (0.04, 1.0), "inpaint": (0.02, 1.0)}}
#: (chains, burn-in, kept samples per chain): quick, full, and each validation run of the full mode (quick mode
#: samples with the validation runs' budget: on the validation crop, with the full run's prior and σ, α, its
#: posterior mean is 0.15 dB (deblurring) and 0.34 dB (inpainting) below that of the full chains)
CHAINS_QUICK, CHAINS_FULL, CHAINS_VAL = (2, 100, 200), (8, 150, 450), (2, 100, 200)
VAL_IMAGE, VAL_CROP = "astronaut", (slice(20, 84), slice(170, 234))  # 64×64, a *training* image
#: prior network and training (one network serves every σ; ``arch="bf-dncnn"`` gives the earlier DnCNN)
PRIOR_FULL = {"arch": "bf-unet", "widths": (32, 64, 96), "patch": 32, "patches": 20000, "steps": 700,
              "batch": 16, "lr": 2e-3, "sigma_range": (0.01, 0.06), "regressor_steps": 300, "images": PHOTOS}
PRIOR_QUICK = {"width": 32, "kernel_sizes": (5, 1, 5), "patch": 24, "patches": 4000, "steps": 300,
               "batch": 32, "lr": 3e-3, "sigma_range": (0.01, 0.1), "images": SAMPLES}
LAM_START = 0.03  #: fixed weight of the Tikhonov start of the chains (shortens burn-in; not tuned)


def task_problem(task: str, x, noise_seed: int, mask_seed: int):
    """:func:`jaxhybrid.inverse.image_task` (``"deblur"`` or ``"inpaint"``, 50% missing) with this
    example's PSF, noise and chain start (Tikhonov, weight LAM_START)."""
    return image_task(task, x, NOISE, jax.random.PRNGKey(noise_seed), psf=gaussian_psf(PSF_SIZE, PSF_STD),
                      mask_key=jax.random.PRNGKey(mask_seed), start_weight=LAM_START)


def pnp_budget(chains) -> dict:
    """The keywords of :func:`jaxhybrid.inverse.task_posterior` for ``chains = (chains, burn-in, kept samples)``."""
    return {"likelihood_lipschitz": L_Y, "n_chains": chains[0], "burn_in": chains[1], "n_samples": chains[2]}


def choose_sigma(got, ims, seed, task, quick):
    """``(σ, α, {"σ,α": PSNR}, how)`` of PnP-ULA for one task with the obtained prior ``got``. Full mode: the
    pair of SIGMA_GRID × ALPHA_GRID with the best posterior-mean PSNR on a validation crop of a *training* image
    (own noise and mask). Quick mode: the full run's choice (VALIDATED) if ``got`` is the full run's prior, else
    the defaults SIGMA_PRIOR, ALPHA."""
    if quick:
        if got.config == prior_config(PRIOR_FULL, seed) and seed in VALIDATED:
            return (*VALIDATED[seed][task], {}, f"full run's validation (VALIDATED[{seed}])")
        return SIGMA_PRIOR, ALPHA, {}, "default"
    x_val = jnp.asarray(ims[VAL_IMAGE][VAL_CROP])
    best, scores = validate_pnp(got.model, task_problem(task, x_val, seed + 4000, seed + 4001), x_val, SIGMA_GRID,
                                ALPHA_GRID, jax.random.PRNGKey(seed + 24), **pnp_budget(CHAINS_VAL))
    return best[0], best[1], {f"{k[0]},{k[1]}": v for k, v in scores.items()}, "validation"


def prior_config(cfg: dict, seed: int) -> dict:
    """The training configuration of the score prior (the key of its stored weights)."""
    return {**cfg, "seed": seed}


def regressor_config(prior_cfg: dict) -> dict:
    """The data-only regressor's: the prior's patches and budget plus the blur and noise it inverts."""
    return {**prior_cfg, "noise": NOISE, "psf": [PSF_SIZE, PSF_STD]}


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t_start = time.perf_counter()
    Path(out).mkdir(parents=True, exist_ok=True)
    ims = load_images((TEST_IMAGE, VAL_IMAGE))  # the training images are loaded only to train
    x_true = jnp.asarray(ims[TEST_IMAGE][CROP])
    deb = task_problem("deblur", x_true, seed + 1000, seed + 1001)
    op, y = deb.op, deb.y
    # the networks: stored weights of the full configuration (quick mode: else the quick one), else trained
    cfgs = [prior_config(c, seed) for c in ((PRIOR_FULL, PRIOR_QUICK) if quick else (PRIOR_FULL,))]
    got = obtain(NAME, cfgs, patch_prior_from_config, score_network_like, retrain=retrain, log=print)
    got_reg = obtain(NAME + "-regressor", [regressor_config(got.config)], deblur_regressor_from_config,
                     score_network_like, retrain=retrain, log=print)
    net, reg, cfg = got.model, got_reg.model, got.config

    # --- prior quality (full mode): its denoiser D_σ against TV on textured patches of *cell*, used nowhere else
    den_check = {} if quick else textured_denoising_psnr(
        net, load_images(("cell",))["cell"], (0.02, 0.03, 0.05), jax.random.PRNGKey(6), size=48, n=16,
        n_candidates=400, patch_seed=5, tv_weights=lambda s: np.geomspace(0.3, 3.0, 7) * s**2 / 0.02)
    # --- σ, α per task (full mode: chosen on the validation crop), then deblurring
    sigma, alpha, val_scores, chosen_by = choose_sigma(got, ims, seed, "deblur", quick)
    sigma_in, alpha_in, val_in, _ = choose_sigma(got, ims, seed, "inpaint", quick)
    step, step_in = pnp_step_size(L_Y, sigma, alpha), pnp_step_size(L_Y, sigma_in, alpha_in)
    chains = CHAINS_QUICK if quick else CHAINS_FULL
    mean, std = task_posterior(net, deb, sigma, alpha, jax.random.PRNGKey(seed + 3), **pnp_budget(chains))
    tv_grid, tv_iter = np.geomspace(1e-4, 3e-2, 8 if quick else 14), 150 if quick else 300
    tik = tuned_map(tikhonov, op, y, x_true, np.geomspace(1e-3, 10.0, 9 if quick else 13), reg="gradient")
    tv = tuned_map(tv_map, op, y, x_true, tv_grid, n_iter=tv_iter, box=(0.0, 1.0))
    x_reg = np.asarray(residual_estimate(reg, y, NOISE))

    # --- inpainting, same prior, no retraining
    inp = task_problem("inpaint", x_true, seed + 5, seed + 2)
    fill = jnp.where(inp.data[1] > 0, inp.y, jnp.sum(inp.y) / jnp.sum(inp.data[1]))
    mean_in, std_in = task_posterior(net, inp, sigma_in, alpha_in, jax.random.PRNGKey(seed + 14), **pnp_budget(chains))
    tv_in = tuned_map(tv_map, inp.op, inp.y, x_true, tv_grid, n_iter=tv_iter, box=(0.0, 1.0), x0=fill)

    err = lambda est: float(rmse(est, x_true))
    metrics = {"psnr_dB": psnr(mean, x_true), "inpainting_psnr_dB": psnr(mean_in, x_true),
               "coverage_90": float(coverage(mean, std, x_true)),
               "inpainting_coverage_90": float(coverage(mean_in, std_in, x_true)),
               "mean_posterior_std": float(np.mean(std)), "rmse": err(mean)}
    baselines = {"tv": {"psnr_dB": tv[0], "inpainting_psnr_dB": tv_in[0], "rmse": err(tv[2])},
                 "tikhonov": {"psnr_dB": tik[0], "rmse": err(tik[2])},
                 "data_only": {"psnr_dB": psnr(x_reg, x_true), "rmse": err(x_reg)},
                 "observation": {"psnr_dB": psnr(y, x_true), "inpainting_psnr_dB": psnr(fill, x_true)}}
    m, b, dB = metrics, baselines, lambda v: f"{v:.2f} dB"
    fig, ax = figure(2, 6, figsize=(19, 6.8))
    show_images(fig, ax, posterior_panels(  # the deblurring panels, then the inpainting ones
        x_true, [(y, f"blurred + noise {b['observation']['psnr_dB']:.1f} dB"), (tik[2], "Tikhonov " + dB(tik[0])),
                 (tv[2], "TV " + dB(tv[0])), (x_reg, "data-only " + dB(b["data_only"]["psnr_dB"]))], mean, std,
        truth_title="truth (held out)", mean_title="PnP-ULA mean " + dB(m["psnr_dB"]),
        std_title=f"posterior std (cov90 {m['coverage_90']:.2f})") + [
        (fill, "inpainting input (50% missing)", "image"), (tv_in[2], "TV " + dB(tv_in[0]), "image"),
        (mean_in, "PnP-ULA mean " + dB(m["inpainting_psnr_dB"]), "image"),
        (std_in, f"std (cov90 {m['inpainting_coverage_90']:.2f})", "map")])
    save_figure(fig, out, NAME, dpi=100)
    goal = {"psnr_dB": "max", "inpainting_psnr_dB": "max", "coverage_90": "max", "inpainting_coverage_90": "max",
            "mean_posterior_std": "min", "rmse": "min"}
    span = lambda c: [[c[0].start, c[0].stop], [c[1].start, c[1].stop]]
    return record(NAME, 1, quick, t_start, metrics, goal, baselines, config={
        "test_image": TEST_IMAGE, "crop": span(CROP), "train_images": list(cfg["images"]), "psf_std": PSF_STD,
        "noise": NOISE, "sigma_prior": sigma, "sigma_alpha_chosen_by": chosen_by,
        "sigma_alpha_validation_psnr_dB": val_scores,
        "inpainting_sigma_prior": sigma_in, "inpainting_alpha": alpha_in,
        "inpainting_sigma_alpha_validation_psnr_dB": val_in, "inpainting_step_size": step_in,
        "validation": [VAL_IMAGE, *span(VAL_CROP)], "alpha": alpha, "sigma_range": list(cfg["sigma_range"]),
        "prior": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}, "step_size": step,
        "chains": chains[0], "burn_in": chains[1], "samples_per_chain": chains[2], "tv_lambda": tv[1],
        "tikhonov_lambda": tik[1], "tv_inpainting_lambda": tv_in[1],
        "final_dsm_loss": got.meta.get("final_dsm_loss"),
        "denoiser_psnr_dB_cell": {str(k): v for k, v in den_check.items()}},
        headline="psnr_dB", weights={"prior": got.summary(), "regressor": got_reg.summary()})
