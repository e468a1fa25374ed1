r"""pinn-adaptive — a Poisson problem with a sharp peak: uniform vs adaptive collocation (paradigm 2).

``−Δu = f`` on (−1, 1)² with ``u*(x, y) = (1 − x²)(1 − y²) exp(−|x − c|² / 2s²)``, c = (0.3, −0.2),
s = 0.06 (the peak covers ~1% of the domain), ``u = 0`` on the boundary built in exactly (problem,
network, loss and error: :mod:`jaxhybrid.pinn.manufactured_peak`). Same network, number of collocation
points and iterations for all: rounds of Adam, then L-BFGS on the final points (through
:func:`jaxhybrid.train.fit`). **adaptive** (hybrid) — after each round the points are redrawn from
a Gaussian mixture fitted to the squared PDE residual (:func:`jaxhybrid.pinn.gaussian_mixture`).
Baselines: **uniform** (fixed uniform points) and **rar** (residual-based adaptive refinement,
:func:`jaxhybrid.pinn.rar`). Measured: ``rel_l2`` of u on a 201×201 grid (the headline). Figures: README.md.

The three trained networks, each with its final collocation points, come from
:func:`jaxhybrid.pretrained.obtain`, keyed by their training configuration
(:func:`network_configs`: seed, strategy, sizes, rounds, steps, learning rate, problem). The full
run's networks of seed 0 are shipped (``jaxhybrid/weights/pinn-adaptive-*.eqx``), so quick mode
loads them and only evaluates them on the 201×201 grid. Other seeds — or ``--retrain`` — fall back
to training the quick configuration (500 points, width 24, 4 rounds); full mode loads or
(``--retrain``) trains the full configuration and caches it.
"""

from __future__ import annotations

import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.pretrained import obtain_tier
from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.pinn import adaptive_fit, show_fields
from jaxhybrid.pinn.manufactured_peak import CENTER, DOMAIN, S, grid_error, loss, make_net, residual_fn, u_true

NAME = "pinn-adaptive"


def config(quick):
    if quick:
        return dict(n_col=500, width=24, rounds=4, adam=400, lbfgs=300, components=6, candidates=4000, lr=2e-3,
                    uniform_frac=0.2)
    return dict(n_col=1000, width=32, rounds=6, adam=1000, lbfgs=1500, components=8, candidates=8000, lr=2e-3,
                uniform_frac=0.2)


#: the three collocation strategies, each a trained network: adaptive (the hybrid), uniform, RAR
STRATEGIES = ("adaptive", "uniform", "rar")


def network_configs(quick: bool, seed: int) -> dict:
    """Training configuration of each network (the key of its weights file): the problem, the
    strategy, the seed (same initial network and first points for all three) and the budget."""
    return {s: dict(config(quick), seed=seed, strategy=s, center=list(CENTER), s=S, depth=3) for s in STRATEGIES}


def _like(cfg, meta):  # shapes and dtypes of a stored network and its final collocation points (nothing computed)
    return eqx.filter_eval_shape(lambda: {"net": make_net(jax.random.PRNGKey(0), cfg["width"]),
                                          "points": jnp.zeros((meta["n_points"], 2))})


def _train(cfg):
    """Train with ``cfg["strategy"]`` (:func:`jaxhybrid.pinn.adaptive_fit`): the network and its final points."""
    if (tuple(cfg["center"]), cfg["s"], cfg["depth"]) != (CENTER, S, 3):
        raise ValueError(f"{NAME}: configuration {cfg} does not describe this module's problem.")
    t0, c = time.perf_counter(), cfg
    net, pts = adaptive_fit(loss, residual_fn, lambda k: make_net(k, c["width"]), DOMAIN, jax.random.PRNGKey(c["seed"]),
                            strategy=c["strategy"], n_points=c["n_col"], rounds=c["rounds"], adam_steps=c["adam"],
                            lbfgs_steps=c["lbfgs"], lr=c["lr"], components=c["components"], candidates=c["candidates"],
                            uniform_frac=c["uniform_frac"])
    return {"net": net, "points": pts}, {"n_points": int(pts.shape[0]), "final_loss": float(loss(net, pts)),
                                         "train_s": round(time.perf_counter() - t0, 2)}


def obtain_networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """The three networks, all of one tier (:func:`~jaxhybrid.pretrained.obtain_tier`):
    ``({strategy: Obtained}, "full" | "quick")``."""
    tiers = ({n: (f"{NAME}-{n}", c) for n, c in network_configs(q, seed).items()} for q in (False, True))
    return obtain_tier(*tiers, lambda _: _train, _like, quick=quick, retrain=retrain)


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t0, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    got, tier = obtain_networks(quick, seed, retrain)
    c = {k: v for k, v in got["adaptive"].config.items() if k not in ("seed", "strategy")}
    c["networks"] = tier
    results = {s: (grid_error(g.model["net"]), g.model["net"], g.model["points"]) for s, g in got.items()}
    _plot(out, results)
    return record(NAME, 2, quick, t0, {"rel_l2": results["adaptive"][0]}, {"rel_l2": "min"},
                  {"uniform": {"rel_l2": results["uniform"][0]}, "rar": {"rel_l2": results["rar"][0]}},
                  headline="rel_l2", improvement_vs_uniform=results["uniform"][0] / results["adaptive"][0], config=c,
                  weights={n: g.summary() for n, g in got.items()})


def _plot(out, results):
    p = DOMAIN.grid(201)
    ut = np.asarray(jax.vmap(u_true)(p))
    fig, ax = figure(1, 3, figsize=(15, 4.2))
    show_fields(fig, ax, [(np.abs(np.asarray(jax.vmap(net)(p)) - ut), f"{s}: |u − u*|, rel L2 {err:.2e}", pts)
                          for s in ("uniform", "adaptive", "rar") for err, net, pts in [results[s]]], DOMAIN, 201)
    save_figure(fig, out, NAME, dpi=100)
