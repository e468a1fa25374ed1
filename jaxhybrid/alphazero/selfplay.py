"""Self-play with search: the mechanism half of the AlphaZero loop.

``n`` games are played in lock-step from the empty board; at every ply a Gumbel MuZero search
(:func:`~jaxhybrid.alphazero.search.alphazero_policy`) guided by the current network picks the
move (sampled through the Gumbel noise: exploration) and yields the improved policy ``π_t``
(its ``action_weights``). When the games are over each position gets the value target

    z_t = winner · player_t ∈ {−1, 0, +1},

the final result *from the view of the player to move at t* (AlphaZero's outcome target).
Plies after a game ended are masked out.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxhybrid.alphazero.games import Game
from jaxhybrid.alphazero.search import alphazero_policy

__all__ = ["Samples", "self_play", "value_targets"]


class Samples(NamedTuple):
    """Training positions: ``obs (N, R, C, 2)``, ``policy (N, A)`` search targets, ``value (N,)``
    outcome targets, ``valid (N,)`` (False for plies after the game ended)."""

    obs: jax.Array
    policy: jax.Array
    value: jax.Array
    valid: jax.Array


def value_targets(winner: jax.Array, players: jax.Array) -> jax.Array:
    """``z = winner · player``: +1 where the player to move went on to win, −1 lose, 0 draw."""
    return (winner[None, :] * players).astype(jnp.float32)


def self_play(game: Game, model, key: jax.Array, n_games: int, num_simulations: int) -> Samples:
    """Play ``n_games`` self-play games; returns ``max_moves · n_games`` samples (with ``valid``)."""
    states = jax.vmap(lambda _: game.init())(jnp.arange(n_games))

    def body(s, k):
        out = alphazero_policy(game, model, k, s, num_simulations)
        rec = (jax.vmap(game.observe)(s), out.action_weights, s.player, ~s.done)
        s, _ = jax.vmap(game.step)(s, out.action)
        return s, rec

    final, (obs, pi, players, valid) = jax.lax.scan(body, states, jax.random.split(key, game.max_moves))
    z = value_targets(final.winner, players)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])
    return Samples(flat(obs), flat(pi), flat(z), flat(valid))
