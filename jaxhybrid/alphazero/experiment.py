"""An AlphaZero run described by a JSON-able training configuration: what a stored network is keyed
by, how it is trained from that key, and the structure it is loaded into.

* :func:`train_config` — ``{"game", "az", "rounds", "budget_s", "budget_clock", "seed"}``: the
  :class:`~jaxhybrid.alphazero.AZConfig` fields, the round limit, the training budget (seconds of
  ``budget_clock``: ``"cpu"`` or ``"wall"``) and the seed. Evaluation settings are no part of it,
  so one trained network serves every evaluation.
* :func:`train_from_config` — :func:`~jaxhybrid.alphazero.train_alphazero` of a configuration
  (key ``PRNGKey(seed)``) → ``(network, meta)``, ``meta`` holding the per-round history and the
  totals (rounds, training wall and CPU seconds, replay positions, self-play games).
* :func:`network_template` — the network's structure for a configuration (shapes only: Flax's
  eager ``init`` costs seconds of CPU), to load stored weights into.
* :func:`training_summary` — the configuration and training totals of a run as one flat dict
  (for a result record).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Mapping, Optional

import equinox as eqx
import jax

from jaxhybrid.alphazero.games import Game
from jaxhybrid.alphazero.network import make_network
from jaxhybrid.alphazero.training import AZConfig, AZState, train_alphazero

__all__ = ["train_config", "train_from_config", "network_template", "training_summary"]


def train_config(game: Game, az: AZConfig, rounds: int, budget_s: float, seed: int, budget_clock: str = "cpu") -> dict:
    """The training configuration of a run (module docstring); JSON-able."""
    if budget_clock not in ("cpu", "wall"):
        raise ValueError(f"train_config: budget_clock must be 'cpu' or 'wall', got {budget_clock!r}.")
    return {"game": game.name, "az": asdict(az), "rounds": rounds, "budget_s": budget_s, "budget_clock": budget_clock,
            "seed": seed}


def _check(game: Game, cfg: Mapping, name: str) -> None:
    if cfg.get("game") != game.name:
        raise ValueError(f"{name}: the configuration is for {cfg.get('game')!r}, not {game.name!r}.")


def train_from_config(game: Game, cfg: Mapping, *, monitor: Optional[Callable[[AZState], dict]] = None,
                      checkpoint_dir: Optional[str | Path] = None, metrics_path: Optional[str | Path] = None
                      ) -> tuple[object, dict]:
    """Train the network of ``cfg`` (:func:`train_config`): ``train_alphazero(game, AZConfig(**az),
    PRNGKey(seed), rounds)`` within ``budget_s`` seconds of ``budget_clock``, with the optional
    ``monitor``, per-round checkpoints (resumed when present) and JSON-lines log. Returns
    ``(network, meta)``: ``history`` (one record per round), ``rounds``, ``train_wall_s``,
    ``train_cpu_s``, ``replay_positions`` and ``self_play_games`` (rounds × games per round)."""
    _check(game, cfg, "train_from_config")
    az = AZConfig(**cfg["az"])
    state, history = train_alphazero(game, az, jax.random.PRNGKey(cfg["seed"]), cfg["rounds"], monitor=monitor,
                                     checkpoint_dir=checkpoint_dir, time_budget_s=cfg["budget_s"],
                                     budget_clock=cfg["budget_clock"], metrics_path=metrics_path)
    if not history:
        raise ValueError("train_from_config: no round was trained (rounds = 0 or the budget already spent).")
    h = history[-1]
    return state.model, {"history": history, "rounds": len(history), "train_wall_s": h["train_wall_s"],
                         "train_cpu_s": h["train_cpu_s"], "replay_positions": h["positions"],
                         "self_play_games": len(history) * az.games_per_round}


def network_template(game: Game) -> Callable[..., object]:
    """``template(cfg, meta=None)``: the structure of the network of ``cfg`` for ``game``
    (``jax.ShapeDtypeStruct`` leaves, no initialisation), for loading weights into."""
    def template(cfg: Mapping, meta: Optional[Mapping] = None):
        _check(game, cfg, "network_template")
        return eqx.filter_eval_shape(make_network, game, jax.random.PRNGKey(0), cfg["az"]["channels"],
                                     cfg["az"]["blocks"])

    return template


def training_summary(cfg: Mapping, meta: Mapping) -> dict:
    """The :class:`~jaxhybrid.alphazero.AZConfig` fields of ``cfg`` and the run's totals:
    ``rounds``, ``train_wall_s``, ``train_cpu_s``, ``budget_cpu_s`` (the budget of ``cfg``),
    ``train_seed`` and ``replay_positions``."""
    return dict(cfg["az"], rounds=meta["rounds"], train_wall_s=meta["train_wall_s"], train_cpu_s=meta["train_cpu_s"],
                budget_cpu_s=cfg["budget_s"], train_seed=cfg["seed"], replay_positions=meta["replay_positions"])
