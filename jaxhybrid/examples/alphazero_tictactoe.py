"""alphazero-tictactoe — tree search on the rules ↔ a policy/value network (paradigm 3, ``alternate``).

Mechanism: the rules of tic-tac-toe (a pure JAX environment) searched by mctx. Data model: a
small residual Flax policy/value network. Each round of :func:`jaxhybrid.paradigms.alternate`
plays self-play games whose moves come from a Gumbel MuZero search guided by the network,
stores (position, search policy, outcome) in a replay buffer and trains the network on it
(each sampled position mapped by a random one of the board's 8 symmetries). Compared, every
agent against a **perfect player** (exhaustive negamax, uniformly random among *all* optimal
moves, so the games are diverse), ``n`` games as first and ``n`` as second player:

* **hybrid** — the trained network inside the search (``sims`` = 64 simulations, no Gumbel
  noise: the deterministic search-improved action; self-play uses 16 with noise);
* **mechanism only** — pure MCTS with random roll-outs at the same number of simulations;
* **data only** — the trained network's raw policy (most probable legal move, no search).

``losses_vs_perfect`` counts the games lost over all evaluation games (a perfect player cannot
be beaten; 0 losses is optimal play). The two deterministic agents are also evaluated
*exactly* (:func:`~jaxhybrid.alphazero.exact_vs_perfect`): every line the perfect player can
choose is followed, giving the probability of losing a game as first / second player
(``exact_p_loss_*``; 0 means no game can be lost, whatever the tie-breaks) and the positions
where the agent's move throws the draw away (``blunders``). The learning curve records these
exact probabilities every 4 rounds (both are left out in quick mode, to stay within a minute).

Why the agent used to lose (3 of 400 games; exact P(loss) as second player 0.034): one
position, ``. X . / . O X / X O .`` with O to move, where the search played the losing
cell 3 at 16, 64 and 256 simulations alike. After O3 the first player forks with cell 2; the
value head rated the fork position a draw (+0.06 for the side to move, truly lost), and
Gumbel MuZero's deterministic in-tree selection (softmax of prior + min–max-normalised Q)
kept its visits on the reply whose Q was a hair better, so the fork was never searched one
ply deeper: more simulations do not help when the value head is wrong there. Training on the
symmetric images of the replay positions (8× the data, for the same self-play cost) fixes the
value head on such rare positions; at the last round both seeds tried (0 and 1) have exact
P(loss) = 0 as first and second player. The learning curve shows that intermediate networks
can still have such a blind spot for a few rounds.

Training stops after ``rounds`` rounds or the round that passes 270 s of *CPU time* of the
process (excluding the learning-curve evaluations), whichever is first; both the wall and the
CPU seconds of training are recorded (``train_wall_s``, ``train_cpu_s``), CPU time being the
figure that does not depend on other jobs sharing the machine.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid.alphazero import (AZConfig, agents, evaluate, exact_vs_perfect, perfect_agent, tictactoe,
                                 train_alphazero)

NAME = "alphazero-tictactoe"


def _exact(game, agent, model) -> dict:
    r = exact_vs_perfect(game, agent, model)
    return {"p_loss_first": r["first"]["p_loss"], "p_loss_second": r["second"]["p_loss"],
            "blunders": [dict(b, board=list(b["board"])) for s in ("first", "second") for b in r[s]["blunders"]],
            "positions": r["first"]["positions"] + r["second"]["positions"]}


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    game = tictactoe()
    key = jax.random.PRNGKey(seed)
    cfg = AZConfig(games_per_round=256, sims_train=16, train_steps=50, batch_size=128, lr=3e-3,
                   buffer_size=10_000, channels=16, blocks=2, random_opening=4, augment=True)
    # training budget in CPU seconds of this process (the machine may be shared): 270 CPU-s is
    # at most 270 s of wall time on 2 dedicated cores
    rounds, budget = (2, 40.0) if quick else (40, 270.0)
    sims, n_eval = (16, 10) if quick else (64, 200)
    perfect = perfect_agent(game)
    a = agents(game, sims)

    def monitor(state):
        # learning curve: exact probability of losing a game to the perfect player, over all its lines
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
    for name, agent in a.items():
        r = evaluate(game, agent, perfect, jax.random.fold_in(key, 99), n_eval, state.model)
        results[name] = {"losses_vs_perfect": r.losses, "draws_vs_perfect": r.draws, "games": r.games,
                         "losses_as_first": r.first[2], "losses_as_second": r.second[2]}
        if name != "mechanism_only" and not quick:  # deterministic agents: exact, over every line of the perfect player
            e = _exact(game, agent, state.model)
            results[name].update(exact_p_loss_first=e["p_loss_first"], exact_p_loss_second=e["p_loss_second"],
                                 blunder_positions=len(e["blunders"]), blunders=e["blunders"][:10],
                                 positions_checked=e["positions"])
    _plot(out, history, results)
    metrics = results.pop("hybrid")
    metrics.update(train_wall_s=train_s, train_cpu_s=train_cpu)
    return {
        "name": NAME,
        "paradigm": 3,
        "quick": quick,
        "wall_s": round(time.perf_counter() - t_start, 2),
        "metrics": metrics,
        "goal": {"losses_vs_perfect": "min", "draws_vs_perfect": "max", "games": "max",
                 "losses_as_first": "min", "losses_as_second": "min", "exact_p_loss_first": "min",
                 "exact_p_loss_second": "min", "blunder_positions": "min", "train_wall_s": "min",
                 "train_cpu_s": "min"},
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
    curve = [h for h in history if "hybrid_p_loss_second" in h]
    if curve:
        rc = [h["round"] for h in curve]
        for m, c, lab in (("hybrid", "C0", "network + search"), ("data_only", "C2", "raw policy")):
            ax[1].plot(rc, [h[f"{m}_p_loss_first"] for h in curve], c + "o-", ms=3, label=f"{lab}, first")
            ax[1].plot(rc, [h[f"{m}_p_loss_second"] for h in curve], c + "s--", ms=3, label=f"{lab}, second")
        ax[1].legend()
    ax[1].set(xlabel="round", ylabel="P(loss) per game (exact)", title="vs perfect player during training")
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
