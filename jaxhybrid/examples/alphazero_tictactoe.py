"""alphazero-tictactoe — tree search on the rules ↔ a policy/value network (paradigm 3, ``alternate``).

Mechanism: the rules of tic-tac-toe (a pure JAX environment) searched by mctx. Data model: a small
residual Flax policy/value network. Each round of :func:`jaxhybrid.paradigms.alternate` plays
self-play games with Gumbel MuZero search guided by the network and trains the network on the
replay buffer (positions mapped by random board symmetries). Every agent plays a **perfect player**
(negamax, random among all optimal moves), ``n`` games as first and ``n`` as second player:
**hybrid** (the network inside the search, 64 simulations, no noise), **mechanism only** (pure
MCTS with random roll-outs, same simulations), **data only** (the raw policy). Measured (headline):
``losses_vs_perfect`` (0 is optimal play) and, for the deterministic agents, the exact probability
of losing a game over every line of the perfect player (:func:`~jaxhybrid.alphazero.exact_vs_perfect`).
Training stops after ``rounds`` or at 270 CPU-s of the process. Figures and the diagnosis: README.md.

Weights (:mod:`jaxhybrid.examples.pretrained`): the network is keyed by its *training*
configuration — the :class:`~jaxhybrid.alphazero.AZConfig` fields, rounds, CPU budget and
**seed** (evaluation settings are not part of it). The package ships the full run's network of
seed 0. ``--quick`` evaluates the stored full network of its seed (the shipped one for seed 0)
with the full run's evaluation settings (64 simulations, 200 games per side and agent, the same
keys: the same game counts as the full run) but without the exact evaluation; for a seed without
stored full weights (or with ``--retrain``) it trains the small quick configuration (2 rounds)
instead, which does not reach the full run's strength. The full run loads its stored network
too; ``--retrain`` trains it. All agents' games are played in one compiled match
(:func:`~jaxhybrid.alphazero.evaluate_together`): compiling the searches costs more CPU than playing 1,200 games.

Headline: ``losses_vs_perfect`` (sampled games), not the exact P(loss), because the exact walk
needs a deterministic agent and pure MCTS (random roll-outs) is not one: the headline must exist
for every competing baseline.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from jaxhybrid.alphazero import (AZConfig, agents, evaluate_together, exact_vs_perfect, make_network, perfect_agent,
                                 tictactoe, train_alphazero)
from jaxhybrid.examples.pretrained import obtain
from jaxhybrid.examples.record import figure, record, save_figure

NAME = "alphazero-tictactoe"
AZ = AZConfig(games_per_round=256, sims_train=16, train_steps=50, batch_size=128, lr=3e-3,
              buffer_size=10_000, channels=16, blocks=2, random_opening=4, augment=True)
BUDGET_S = 270.0  # training budget in CPU seconds of the process (the machine may be shared)
#: evaluation: simulations of the hybrid and of pure MCTS, games per side for every agent
SIMS, N_EVAL = 64, 200
CURVE_EVERY = 4  # learning curve of the full training (exact P(loss), not part of its key)


def train_config(quick: bool, seed: int) -> dict:
    """The training configuration (the key of the stored network): AZConfig, rounds, budget, seed."""
    rounds, budget = (2, 40.0) if quick else (40, BUDGET_S)
    return {"game": "tictactoe", "az": asdict(AZ), "rounds": rounds, "budget_s": budget, "budget_clock": "cpu",
            "seed": seed}


def template(cfg: dict, meta: dict | None = None):
    """The structure of the network of ``cfg``: shapes only (``jax.ShapeDtypeStruct`` leaves,
    no initialisation: Flax's eager ``init`` costs seconds of CPU), for loading weights into."""
    return eqx.filter_eval_shape(make_network, tictactoe(), jax.random.PRNGKey(0), cfg["az"]["channels"],
                                 cfg["az"]["blocks"])


def trainer(out: Path | None):
    """``train(cfg) -> (network, meta)``: the AlphaZero loop of ``cfg``; ``meta`` holds the history."""
    game = tictactoe()

    def train(cfg: dict):
        az = AZConfig(**cfg["az"])
        a = agents(game, SIMS)

        def monitor(state):  # learning curve: exact P(loss) vs the perfect player every CURVE_EVERY rounds
            if cfg["rounds"] < CURVE_EVERY or state.round % CURVE_EVERY:
                return {}
            rec = {}
            for m in ("hybrid", "data_only"):
                e = _exact(game, a[m], state.model)
                rec[f"{m}_p_loss_first"], rec[f"{m}_p_loss_second"] = e["p_loss_first"], e["p_loss_second"]
            return rec

        state, history = train_alphazero(game, az, jax.random.PRNGKey(cfg["seed"]), cfg["rounds"], monitor=monitor,
                                         time_budget_s=cfg["budget_s"], budget_clock=cfg["budget_clock"],
                                         metrics_path=None if out is None else out / f"{NAME}-metrics.jsonl")
        h = history[-1]
        return state.model, {"history": history, "rounds": len(history), "train_wall_s": h["train_wall_s"],
                             "train_cpu_s": h["train_cpu_s"], "replay_positions": h["positions"]}

    return train


def _exact(game, agent, model) -> dict:
    r = exact_vs_perfect(game, agent, model)
    return {"p_loss_first": r["first"]["p_loss"], "p_loss_second": r["second"]["p_loss"],
            "blunders": [dict(b, board=list(b["board"])) for s in ("first", "second") for b in r[s]["blunders"]],
            "positions": r["first"]["positions"] + r["second"]["positions"]}


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t_start, out, game, key = time.perf_counter(), Path(out), tictactoe(), jax.random.PRNGKey(seed)
    full_cfg = train_config(False, seed)
    configs = [full_cfg, train_config(True, seed)] if quick else [full_cfg]
    got = obtain(NAME, configs, trainer(out), template, retrain=retrain, log=print)
    meta, model = got.meta, got.model
    a = agents(game, SIMS)
    results = {}
    for name, r in evaluate_together(game, a, perfect_agent(game), jax.random.fold_in(key, 99), N_EVAL, model).items():
        results[name] = {"losses_vs_perfect": r.losses, "draws_vs_perfect": r.draws, "games": r.games,
                         "losses_as_first": r.first[2], "losses_as_second": r.second[2]}
        if name != "mechanism_only" and not quick:  # deterministic agents: exact, over every line of the perfect player
            e = _exact(game, a[name], model)
            results[name].update(exact_p_loss_first=e["p_loss_first"], exact_p_loss_second=e["p_loss_second"],
                                 blunder_positions=len(e["blunders"]), blunders=e["blunders"][:10],
                                 positions_checked=e["positions"])
    _plot(out, meta["history"], results)
    metrics = {**results.pop("hybrid"), "train_wall_s": meta["train_wall_s"], "train_cpu_s": meta["train_cpu_s"]}
    goal = {"losses_vs_perfect": "min", "draws_vs_perfect": "max", "games": "max"}
    goal.update({k: "min" for k in metrics if k not in goal and k != "positions_checked" and k != "blunders"})
    return record(NAME, 3, quick, t_start, metrics, goal, results, headline="losses_vs_perfect",
                  weights={"network": got.summary()}, history=meta["history"],
                  config=dict(asdict(AZ), rounds=meta["rounds"], train_wall_s=meta["train_wall_s"],
                              train_cpu_s=meta["train_cpu_s"], budget_cpu_s=got.config["budget_s"],
                              train_seed=got.config["seed"], sims_eval=SIMS, eval_games_per_side=N_EVAL,
                              replay_positions=meta["replay_positions"]))


def _plot(out, history, results):
    fig, ax = figure(1, 3, figsize=(15, 4))
    r = [h["round"] for h in history]
    ax[0].plot(r, [h["policy_ce"] for h in history], label="policy cross-entropy")
    ax[0].plot(r, [h["value_mse"] for h in history], label="value MSE")
    curve = [h for h in history if "hybrid_p_loss_second" in h]
    for m, c, lab in (("hybrid", "C0", "network + search"), ("data_only", "C2", "raw policy")):
        for side, st in (("first", "o-"), ("second", "s--")):
            if curve:
                ax[1].plot([h["round"] for h in curve], [h[f"{m}_p_loss_{side}"] for h in curve], c + st, ms=3,
                           label=f"{lab}, {side}")
    names = list(results)
    x = np.arange(len(names))
    for i, (k, c) in enumerate([("losses_vs_perfect", "C3"), ("draws_vs_perfect", "C7")]):
        ax[2].bar(x + 0.4 * i, [results[n][k] for n in names], 0.4, color=c, label=k.split("_")[0])
    ax[2].set_xticks(x + 0.2, names)
    ax[0].set(xlabel="round", title="training loss (replay buffer)")
    ax[1].set(xlabel="round", ylabel="P(loss) per game (exact)", title="vs perfect player during training")
    ax[2].set(ylabel="games", title=f"final evaluation ({results[names[0]]['games']} games each)")
    for a in ax:
        if a.get_legend_handles_labels()[0]:  # no learning curve without a monitor (quick configuration)
            a.legend()
    save_figure(fig, out, NAME)
