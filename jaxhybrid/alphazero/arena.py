"""Matches between two agents, batched: ``n`` games played in lock-step with ``vmap``.

An *agent* is a function ``agent(key, states) -> actions`` on a batch of :class:`GameState`.
All games start from the empty board and the players alternate, so at ply ``t`` every running
game has the same player to move; the match is a ``lax.scan`` over pairs of plies (first
agent, then second), finished games being no-ops. Results are from the first agent's view.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.alphazero.games import Game, GameState

__all__ = ["Agent", "play_match", "MatchResult", "evaluate"]

Agent = Callable[[jax.Array, GameState], jax.Array]


def play_match(game: Game, first: Agent, second: Agent, key: jax.Array, n_games: int) -> GameState:
    """Play ``n_games`` games ``first`` (player +1) vs ``second`` (player −1); final states."""
    if n_games < 1:
        raise ValueError(f"play_match: n_games must be >= 1, got {n_games}.")
    states = jax.vmap(lambda _: game.init())(jnp.arange(n_games))

    def ply(agent, s, k):
        return jax.vmap(game.step)(s, agent(k, s))[0]

    def body(s, k):
        k1, k2 = jax.random.split(k)
        s = ply(first, s, k1)
        s = jax.lax.cond(jnp.all(s.done), lambda: s, lambda: ply(second, s, k2))
        return s, None

    final, _ = jax.lax.scan(body, states, jax.random.split(key, (game.max_moves + 1) // 2))
    return final


class MatchResult(NamedTuple):
    """Counts from the agent's view over all games (as first and as second player)."""

    wins: int
    draws: int
    losses: int
    first: tuple  # (wins, draws, losses) as first player
    second: tuple  # (wins, draws, losses) as second player

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def win_rate(self) -> float:
        return self.wins / self.games


def evaluate(game: Game, agent: Agent, opponent: Agent, key: jax.Array, n_per_side: int,
             batch: int | None = None) -> MatchResult:
    """``agent`` vs ``opponent``: ``n_per_side`` games as first and as second player."""
    batch = n_per_side if batch is None else min(batch, n_per_side)
    run = jax.jit(lambda f, s, k, n=batch: play_match(game, f, s, k, n), static_argnums=(0, 1))
    k1, k2 = jax.random.split(key)

    def side(a, b, k, sign):
        winners = []
        for i in range(-(-n_per_side // batch)):
            winners.append(np.asarray(run(a, b, jax.random.fold_in(k, i)).winner) * sign)
        w = np.concatenate(winners)[:n_per_side]
        return int((w > 0).sum()), int((w == 0).sum()), int((w < 0).sum())

    f = side(agent, opponent, k1, 1)
    s = side(opponent, agent, k2, -1)
    return MatchResult(f[0] + s[0], f[1] + s[1], f[2] + s[2], f, s)
