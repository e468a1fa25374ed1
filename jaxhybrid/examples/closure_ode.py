"""closure-ode — a learned friction law inside a diffrax pendulum solve (paradigm 1, ``refine``).

Mechanism: the driven pendulum ``θ' = ω, ω' = −sin θ − f(ω) + A cos(Ω t)`` (A = 0.6, Ω = 0.8) with
an unknown friction law, truly ``f(ω) = c₁ω + c₂ω|ω|``; data: noisy (σ = 0.01) trajectories of 8
initial conditions on t ∈ [0, 10], fitted on 3-time-unit windows (:func:`jaxhybrid.pde.fit_windows`).

* **hybrid** — the pendulum with ``f`` a small MLP ``f_θ(ω)``, trained through the Tsit5 solve;
* **mechanism only** — friction omitted (``f = 0``), and a fitted linear law ``f = cω``;
* **data only** — a neural ODE ``(θ, ω)' = N_θ(θ, ω, cos Ωt, sin Ωt)`` trained the same way.

Measured: relative L2 trajectory errors on the cylinder (sin θ, cos θ, ω) from the true initial
state — held-out initial conditions on t ∈ [0, 10] (interpolation) and [10, 40] (time
extrapolation), unseen ones (|θ₀| ∈ [1.6, 2.4], |ω₀| ∈ [1, 1.6]) on [0, 40] (extrapolation).
"""

from __future__ import annotations

import time
from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.metrics import rel_l2
from jaxhybrid.nn import MLP
from jaxhybrid.pde import fit_windows, ode_solve, trajectory_windows

NAME = "closure-ode"
C1, C2, AMP, OMEGA = 0.15, 0.35, 0.6, 0.8
DT = 0.05
T_TRAIN, T_EXTRA, T_WINDOW = 10.0, 40.0, 3.0
OBS_DT, NOISE = 0.1, 0.01


def true_friction(w):
    return C1 * w + C2 * w * jnp.abs(w)


def pendulum(friction):
    """Vector field of the driven pendulum with a given friction law ``friction(params, ω)``."""

    def field(t, y, params):
        return jnp.stack([y[1], -jnp.sin(y[0]) - friction(params, y[1]) + AMP * jnp.cos(OMEGA * t)])

    return field


def neural_field(t, y, net):
    return net(jnp.concatenate([y, jnp.stack([jnp.cos(OMEGA * t), jnp.sin(OMEGA * t)])]))


def simulate(field, params, y0s, ts):
    """Fixed-step Tsit5 (dt = DT) of each initial state from t = 0, saved at ``ts`` (``ts[0] = 0``)."""
    n = int(np.ceil(float(ts[-1]) / DT)) + 8
    sol = lambda y0: ode_solve(field, y0, ts, t0=0.0, solver="nonstiff", dt=DT, max_steps=n, args=params)[0]
    return np.asarray(jax.jit(jax.vmap(sol))(jnp.asarray(y0s)))


def truth(y0s, ts):
    """Reference trajectories of the true pendulum from ``t = ts[0]``: adaptive Dopri8, tight tolerances."""
    sol = lambda y0: ode_solve(pendulum(lambda _, w: true_friction(w)), y0, ts, solver=diffrax.Dopri8(), dt0=0.01,
                               rtol=1e-7, atol=1e-8, max_steps=200_000)[0]
    return np.asarray(jax.jit(jax.vmap(sol))(jnp.asarray(y0s)))


def cylinder_rel_l2(pred, ref):
    """Relative L2 error of trajectories on the cylinder (sin θ, cos θ, ω): a full turn is no error."""
    embed = lambda y: np.stack([np.sin(y[..., 0]), np.cos(y[..., 0]), y[..., 1]], -1)
    return float(rel_l2(embed(pred), embed(ref)))


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    in_range = lambda n: np.stack([rng.uniform(-1.5, 1.5, n), rng.uniform(-1.0, 1.0, n)], 1)
    y0_train, y0_test = in_range(8), in_range(8)
    y0_unseen = rng.choice([-1.0, 1.0], (8, 2)) * np.stack([rng.uniform(1.6, 2.4, 8), rng.uniform(1.0, 1.6, 8)], 1)

    ts_obs = np.arange(0.0, T_TRAIN + 1e-9, OBS_DT)
    obs = truth(y0_train, ts_obs)
    obs = obs + NOISE * rng.standard_normal(obs.shape)
    win = trajectory_windows(obs, ts_obs, int(round(T_WINDOW / OBS_DT)))
    steps = 300 if quick else 800
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    train = lambda field, p, n, lr, k, desc: fit_windows(field, p, win, obs_dt=OBS_DT, dt=DT, steps=n,
                                                          learning_rate=lr, key=k, desc=desc).params

    hybrid_field = pendulum(lambda net, w: net(w))  # hybrid: mechanism + learned friction f_θ(ω)
    net = train(hybrid_field, MLP("scalar", "scalar", width=32, depth=2, activation=jax.nn.tanh, key=k1),
                steps, 1e-2, k1, "hybrid")
    # mechanism only: friction omitted, or a fitted linear law
    none_field, lin_field = pendulum(lambda _, w: 0.0 * w), pendulum(lambda c, w: c * w)
    c_lin = train(lin_field, jnp.asarray(0.1), max(100, steps // 3), 3e-2, k2, "linear friction")
    node = train(neural_field, MLP(4, 2, width=64, depth=2, activation=jax.nn.tanh, key=k3),  # data only
                 steps, 1e-2, k3, "neural ODE")

    ts_long, n_in = jnp.arange(0.0, T_EXTRA + 1e-9, OBS_DT), len(ts_obs)
    models = {"hybrid": (hybrid_field, net), "mechanism_only": (none_field, None),
              "mechanism_linear_friction": (lin_field, c_lin), "data_only": (neural_field, node)}
    ref_test, ref_unseen = truth(y0_test, ts_long), truth(y0_unseen, ts_long)
    results, trajs, trajs_u = {}, {}, {}
    for name, (field, p) in models.items():
        pt, pu = simulate(field, p, y0_test, ts_long), simulate(field, p, y0_unseen, ts_long)
        trajs[name], trajs_u[name] = pt[0], pu[0]
        results[name] = {"extrapolation_rel_l2": cylinder_rel_l2(pu, ref_unseen),
                         "extrapolation_time_rel_l2": cylinder_rel_l2(pt[:, n_in:], ref_test[:, n_in:]),
                         "interpolation_rel_l2": cylinder_rel_l2(pt[:, :n_in], ref_test[:, :n_in])}
    # friction error over the range of ω the training data visits (f is identifiable there only)
    w_seen = jnp.linspace(-1.0, 1.0, 101)
    results["hybrid"]["friction_rmse_seen_range"] = float(
        jnp.sqrt(jnp.mean((jax.vmap(net)(w_seen) - true_friction(w_seen)) ** 2)))
    _plot(out, np.asarray(ts_long), [(ref_test[0], trajs, "held-out initial condition"),
                                      (ref_unseen[0], trajs_u, "unseen initial condition")], net, c_lin)
    metrics = results.pop("hybrid")
    return record(NAME, 1, quick, t_start, metrics, {k: "min" for k in metrics}, results,
                  config={"train_steps": steps, "n_train_trajectories": len(y0_train), "noise": NOISE, "c1": C1, "c2": C2,
                          "amplitude": AMP, "omega": OMEGA, "fitted_linear_c": float(c_lin)})


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
    ax[2].plot(wgrid, true_friction(wgrid), "k", lw=2, label="true f(ω)")
    ax[2].plot(wgrid, jax.vmap(net)(wgrid), "C0--", label="learned f_θ(ω)")
    ax[2].plot(wgrid, float(c_lin) * wgrid, "C1:", label="fitted linear cω")
    ax[2].set(xlabel="ω", ylabel="friction", title="friction law")
    ax[2].legend(fontsize=8)
    save_figure(fig, out, NAME)
