"""assimilation-l96 — forecast ↔ analysis cycles on Lorenz-96 (paradigm 3, ``alternate``).

The Sakov & Oke (2008) benchmark as set up in DAPPER (``dapper.mods.Lorenz96.sakov2008``): N_x = 40,
F = 8, RK4 dt = 0.05, all sites observed every step with R = I; burn-in cycles, then time-mean
analysis RMSEs over 1,000 cycles (quick: 200 + 400). Every method starts from the truth's initial
state + N(0, 0.1² I). Each filter is one algorithm whose step is a whole cycle (the model forecasts,
the observation corrects), run by :func:`jaxhybrid.assimilation.assimilate`. Hybrids: ETKF (N = 24,
inflation 1.013, DAPPER 0.18), stochastic EnKF (N = 40, 1.06), LETKF (N = 10, 1.04, Gaspari–Cohn
half-width 4), 3D-Var and strong-constraint 4D-Var (window 4, adjoint by JAX) with B = 0.02 ×
climatology, particle filter (N = 3,000, jitter 1.5). Baselines: ``mechanism_only`` (free forecast),
``data_only`` (the observations), ``climatology`` (its mean). Figures: README.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import assimilation as da
from jaxhybrid.assimilation import plots as AP
from jaxhybrid.record import figure, record, save_figure

NAME = "assimilation-l96"
NX, FORCING, DT = 40, 8.0, 0.05
INIT_STD = 0.1
KEYS = ("etkf_rmse_a", "enkf_rmse_a", "var3d_rmse_a", "pf_rmse_a", "var4d_rmse_a", "letkf_rmse_a")


def make_hmm():
    x0 = FORCING * jnp.ones(NX).at[0].add(0.01)
    return da.HMM(da.lorenz96(DT, FORCING), 1, da.full(NX, 1.0), x0, 1.0)


def methods(hmm, B, quick):
    """name -> filter (4D-Var cycles over 4-cycle observation windows)."""
    f, o = hmm.forecast, hmm.obs
    return {
        "etkf": da.etkf(f, o, 24, 1.013, rotate=True),
        "enkf": da.enkf(f, o, 40, 1.06),
        "letkf": da.letkf(f, o, 10, np.arange(NX), radius=4.0, infl=1.04, rotate=True),
        "var3d": da.var3d(f, o, 0.02 * B),
        "var4d": da.var4d(hmm.step, o, 0.02 * B, window=4, iterations=15),
        "pf": da.particle_filter(f, o, 500 if quick else 3000, ner=0.5, reg=1.5),
    }


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    burn, n_stats = (200, 400) if quick else (400, 1000)
    hmm = make_hmm()
    k_clim, k_truth, k_init, k_run = jax.random.split(jax.random.PRNGKey(seed), 4)
    clim_mean, B = da.climatology(hmm, k_clim, 1000 if quick else 5000)
    c = da.twin_comparison(hmm, methods(hmm, jnp.asarray(B, jnp.float32), quick), k_truth, k_init, k_run,
                           burn + n_stats, burn, INIT_STD, obs={"var4d": lambda y: da.obs_windows(y, 4)},
                           keep_ensemble=("etkf",), climatology=clim_mean)
    results, series, base = c.scores, c.series, c.baselines
    metrics = {f"{m}_rmse_a": results[m]["rmse_a"] for m in ("etkf", "enkf", "var3d", "pf", "var4d", "letkf")}
    metrics.update({f"etkf_{k}": results["etkf"][k] for k in ("rmse_f", "spread_a", "crps_a")})
    truth, etkf = np.asarray(c.twin.truth), c.results["etkf"]
    rank = da.rank_histogram(np.asarray(etkf.ensemble[burn:]), truth[burn:])
    _plot(out, series, base, rank, np.asarray(etkf.mean_a) - truth, burn)
    goal = {k: "min" for k in metrics if k != "etkf_spread_a"}  # spread: ≈ rmse_a
    return record(NAME, 3, quick, t_start, metrics, goal, {b: {k: v for k in KEYS} for b, v in base.items()},
                  config={"nx": NX, "forcing": FORCING, "dt": DT, "obs": "all, R = I", "burn_in_cycles": burn,
                          "stat_cycles": n_stats, "etkf_rank_histogram": rank.tolist(),
                          "per_method": {k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in results.items()}})


def _plot(out, series, base, rank, etkf_error, burn):
    fig, ax = figure(1, 3, figsize=(17, 4.2))
    AP.rmse_series_panel(ax[0], series, base, burn)
    ax[0].set(title="Lorenz-96, N_x = 40, all observed, R = I")
    AP.rank_histogram_panel(ax[1], rank, 24)
    ax[1].set(title="ETKF rank histogram")
    AP.error_map_panel(ax[2], etkf_error[burn:burn + min(200, len(etkf_error) - burn)])
    ax[2].set(xlabel="cycle after burn-in", ylabel="site", title="ETKF analysis error")
    save_figure(fig, out, NAME)
