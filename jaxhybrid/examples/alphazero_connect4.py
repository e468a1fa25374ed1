"""alphazero-connect4 — AlphaZero on Connect Four vs pure MCTS-200 (paradigm 3, ``alternate``).

The loop of ``alphazero-tictactoe`` (self-play Gumbel MuZero search on the rules ↔ residual Flax
policy/value network trained by :func:`jaxhybrid.train.fit`) on Connect Four (6 × 7). The
yardstick is pure MCTS with 200 simulations and random roll-outs. Against it, as first and as
second player, the same number of games each: **hybrid** (the network inside the search,
``sims_eval`` simulations, no noise), **mechanism only** (pure MCTS at ``sims_eval``
simulations: MCTS-200 vs itself), **data only** (the network's raw policy). Measured (headline):
``win_rate_vs_mcts200`` (and draw/loss rates).

Training (the full run) lasts ``BUDGET_S`` CPU-seconds of the process (the machine may be
shared), checkpoints every round into ``out/alphazero-connect4-ckpt-<hash>`` (rerunning with the
same ``out`` and configuration resumes, also with ``--retrain``) and logs to
``out/alphazero-connect4-metrics.jsonl``.

Weights (:mod:`jaxhybrid.pretrained`): the network is keyed by its *training*
configuration — the :class:`~jaxhybrid.alphazero.AZConfig` fields, rounds, CPU budget and
**seed** (evaluation settings are not part of it). The package ships the full run's network of
seed 0. ``--quick`` evaluates the stored full network of its seed (the shipped one for seed 0)
with the full run's evaluation settings (200 simulations) and fewer games (40 instead of 50 per
side and agent); for a seed without stored full weights (or with ``--retrain``) it trains the
small quick configuration (~25 CPU-s) instead, which does not reach the full run's strength. The
full run loads its stored network too; ``--retrain`` trains it (40 CPU-min). All agents' games
are played in one compiled match (:func:`~jaxhybrid.alphazero.evaluate_together`:
compiling the searches costs more than a quick run's games). Figures: README.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax

from jaxhybrid import alphazero as az
from jaxhybrid.alphazero import plots as AP
from jaxhybrid.cache import config_hash
from jaxhybrid.pretrained import obtain
from jaxhybrid.record import figure, record, save_figure

NAME = "alphazero-connect4"
BUDGET_S = 2400.0  # training budget of the full run in CPU seconds of the process (40 CPU-min)
OPPONENT_SIMS = 200
RATES = ("win_rate_vs_mcts200", "draw_rate_vs_mcts200", "loss_rate_vs_mcts200")
FULL = az.AZConfig(games_per_round=64, sims_train=16, train_steps=80, batch_size=128, lr=2e-3,
                buffer_size=40_000, channels=32, blocks=2, random_opening=4, augment=True)
QUICK = az.AZConfig(games_per_round=32, sims_train=8, train_steps=50, batch_size=128, lr=2e-3,
                 buffer_size=4_000, channels=16, blocks=1)
#: evaluation: simulations of the hybrid and of pure MCTS, games per side for every agent, and
#: games per side and agent played at once. Quick mode keeps the full run's simulations; its game
#: count is the smallest with which, at the full run's win rates (hybrid 0.96, raw policy 0.88
#: of 100 in its less favourable evaluation), the hybrid wins strictly more games than the raw
#: policy with probability >= 0.95 (80 games: 0.96; 24 games: 0.78, and the shipped network tied
#: there, 23 vs 23). Cost on 2 CPU cores: ~10 CPU-s to compile, ~50 CPU-s to play the 3 × 80 games
#: (MCTS-200's roll-outs).
EVAL_FULL = (OPPONENT_SIMS, 50, 10)
EVAL_QUICK = (OPPONENT_SIMS, 40, 10)
CURVE_EVERY_CPU_S, CURVE_GAMES = 300.0, 4  # learning curve of the full training (not part of its key)
#: the structure of the network of a configuration: shapes only, for loading weights into
template = az.network_template(az.connect4())


def train_config(quick: bool, seed: int) -> dict:
    """The training configuration (the key of the stored network): AZConfig, rounds, budget, seed."""
    hyper, rounds, budget = (QUICK, 2, 25.0) if quick else (FULL, 10_000, BUDGET_S)
    return az.train_config(az.connect4(), hyper, rounds, budget, seed)


def trainer(out: Path):
    """``train(cfg) -> (network, meta)``: the AlphaZero loop of ``cfg``; ``meta`` holds the history.
    The full configuration checkpoints every round and records a learning curve: ``CURVE_GAMES``
    games per side vs MCTS-200 every ``CURVE_EVERY_CPU_S`` CPU-s of training."""
    game = az.connect4()

    def train(cfg: dict):
        if cfg["budget_s"] < BUDGET_S:
            return az.train_from_config(game, cfg, metrics_path=out / f"{NAME}-metrics.jsonl")
        pool, key = az.agents(game, OPPONENT_SIMS), jax.random.fold_in(jax.random.PRNGKey(cfg["seed"]), 7)
        curve = az.win_rate_monitor(game, pool, pool["mechanism_only"], key, CURVE_EVERY_CPU_S, CURVE_GAMES,
                                    "vs_mcts200")
        return az.train_from_config(game, cfg, monitor=curve, checkpoint_dir=out / f"{NAME}-ckpt-{config_hash(cfg)}",
                                    metrics_path=out / f"{NAME}-metrics.jsonl")

    return train


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t_start, out, game, key = time.perf_counter(), Path(out), az.connect4(), jax.random.PRNGKey(seed)
    full_cfg = train_config(False, seed)
    configs = [full_cfg, train_config(True, seed)] if quick else [full_cfg]
    got = obtain(NAME, configs, trainer(out), template, retrain=retrain, log=print)
    meta, (sims, n_eval, batch) = got.meta, EVAL_QUICK if quick else EVAL_FULL
    opponent = az.agents(game, OPPONENT_SIMS)["mechanism_only"]
    results = az.evaluate_pool(game, az.agents(game, sims), opponent, "mcts200", jax.random.fold_in(key, 99), n_eval,
                               got.model, batch, rates=("wins", "draws", "losses"), sides=("wins",))
    _plot(out, meta["history"], results)
    goal = {**{k: "max" if k.startswith("win") else "min" for k in RATES}, "games": "max", "wins_as_first": "max",
            "wins_as_second": "max"}
    return record(NAME, 3, quick, t_start, results.pop("hybrid"), goal, results, headline="win_rate_vs_mcts200",
                  config=dict(az.training_summary(got.config, meta), sims_eval=sims, opponent_sims=OPPONENT_SIMS,
                              eval_games_per_side=n_eval, eval_batch=batch, self_play_games=meta["self_play_games"]),
                  weights={"network": got.summary()}, history=meta["history"])


def _plot(out, history, results):
    fig, ax = figure(1, 3, figsize=(15, 4))
    curves = [(f"{m}_win_rate_vs_mcts200", fmt, dict(label=lab))
              for m, fmt, lab in (("hybrid", "C0o-", "network + search"), ("data_only", "C2s-", "raw policy"))]
    AP.training_panels(ax, history, results, curves, RATES, ("C2", "C7", "C3"), x="minutes", bar_width=0.27)
    ax[0].set(xlabel="training time (min)", title="training loss (replay buffer)")
    ax[1].set(xlabel="training time (min)", ylabel="win rate", ylim=(-0.05, 1.05), title="vs MCTS-200 during training")
    ax[2].set(ylabel="fraction of games",
              title=f"final evaluation vs MCTS-200 ({next(iter(results.values()))['games']} games each)")
    save_figure(fig, out, NAME)
