"""assimilation-l96 — forecast ↔ analysis cycles on Lorenz-96 (paradigm 3, ``alternate``).

The benchmark of Sakov & Oke (2008), as set up in DAPPER (``dapper.mods.Lorenz96.sakov2008``):
Lorenz-96 with N_x = 40, F = 8, RK4 with dt = 0.05; all 40 variables observed at every step
with R = I; ``BURN`` cycles of assimilation burn-in, then the scores are averaged over 1,000
analysis cycles (quick mode: 200 + 400). The truth starts on the attractor (after a free run);
every method starts from the truth's initial state plus N(0, 0.1² I) noise, with an initial
ensemble of that spread (DAPPER starts truth and ensemble from the same N(x0, 0.001 I)). With an
initial error of N(0, I) the N = 24 ETKF (fewer members than the 40 variables) sometimes failed to
lock on during the burn-in, depending on the seed.

Each filter is the paradigm-3 alternation: the physics model forecasts (mechanism), the
observation corrects it (data), the analysis starts the next forecast; each filter is one
algorithm whose step is a whole cycle, and :func:`jaxhybrid.assimilation.assimilate` runs it
(``rollout.evolve`` in compiled chunks, with a progress bar and a divergence guard). Metrics (the hybrid figures) are time-mean analysis RMSEs:

* ``etkf_rmse_a`` — ETKF, N = 24, inflation 1.013, random rotations (target ≤ 0.19; DAPPER's
  table: 0.18);
* ``enkf_rmse_a`` — stochastic (perturbed-observation) EnKF, N = 40, inflation 1.06 (target
  ≤ 0.23; DAPPER: 0.22);
* ``letkf_rmse_a`` — LETKF, N = 10, inflation 1.04, Gaspari–Cohn half-width 4 (reported);
* ``var3d_rmse_a`` — 3D-Var with B = 0.02 × climatological covariance (DAPPER's suggestion
  ``Var3D(xB=0.02)``: 0.41);
* ``var4d_rmse_a`` — strong-constraint 4D-Var, sliding window of 4 observation times,
  B = 0.02 × climatology, 15 L-BFGS iterations, adjoint by JAX through RK4 (reported);
* ``pf_rmse_a`` — bootstrap particle filter with systematic resampling and regularisation
  (N = 3,000, quick 500; jitter scale 1.5 — with 0.7 the filter collapsed onto a few
  particles and lost the truth; reported: 40 observed dimensions are hard for a PF);

plus ``etkf_rmse_f`` (forecast RMSE), ``etkf_spread_a`` and ``etkf_crps_a``.

Baselines (one figure each, repeated under every key it applies to so that tables line up):

* ``mechanism_only`` — the model alone: a free forecast from the same initial state, never
  corrected (chaos makes its error saturate at the climatological level ≈ √2 σ_clim);
* ``data_only`` — the observations alone as the state estimate (RMSE ≈ √R = 1);
* ``climatology`` — the climatological mean (the best constant guess).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import assimilation as da

NAME = "assimilation-l96"
NX, FORCING, DT = 40, 8.0, 0.05
INIT_STD = 0.1
KEYS = ("etkf_rmse_a", "enkf_rmse_a", "var3d_rmse_a", "pf_rmse_a", "var4d_rmse_a", "letkf_rmse_a")


def make_hmm():
    x0 = FORCING * jnp.ones(NX).at[0].add(0.01)
    return da.HMM(da.lorenz96(DT, FORCING), 1, da.full(NX, 1.0), x0, 1.0)


def methods(hmm, B, quick):
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
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    burn, n_stats = (200, 400) if quick else (400, 1000)
    K = burn + n_stats
    hmm = make_hmm()
    k_clim, k_truth, k_init, k_run = jax.random.split(jax.random.PRNGKey(seed), 4)
    clim_mean, B = da.climatology(hmm, k_clim, 1000 if quick else 5000)
    truth0, obs = da.simulate(hmm, k_truth, K, burn_in=200, include_initial=True)
    truth = truth0[1:]
    x_init = truth0[0] + INIT_STD * jax.random.normal(k_init, (NX,))

    results, series, etkf_res = {}, {}, None
    for name, (filt, windowed) in methods(hmm, jnp.asarray(B, jnp.float32), quick).items():
        t0 = time.perf_counter()
        y = da.obs_windows(obs, 4) if windowed else obs
        keep = name == "etkf"
        state = filt.init(x_init, INIT_STD, key=jax.random.fold_in(k_init, 1))
        r = da.assimilate(filt, state, y, k_run, keep_ensemble=keep)
        results[name] = {**da.scores(r, truth, burn), "wall_s": time.perf_counter() - t0}
        series[name] = np.asarray(da.rmse_series(r.mean_a, truth))
        etkf_res = r if keep else etkf_res
        print(f"  {name:6s} rmse_a {results[name]['rmse_a']:.3f}  rmse_f {results[name]['rmse_f']:.3f}  "
              f"spread {results[name]['spread_a']:.3f}  ({results[name]['wall_s']:.1f} s)")

    # mechanism only: the uncorrected model from the same initial state
    free_traj = da.simulate(hmm._replace(x0=x_init, std0=0.0), k_run, K)[0]
    base = {
        "mechanism_only": float(da.rmse(free_traj, truth, burn)),
        "data_only": float(da.rmse(obs, truth, burn)),
        "climatology": float(da.rmse(jnp.broadcast_to(jnp.asarray(clim_mean, truth.dtype), truth.shape), truth, burn)),
    }
    metrics = {f"{m}_rmse_a": results[m]["rmse_a"] for m in ("etkf", "enkf", "var3d", "pf", "var4d", "letkf")}
    metrics.update(etkf_rmse_f=results["etkf"]["rmse_f"], etkf_spread_a=results["etkf"]["spread_a"],
                   etkf_crps_a=results["etkf"]["crps_a"])
    goal = {k: "min" for k in metrics if k != "etkf_spread_a"}   # spread: should match rmse_a
    rank = da.rank_histogram(np.asarray(etkf_res.ensemble[burn:]), np.asarray(truth[burn:]))
    _plot(out, series, base, rank, np.asarray(truth), np.asarray(etkf_res.mean_a), burn)
    return {
        "name": NAME,
        "paradigm": 3,
        "quick": quick,
        "wall_s": round(time.perf_counter() - t_start, 2),
        "metrics": metrics,
        "goal": goal,
        "baselines": {b: {k: v for k in KEYS} for b, v in base.items()},
        "config": {"nx": NX, "forcing": FORCING, "dt": DT, "obs": "all, R = I", "burn_in_cycles": burn,
                   "stat_cycles": n_stats, "per_method": {k: {kk: round(vv, 4) for kk, vv in v.items()}
                                                          for k, v in results.items()},
                   "etkf_rank_histogram": rank.tolist()},
    }


def _plot(out, series, base, rank, truth, etkf_mean, burn):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(17, 4.2))
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
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    plt.close(fig)
