"""Matches between two agents, batched: ``n`` games played in lock-step with ``vmap``.

An *agent* is a function ``agent(params, key, states) -> actions`` on a batch of
:class:`GameState`; ``params`` (a network, or ``None``) is passed as a traced argument so that
one compiled match serves every version of a network during training (build the agent
functions once and reuse them: compiled matches are cached per (game, agents, size)).
All games start from the empty board and the players alternate, so at ply ``t`` every running
game has the same player to move; the match is a ``lax.scan`` over pairs of plies (first
agent, then second), finished games being no-ops. Results are from the first agent's view.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.alphazero.games import Game, GameState

__all__ = ["Agent", "play_match", "MatchResult", "evaluate", "evaluate_agents", "evaluate_together"]

Agent = Callable[[Any, jax.Array, GameState], jax.Array]


def play_match(game: Game, first: Agent, second: Agent, key: jax.Array, n_games: int,
               first_params: Any = None, second_params: Any = None) -> GameState:
    """Play ``n_games`` games ``first`` (player +1) vs ``second`` (player −1); final states."""
    if n_games < 1:
        raise ValueError(f"play_match: n_games must be >= 1, got {n_games}.")
    states = jax.vmap(lambda _: game.init())(jnp.arange(n_games))

    def ply(agent, params, s, k):
        return jax.vmap(game.step)(s, agent(params, k, s))[0]

    def body(s, k):
        k1, k2 = jax.random.split(k)
        s = ply(first, first_params, s, k1)
        s = jax.lax.cond(jnp.all(s.done), lambda: s, lambda: ply(second, second_params, s, k2))
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


@functools.lru_cache(maxsize=64)
def _compiled_match(game: Game, first: Agent, second: Agent, n_games: int):
    return jax.jit(lambda pf, ps, k: play_match(game, first, second, k, n_games, pf, ps).winner)


def evaluate(game: Game, agent: Agent, opponent: Agent, key: jax.Array, n_per_side: int,
             agent_params: Any = None, opponent_params: Any = None, batch: int | None = None) -> MatchResult:
    """``agent`` vs ``opponent``: ``n_per_side`` games as first and as second player."""
    if n_per_side < 1:
        raise ValueError(f"evaluate: n_per_side must be >= 1, got {n_per_side}.")
    batch = n_per_side if batch is None else min(batch, n_per_side)
    k1, k2 = jax.random.split(key)

    def side(a, pa, b, pb, k, sign):
        run = _compiled_match(game, a, b, batch)
        winners = [np.asarray(run(pa, pb, jax.random.fold_in(k, i))) * sign for i in range(-(-n_per_side // batch))]
        w = np.concatenate(winners)[:n_per_side]
        return int((w > 0).sum()), int((w == 0).sum()), int((w < 0).sum())

    f = side(agent, agent_params, opponent, opponent_params, k1, 1)
    s = side(opponent, opponent_params, agent, agent_params, k2, -1)
    return MatchResult(f[0] + s[0], f[1] + s[1], f[2] + s[2], f, s)


def evaluate_agents(game: Game, agents: Mapping[str, Agent], opponent: Agent, key: jax.Array,
                    n_per_side: int | Mapping[str, int], params: Any = None) -> dict[str, MatchResult]:
    """:func:`evaluate` of every agent of ``agents`` (name → agent, e.g. :func:`~jaxhybrid.
    alphazero.search.agents`) against one ``opponent``, all with the same ``key`` and the
    network ``params``; ``n_per_side`` is one game count for all or a count per agent name."""
    counts = n_per_side if isinstance(n_per_side, Mapping) else {name: n_per_side for name in agents}
    missing = set(agents) - set(counts)
    if missing:
        raise ValueError(f"evaluate_agents: no game count for {sorted(missing)}; give n_per_side one per agent.")
    return {name: evaluate(game, agent, opponent, key, counts[name], params) for name, agent in agents.items()}


def evaluate_together(game: Game, pool: Mapping[str, Agent], opponent: Agent, key: jax.Array, n_per_side: int,
                      params: Any = None, batch: int | None = None) -> dict:
    """Every agent of ``pool`` (name → arena agent) against ``opponent``, ``n_per_side`` games as
    first and as second player each — what :func:`evaluate_agents` measures —
    played in **one** compiled program in which each agent's search appears once
    (``evaluate_agents`` compiles two matches per agent; on CPU the search graphs take several
    CPU-seconds each to compile, more than playing a few hundred tic-tac-toe games). An agent that
    *is* ``opponent`` shares the opponent's search call. ``params`` goes to the pool's agents,
    ``None`` to the opponent. ``batch`` (default: all at once) plays the games in rounds of
    ``batch`` per side and agent (keys ``fold_in(key, i)``; one compilation). Returns name →
    :class:`MatchResult` (from the agent's view)."""
    names, n = list(pool), n_per_side
    if n < 1:
        raise ValueError(f"evaluate_together: n_per_side must be >= 1, got {n}.")
    b = n if batch is None else max(1, min(batch, n))
    run, k = _together(game, tuple(pool.items()), opponent, b), len(names)
    chunks = [np.asarray(run(params, key if b == n else jax.random.fold_in(key, i))).reshape(2, k, b)
              for i in range(-(-n // b))]
    winners = np.concatenate(chunks, axis=2)[:, :, :n]  # (agent first / second, agent, game)
    out = {}
    for j, name in enumerate(names):
        f, s = (tuple(int(c) for c in ((w > 0).sum(), (w == 0).sum(), (w < 0).sum()))
                for w in (winners[0, j], -winners[1, j]))
        out[name] = MatchResult(f[0] + s[0], f[1] + s[1], f[2] + s[2], f, s)
    return out


@functools.lru_cache(maxsize=16)
def _together(game, pool: tuple, opponent, n: int):
    """``jit(params, key) -> winners`` of ``2·len(pool)·n`` games from the empty board: games
    ``[0, H)`` (``H = len(pool)·n``; block ``j`` of ``n`` = agent ``j``) have the agent as first
    player, games ``[H, 2H)`` (same blocks) as second. Before every ply the two halves are
    arranged so that the agents are to move in the first half (swapped after each ply), so one
    traced ply moves every game: each agent on its block, the opponent on the other half."""
    k, half = len(pool), len(pool) * n
    shared = [j for j, (_, a) in enumerate(pool) if a is opponent]
    rows = lambda s, lo, hi: jax.tree_util.tree_map(lambda x: x[lo:hi], s)
    cat = lambda parts: jax.tree_util.tree_map(lambda *x: jnp.concatenate(x), *parts)
    swap = lambda s: jax.tree_util.tree_map(lambda x: jnp.roll(x, half, axis=0), s)

    def ply(params, key, s):
        keys = jax.random.split(key, k + 1)
        mine, theirs = rows(s, 0, half), rows(s, half, 2 * half)
        opp = opponent(None, keys[-1], cat([rows(mine, j * n, (j + 1) * n) for j in shared] + [theirs]))
        acts = [opp[shared.index(j) * n:(shared.index(j) + 1) * n] if j in shared
                else agent(params, keys[j], rows(mine, j * n, (j + 1) * n)) for j, (_, agent) in enumerate(pool)]
        return jax.vmap(game.step)(s, jnp.concatenate(acts + [opp[len(shared) * n:]]))[0]

    def match(params, key):
        def body(s, kk):  # finished games are no-ops; a ply is skipped once every game is over
            return swap(jax.lax.cond(jnp.all(s.done), lambda: s, lambda: ply(params, kk, s))), None

        final, _ = jax.lax.scan(body, jax.vmap(lambda _: game.init())(jnp.arange(2 * half)),
                                jax.random.split(key, game.max_moves))
        return (swap(final) if game.max_moves % 2 else final).winner

    return jax.jit(match)
