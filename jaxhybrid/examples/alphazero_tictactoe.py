"""alphazero-tictactoe — tree search on the rules ↔ a policy/value network (paradigm 3, ``alternate``).

Mechanism: the rules of tic-tac-toe (a pure JAX environment) searched by mctx. Data model: a
small residual Flax policy/value network. Each round of :func:`jaxhybrid.paradigms.alternate`
plays self-play games whose moves come from a Gumbel MuZero search guided by the network,
stores (position, search policy, outcome) in a replay buffer and trains the network on it with
:func:`jaxhybrid.train.fit`. Compared, every agent against a **perfect player** (exhaustive
negamax, random among the optimal moves), ``n`` games as first and ``n`` as second player:

* **hybrid** — the trained network inside the search (``sims`` = 64 simulations, no Gumbel
  noise; self-play uses 16);
* **mechanism only** — pure MCTS with random roll-outs at the same number of simulations;
* **data only** — the trained network's raw policy (most probable legal move, no search).

Training stops after the round that passes 270 s of *CPU time* of the process (excluding the
learning-curve evaluations); CPU time rather than wall time because the machine may be shared
with other jobs, and 270 CPU-s is at most 270 s of wall time on 2 dedicated cores.

``losses_vs_perfect`` counts the games lost over all evaluation games (a perfect player cannot
be beaten; 0 losses is optimal play). Learning curves track losses vs the perfect player of the
agent and of the raw policy over training.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid.alphazero import AZConfig, agents, evaluate, perfect_agent, tictactoe, train_alphazero

NAME = "alphazero-tictactoe"


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    game = tictactoe()
    key = jax.random.PRNGKey(seed)
    cfg = AZConfig(games_per_round=256, sims_train=16, train_steps=50, batch_size=128, lr=3e-3,
                   buffer_size=10_000, channels=16, blocks=2, random_opening=4)
    # training budget in CPU seconds of this process (the machine may be shared): 270 CPU-s is
    # at most 270 s of wall time on 2 dedicated cores
    rounds, budget = (3, 40.0) if quick else (40, 270.0)
    sims, n_eval, n_curve = 64, (20 if quick else 200), (8 if quick else 16)
    perfect = perfect_agent(game)

    def monitor(state):
        if quick:
            return {}
        a = agents(game, sims)
        k = jax.random.fold_in(jax.random.fold_in(key, 7), state.round)
        return {f"{m}_losses_vs_perfect": evaluate(game, a[m], perfect, k, n_curve, state.model).losses / (2 * n_curve)
                for m in ("hybrid", "data_only")}

    state, history = train_alphazero(game, cfg, key, rounds, monitor=monitor, time_budget_s=budget,
                                     budget_clock="cpu", metrics_path=out / f"{NAME}-metrics.jsonl")
    train_s, train_cpu = history[-1]["train_wall_s"], history[-1]["train_cpu_s"]

    results = {}
    for name, agent in agents(game, sims).items():
        r = evaluate(game, agent, perfect, jax.random.fold_in(key, 99), n_eval, state.model)
        results[name] = {"losses_vs_perfect": r.losses, "draws_vs_perfect": r.draws, "games": r.games,
                         "losses_as_first": r.first[2], "losses_as_second": r.second[2]}
    _plot(out, history, results)
    metrics = results.pop("hybrid")
    return {
        "name": NAME,
        "paradigm": 3,
        "quick": quick,
        "wall_s": round(time.perf_counter() - t_start, 2),
        "metrics": metrics,
        "goal": {"losses_vs_perfect": "min", "draws_vs_perfect": "max", "games": "max",
                 "losses_as_first": "min", "losses_as_second": "min"},
        "baselines": results,
        "config": dict(cfg.__dict__, rounds=len(history), train_wall_s=train_s, train_cpu_s=train_cpu, sims_eval=sims,
                       eval_games_per_side=n_eval, replay_positions=history[-1]["positions"]),
        "history": history,
    }


def _plot(out, history, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    r = [h["round"] for h in history]
    ax[0].plot(r, [h["policy_ce"] for h in history], label="policy cross-entropy")
    ax[0].plot(r, [h["value_mse"] for h in history], label="value MSE")
    ax[0].set(xlabel="round", title="training loss (replay buffer)")
    ax[0].legend()
    if "hybrid_losses_vs_perfect" in history[-1]:
        ax[1].plot(r, [h["hybrid_losses_vs_perfect"] for h in history], "C0o-", label="network + search")
        ax[1].plot(r, [h["data_only_losses_vs_perfect"] for h in history], "C2s-", label="raw policy")
        ax[1].legend()
    ax[1].set(xlabel="round", ylabel="fraction of games lost", title="vs perfect player during training")
    names = list(results)
    x = np.arange(len(names))
    for i, (k, c) in enumerate([("losses_vs_perfect", "C3"), ("draws_vs_perfect", "C7")]):
        ax[2].bar(x + 0.4 * i, [results[n][k] for n in names], 0.4, color=c, label=k.split("_")[0])
    ax[2].set_xticks(x + 0.2, names)
    ax[2].set(ylabel="games", title=f"final evaluation ({results[names[0]]['games']} games each)")
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    plt.close(fig)
