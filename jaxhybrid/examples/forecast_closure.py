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

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid import assimilation as da
from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.nn import MLP
from jaxhybrid.paradigms import mse, refine
from jaxhybrid.rollout import rollout
from jaxhybrid.train import fit

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


def _fit(loss, model, data, lr, steps, batch, key, desc, alpha=0.05, clip=False, log_every=None):
    opt = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=alpha))
    opt = optax.chain(optax.clip_by_global_norm(1.0), opt) if clip else opt
    return fit(loss, model, data, opt, steps=steps, batch_size=batch, key=key, desc=desc,
               log_every=log_every or max(1, steps // 10)).params


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

    def evaluate(closure):
        return da.lead_rmse(da.forecast_batch(coarse_step(closure), x0_te, n_fc, save_every), ref)

    res = {"mechanism_only": evaluate(lambda x: 0.0 * x)}
    for deg in (1, 2, 3, 4):  # polynomial closures: least squares on the pairs (X_k, U_k)
        res[f"poly{deg}"] = evaluate(da.poly_closure(jnp.asarray(np.polyfit(np.ravel(Xtr), np.ravel(Utr), deg), jnp.float32)))
    best_deg = min((1, 2, 3, 4), key=lambda d: res[f"poly{d}"].mean())
    net = da.LocalClosure(MLP(5, 1, width=32, depth=2, activation=jax.nn.tanh, key=k_net))
    offline = _fit(lambda m, b: mse(jax.vmap(m)(b[0]), b[1]), net, (Xtr, Utr), 3e-3, 800 if quick else 4000, 256,
                   k_fit, "closure offline")
    res["hybrid_offline"] = evaluate(offline)
    win = int(round(0.25 / DT))   # online: 0.25 MTU trajectories from training states, gradients through RK4
    loss = refine(lambda m, x0: jax.vmap(lambda x: rollout(coarse_step(m), x, win).saved)(x0))
    online = _fit(lambda m, b: loss(m, (b[0], b[1])), offline, da.trajectory_windows(Xtr, win, 10), 1e-3,
                  80 if quick else 400, 32, jax.random.fold_in(k_fit, 1), "closure online", alpha=0.1, clip=True)
    res["hybrid_online"] = evaluate(online)
    print("\n".join(f"  {n:16s} forecast RMSE at leads {LEADS}: " + " ".join(f"{v:.3f}" for v in r) for n, r in res.items()))

    l1 = lead_steps[1]   # MOS of the biased (no-closure) model at lead 1
    idx_m = np.arange(0, n_train - l1, 5)
    fc_tr, fc_te = (da.forecast_batch(coarse_step(lambda x: 0.0 * x), x0, l1, l1)[:, 0] for x0 in (Xtr[idx_m], x0_te))
    mlp = da.ResidualMOS(MLP(K, K, width=64, depth=2, activation=jax.nn.tanh, key=k_mos))
    mos_mlp = _fit(lambda m, b: mse(jax.vmap(m)(b[0]), b[1]), mlp, (fc_tr, Xtr[idx_m + l1]), 3e-3,
                   800 if quick else 2000, min(128, len(idx_m)), k_mos, "MOS MLP", log_every=200)
    rm = lambda p: float(np.sqrt(np.mean((np.asarray(p) - ref[:, 1]) ** 2)))
    mos = {"biased_rmse_lead1": rm(fc_te), "mos_linear_rmse_lead1": rm(da.linear_mos(fc_tr, Xtr[idx_m + l1])(fc_te)),
           "mos_mlp_rmse_lead1": rm(jax.vmap(mos_mlp)(fc_te))}
    print("  MOS at lead 1: " + "  ".join(f"{k} {v:.3f}" for k, v in mos.items()))

    keys = lambda r: {f"rmse_lead_{l:g}": float(v) for l, v in zip(LEADS, r)}
    hyb, other = (("hybrid_online", "hybrid_offline") if res["hybrid_online"].mean() <= res["hybrid_offline"].mean()
                  else ("hybrid_offline", "hybrid_online"))
    metrics = {**keys(res[hyb]), **{k: mos[k] for k in ("mos_linear_rmse_lead1", "mos_mlp_rmse_lead1")}}
    baselines = {"mechanism_only": {**keys(res["mechanism_only"]), "mos_linear_rmse_lead1": mos["biased_rmse_lead1"],
                                    "mos_mlp_rmse_lead1": mos["biased_rmse_lead1"]},
                 f"polynomial_best_deg{best_deg}": keys(res[f"poly{best_deg}"]), other: keys(res[other]),
                 "data_only_persistence": keys(da.lead_rmse(np.repeat(np.asarray(x0_te)[:, None], len(LEADS), 1), ref))}
    _plot(out, res, best_deg)
    return record(NAME, 1, quick, t_start, metrics, {k: "min" for k in metrics}, baselines,
                  config={"hybrid": hyb, "train_mtu": n_train * DT, "test_ics": n_test, "mos": mos,
                          "all_closures": {k: [round(float(x), 4) for x in v] for k, v in res.items()}})


def _plot(out, res, best_deg):
    fig, ax = figure(figsize=(6.5, 4.2))
    for name, r in res.items():
        ax.plot(LEADS, r, "-o" if name.startswith("hybrid") else ("--s" if name == f"poly{best_deg}" else ":"), label=name)
    ax.set(xlabel="lead time (model time units)", ylabel="forecast RMSE of X", title="two-scale L96: coarse model closures")
    ax.legend(fontsize=8)
    save_figure(fig, out, NAME)
