"""alphazero-tictactoe — tree search on the rules ↔ a policy/value network (paradigm 3, ``alternate``).

Mechanism: the rules of tic-tac-toe (a pure JAX environment) searched by mctx. Data model: a small
residual Flax policy/value network. Each round of :func:`jaxhybrid.paradigms.alternate` plays
self-play games with Gumbel MuZero search guided by the network and trains the network on the
replay buffer (positions mapped by random board symmetries). Every agent plays a **perfect player**
(negamax, random among all optimal moves), ``n`` games as first and ``n`` as second player:
**hybrid** (the network inside the search, 64 simulations, no noise), **mechanism only** (pure
MCTS with random roll-outs, same simulations), **data only** (the raw policy). Measured:
``losses_vs_perfect`` (0 is optimal play) and, for the deterministic agents, the exact probability
of losing a game over every line of the perfect player (:func:`~jaxhybrid.alphazero.exact_vs_perfect`).
Training stops after ``rounds`` or at 270 CPU-s of the process. Figures and the diagnosis: README.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid.alphazero import (AZConfig, agents, evaluate_agents, exact_vs_perfect, perfect_agent, tictactoe,
                                 train_alphazero)
from jaxhybrid.examples.record import figure, record, save_figure

NAME = "alphazero-tictactoe"


def _exact(game, agent, model) -> dict:
    r = exact_vs_perfect(game, agent, model)
    return {"p_loss_first": r["first"]["p_loss"], "p_loss_second": r["second"]["p_loss"],
            "blunders": [dict(b, board=list(b["board"])) for s in ("first", "second") for b in r[s]["blunders"]],
            "positions": r["first"]["positions"] + r["second"]["positions"]}


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start, out, game, key = time.perf_counter(), Path(out), tictactoe(), jax.random.PRNGKey(seed)
    cfg = AZConfig(games_per_round=256, sims_train=16, train_steps=50, batch_size=128, lr=3e-3,
                   buffer_size=10_000, channels=16, blocks=2, random_opening=4, augment=True)
    # training budget in CPU seconds of this process (the machine may be shared)
    rounds, budget = (2, 40.0) if quick else (40, 270.0)
    sims, n_eval = (16, 10) if quick else (64, 200)
    a = agents(game, sims)

    def monitor(state):  # learning curve: exact P(loss) vs the perfect player every 4 rounds
        if quick or state.round % 4:
            return {}
        rec = {}
        for m in ("hybrid", "data_only"):
            e = _exact(game, a[m], state.model)
            rec[f"{m}_p_loss_first"], rec[f"{m}_p_loss_second"] = e["p_loss_first"], e["p_loss_second"]
        return rec

    state, history = train_alphazero(game, cfg, key, rounds, monitor=monitor, time_budget_s=budget,
                                     budget_clock="cpu", metrics_path=out / f"{NAME}-metrics.jsonl")
    train_s, train_cpu = history[-1]["train_wall_s"], history[-1]["train_cpu_s"]
    results = {}
    for name, r in evaluate_agents(game, a, perfect_agent(game), jax.random.fold_in(key, 99), n_eval, state.model).items():
        results[name] = {"losses_vs_perfect": r.losses, "draws_vs_perfect": r.draws, "games": r.games,
                         "losses_as_first": r.first[2], "losses_as_second": r.second[2]}
        if name != "mechanism_only" and not quick:  # deterministic agents: exact, over every line of the perfect player
            e = _exact(game, a[name], state.model)
            results[name].update(exact_p_loss_first=e["p_loss_first"], exact_p_loss_second=e["p_loss_second"],
                                 blunder_positions=len(e["blunders"]), blunders=e["blunders"][:10],
                                 positions_checked=e["positions"])
    _plot(out, history, results)
    metrics = {**results.pop("hybrid"), "train_wall_s": train_s, "train_cpu_s": train_cpu}
    goal = {"losses_vs_perfect": "min", "draws_vs_perfect": "max", "games": "max"}
    goal.update({k: "min" for k in metrics if k not in goal and k != "positions_checked" and k != "blunders"})
    return record(NAME, 3, quick, t_start, metrics, goal, results, history=history,
                  config=dict(cfg.__dict__, rounds=len(history), train_wall_s=train_s, train_cpu_s=train_cpu,
                              sims_eval=sims, eval_games_per_side=n_eval, replay_positions=history[-1]["positions"]))


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
        a.legend()
    save_figure(fig, out, NAME)
