"""alphazero-connect4 — AlphaZero on Connect Four vs pure MCTS (paradigm 3, ``alternate``).

The same loop as ``alphazero-tictactoe`` (self-play Gumbel MuZero search on the rules ↔
residual Flax policy/value network trained with :func:`jaxhybrid.train.fit`, driven by
:func:`jaxhybrid.paradigms.alternate`) on Connect Four (6 × 7). The yardstick is a strong
mechanism-only player: **pure MCTS with 200 simulations**, each leaf valued by one random
roll-out. Compared, each as first and as second player against it:

* **hybrid** — the trained network inside the search (``sims_eval`` simulations, no noise);
* **mechanism only** — pure MCTS with random roll-outs at the same ``sims_eval`` simulations;
* **data only** — the trained network's raw policy (no search).

``win_rate_vs_mcts200`` = wins / games. The full run evaluates the hybrid at 200 simulations,
the opponent's own count, so the mechanism-only row is MCTS-200 against itself. It trains for a
fixed budget of CPU time of the process (``BUDGET_S``; CPU rather than wall time because the
machine may be shared; the loop runs on about one core of XLA's CPU backend, so on 2 dedicated
cores it is about as much wall time), excluding the learning-curve evaluations, checkpointing after every round into ``out/alphazero-connect4-ckpt`` and
logging each round to ``out/alphazero-connect4-metrics.jsonl``; running it again with the same
``out`` resumes where it stopped (the budget counts the training time of all sessions).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid.alphazero import AZConfig, agents, connect4, evaluate, train_alphazero

NAME = "alphazero-connect4"
BUDGET_S = 2400.0  # training budget of the full run in CPU seconds of the process (40 CPU-min)
OPPONENT_SIMS = 200


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    game = connect4()
    key = jax.random.PRNGKey(seed)
    if quick:
        cfg = AZConfig(games_per_round=32, sims_train=8, train_steps=50, batch_size=128, lr=2e-3,
                       buffer_size=4_000, channels=16, blocks=1)
        rounds, budget, sims, n_eval, n_base, curve_every = 2, 25.0, 16, 2, 2, None
    else:
        cfg = AZConfig(games_per_round=64, sims_train=16, train_steps=80, batch_size=128, lr=2e-3,
                       buffer_size=40_000, channels=32, blocks=2, random_opening=4, augment=True)
        rounds, budget, sims, n_eval, n_base, curve_every = 10_000, BUDGET_S, OPPONENT_SIMS, 50, 10, 300.0
    opponent = agents(game, OPPONENT_SIMS)["mechanism_only"]
    last_curve = [-np.inf]

    def monitor(state):
        # learning curve: a few games vs the MCTS-200 opponent every `curve_every` s of training
        if curve_every is None or time.process_time() - last_curve[0] < curve_every:
            return {}
        a = agents(game, sims)
        k = jax.random.fold_in(jax.random.fold_in(key, 7), state.round)
        rec = {}
        for m in ("hybrid", "data_only"):
            r = evaluate(game, a[m], opponent, k, 4, state.model)
            rec[f"{m}_win_rate_vs_mcts200"] = r.win_rate
        last_curve[0] = time.process_time()
        return rec

    ckpt = None if quick else out / f"{NAME}-ckpt"
    state, history = train_alphazero(game, cfg, key, rounds, checkpoint_dir=ckpt, monitor=monitor,
                                     time_budget_s=budget, budget_clock="cpu",
                                     metrics_path=out / f"{NAME}-metrics.jsonl")
    train_s, train_cpu = history[-1]["train_wall_s"], history[-1]["train_cpu_s"]

    results = {}
    for name, agent in agents(game, sims).items():
        n = n_eval if name == "hybrid" else n_base
        r = evaluate(game, agent, opponent, jax.random.fold_in(key, 99), n, state.model)
        results[name] = {"win_rate_vs_mcts200": r.win_rate, "draw_rate_vs_mcts200": r.draws / r.games,
                         "loss_rate_vs_mcts200": r.losses / r.games, "games": r.games,
                         "wins_as_first": r.first[0], "wins_as_second": r.second[0]}
    _plot(out, history, results)
    metrics = results.pop("hybrid")
    return {
        "name": NAME,
        "paradigm": 3,
        "quick": quick,
        "wall_s": round(time.perf_counter() - t_start, 2),
        "metrics": metrics,
        "goal": {"win_rate_vs_mcts200": "max", "draw_rate_vs_mcts200": "min", "loss_rate_vs_mcts200": "min",
                 "games": "max", "wins_as_first": "max", "wins_as_second": "max"},
        "baselines": results,
        "config": dict(cfg.__dict__, rounds=len(history), train_wall_s=train_s, train_cpu_s=train_cpu, sims_eval=sims,
                       opponent_sims=OPPONENT_SIMS, replay_positions=history[-1]["positions"],
                       self_play_games=len(history) * cfg.games_per_round),
        "history": history,
    }


def _plot(out, history, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    t = [h["train_wall_s"] / 60 for h in history]
    ax[0].plot(t, [h["policy_ce"] for h in history], label="policy cross-entropy")
    ax[0].plot(t, [h["value_mse"] for h in history], label="value MSE")
    ax[0].set(xlabel="training time (min)", title="training loss (replay buffer)")
    ax[0].legend()
    for m, c in (("hybrid", "C0o-"), ("data_only", "C2s-")):
        pts = [(h["train_wall_s"] / 60, h[f"{m}_win_rate_vs_mcts200"]) for h in history if f"{m}_win_rate_vs_mcts200" in h]
        if pts:
            ax[1].plot(*zip(*pts), c, label="network + search" if m == "hybrid" else "raw policy")
    ax[1].set(xlabel="training time (min)", ylabel="win rate", ylim=(-0.05, 1.05), title="vs MCTS-200 during training")
    ax[1].legend()
    names = list(results)
    x = np.arange(len(names))
    for i, (k, c) in enumerate([("win_rate_vs_mcts200", "C2"), ("draw_rate_vs_mcts200", "C7"), ("loss_rate_vs_mcts200", "C3")]):
        ax[2].bar(x + 0.27 * i, [results[n][k] for n in names], 0.27, color=c, label=k.split("_")[0])
    ax[2].set_xticks(x + 0.27, names)
    ax[2].set(ylabel="fraction of games", title="final evaluation vs MCTS-200")
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    plt.close(fig)
