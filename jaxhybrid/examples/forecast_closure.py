"""forecast-closure — a learned subgrid closure inside a coarse Lorenz-96 model, and MOS
post-processing of a biased model (paradigm 1 closures for paradigm-3 forecasting).

Truth: the two-scale Lorenz-96 system in the form of Wilks (2005), K = 8 slow variables X, J = 32
fast variables per slow one, F = 20, h = 1, b = c = 10, RK4 with dt = 0.001
(:func:`jaxhybrid.assimilation.two_scale_l96`). The forecast model only knows X:

    Ẋ_k = X_{k−1}(X_{k+1} − X_{k−2}) − X_k + F + U_k(X),

RK4 with dt = 0.005, where ``U_k`` stands for the unresolved coupling ``−(hc/b) Σ_j Y_{j,k}``.

Closures compared (all fitted on the same training run of the truth, 20 model time units):

* **mechanism only** — ``U = 0`` (the coarse model without closure);
* **polynomial** — Wilks' local deterministic closures ``U_k = Σ_{p≤P} a_p X_k^p``, fitted
  by least squares to the diagnosed subgrid tendencies for P = 1…4; the best of them on the
  test forecasts is reported (the literature's baseline: Wilks 2005 uses P = 4; Arnold et al.
  2013 cubic);
* **hybrid, offline** — a small MLP ``U_k = N_θ(X_{k−2..k+2})`` (shared by all sites: translation
  equivariant) fitted to the same tendencies;
* **hybrid, online** — that network refined *through* the coarse solver on multi-step
  forecasts (:func:`jaxhybrid.paradigms.refine`: loss = trajectory misfit of 0.25 time units
  of forecasts started from training states, gradients through RK4);
* **data only** — persistence (``X(t + τ) = X(t)``), the forecast without any model.

Forecast RMSE of X over 64 test initial conditions from an independent truth run, at lead times
0.5, 1, 1.5 and 2 model time units (``rmse_lead_*``; ``metrics`` = the better of the two hybrid
closures, the other is listed as a baseline).

MOS (model output statistics, Glahn & Lowry 1972): the biased coarse model without closure
forecasts to lead 1; a linear map (8 → 8 with bias) and a small MLP are fitted on past
forecast/truth pairs of the training run and applied to the test forecasts
(``mos_linear_rmse_lead1``, ``mos_mlp_rmse_lead1`` vs the raw ``biased_rmse_lead1``).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid import assimilation as da
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


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.PRNGKey(seed)
    k_tr, k_te, k_net, k_fit, k_mos = jax.random.split(key, 5)
    n_train = int((8.0 if quick else 20.0) / DT)
    Xtr, Utr = truth_run(k_tr, n_train)
    lead_steps = [int(round(l / DT)) for l in LEADS]
    save_every = lead_steps[0]
    n_fc = lead_steps[-1]
    n_test = 16 if quick else 64
    Xte_run, _ = truth_run(k_te, n_test * 80 + n_fc)
    starts = np.arange(n_test) * 80
    x0_te = Xte_run[starts]
    ref = np.stack([np.asarray(Xte_run[s + save_every: s + n_fc + 1: save_every]) for s in starts])

    def evaluate(closure):
        return da.lead_rmse(da.forecast_batch(coarse_step(closure), x0_te, n_fc, save_every), ref)

    res = {"mechanism_only": evaluate(lambda x: 0.0 * x)}
    # polynomial closures, least squares on (X_k, U_k) pairs
    xs, us = np.asarray(Xtr).ravel(), np.asarray(Utr).ravel()
    best_poly, best_deg = None, None
    for deg in (1, 2, 3, 4):
        coef = np.polyfit(xs, us, deg)
        r = evaluate(da.poly_closure(jnp.asarray(coef, jnp.float32)))
        res[f"poly{deg}"] = r
        if best_poly is None or r.mean() < best_poly.mean():
            best_poly, best_deg = r, deg
    # offline learned closure
    net = da.LocalClosure(MLP(5, 1, width=32, depth=2, activation=jax.nn.tanh, key=k_net))
    steps = 800 if quick else 4000
    sched = optax.cosine_decay_schedule(3e-3, steps, alpha=0.05)
    offline = fit(lambda m, b: mse(jax.vmap(m)(b[0]), b[1]), net, (Xtr, Utr), optax.adam(sched), steps=steps,
                  batch_size=256, key=k_fit, log_every=max(1, steps // 10), desc="closure offline").params
    res["hybrid_offline"] = evaluate(offline)
    # online refinement through the solver: 0.25 MTU trajectories from training states
    win = int(round(0.25 / DT))
    idx = np.arange(0, n_train - win - 1, 10)
    x0w = Xtr[idx]
    tgt = jnp.stack([Xtr[i + 1: i + win + 1] for i in idx])

    def mechanism(m, x0):
        return jax.vmap(lambda x: rollout(coarse_step(m), x, win).saved)(x0)

    loss = refine(mechanism)
    steps_on = 80 if quick else 400
    online = fit(lambda m, b: loss(m, (b[0], b[1])), offline, (x0w, tgt),
                 optax.chain(optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(1e-3, steps_on, alpha=0.1))),
                 steps=steps_on, batch_size=32, key=jax.random.fold_in(k_fit, 1), log_every=max(1, steps_on // 10),
                 desc="closure online").params
    res["hybrid_online"] = evaluate(online)
    for name, r in res.items():
        print(f"  {name:16s} forecast RMSE at leads {LEADS}: " + " ".join(f"{v:.3f}" for v in r))

    # MOS on the biased (no-closure) model at lead 1
    l1 = lead_steps[1]
    idx_m = np.arange(0, n_train - l1, 5)
    biased = coarse_step(lambda x: 0.0 * x)
    fc_tr = da.forecast_batch(biased, Xtr[idx_m], l1, l1)[:, 0]
    tr_tr = Xtr[idx_m + l1]
    fc_te = da.forecast_batch(biased, x0_te, l1, l1)[:, 0]
    tr_te = ref[:, 1]
    mos_lin = da.linear_mos(fc_tr, tr_tr)(fc_te)
    mlp = MLP(K, K, width=64, depth=2, activation=jax.nn.tanh, key=k_mos)
    mos_steps = 800 if quick else 2000
    mos_model = fit(lambda m, b: mse(jax.vmap(lambda z: z + 10.0 * m(z / 10.0))(b[0]), b[1]), mlp, (fc_tr, tr_tr),
                    optax.adam(optax.cosine_decay_schedule(3e-3, mos_steps, alpha=0.05)), steps=mos_steps,
                    batch_size=min(128, len(idx_m)),
                    key=k_mos, log_every=200, desc="MOS MLP").params
    mos_nn = jax.vmap(lambda z: z + 10.0 * mos_model(z / 10.0))(fc_te)
    rm = lambda p: float(np.sqrt(np.mean((np.asarray(p) - np.asarray(tr_te)) ** 2)))
    mos = {"biased_rmse_lead1": rm(fc_te), "mos_linear_rmse_lead1": rm(mos_lin), "mos_mlp_rmse_lead1": rm(mos_nn)}
    print("  MOS at lead 1: " + "  ".join(f"{k} {v:.3f}" for k, v in mos.items()))

    def keys(r):
        return {f"rmse_lead_{l:g}": float(v) for l, v in zip(LEADS, r)}

    hyb_name = "hybrid_online" if res["hybrid_online"].mean() <= res["hybrid_offline"].mean() else "hybrid_offline"
    other = "hybrid_offline" if hyb_name == "hybrid_online" else "hybrid_online"
    metrics = keys(res[hyb_name])
    metrics.update(mos_linear_rmse_lead1=mos["mos_linear_rmse_lead1"], mos_mlp_rmse_lead1=mos["mos_mlp_rmse_lead1"])
    baselines = {"mechanism_only": {**keys(res["mechanism_only"]), "mos_linear_rmse_lead1": mos["biased_rmse_lead1"],
                                    "mos_mlp_rmse_lead1": mos["biased_rmse_lead1"]},
                 f"polynomial_best_deg{best_deg}": keys(best_poly), other: keys(res[other])}
    persistence = da.lead_rmse(np.repeat(np.asarray(x0_te)[:, None], len(LEADS), 1), ref)
    baselines["data_only_persistence"] = keys(persistence)
    _plot(out, res, best_deg, hyb_name)
    return {
        "name": NAME, "paradigm": 1, "quick": quick, "wall_s": round(time.perf_counter() - t_start, 2),
        "metrics": metrics, "goal": {k: "min" for k in metrics}, "baselines": baselines,
        "config": {"hybrid": hyb_name, "train_mtu": n_train * DT, "test_ics": n_test,
                   "all_closures": {k: [round(float(x), 4) for x in v] for k, v in res.items()}, "mos": mos},
    }


def _plot(out, res, best_deg, hyb_name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, r in res.items():
        style = "-o" if name.startswith("hybrid") else ("--s" if name == f"poly{best_deg}" else ":")
        ax.plot(LEADS, r, style, label=name)
    ax.set(xlabel="lead time (model time units)", ylabel="forecast RMSE of X", title="two-scale L96: coarse model closures")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    plt.close(fig)
