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

Weights (:mod:`jaxhybrid.pretrained`): the network is keyed by its *training*
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

import functools
import time
from pathlib import Path

import jax

from jaxhybrid import alphazero as az
from jaxhybrid.alphazero import plots as AP
from jaxhybrid.pretrained import obtain
from jaxhybrid.record import figure, record, save_figure

NAME = "alphazero-tictactoe"
AZ = az.AZConfig(games_per_round=256, sims_train=16, train_steps=50, batch_size=128, lr=3e-3,
              buffer_size=10_000, channels=16, blocks=2, random_opening=4, augment=True)
BUDGET_S = 270.0  # training budget in CPU seconds of the process (the machine may be shared)
#: evaluation: simulations of the hybrid and of pure MCTS, games per side for every agent
SIMS, N_EVAL = 64, 200
CURVE_EVERY = 4  # learning curve of the full training (exact P(loss), not part of its key)
#: the structure of the network of a configuration: shapes only, for loading weights into
template = az.network_template(az.tictactoe())
_exact = az.exact_summary  # the exact evaluation of a deterministic agent against the perfect player


def train_config(quick: bool, seed: int) -> dict:
    """The training configuration (the key of the stored network): AZConfig, rounds, budget, seed."""
    rounds, budget = (2, 40.0) if quick else (40, BUDGET_S)
    return az.train_config(az.tictactoe(), AZ, rounds, budget, seed)


def trainer(out: Path | None):
    """``train(cfg) -> (network, meta)``: the AlphaZero loop of ``cfg``; ``meta`` holds the history and,
    every ``CURVE_EVERY`` rounds, the exact P(loss) vs the perfect player (the learning curve)."""
    game = az.tictactoe()
    curve = az.exact_curve_monitor(game, az.agents(game, SIMS), CURVE_EVERY)  # silent in a run of < CURVE_EVERY rounds
    return functools.partial(az.train_from_config, game, monitor=curve,
                             metrics_path=None if out is None else out / f"{NAME}-metrics.jsonl")


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t_start, out, game, key = time.perf_counter(), Path(out), az.tictactoe(), jax.random.PRNGKey(seed)
    full_cfg = train_config(False, seed)
    configs = [full_cfg, train_config(True, seed)] if quick else [full_cfg]
    got = obtain(NAME, configs, trainer(out), template, retrain=retrain, log=print)
    meta = got.meta
    # deterministic agents (full run): also exact, over every line of the perfect player
    results = az.evaluate_pool(game, az.agents(game, SIMS), az.perfect_agent(game), "perfect",
                               jax.random.fold_in(key, 99), N_EVAL, got.model, counts=("losses", "draws"),
                               sides=("losses",), exact=() if quick else ("hybrid", "data_only"))
    _plot(out, meta["history"], results)
    metrics = {**results.pop("hybrid"), "train_wall_s": meta["train_wall_s"], "train_cpu_s": meta["train_cpu_s"]}
    goal = {"losses_vs_perfect": "min", "draws_vs_perfect": "max", "games": "max"}
    goal.update({k: "min" for k in metrics if k not in goal and k != "positions_checked" and k != "blunders"})
    return record(NAME, 3, quick, t_start, metrics, goal, results, headline="losses_vs_perfect",
                  weights={"network": got.summary()}, history=meta["history"],
                  config=dict(az.training_summary(got.config, meta), sims_eval=SIMS, eval_games_per_side=N_EVAL))


def _plot(out, history, results):
    fig, ax = figure(1, 3, figsize=(15, 4))
    curves = [(f"{m}_p_loss_{side}", c + st, dict(ms=3, label=f"{lab}, {side}"))
              for m, c, lab in (("hybrid", "C0", "network + search"), ("data_only", "C2", "raw policy"))
              for side, st in (("first", "o-"), ("second", "s--"))]
    AP.training_panels(ax, history, results, curves, ("losses_vs_perfect", "draws_vs_perfect"), ("C3", "C7"))
    ax[0].set(xlabel="round", title="training loss (replay buffer)")
    ax[1].set(xlabel="round", ylabel="P(loss) per game (exact)", title="vs perfect player during training")
    ax[2].set(ylabel="games", title=f"final evaluation ({next(iter(results.values()))['games']} games each)")
    save_figure(fig, out, NAME)
