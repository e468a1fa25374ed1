"""prior-deblur — a learned image prior inside Langevin posterior sampling (paradigm 1, ``refine``).

Problem: ``y = A x + η``, ``A`` a Gaussian blur (PSF std 1.5 px, 9×9, circular), ``η ~ N(0, 0.02² I)``,
on a 96×96 crop of scikit-image's *camera*, an image the prior never sees. The mechanism is the blur and
the Gaussian likelihood; the data-driven part is a prior score learned from patches of other images
(full mode: the photographs shipped with scikit-image and matplotlib; quick mode: 12 samples).

* **hybrid** — PnP-ULA (Laumont et al. 2022) with ``D_σ(x) = x + σ² s_θ(x, σ)`` of a conv score
  network (full: a bias-free U-Net, Ronneberger et al. 2015, Mohan et al. 2020; quick: a ConvScore)
  trained by denoising score matching (Vincent 2011) on flipped/rotated patches and cached in
  ``$JAXHYBRID_CACHE``. Chains start at a fixed-weight Tikhonov estimate; the estimate is the chain
  average of ``D_σ(X_k)`` (``E[X₀ | y]``) with the error bar ``(Var[D_σ(X)] + σ² diag ∂D_σ/∂x)^½``
  (:func:`jaxhybrid.inverse.pnp_posterior`). Full mode chooses σ and the prior weight α **per task** on
  a validation crop of a *training* image (never the test image); quick mode uses σ = 0.03, α = 4.
* **mechanism only** — MAP with Tikhonov (gradient penalty, CG) and total variation (FISTA +
  Chambolle), each weight λ **tuned on the test image itself** (best PSNR) — favouring the baselines.
* **data only** — the same architecture trained to regress the clean patch from its blurred, noisy
  version (same patches and budget), applied to ``y``.

Then, **without retraining**, the same prior solves inpainting (50% of the pixels missing), against
TV. Reported: PSNR, the coverage of the 90% pixelwise intervals ``mean ± 1.645 std``, and maps of
mean, std and error. Full-run figures (32.45 dB vs TV 31.95; inpainting 33.57 vs 33.09; coverage
0.949 / 0.938) and every variant tried are in the README, "Learned priors".
"""

from __future__ import annotations

import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.cache import cache_dir
from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.inverse import (blur, denoising_psnr, extract_patches, gaussian_likelihood, gaussian_psf, inpainting,
                               load_images, pnp_posterior, psnr, random_mask, tikhonov, tv_map)
from jaxhybrid.metrics import coverage
from jaxhybrid.sampling import ConvScore, denoiser_from_score, pnp_step_size, train_score
from jaxhybrid.sampling.score import BiasFreeDnCNN, BiasFreeUNet, NoisePredictor
from jaxhybrid.train import fit

NAME, TEST_IMAGE = "prior-deblur", "camera"
#: training images of the prior and the data-only regressor (full mode, quick mode)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "grace_hopper", "clock", "coins")
SAMPLES = ("astronaut", "coins", "moon", "text", "page", "brick", "grass", "gravel", "clock", "chelsea", "coffee", "rocket")
TRAIN_IMAGES = tuple(dict.fromkeys(PHOTOS + SAMPLES))  # every image either mode trains on
CROP = (slice(40, 136), slice(200, 296))  # 96×96: the cameraman's head, camera and coat
PSF_STD, PSF_SIZE, NOISE = 1.5, 9, 0.02
L_Y = 1.0 / NOISE**2  # Lipschitz constant of the likelihood score (‖A‖ = 1: a normalised blur or a mask)
SIGMA_PRIOR = 0.03  # default denoiser level σ of PnP-ULA (full mode: chosen on the validation crop)
SIGMA_GRID = (0.02, 0.03, 0.04)  # candidate σ, scored on the validation crop of a training image
#: prior weight α of quick mode (picked on the validation crop: 25.08 / 26.13 / 26.43 dB for α = 1 / 2 / 4
#: at σ = 0.03; the quick prior is too weak at α = 1) and the candidates of the full mode
ALPHA, ALPHA_GRID = 4.0, (1.0, 2.0)
#: (chains, burn-in, kept samples per chain): quick, full, and each validation run of the full mode
CHAINS_QUICK, CHAINS_FULL, CHAINS_VAL = (2, 200, 300), (8, 150, 450), (2, 100, 200)
VAL_IMAGE, VAL_CROP = "astronaut", (slice(20, 84), slice(170, 234))  # 64×64, a *training* image
#: prior network and training (one network serves every σ; ``arch="bf-dncnn"`` gives the earlier DnCNN)
PRIOR_FULL = {"arch": "bf-unet", "widths": (32, 64, 96), "patch": 32, "patches": 20000, "steps": 700,
              "batch": 16, "lr": 2e-3, "sigma_range": (0.01, 0.06), "regressor_steps": 300, "images": PHOTOS}
PRIOR_QUICK = {"width": 32, "kernel_sizes": (5, 1, 5), "patch": 24, "patches": 4000, "steps": 300,
               "batch": 32, "lr": 3e-3, "sigma_range": (0.01, 0.1), "images": SAMPLES}
LAM_START = 0.03  #: fixed weight of the Tikhonov start of the chains (shortens burn-in; not tuned)


def task_problem(task: str, x, k_noise, k_mask=None):
    """``(A, y, lik_score, (start, data))`` on the clean ``x``: ``"deblur"`` (``y = blur(x) + η``) or
    ``"inpaint"`` (``y = mask ⊙ (x + η)``, 50% missing); ``lik_score(z, data) = ∇log p(y|z)`` (the data a jit
    argument); the chains start at the Tikhonov estimate (gradient penalty, weight LAM_START)."""
    if task == "deblur":
        op = blur(gaussian_psf(PSF_SIZE, PSF_STD), x.shape)
        y = op.apply(x) + NOISE * jax.random.normal(k_noise, x.shape)
        return op, y, lambda z, d: gaussian_likelihood(op, d, NOISE).score(z), (tikhonov(op, y, LAM_START), y)
    if task == "inpaint":
        mask = random_mask(k_mask, x.shape, 0.5)
        op = inpainting(mask)
        y = op.apply(x + NOISE * jax.random.normal(k_noise, x.shape))
        return (op, y, lambda z, d: gaussian_likelihood(inpainting(d[1]), d[0], NOISE).score(z),
                (tikhonov(op, y, LAM_START), (y, mask)))
    raise ValueError(f"task_problem: task must be 'deblur' or 'inpaint', got {task!r}.")


def make_net(cfg, key):
    """The network of a configuration: ``arch="bf-unet"``/``"bf-dncnn"`` bias-free, else a ConvScore."""
    if cfg.get("arch") == "bf-unet":
        return BiasFreeUNet(cfg["widths"], key=key)
    if cfg.get("arch") == "bf-dncnn":
        return BiasFreeDnCNN(cfg["width"], cfg["depth"], key=key)
    return ConvScore(cfg["width"], kernel_sizes=cfg["kernel_sizes"], key=key)


def train_prior(train_ims, cfg, seed):
    patches = extract_patches([train_ims[n] for n in cfg["images"]], cfg["patch"], cfg["patches"], seed=seed)
    net = make_net(cfg, jax.random.PRNGKey(seed))
    res = train_score(net, patches, cfg["sigma_range"], steps=cfg["steps"], batch_size=cfg["batch"],
                      learning_rate=cfg["lr"], key=jax.random.PRNGKey(seed + 1), continuous=True, loop="host",
                      log_every=max(1, cfg["steps"] // 10), desc="DSM prior",
                      checkpoint_dir=cache_dir("prior-deblur", {**cfg, "seed": seed, "v": 2}))
    return res.params, patches, res.history


def regress(net, y):
    """Data-only estimate ``x̂ = y − N_θ(y)`` (bias-free networks) or ``y + ε_θ(y)`` (ConvScore)."""
    return y - net.noise(y, NOISE) if isinstance(net, NoisePredictor) else y + net.residual(y, NOISE)


def train_regressor(patches, psf, cfg, seed):
    """Data-only: :func:`regress` trained on (blur(patch) + noise, patch) pairs (same network, budget)."""
    op = blur(psf, patches.shape[1:])
    steps = cfg.get("regressor_steps", cfg["steps"])
    net = make_net(cfg, jax.random.PRNGKey(seed + 7))

    def loss(m, x, key):
        y = jax.vmap(op.apply)(x) + NOISE * jax.random.normal(key, x.shape)
        return jnp.mean((jax.vmap(lambda a: regress(m, a))(y) - x) ** 2)

    key = {**cfg, "seed": seed, "noise": NOISE, "psf": [PSF_SIZE, PSF_STD], "v": 2}
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(cfg["lr"], steps, 0.05)))
    res = fit(loss, net, jnp.asarray(patches), opt,
              steps=steps, batch_size=cfg["batch"], key=jax.random.PRNGKey(seed + 8), stochastic=True,
              log_every=max(1, steps // 10), desc="data-only regressor",
              checkpoint_dir=cache_dir("prior-deblur-regressor", key), loop="host")
    return res.params


def tuned(fn, grid, x_true):
    """``(PSNR, λ, estimate)`` of the best weight of the grid (tuned on the test image itself)."""
    return max(((psnr(x, x_true), float(lam), x) for lam in grid for x in [fn(lam)]), key=lambda t: t[0])


def posterior(net, lik_score, y0, step, n_chains, burn_in, n_samples, seed, alpha=1.0, sigma=SIGMA_PRIOR):
    """PnP-ULA estimate ``E[X₀ | y]`` of the clean image and its error bar
    (:func:`jaxhybrid.inverse.pnp_posterior`, box [0, 1], λ = 5δ); ``lik_score(x, data) = ∇log p``
    and ``y0 = (start image, data)``; the network and data are jit arguments (not constants)."""

    @eqx.filter_jit
    def go(net, x_start, data, key):
        den = denoiser_from_score(lambda x: net(x, sigma), sigma)
        return pnp_posterior(den, sigma, step, lambda x: lik_score(x, data), x_start, key, n_chains=n_chains,
                             n_samples=n_samples, burn_in=burn_in, alpha=alpha, box=(0.0, 1.0), lam=5 * step)

    mean, std = go(net, y0[0], y0[1], jax.random.PRNGKey(seed + 3))
    return np.asarray(mean), np.asarray(std)


def choose_sigma(net, ims, seed, n_chains, burn_in, n_samples, task="deblur"):
    """σ and α of PnP-ULA for one task: the pair of SIGMA_GRID × ALPHA_GRID with the best posterior-mean
    PSNR on a validation crop of a *training* image (same operator and noise model, own noise and mask;
    the test image is not used). Returns ``(σ, α, {"σ,α": PSNR})``."""
    x_val = jnp.asarray(ims[VAL_IMAGE][VAL_CROP])
    _, _, lik, y0 = task_problem(task, x_val, jax.random.PRNGKey(seed + 4000), jax.random.PRNGKey(seed + 4001))
    scores = {(sg, al): psnr(posterior(net, lik, y0, pnp_step_size(L_Y, sg, al), n_chains, burn_in, n_samples,
                                       seed + 21, al, sg)[0], x_val) for sg in SIGMA_GRID for al in ALPHA_GRID}
    best = max(scores, key=scores.get)
    return best[0], best[1], {f"{k[0]},{k[1]}": v for k, v in scores.items()}


def denoiser_check(net, sigmas=(0.02, 0.03, 0.05), seed=0):
    """Prior quality: PSNR (dB) of the learned denoiser ``D_σ``, the noisy input and TV denoising (weight
    tuned per σ) on the 16 most textured of 400 patches (48×48) of *cell*, an image used nowhere else."""
    cand = extract_patches([load_images(("cell",))["cell"]], 48, 400, seed=seed + 5, augment=False)
    x = jnp.asarray(cand[np.argsort(cand.std(axis=(1, 2)))[-16:]])
    den = eqx.filter_jit(lambda n, xn, s: jax.vmap(lambda a: denoiser_from_score(lambda z: n(z, s), s)(a))(xn))
    return {s: denoising_psnr(lambda xn: den(net, xn, s), x, s, jax.random.PRNGKey(seed + 6),
                              tv_weights=np.geomspace(0.3, 3.0, 7) * s**2 / 0.02) for s in sigmas}


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ims = load_images((TEST_IMAGE,) + TRAIN_IMAGES)
    x_true = jnp.asarray(ims[TEST_IMAGE][CROP])
    op, y, lik, y0 = task_problem("deblur", x_true, jax.random.PRNGKey(seed + 1000))
    cfg = PRIOR_QUICK if quick else PRIOR_FULL
    net, patches, hist = train_prior(ims, cfg, seed)
    reg = train_regressor(patches, gaussian_psf(PSF_SIZE, PSF_STD), cfg, seed)

    # --- σ, α chosen per task on the validation crop (full mode), then deblurring
    if quick:
        (sigma, alpha), (sigma_in, alpha_in), val_scores, val_in, den_check = (SIGMA_PRIOR, ALPHA), (SIGMA_PRIOR, ALPHA), {}, {}, {}
    else:
        den_check = denoiser_check(net)
        sigma, alpha, val_scores = choose_sigma(net, ims, seed, *CHAINS_VAL, task="deblur")
        sigma_in, alpha_in, val_in = choose_sigma(net, ims, seed, *CHAINS_VAL, task="inpaint")
    step, step_in = pnp_step_size(L_Y, sigma, alpha), pnp_step_size(L_Y, sigma_in, alpha_in)
    n_chains, burn_in, n_samples = CHAINS_QUICK if quick else CHAINS_FULL
    mean, std = posterior(net, lik, y0, step, n_chains, burn_in, n_samples, seed, alpha, sigma)
    tik = tuned(lambda l: tikhonov(op, y, l, reg="gradient"), np.geomspace(1e-3, 10.0, 9 if quick else 13), x_true)
    tv = tuned(lambda l: tv_map(op, y, l, n_iter=150 if quick else 300, box=(0.0, 1.0)),
               np.geomspace(1e-4, 3e-2, 8 if quick else 14), x_true)
    x_reg = np.asarray(regress(reg, y))

    # --- inpainting, same prior, no retraining
    op_in, y_in, lik_in, y0_in = task_problem("inpaint", x_true, jax.random.PRNGKey(seed + 5), jax.random.PRNGKey(seed + 2))
    mask = y0_in[1][1]
    fill = jnp.where(mask > 0, y_in, jnp.sum(y_in) / jnp.sum(mask))
    mean_in, std_in = posterior(net, lik_in, y0_in, step_in, n_chains, burn_in, n_samples, seed + 11, alpha_in, sigma_in)
    tv_in = tuned(lambda l: tv_map(op_in, y_in, l, n_iter=150 if quick else 300, box=(0.0, 1.0), x0=fill),
                  np.geomspace(1e-4, 3e-2, 8 if quick else 14), x_true)

    rmse = lambda est: float(np.sqrt(np.mean((np.asarray(est) - np.asarray(x_true)) ** 2)))
    metrics = {"psnr_dB": psnr(mean, x_true), "inpainting_psnr_dB": psnr(mean_in, x_true),
               "coverage_90": float(coverage(mean, std, x_true)),
               "inpainting_coverage_90": float(coverage(mean_in, std_in, x_true)),
               "mean_posterior_std": float(np.mean(std)), "rmse": rmse(mean)}
    baselines = {"tv": {"psnr_dB": tv[0], "inpainting_psnr_dB": tv_in[0], "rmse": rmse(tv[2])},
                 "tikhonov": {"psnr_dB": tik[0], "rmse": rmse(tik[2])},
                 "data_only": {"psnr_dB": psnr(x_reg, x_true), "rmse": rmse(x_reg)},
                 "observation": {"psnr_dB": psnr(y, x_true), "inpainting_psnr_dB": psnr(fill, x_true)}}
    _plot(out, np.asarray(x_true), np.asarray(y), mean, std, tv[2], tik[2], x_reg, np.asarray(fill), mean_in,
          std_in, tv_in[2], metrics, baselines)
    goal = {"psnr_dB": "max", "inpainting_psnr_dB": "max", "coverage_90": "max", "inpainting_coverage_90": "max",
            "mean_posterior_std": "min", "rmse": "min"}
    span = lambda c: [[c[0].start, c[0].stop], [c[1].start, c[1].stop]]
    return record(NAME, 1, quick, t_start, metrics, goal, baselines, config={
        "test_image": TEST_IMAGE, "crop": span(CROP), "train_images": list(cfg["images"]), "psf_std": PSF_STD,
        "noise": NOISE, "sigma_prior": sigma, "sigma_alpha_validation_psnr_dB": val_scores,
        "inpainting_sigma_prior": sigma_in, "inpainting_alpha": alpha_in,
        "inpainting_sigma_alpha_validation_psnr_dB": val_in, "inpainting_step_size": step_in,
        "validation": [VAL_IMAGE, *span(VAL_CROP)], "alpha": alpha, "sigma_range": list(cfg["sigma_range"]),
        "prior": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}, "step_size": step,
        "chains": n_chains, "burn_in": burn_in, "samples_per_chain": n_samples, "tv_lambda": tv[1],
        "tikhonov_lambda": tik[1], "tv_inpainting_lambda": tv_in[1],
        "final_dsm_loss": hist[-1]["loss_mean"] if hist else None,
        "denoiser_psnr_dB_cell": {str(k): v for k, v in den_check.items()}})


def _plot(out, x, y, mean, std, x_tv, x_tik, x_reg, fill, mean_in, std_in, x_tv_in, m, b):
    panels = [(x, "truth (held out)"), (y, f"blurred + noise {b['observation']['psnr_dB']:.1f} dB"),
              (x_tik, f"Tikhonov {b['tikhonov']['psnr_dB']:.2f} dB"), (x_tv, f"TV {b['tv']['psnr_dB']:.2f} dB"),
              (x_reg, f"data-only {b['data_only']['psnr_dB']:.2f} dB"), (mean, f"PnP-ULA mean {m['psnr_dB']:.2f} dB"),
              (std, f"posterior std (cov90 {m['coverage_90']:.2f})"), (np.abs(mean - x), "|mean − truth|"),
              (fill, "inpainting input (50% missing)"), (x_tv_in, f"TV {b['tv']['inpainting_psnr_dB']:.2f} dB"),
              (mean_in, f"PnP-ULA mean {m['inpainting_psnr_dB']:.2f} dB"),
              (std_in, f"std (cov90 {m['inpainting_coverage_90']:.2f})")]
    fig, ax = figure(2, 6, figsize=(19, 6.8))
    for a, (im, title) in zip(ax.ravel(), panels):
        cm = "magma" if ("std" in title or "|" in title) else "gray"
        kw = {} if cm == "magma" else {"vmin": 0, "vmax": 1}
        h = a.imshow(im, cmap=cm, **kw)
        if cm == "magma":
            fig.colorbar(h, ax=a, fraction=0.046)
        a.set_title(title, fontsize=9)
        a.axis("off")
    save_figure(fig, out, NAME, dpi=100)
