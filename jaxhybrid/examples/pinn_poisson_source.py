r"""pinn-poisson-source — the inverse source problem of the Poisson equation with a PINN (paradigm 2).

On Ω = (0, 1)², ``−Δu = f``, ``u = 0`` on ∂Ω, ``u* = sin(πx) sin(πy) + 0.2 sin(2πx) sin(2πy)``, observed
at random nodes of the 63×63 interior grid (noise-free or ``σ = 1% RMS(u*)``), ``f`` nowhere (the
problem, networks and errors: :mod:`jaxhybrid.pinn.manufactured_source`).
**hybrid (PINN)** — a hard-BC network ``u_θ`` and a tensor-Chebyshev source ``f_c`` fitted to the
data and to ``(Δu_θ + f_c)/2π²`` (:func:`jaxhybrid.pinn.fit_source`) by float64 Levenberg–Marquardt
(with noise, early stopping on 10% held-out observations). **mechanism only** — Tikhonov FD
inversion (λ chosen against the truth, in its favour). **data only** — the same network regressed
on the data, ``f = −Δ_h u``. Measured: relative L2 errors of u and f, noise-free and noisy
(headline: f, noise-free). Figures, seeds and the choice of ``w`` (w = 100 was chosen on seed 0
against the truth): README.md.

The four networks (PINN and data-only, noise-free and noisy) come from
:func:`jaxhybrid.pretrained.obtain`, keyed by their training configuration
(:func:`network_configs`: seed, observations, sizes, degree, budget, data weight). The full run's
networks of seed 0 are shipped (``jaxhybrid/weights/pinn-poisson-source-*.eqx``), so quick mode
loads them, rebuilds the observations they were trained on (1,000 nodes, same keys) and only
evaluates them and redoes the Tikhonov baseline (on a coarser λ grid, every 3 decades). Other
seeds — or ``--retrain`` — fall back to training the small quick configuration (300 observations,
20/15 LM steps), where the PINN is not expected to beat data-only regression on f; full mode loads
or (``--retrain``) trains the full configuration and caches it.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid.pretrained import obtain_tier
from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.inverse import point_observations, poisson_source, tikhonov, tune_weight
from jaxhybrid.metrics import rel_l2
from jaxhybrid.pde import fd_points, poisson_fd
from jaxhybrid.pinn import fit_source, lm_regression, show_fields
from jaxhybrid.pinn.manufactured_source import (DOMAIN, F_SCALE, N_GRID, data_only_errors, f_true, make_fields, make_u,
                                          on_fd_grid, pinn_errors, u_true)

NAME = "pinn-poisson-source"
NOISE_REL = 0.01
DATA_WEIGHT = 100.0  # weight of the exact (noise-free) data rows against the PDE rows; 1 with noise


def make_observations(key, n_obs, noise_rel):
    """Observed node indices ``(i, j)`` on the FD grid, coordinates, noisy values and the noise σ."""
    flat, x, u, sigma = point_observations(key, fd_points((N_GRID, N_GRID), (1.0, 1.0)), u_true, n_obs, noise_rel)
    return (flat // N_GRID, flat % N_GRID), x, u, sigma


def mechanism_only(idx, obs_u, lams=tuple(10.0 ** np.arange(-12.0, -3.0))):
    """Tikhonov FD inversion, λ by the smallest error of f; returns (u_err, f_err, best λ)."""
    op = poisson_source((N_GRID, N_GRID), (1.0, 1.0), idx)
    err, lam, f = tune_weight(lambda lam: tikhonov(op, obs_u, float(lam), maxiter=1500, tol=1e-12), lams,
                              on_fd_grid(f_true), score=lambda a, b: float(rel_l2(a, b)), best="min")
    return float(rel_l2(poisson_fd(f, (1.0, 1.0), "dirichlet"), on_fd_grid(u_true))), err, lam


def config(quick):
    """Chebyshev degree of f, LM steps (``*_noisy``: 1% noise); λ grid 10^-12 … 10^-4 every ``lam_step`` decades."""
    if quick:  # 20 iterations: the damping has not settled and w = 1 is better (u 2.8e-4 vs 9.3e-4 with w = 100)
        return dict(n_obs=300, n_col=300, width=10, depth=3, degree=8, degree_noisy=5, steps=20, steps_noisy=15,
                    lam_step=3, data_weight=1.0)
    return dict(n_obs=1000, n_col=1000, width=16, depth=3, degree=12, degree_noisy=6, steps=500, steps_noisy=100,
                lam_step=1, data_weight=DATA_WEIGHT)


#: the four trained networks: PINN fields and data-only regression, noise-free and with 1% noise
NETWORKS = ("pinn", "pinn-noisy", "data", "data-noisy")


def network_configs(quick: bool, seed: int) -> dict:
    """Training configuration of each network (the key of its weights file): everything that
    determines the trained network — data (seed, ``n_obs``, noise), sizes, degree, budget, weight."""
    c = config(quick)
    net = dict(seed=seed, n_obs=c["n_obs"], width=c["width"], depth=c["depth"])
    return {"pinn": dict(net, kind="pinn", noise_rel=0.0, n_col=c["n_col"], degree=c["degree"], steps=c["steps"],
                         data_weight=c["data_weight"], holdout=0.0),
            "pinn-noisy": dict(net, kind="pinn", noise_rel=NOISE_REL, n_col=c["n_col"], degree=c["degree_noisy"],
                               steps=c["steps_noisy"], data_weight=1.0, holdout=0.1),
            "data": dict(net, kind="data", noise_rel=0.0, steps=c["steps"], holdout=0.0),
            "data-noisy": dict(net, kind="data", noise_rel=NOISE_REL, steps=c["steps_noisy"], holdout=0.1)}


def _keys(seed):
    """``(k_obs, k_pinn, k_pinn_noisy, k_data, k_data_noisy)`` of ``seed``."""
    k_obs, _, *rest = jax.random.split(jax.random.PRNGKey(seed), 6)
    return (k_obs, *rest)


def _observations(cfg):
    """``(idx, x, u, sigma)`` a network of configuration ``cfg`` was trained on."""
    return make_observations(_keys(cfg["seed"])[0], cfg["n_obs"], cfg["noise_rel"])


def _train(which):
    def train(cfg):  # (network, meta); inside enable_x64
        key = _keys(cfg["seed"])[1 + NETWORKS.index(which)]
        _, obs_x, obs_u, _ = _observations(cfg)
        t0 = time.perf_counter()
        if cfg["kind"] == "pinn":  # the PINN fields, LM with early stopping on held-out data
            model, res = fit_source(lambda k: make_fields(k, cfg["width"], cfg["depth"], cfg["degree"]), DOMAIN, obs_x,
                                    obs_u, key, n_col=cfg["n_col"], steps=cfg["steps"], holdout_frac=cfg["holdout"],
                                    data_weight=cfg["data_weight"], f_scale=F_SCALE, desc=which)
        else:  # regression of u: the PINN's network, optimiser, budget and hold-out
            model, res = lm_regression(lambda k: make_u(k, cfg["width"], cfg["depth"]), obs_x, obs_u, key,
                                       steps=cfg["steps"], holdout_frac=cfg["holdout"], desc="data-only")
        return model, {"steps_done": int(res.step), "final_loss": float(res.opt_state.loss),
                       "train_s": round(time.perf_counter() - t0, 2)}
    return train


def _like(cfg, meta):  # template of the stored network (values ignored)
    key = jax.random.PRNGKey(0)
    if cfg["kind"] == "pinn":
        return make_fields(key, cfg["width"], cfg["depth"], cfg["degree"])
    return make_u(key, cfg["width"], cfg["depth"])


def obtain_networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """The four networks, all of one tier (:func:`~jaxhybrid.pretrained.obtain_tier`):
    ``({name: Obtained}, "full" | "quick")``. Call inside ``jax.enable_x64(True)``."""
    tiers = ({n: (f"{NAME}-{n}", c) for n, c in network_configs(q, seed).items()} for q in (False, True))
    return obtain_tier(*tiers, _train, _like, quick=quick, retrain=retrain)


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t_start, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with jax.enable_x64(True):
        got, tier = obtain_networks(quick, seed, retrain)
        c = {**config(tier == "quick"), "lam_step": config(quick)["lam_step"]}  # sizes of the networks obtained
        lams = tuple(10.0 ** np.arange(-12.0, -3.0, c["lam_step"]))
        idx, _, obs_clean, _ = _observations(got["pinn"].config)  # the observations the networks were trained on
        _, _, obs_noisy, sigma = _observations(got["pinn-noisy"].config)
        fields, fields_noisy = got["pinn"].model, got["pinn-noisy"].model
        (u_err, f_err), (u_err_n, f_err_n) = pinn_errors(fields), pinn_errors(fields_noisy)
        (mu, mf, lam), (mu_n, mf_n, lam_n) = mechanism_only(idx, obs_clean, lams), mechanism_only(idx, obs_noisy, lams)
        du, df = data_only_errors(got["data"].model)
        du_n, df_n = data_only_errors(got["data-noisy"].model)
        metrics = {"u_rel_l2": u_err, "f_rel_l2": f_err, "f_rel_l2_noisy": f_err_n, "u_rel_l2_noisy": u_err_n}
        baselines = {"mechanism_only": {"u_rel_l2": mu, "f_rel_l2": mf, "f_rel_l2_noisy": mf_n, "u_rel_l2_noisy": mu_n,
                                        "lambda": lam, "lambda_noisy": lam_n},
                     "data_only": {"u_rel_l2": du, "f_rel_l2": df, "f_rel_l2_noisy": df_n, "u_rel_l2_noisy": du_n}}
        pts = DOMAIN.grid(101)
        _plot(out, [jax.vmap(g)(pts) for g in (f_true, fields.f, fields_noisy.f)], metrics)
    return record(NAME, 2, quick, t_start, metrics, {k: "min" for k in metrics}, baselines, headline="f_rel_l2",
                  config={**c, "noise_sigma": sigma, "grid": N_GRID, "networks": tier},
                  weights={n: g.summary() for n, g in got.items()})


def _plot(out, fs, metrics):
    ft, f, fn = (np.asarray(v) for v in fs)
    fig, ax = figure(1, 4, figsize=(16, 3.6))
    show_fields(fig, ax, [(ft, "f* (truth)"), (f, f"f PINN, noise-free (rel L2 {metrics['f_rel_l2']:.1e})"),
                          (np.abs(f - ft), "|f − f*| noise-free"),
                          (fn, f"f PINN, 1% noise (rel L2 {metrics['f_rel_l2_noisy']:.1e})")], DOMAIN, 101)
    save_figure(fig, out, NAME, dpi=100)
