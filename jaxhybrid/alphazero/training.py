"""The AlphaZero loop as paradigm 3: self-play search (mechanism) ↔ network training (data).

One round of :func:`jaxhybrid.paradigms.alternate`:

1. *mechanism* — :func:`~jaxhybrid.alphazero.selfplay.self_play`: ``games_per_round`` games,
   after up to ``random_opening`` random opening moves every move chosen by a Gumbel MuZero search on the game rules guided by the current network;
   the positions, search policies ``π`` and outcomes ``z`` go into the replay buffer;
2. *data* — ``train_steps`` AdamW steps on minibatches drawn uniformly (with replacement) from
   the replay buffer, minimising the AlphaZero loss (Silver et al. 2018)

       L(θ) = E[ −π · log softmax p_θ(s) + (v_θ(s) − z)² ].

   The sharper network makes the next round's search stronger. With ``augment`` each drawn
   position is replaced by its image under a uniformly drawn symmetry of the board
   (:meth:`Game.symmetries`: 8 for tic-tac-toe, the mirror for Connect Four) — the value is
   invariant and the policy target is permuted with the board — so the value head also learns
   the symmetric twins of rare positions (Silver et al. 2017 used the 8 Go symmetries alike).

The data step is :func:`jaxhybrid.train.fit` in its host-loop mode (``loop="host"``: XLA's
CPU while-loop runs the convolutions' backward pass 10–20× slower than a top-level call). Each
round's minibatches are drawn first — ``train_steps × batch_size`` positions uniformly with
replacement from the filled part of the buffer (and mapped by random board symmetries) — and
``fit`` takes one epoch over them, so its data always has the same shape and its compiled step
is reused across rounds. The AdamW state is carried across rounds (the trainer's ``init``
continues from it). A non-finite loss stops the loop with
:class:`~jaxhybrid.rollout.DivergenceError` (``fit``'s guard) naming the round, with the state
before that round in ``.state``.

Reproducibility and resume: every random draw of round ``r`` comes from ``fold_in(key, r)``,
so the loop's state is ``(network, optimiser state, replay buffer, round)``. It is
checkpointed after every round with :func:`jaxhybrid.train.save_checkpoint` (network in the
first slot, ``(optimiser state, replay buffer)`` in the second, round, history and config in
the JSON), and a run resumed from it continues bit-for-bit as an uninterrupted one would.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.alphazero.games import Game
from jaxhybrid.alphazero.network import make_network
from jaxhybrid.alphazero.replay import Replay, replay_add, replay_init
from jaxhybrid.alphazero.selfplay import self_play
from jaxhybrid.paradigms import alternate
from jaxhybrid.rollout import DivergenceError
from jaxhybrid.cache import config_hash
from jaxhybrid.store import digest
from jaxhybrid.train import Trainer, TrainState, fit, load_checkpoint, resume_log, save_checkpoint, trainer

__all__ = ["AZConfig", "AZState", "az_loss", "train_alphazero", "init_state", "train_steps", "symmetric_batch"]


@dataclass(frozen=True)
class AZConfig:
    """Hyper-parameters of the loop (all rounds use the same)."""

    games_per_round: int = 64
    sims_train: int = 16
    train_steps: int = 100
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    buffer_size: int = 20_000
    channels: int = 32
    blocks: int = 2
    random_opening: int = 0  # up to this many uniformly random opening moves per self-play game
    augment: bool = False  # train on a random board symmetry of each sampled position

    def __post_init__(self):
        for name in ("games_per_round", "sims_train", "train_steps", "batch_size", "buffer_size", "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"AZConfig: {name} must be >= 1, got {getattr(self, name)}.")
        if self.lr <= 0:
            raise ValueError(f"AZConfig: lr must be > 0, got {self.lr}.")

    def optimizer(self) -> optax.GradientTransformation:
        return _adamw(self.lr, self.weight_decay)


@functools.lru_cache(maxsize=None)
def _adamw(lr: float, weight_decay: float) -> optax.GradientTransformation:
    # one object per setting, so that the compiled training step is reused across calls
    return optax.adamw(lr, weight_decay=weight_decay)


@functools.lru_cache(maxsize=None)
def _player(game: Game, n_games: int, sims: int, random_opening: int):
    return jax.jit(lambda m, k: self_play(game, m, k, n_games, sims, random_opening))


class AZState(NamedTuple):
    """``model``: the network (Flax via the adapter); ``opt_state``: AdamW state of its trainable
    leaves; ``replay``: the buffer; ``round``: rounds done."""

    model: eqx.Module
    opt_state: optax.OptState
    replay: Replay
    round: int


def az_loss(model, batch):
    """AlphaZero loss on a batch ``(obs, π, z)``: policy cross-entropy + value MSE (+ aux)."""
    obs, pi, z = batch
    logits, v = model(obs)
    ce = -jnp.mean(jnp.sum(pi * jax.nn.log_softmax(logits), -1))
    mse = jnp.mean((v - z) ** 2)
    return ce + mse, {"policy_ce": ce, "value_mse": mse}


def symmetric_batch(batch, symmetries, choice):
    """Sample ``j`` of ``(obs (B, R, C, 2), π (B, A), z (B,))`` mapped by symmetry ``choice[j]``
    of ``symmetries = (cells (S, R·C), actions (S, A))`` (:meth:`Game.symmetries`): board planes
    and policy permuted alike, the value unchanged (the rules are invariant)."""
    obs, pi, z = batch
    cells, actions = symmetries
    flat = obs.reshape(obs.shape[0], -1, obs.shape[-1])
    flat = jnp.take_along_axis(flat, cells[choice][:, :, None], axis=1)
    return flat.reshape(obs.shape), jnp.take_along_axis(pi, actions[choice], axis=1), z


@functools.partial(jax.jit, static_argnums=(4, 5))
def _draw(data, size, key, symmetries, n_steps: int, batch_size: int):
    """The round's ``n_steps × batch_size`` training positions: step ``i`` draws its indices
    uniformly from ``data[:size]`` with ``fold_in(key, i)`` (and symmetries with ``fold_in(·, 1)``)."""

    def one(i):
        k_idx = jax.random.fold_in(key, i)
        idx = jax.random.randint(k_idx, (batch_size,), 0, size)
        batch = jax.tree_util.tree_map(lambda x: jnp.take(x, idx, axis=0), data)
        if symmetries is not None:
            choice = jax.random.randint(jax.random.fold_in(k_idx, 1), (batch_size,), 0, symmetries[0].shape[0])
            batch = symmetric_batch(batch, symmetries, choice)
        return batch

    batches = jax.vmap(one)(jnp.arange(n_steps))
    return jax.tree_util.tree_map(lambda x: x.reshape((n_steps * batch_size,) + x.shape[2:]), batches)


@functools.lru_cache(maxsize=None)
def _trainer(optimizer: optax.GradientTransformation) -> Trainer:
    """:func:`jaxhybrid.train.trainer` of :func:`az_loss` whose ``init((model, opt_state))``
    continues from a given optimiser state (the previous rounds'). One object per optimiser, so
    ``fit`` reuses its compiled step across rounds."""
    base = trainer(az_loss, optimizer, has_aux=True)

    def init(start) -> TrainState:
        model, opt_state = start
        return TrainState(model, opt_state, jnp.asarray(0, jnp.int32))

    return Trainer(init, base.step, base.params)


def train_steps(model, opt_state, optimizer, data, size, key, n_steps: int, batch_size: int, symmetries=None):
    """``n_steps`` optimiser steps on minibatches drawn uniformly from ``data[:size]`` through
    :func:`jaxhybrid.train.fit` (``loop="host"``).

    The ``n_steps × batch_size`` positions are drawn with the first half of ``split(key)`` (step
    ``i``'s from ``fold_in(·, i)``); with ``symmetries`` (from :meth:`Game.symmetries`) each is
    also mapped by a uniformly drawn board symmetry (data augmentation: the value and the optimal
    moves are equivariant). ``fit`` visits them in one epoch in the order of the second half.
    Returns the new model and optimiser state and the mean loss, policy cross-entropy and value
    MSE over the steps; raises :class:`~jaxhybrid.rollout.DivergenceError` on a NaN/Inf loss.
    """
    if n_steps < 1:
        raise ValueError(f"train_steps: n_steps must be >= 1, got {n_steps}.")
    k_draw, k_order = jax.random.split(key)
    batches = _draw(data, size, k_draw, symmetries, n_steps, batch_size)
    res = fit(None, (model, opt_state), batches, _trainer(optimizer), steps=n_steps, batch_size=batch_size, key=k_order,
              log_every=n_steps, progress=False, loop="host", desc="alphazero")
    rec = res.history[-1]
    return res.params, res.opt_state, (rec["loss_mean"], rec["policy_ce"], rec["value_mse"])


def init_state(game: Game, config: AZConfig, key: jax.Array) -> AZState:
    """Fresh network (from ``fold_in(key, 10**6)``), optimiser state and empty buffer; round 0."""
    model = make_network(game, jax.random.fold_in(key, 10**6), config.channels, config.blocks)
    opt_state = config.optimizer().init(eqx.filter(model, eqx.is_inexact_array))
    return AZState(model, opt_state, replay_init(config.buffer_size, game.obs_shape, game.num_actions), 0)


def train_alphazero(
    game: Game,
    config: AZConfig,
    key: jax.Array,
    rounds: int,
    *,
    checkpoint_dir: Optional[str | Path] = None,
    resume: bool = True,
    monitor: Optional[Callable[[AZState], dict]] = None,
    callback: Optional[Callable[[int, AZState, dict], None]] = None,
    metrics_path: Optional[str | Path] = None,
    time_budget_s: Optional[float] = None,
    budget_clock: str = "wall",
):
    """Run the loop until ``rounds`` rounds are done (counting those in a resumed checkpoint).

    ``monitor(state) -> dict`` is recorded after every round (e.g. evaluation games);
    ``metrics_path`` receives one JSON line per round; ``time_budget_s`` stops the loop after
    the first round that ends past the budget, measured in wall seconds (``budget_clock="wall"``)
    or in CPU seconds of this process (``"cpu"``: independent of other jobs sharing the machine;
    on ``c`` dedicated cores wall time ≈ CPU time / c or more). Training time excludes the
    monitor's evaluations and is summed over resumed sessions. Returns ``(state, history)``; ``history`` holds one record per round (losses, buffer size,
    self-play and training seconds, cumulative ``train_wall_s``, monitor fields).
    """
    if budget_clock not in ("wall", "cpu"):
        raise ValueError(f"train_alphazero: budget_clock must be 'wall' or 'cpu', got {budget_clock!r}.")
    if not isinstance(rounds, int) or rounds < 0:
        raise ValueError(f"train_alphazero: rounds must be a non-negative int, got {rounds!r}.")
    state = init_state(game, config, key)
    history: list = []
    fingerprint = {"game": game.name, "config": config_hash(asdict(config)), "key": digest(key)}
    if checkpoint_dir is not None and resume:  # the fingerprint is checked before the arrays are read
        loaded = load_checkpoint(checkpoint_dir, state.model, (state.opt_state, state.replay), fingerprint)
        if loaded is not None:
            model, (opt_state, replay), meta = loaded
            replay = Replay(*(np.asarray(x) for x in replay))
            state, history = AZState(model, opt_state, replay, int(meta["round"])), list(meta["history"])
            if metrics_path is not None:
                resume_log(Path(metrics_path), state.round, "round")
    spent = history[-1]["train_wall_s" if budget_clock == "wall" else "train_cpu_s"] if history else 0.0
    if state.round >= rounds or (time_budget_s is not None and spent > time_budget_s):
        return state, history

    play = _player(game, config.games_per_round, config.sims_train, config.random_opening)
    optimizer = config.optimizer()
    symmetries = tuple(jnp.asarray(x) for x in game.symmetries()) if config.augment else None
    # training time is cumulative over resumed sessions (budget and records alike)
    t0 = time.perf_counter() - (history[-1]["train_wall_s"] if history else 0.0)
    c0 = time.process_time() - (history[-1]["train_cpu_s"] if history else 0.0)
    info: dict = {}

    def mechanism(s: AZState, _) -> AZState:
        t = time.perf_counter()
        samples = play(s.model, jax.random.fold_in(jax.random.fold_in(key, 1), s.round))
        s = s._replace(replay=replay_add(s.replay, samples))
        info["selfplay_s"] = round(time.perf_counter() - t, 2)
        return s

    def data(s: AZState, _) -> AZState:
        t = time.perf_counter()
        arrays = tuple(jnp.asarray(x) for x in (s.replay.obs, s.replay.policy, s.replay.value))
        try:
            model, opt_state, (loss, ce, mse) = train_steps(
                s.model, s.opt_state, optimizer, arrays, jnp.asarray(s.replay.size, jnp.int32),
                jax.random.fold_in(jax.random.fold_in(key, 2), s.round), config.train_steps, config.batch_size,
                symmetries)
        except DivergenceError as e:
            raise DivergenceError(f"train_alphazero: round {s.round + 1}: {e} The state before that round is in "
                                  "`.state`; lower the learning rate.", step=s.round + 1, state=s) from e
        info.update(loss=float(loss), policy_ce=float(ce), value_mse=float(mse), positions=int(s.replay.size),
                    fit_s=round(time.perf_counter() - t, 2))
        return AZState(model, opt_state, s.replay, s.round + 1)

    def record(s: AZState) -> dict:
        r = {k: v for k, v in info.items() if not k.startswith("monitor_total")}
        if monitor is not None:
            t, c = time.perf_counter(), time.process_time()
            r.update(monitor(s))
            info["monitor_total_s"] = info.get("monitor_total_s", 0.0) + time.perf_counter() - t
            info["monitor_total_cpu"] = info.get("monitor_total_cpu", 0.0) + time.process_time() - c
        return r

    def train_time() -> float:  # wall time of the loop without the monitor's evaluations
        return time.perf_counter() - t0 - info.get("monitor_total_s", 0.0)

    def train_cpu() -> float:
        return time.process_time() - c0 - info.get("monitor_total_cpu", 0.0)

    def on_round(_, s: AZState, rec: dict):
        rec = dict(rec, round=s.round, train_wall_s=round(train_time(), 2), train_cpu_s=round(train_cpu(), 2))
        history.append(rec)
        if metrics_path is not None:  # the log first: a resume drops records past the checkpoint
            with open(metrics_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, s.model, (s.opt_state, s.replay),
                            {"round": s.round, "game": game.name, "history": history, "config": asdict(config),
                             "fingerprint": fingerprint})
        if callback is not None:
            callback(s.round, s, rec)

    def until(_: AZState) -> bool:
        used = train_time() if budget_clock == "wall" else train_cpu()
        return time_budget_s is not None and used > time_budget_s

    res = alternate(mechanism, data, state, rounds=rounds - state.round, monitor=record, callback=on_round, until=until)
    return res.state, history
