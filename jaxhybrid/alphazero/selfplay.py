"""Self-play with search: the mechanism half of the AlphaZero loop.

``n`` games are played in lock-step from the empty board; at every ply a Gumbel MuZero search
(:func:`~jaxhybrid.alphazero.search.alphazero_policy`) guided by the current network picks the
move (sampled through the Gumbel noise: exploration) and yields the improved policy ``π_t``
(its ``action_weights``). When the games are over each position gets the value target

    z_t = winner · player_t ∈ {−1, 0, +1},

the final result *from the view of the player to move at t* (AlphaZero's outcome target).
Plies after a game ended are masked out.

Exploration: game ``i`` opens with ``n_i ~ U{0, …, random_opening}`` uniformly random legal
moves (their positions are still trained on, with the search's policy as target). Self-play of
a sharpening network otherwise keeps to a few lines and never meets the positions an opponent
can steer into. The value targets stay unbiased for the search policy: the outcome of a
position depends only on the play *after* it, which is the search's.
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


def self_play(game: Game, model, key: jax.Array, n_games: int, num_simulations: int,
              random_opening: int = 0) -> Samples:
    """Play ``n_games`` self-play games; returns ``max_moves · n_games`` samples (with ``valid``)."""
    if random_opening < 0:
        raise ValueError(f"self_play: random_opening must be >= 0, got {random_opening}.")
    states = jax.vmap(lambda _: game.init())(jnp.arange(n_games))
    key, k_open = jax.random.split(key)
    n_random = jax.random.randint(k_open, (n_games,), 0, random_opening + 1)

    def body(s, xs):
        t, k = xs
        k_search, k_rand = jax.random.split(k)
        out = alphazero_policy(game, model, k_search, s, num_simulations)
        legal = jax.vmap(game.legal)(s)
        rand = jax.random.categorical(k_rand, jnp.where(legal, 0.0, -1e30)).astype(out.action.dtype)
        action = jnp.where(t < n_random, rand, out.action)
        rec = (jax.vmap(game.observe)(s), out.action_weights, s.player, ~s.done)
        s, _ = jax.vmap(game.step)(s, action)
        return s, rec

    xs = (jnp.arange(game.max_moves), jax.random.split(key, game.max_moves))
    final, (obs, pi, players, valid) = jax.lax.scan(body, states, xs)
    z = value_targets(final.winner, players)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])
    return Samples(flat(obs), flat(pi), flat(z), flat(valid))
