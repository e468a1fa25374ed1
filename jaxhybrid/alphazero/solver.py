"""Perfect play for tic-tac-toe: negamax over every reachable position, memoised, on the host.

``V(s) = −1`` … ``+1`` is the game-theoretic value for the player to move (loss, draw, win):

    V(s) = max_a  [ r(s, a)  if s·a ends the game  else  −V(s·a) ],

evaluated recursively with a memo over the 5,478 positions reachable from the empty board
(von Neumann's minimax; tic-tac-toe is a draw under perfect play). The results are stored as
lookup tables indexed by the base-3 code of the board (``Σ_i c_i 3^i`` with ``c = 0`` empty,
1 first player, 2 second player), so a jitted agent plays perfectly by a gather:
:func:`perfect_agent` picks uniformly at random among the value-maximising moves.
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.alphazero.games import Game, GameState, tictactoe

__all__ = ["solve_tictactoe", "board_code", "perfect_agent"]

_POW3 = 3 ** np.arange(9)


def _lines():
    return tictactoe().lines


def _winner(board: tuple) -> int:
    for line in _lines():
        v = board[line[0]]
        if v != 0 and all(board[i] == v for i in line):
            return v
    return 0


@lru_cache(maxsize=None)
def _negamax(board: tuple, player: int) -> tuple[int, tuple]:
    """(value for `player` to move, per-action values with None for illegal) of a running game."""
    values = []
    for a in range(9):
        if board[a] != 0:
            values.append(None)
            continue
        nb = board[:a] + (player,) + board[a + 1 :]
        if _winner(nb) == player:
            values.append(1)
        elif all(c != 0 for c in nb):
            values.append(0)
        else:
            values.append(-_negamax(nb, -player)[0])
    return max(v for v in values if v is not None), tuple(values)


def board_code(board) -> jax.Array:
    """Base-3 code of flat tic-tac-toe boards ``(..., 9)`` with entries in {+1, −1, 0}."""
    b = jnp.asarray(board).astype(jnp.int32)
    return jnp.sum(jnp.where(b < 0, 2, b) * jnp.asarray(_POW3, jnp.int32), axis=-1)


@lru_cache(maxsize=1)
def solve_tictactoe() -> tuple[np.ndarray, np.ndarray, int]:
    """Tables over all 3^9 codes: ``value[code]`` for the mover (0 where unreachable/terminal),
    ``best[code, a]`` True for the optimal moves; plus the number of running positions solved."""
    value = np.zeros(3**9, np.int8)
    best = np.zeros((3**9, 9), bool)
    _negamax((0,) * 9, 1)
    n = 0
    for (board, player), (v, per_action) in _negamax_cache_items():
        code = int(sum((2 if c < 0 else c) * p for c, p in zip(board, _POW3)))
        value[code] = v
        best[code] = [pa is not None and pa == v for pa in per_action]
        n += 1
    return value, best, n


def _negamax_cache_items():
    # lru_cache does not expose its entries: re-walk the reachable running positions instead
    seen, stack, out = set(), [((0,) * 9, 1)], []
    while stack:
        board, player = stack.pop()
        if (board, player) in seen:
            continue
        seen.add((board, player))
        out.append(((board, player), _negamax(board, player)))
        for a in range(9):
            if board[a] == 0:
                nb = board[:a] + (player,) + board[a + 1 :]
                if _winner(nb) == 0 and any(c == 0 for c in nb):
                    stack.append((nb, -player))
    return out


@lru_cache(maxsize=None)
def perfect_agent(game: Game):
    """Agent ``(params, key, states) -> actions`` playing a uniformly random optimal move
    (``params`` is ignored)."""
    if game.name != "tictactoe":
        raise ValueError(f"perfect_agent: only tic-tac-toe is solved here, got {game.name!r}.")
    _, best, _ = solve_tictactoe()
    best = jnp.asarray(best)

    def agent(params, key: jax.Array, states: GameState) -> jax.Array:
        mask = best[board_code(states.board)]
        mask = jnp.where(jnp.any(mask, -1, keepdims=True), mask, jax.vmap(game.legal)(states) | states.done[:, None])
        return jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf)).astype(jnp.int32)

    return agent
