"""forecast-closure — a learned subgrid closure inside a coarse Lorenz-96 model, and MOS
post-processing of a biased model (paradigm 1 closures for paradigm-3 forecasting).

Truth: two-scale Lorenz-96 (Wilks 2005: K = 8, J = 32, F = 20, h = 1, b = c = 10, RK4 dt = 0.001).
The forecast model (RK4 dt = 0.005) knows only X, with a closure ``U(X)`` for the unresolved
coupling. Closures fitted on one training run: **mechanism only** ``U = 0``; Wilks' polynomials
of degree 1–4 (the best on the test forecasts reported); **hybrid, offline** — an MLP on
``X_{k−2..k+2}`` fitted to the diagnosed tendencies; **hybrid, online** — it, refined *through* the
solver on 0.25-MTU forecasts (:func:`jaxhybrid.paradigms.refine`); **data only** — persistence.
Measured: forecast RMSE of X over 64 test starts at leads 0.5–2 MTU (``metrics``: the better
hybrid), and MOS (linear, MLP) of the biased model at lead 1. Figures: README.md.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid import assimilation as da
from jaxhybrid.assimilation import plots as AP
from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.nn import MLP

NAME = "forecast-closure"
K, J, F, H, B, C = 8, 32, 20.0, 1.0, 10.0, 10.0
DT_TRUE, DT = 0.001, 0.005
SUB = int(round(DT / DT_TRUE))
LEADS = (0.5, 1.0, 1.5, 2.0)


def truth_run(key, n_coarse_steps, spinup=5.0):
    """Two-scale truth sampled every DT: X (n, K) and subgrid tendency U (n, K)."""
    return da.two_scale_truth(key, n_coarse_steps, SUB, dt=DT_TRUE, K=K, J=J, F=F, h=H, b=B, c=C, spinup=spinup)


def coarse_step(closure):
    """RK4 step of the coarse model with ``closure(X) -> U``."""
    return da.coarse_model(closure, DT, F)


def no_closure(x):  # the biased (mechanism-only) coarse model: U = 0
    return 0.0 * x


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    k_tr, k_te, k_net, k_fit, k_mos = jax.random.split(jax.random.PRNGKey(seed), 5)
    n_train, n_test = int((8.0 if quick else 20.0) / DT), 16 if quick else 64
    Xtr, Utr = truth_run(k_tr, n_train)
    lead_steps = [int(round(l / DT)) for l in LEADS]
    save_every, n_fc = lead_steps[0], lead_steps[-1]
    starts, Xte_run = np.arange(n_test) * 80, truth_run(k_te, n_test * 80 + n_fc)[0]
    x0_te, ref = Xte_run[starts], da.lead_targets(Xte_run, starts, n_fc, save_every)
    evaluate = functools.partial(da.closure_lead_rmse, x0=x0_te, ref=ref, n_steps=n_fc, save_every=save_every, dt=DT,
                                 forcing=F)
    res = {"mechanism_only": evaluate(no_closure)}
    for deg in (1, 2, 3, 4):  # polynomial closures: least squares on the pairs (X_k, U_k)
        res[f"poly{deg}"] = evaluate(da.fit_poly_closure(Xtr, Utr, deg))
    best_deg = min((1, 2, 3, 4), key=lambda d: res[f"poly{d}"].mean())
    net = da.LocalClosure(MLP(5, 1, width=32, depth=2, activation=jax.nn.tanh, key=k_net))
    offline = da.fit_regression(net, Xtr, Utr, lr=3e-3, steps=800 if quick else 4000, batch_size=256, key=k_fit,
                                desc="closure offline")
    res["hybrid_offline"] = evaluate(offline)
    # online: 0.25 MTU trajectories from training states (every 10th), gradients through RK4
    online = da.fit_through_solver(offline, Xtr, int(round(0.25 / DT)), 10, dt=DT, forcing=F, lr=1e-3,
                                   steps=80 if quick else 400, batch_size=32, key=jax.random.fold_in(k_fit, 1))
    res["hybrid_online"] = evaluate(online)
    for name, r in res.items():
        print(f"  {name:16s} forecast RMSE at leads {LEADS}: " + " ".join(f"{v:.3f}" for v in r))

    # MOS of the biased (no-closure) model at lead 1, trained on every 5th training state
    mlp = da.ResidualMOS(MLP(K, K, width=64, depth=2, activation=jax.nn.tanh, key=k_mos))
    m = da.mos_skill(coarse_step(no_closure), Xtr, lead_steps[1], 5, mlp, x0_te, ref[:, 1], lr=3e-3,
                     steps=800 if quick else 2000, key=k_mos, log_every=200, desc="MOS MLP")
    mos = {"biased_rmse_lead1": m["biased"], "mos_linear_rmse_lead1": m["linear"], "mos_mlp_rmse_lead1": m["network"]}
    print("  MOS at lead 1: " + "  ".join(f"{k} {v:.3f}" for k, v in mos.items()))

    keys = lambda r: {f"rmse_lead_{l:g}": float(v) for l, v in zip(LEADS, r)}  # noqa: E731
    hyb, other = (("hybrid_online", "hybrid_offline") if res["hybrid_online"].mean() <= res["hybrid_offline"].mean()
                  else ("hybrid_offline", "hybrid_online"))
    metrics = {**keys(res[hyb]), **{k: mos[k] for k in ("mos_linear_rmse_lead1", "mos_mlp_rmse_lead1")}}
    baselines = {"mechanism_only": {**keys(res["mechanism_only"]), "mos_linear_rmse_lead1": mos["biased_rmse_lead1"],
                                    "mos_mlp_rmse_lead1": mos["biased_rmse_lead1"]},
                 f"polynomial_best_deg{best_deg}": keys(res[f"poly{best_deg}"]), other: keys(res[other]),
                 "data_only_persistence": keys(da.persistence_lead_rmse(x0_te, ref))}
    _plot(out, res, best_deg)
    return record(NAME, 1, quick, t_start, metrics, {k: "min" for k in metrics}, baselines,
                  config={"hybrid": hyb, "train_mtu": n_train * DT, "test_ics": n_test, "mos": mos,
                          "all_closures": {k: [round(float(x), 4) for x in v] for k, v in res.items()}})


def _plot(out, res, best_deg):
    fig, ax = figure(figsize=(6.5, 4.2))
    AP.lead_rmse_panel(ax, LEADS, res, marked=f"poly{best_deg}")
    ax.set(ylabel="forecast RMSE of X", title="two-scale L96: coarse model closures")
    ax.legend(fontsize=8)
    save_figure(fig, out, NAME)
