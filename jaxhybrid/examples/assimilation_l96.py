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
from jaxhybrid.examples.record import figure, record, save_figure

NAME = "assimilation-l96"
NX, FORCING, DT = 40, 8.0, 0.05
INIT_STD = 0.1
KEYS = ("etkf_rmse_a", "enkf_rmse_a", "var3d_rmse_a", "pf_rmse_a", "var4d_rmse_a", "letkf_rmse_a")


def make_hmm():
    x0 = FORCING * jnp.ones(NX).at[0].add(0.01)
    return da.HMM(da.lorenz96(DT, FORCING), 1, da.full(NX, 1.0), x0, 1.0)


def methods(hmm, B, quick):
    """name -> (filter, takes 4-cycle observation windows)."""
    f, o = hmm.forecast, hmm.obs
    return {
        "etkf": (da.etkf(f, o, 24, 1.013, rotate=True), False),
        "enkf": (da.enkf(f, o, 40, 1.06), False),
        "letkf": (da.letkf(f, o, 10, np.arange(NX), radius=4.0, infl=1.04, rotate=True), False),
        "var3d": (da.var3d(f, o, 0.02 * B), False),
        "var4d": (da.var4d(hmm.step, o, 0.02 * B, window=4, iterations=15), True),
        "pf": (da.particle_filter(f, o, 500 if quick else 3000, ner=0.5, reg=1.5), False),
    }


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    burn, n_stats = (200, 400) if quick else (400, 1000)
    hmm = make_hmm()
    k_clim, k_truth, k_init, k_run = jax.random.split(jax.random.PRNGKey(seed), 4)
    clim_mean, B = da.climatology(hmm, k_clim, 1000 if quick else 5000)
    truth, obs, x_init = da.twin(hmm, k_truth, k_init, burn + n_stats, INIT_STD)
    results, series = {}, {}
    for name, (filt, windowed) in methods(hmm, jnp.asarray(B, jnp.float32), quick).items():
        y = da.obs_windows(obs, 4) if windowed else obs
        results[name], series[name], r = da.run_filter(filt, x_init, INIT_STD, y, truth, jax.random.fold_in(k_init, 1),
                                                       k_run, burn, keep_ensemble=name == "etkf")
        if name == "etkf":
            etkf_res = r
        print(f"  {name:6s} " + "  ".join(f"{k} {v:.3f}" for k, v in results[name].items() if k != "crps_a"))
    clim = jnp.broadcast_to(jnp.asarray(clim_mean, truth.dtype), truth.shape)
    base = {"mechanism_only": da.free_run(hmm, x_init, k_run, burn + n_stats), "data_only": obs, "climatology": clim}
    base = {b: float(da.rmse(v, truth, burn)) for b, v in base.items()}
    metrics = {f"{m}_rmse_a": results[m]["rmse_a"] for m in ("etkf", "enkf", "var3d", "pf", "var4d", "letkf")}
    metrics.update({f"etkf_{k}": results["etkf"][k] for k in ("rmse_f", "spread_a", "crps_a")})
    rank = da.rank_histogram(np.asarray(etkf_res.ensemble[burn:]), np.asarray(truth[burn:]))
    _plot(out, series, base, rank, np.asarray(truth), np.asarray(etkf_res.mean_a), burn)
    return record(NAME, 3, quick, t_start, metrics, {k: "min" for k in metrics if k != "etkf_spread_a"},  # spread: ≈ rmse_a
                  {b: {k: v for k in KEYS} for b, v in base.items()},
                  config={"nx": NX, "forcing": FORCING, "dt": DT, "obs": "all, R = I", "burn_in_cycles": burn,
                          "stat_cycles": n_stats, "etkf_rank_histogram": rank.tolist(),
                          "per_method": {k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in results.items()}})


def _plot(out, series, base, rank, truth, etkf_mean, burn):
    fig, ax = figure(1, 3, figsize=(17, 4.2))
    for i, (name, s) in enumerate(series.items()):
        ax[0].semilogy(s, lw=0.8, color=f"C{i}", label=f"{name} ({s[burn:].mean():.3f})")
    for j, (b, v) in enumerate(base.items()):
        ax[0].axhline(v, color="k", ls=[":", "--", "-."][j], lw=1, label=f"{b} ({v:.2f})")
    ax[0].axvline(burn, color="grey", lw=0.8)
    ax[0].set(xlabel="cycle", ylabel="analysis RMSE", title="Lorenz-96, N_x = 40, all observed, R = I")
    ax[0].legend(fontsize=7, ncol=2)
    ax[1].bar(np.arange(len(rank)), rank / rank.sum(), color="C0")
    ax[1].axhline(1 / len(rank), color="k", ls="--")
    ax[1].set(xlabel="rank of the truth among 24 members", ylabel="frequency", title="ETKF rank histogram")
    n = min(200, len(truth) - burn)
    im = ax[2].imshow((etkf_mean - truth)[burn:burn + n].T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
    ax[2].set(xlabel="cycle after burn-in", ylabel="site", title="ETKF analysis error")
    fig.colorbar(im, ax=ax[2])
    save_figure(fig, out, NAME)
