"""closure-ode — a learned friction law inside a diffrax pendulum solve (paradigm 1, ``refine``).

Mechanism: the driven pendulum ``θ' = ω, ω' = −sin θ − f(ω) + A cos(Ω t)`` (A = 0.6, Ω = 0.8) with
an unknown friction law, truly ``f(ω) = c₁ω + c₂ω|ω|``; data: noisy (σ = 0.01) trajectories of 8
initial conditions on t ∈ [0, 10], fitted on 3-time-unit windows (:func:`jaxhybrid.pde.fit_windows`;
problem, data and scoring: :mod:`jaxhybrid.pde.pendulum`).

* **hybrid** — the pendulum with ``f`` a small MLP ``f_θ(ω)``, trained through the Tsit5 solve;
* **mechanism only** — friction omitted (``f = 0``), and a fitted linear law ``f = cω``;
* **data only** — a neural ODE ``(θ, ω)' = N_θ(θ, ω, cos Ωt, sin Ωt)`` trained the same way.

Measured: relative L2 trajectory errors on the cylinder (sin θ, cos θ, ω) from the true initial
state — held-out initial conditions on t ∈ [0, 10] (interpolation) and [10, 40] (time
extrapolation), unseen ones (|θ₀| ∈ [1.6, 2.4], |ω₀| ∈ [1, 1.6]) on [0, 40] (extrapolation;
the headline metric).

The three trained models (friction network, linear law, neural ODE) come from
:func:`jaxhybrid.pretrained.obtain`, keyed by their training configuration
(:func:`network_configs`: seed, data, model sizes, steps, learning rate). The full run's models of
seed 0 are shipped (``jaxhybrid/weights/closure-ode-*.eqx``), so quick mode loads them and only
simulates them on the same held-out and unseen initial conditions as the full run (same seed).
Other seeds — or ``--retrain`` — fall back to training the quick configuration (300 steps, 100 for
the linear law); full mode loads or (``--retrain``) trains the full configuration (800 / 266 steps)
and caches it.
"""

from __future__ import annotations

import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxhybrid.pretrained import obtain_tier
from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.metrics import rmse
from jaxhybrid.nn import MLP
from jaxhybrid.pde import (fit_windows, pendulum_errors, pendulum_field, pendulum_friction, pendulum_initial_states,
                           pendulum_neural_field, pendulum_windows)
from jaxhybrid.pde.pendulum import AMP, C1, C2, DT, N_TRAJ, NOISE, OBS_DT, OMEGA, T_TRAIN, T_WINDOW

NAME = "closure-ode"
#: the three trained models: the hybrid's friction network, the fitted linear law, the neural ODE
NETWORKS = ("hybrid", "linear", "node")
#: what the trained models' configurations say of the problem (checked before training)
PROBLEM = dict(n_train=N_TRAJ, noise=NOISE, obs_dt=OBS_DT, t_train=T_TRAIN, t_window=T_WINDOW, dt=DT, c1=C1, c2=C2,
               amplitude=AMP, omega=OMEGA)


def network_configs(quick: bool, seed: int) -> dict:
    """Training configuration of each model (the key of its weights file): the data (seed, number
    of trajectories, noise, observation step, windows), the model, the optimiser and its budget."""
    steps = 300 if quick else 800
    data = dict(seed=seed, **PROBLEM, batch_size=64)
    return {"hybrid": dict(data, model="friction-mlp", width=32, depth=2, activation="tanh", steps=steps, lr=1e-2),
            "linear": dict(data, model="linear-friction", init=0.1, steps=max(100, steps // 3), lr=3e-2),
            "node": dict(data, model="neural-ode", width=64, depth=2, activation="tanh", steps=steps, lr=1e-2)}


hybrid_field = pendulum_field(lambda net, w: net(w))  # hybrid: mechanism + learned friction f_θ(ω)
linear_field = pendulum_field(lambda c, w: c * w)  # mechanism only: f = cω (c = 0: friction omitted)
FIELDS = {"hybrid": hybrid_field, "linear": linear_field, "node": pendulum_neural_field}


def _init(cfg, key):
    """The untrained model of configuration ``cfg``; a network's initial weights come from ``key``."""
    if cfg["model"] == "linear-friction":
        return jnp.asarray(cfg["init"])
    size = ("scalar", "scalar") if cfg["model"] == "friction-mlp" else (4, 2)
    return MLP(*size, width=cfg["width"], depth=cfg["depth"], activation=jax.nn.tanh, key=key)


def _like(cfg, meta):  # shapes and dtypes of a stored model (traced only: nothing is computed or compiled)
    return eqx.filter_eval_shape(lambda: _init(cfg, jax.random.PRNGKey(0)))


def _train(which):
    def train(cfg):
        if any(cfg[k] != v for k, v in PROBLEM.items()):
            raise ValueError(f"{NAME}: configuration {cfg} does not describe this module's problem.")
        key = jax.random.split(jax.random.PRNGKey(cfg["seed"]), 3)[NETWORKS.index(which)]
        t0 = time.perf_counter()
        res = fit_windows(FIELDS[which], _init(cfg, key), pendulum_windows(cfg["seed"]), obs_dt=cfg["obs_dt"],
                          dt=cfg["dt"], steps=cfg["steps"], learning_rate=cfg["lr"], key=key,
                          batch_size=cfg["batch_size"], desc=which)
        meta = {"steps_done": int(res.step), "train_s": round(time.perf_counter() - t0, 2),
                "loss_history": [[int(h["step"]), float(h["loss"])] for h in res.history]}
        if which == "linear":
            meta["c"] = float(res.params)
        return res.params, meta
    return train


def obtain_networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """The three models, all of one tier (:func:`~jaxhybrid.pretrained.obtain_tier`):
    ``({name: Obtained}, "full" | "quick")``."""
    tiers = ({n: (f"{NAME}-{n}", c) for n, c in network_configs(q, seed).items()} for q in (False, True))
    return obtain_tier(*tiers, _train, _like, quick=quick, retrain=retrain)


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t_start, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _, _, y0_test, y0_unseen = pendulum_initial_states(seed)
    got, tier = obtain_networks(quick, seed, retrain)
    net, c_lin, node = (got[n].model for n in NETWORKS)
    models = {"hybrid": (hybrid_field, net), "mechanism_only": (linear_field, jnp.zeros_like(c_lin)),
              "mechanism_linear_friction": (linear_field, c_lin), "data_only": (pendulum_neural_field, node)}
    results, ts, ref, first = pendulum_errors(models, y0_test, y0_unseen)
    # friction error over the range of ω the training data visits (f is identifiable there only)
    w_seen = jnp.linspace(-1.0, 1.0, 101)
    results["hybrid"]["friction_rmse_seen_range"] = float(rmse(jax.vmap(net)(w_seen), pendulum_friction(w_seen)))
    _plot(out, ts, [(ref[0], {n: tr[0] for n, tr in first.items()}, "held-out initial condition"),
                    (ref[N_TRAJ], {n: tr[1] for n, tr in first.items()}, "unseen initial condition")], net, c_lin)
    metrics = results.pop("hybrid")
    cfg = got["hybrid"].config
    return record(NAME, 1, quick, t_start, metrics, {k: "min" for k in metrics}, results,
                  headline="extrapolation_rel_l2",
                  config={"train_steps": cfg["steps"], "n_train_trajectories": cfg["n_train"], "noise": NOISE,
                          "c1": C1, "c2": C2, "amplitude": AMP, "omega": OMEGA, "fitted_linear_c": float(c_lin),
                          "networks": tier},
                  weights={n: g.summary() for n, g in got.items()},
                  history={n: got[n].meta.get("loss_history") for n in NETWORKS})


def _plot(out, ts, panels, net, c_lin):
    fig, ax = figure(1, 3, figsize=(16, 4))
    styles = {"hybrid": "C0", "mechanism_only": "C3", "mechanism_linear_friction": "C1", "data_only": "C2"}
    for a, (ref, trajs, title) in zip(ax, panels):
        a.plot(ts, ref[:, 0], "k", lw=2, label="truth")
        for name, tr in trajs.items():
            a.plot(ts, tr[:, 0], styles[name], lw=1, ls="--", label=name)
        a.axvline(T_TRAIN, color="grey", ls=":")
        a.set(xlabel="t", ylabel="θ", title=f"{title} (training window: t < {T_TRAIN:g})", ylim=(-4, 4))
    ax[0].legend(fontsize=8)
    wgrid = jnp.linspace(-2.5, 2.5, 201)
    ax[2].plot(wgrid, pendulum_friction(wgrid), "k", lw=2, label="true f(ω)")
    ax[2].plot(wgrid, jax.vmap(net)(wgrid), "C0--", label="learned f_θ(ω)")
    ax[2].plot(wgrid, float(c_lin) * wgrid, "C1:", label="fitted linear cω")
    ax[2].set(xlabel="ω", ylabel="friction", title="friction law")
    ax[2].legend(fontsize=8)
    save_figure(fig, out, NAME)
