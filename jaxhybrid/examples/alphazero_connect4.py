"""alphazero-connect4 — AlphaZero on Connect Four vs pure MCTS-200 (paradigm 3, ``alternate``).

The loop of ``alphazero-tictactoe`` (self-play Gumbel MuZero search on the rules ↔ residual Flax
policy/value network trained by :func:`jaxhybrid.train.fit`) on Connect Four (6 × 7). The
yardstick is pure MCTS with 200 simulations and random roll-outs. Against it, as first and as
second player: **hybrid** (the network inside the search, ``sims_eval`` simulations, no noise),
**mechanism only** (pure MCTS at ``sims_eval`` simulations: MCTS-200 vs itself in the full run),
**data only** (the network's raw policy). Measured: ``win_rate_vs_mcts200`` (and draw/loss rates).
The full run trains for ``BUDGET_S`` CPU-seconds of the process (the machine may be shared),
checkpoints every round into ``out/alphazero-connect4-ckpt`` (rerunning with the same ``out``
resumes) and logs to ``out/alphazero-connect4-metrics.jsonl``. Figures: README.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid.alphazero import AZConfig, agents, connect4, evaluate, evaluate_agents, train_alphazero
from jaxhybrid.examples.record import figure, record, save_figure

NAME = "alphazero-connect4"
BUDGET_S = 2400.0  # training budget of the full run in CPU seconds of the process (40 CPU-min)
OPPONENT_SIMS = 200
RATES = ("win_rate_vs_mcts200", "draw_rate_vs_mcts200", "loss_rate_vs_mcts200")


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start, out, game, key = time.perf_counter(), Path(out), connect4(), jax.random.PRNGKey(seed)
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

    def monitor(state):  # learning curve: 4 games per side vs MCTS-200 every `curve_every` CPU-s of training
        if curve_every is None or time.process_time() - last_curve[0] < curve_every:
            return {}
        a, k = agents(game, sims), jax.random.fold_in(jax.random.fold_in(key, 7), state.round)
        rec = {f"{m}_win_rate_vs_mcts200": evaluate(game, a[m], opponent, k, 4, state.model).win_rate
               for m in ("hybrid", "data_only")}
        last_curve[0] = time.process_time()
        return rec

    state, history = train_alphazero(game, cfg, key, rounds, checkpoint_dir=None if quick else out / f"{NAME}-ckpt",
                                     monitor=monitor, time_budget_s=budget, budget_clock="cpu",
                                     metrics_path=out / f"{NAME}-metrics.jsonl")
    pool = agents(game, sims)
    matches = evaluate_agents(game, pool, opponent, jax.random.fold_in(key, 99),
                              {m: n_eval if m == "hybrid" else n_base for m in pool}, state.model)
    results = {m: dict(zip(RATES, (r.win_rate, r.draws / r.games, r.losses / r.games)), games=r.games,
                       wins_as_first=r.first[0], wins_as_second=r.second[0]) for m, r in matches.items()}
    _plot(out, history, results)
    goal = {**{k: "max" if k.startswith("win") else "min" for k in RATES}, "games": "max", "wins_as_first": "max",
            "wins_as_second": "max"}
    h = history[-1]
    return record(NAME, 3, quick, t_start, results.pop("hybrid"), goal, results,
                  config=dict(cfg.__dict__, rounds=len(history), train_wall_s=h["train_wall_s"],
                              train_cpu_s=h["train_cpu_s"], sims_eval=sims, opponent_sims=OPPONENT_SIMS,
                              replay_positions=h["positions"], self_play_games=len(history) * cfg.games_per_round),
                  history=history)


def _plot(out, history, results):
    fig, ax = figure(1, 3, figsize=(15, 4))
    t = [h["train_wall_s"] / 60 for h in history]
    ax[0].plot(t, [h["policy_ce"] for h in history], label="policy cross-entropy")
    ax[0].plot(t, [h["value_mse"] for h in history], label="value MSE")
    for m, c, lab in (("hybrid", "C0o-", "network + search"), ("data_only", "C2s-", "raw policy")):
        pts = [(h["train_wall_s"] / 60, h[f"{m}_win_rate_vs_mcts200"]) for h in history if f"{m}_win_rate_vs_mcts200" in h]
        if pts:
            ax[1].plot(*zip(*pts), c, label=lab)
    x, names = np.arange(len(results)), list(results)
    for i, (k, c) in enumerate(zip(RATES, ("C2", "C7", "C3"))):
        ax[2].bar(x + 0.27 * i, [results[n][k] for n in names], 0.27, color=c, label=k.split("_")[0])
    ax[2].set_xticks(x + 0.27, names)
    ax[0].set(xlabel="training time (min)", title="training loss (replay buffer)")
    ax[1].set(xlabel="training time (min)", ylabel="win rate", ylim=(-0.05, 1.05), title="vs MCTS-200 during training")
    ax[2].set(ylabel="fraction of games", title="final evaluation vs MCTS-200")
    for a in ax:
        a.legend()
    save_figure(fig, out, NAME)
