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
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.alphazero.games import Game, GameState, tictactoe

__all__ = ["solve_tictactoe", "board_code", "perfect_agent", "exact_vs_perfect"]

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


@lru_cache(maxsize=64)
def _jitted(agent, n: int):
    return jax.jit(agent)


def _winner_or_draw(board: tuple) -> Optional[int]:
    """+1/−1 winner, 0 for a full board without a line, ``None`` while the game runs."""
    w = _winner(board)
    if w != 0:
        return w
    return 0 if all(c != 0 for c in board) else None


def exact_vs_perfect(game: Game, agent, params=None, key: Optional[jax.Array] = None) -> dict:
    """Exact results of a *deterministic* ``agent`` against :func:`perfect_agent`, over every line.

    The perfect player draws uniformly among its optimal moves, so the games it can play against
    a deterministic agent form a finite tree; walking it breadth-first (merging transpositions,
    adding their probabilities) gives, for the agent as first and as second player, the exact
    probabilities ``P(win)``, ``P(draw)``, ``P(loss)`` of one game (``n · P(loss)`` is the expected
    number of losses in ``n`` games), the number of distinct positions the agent has to move in,
    and its *blunders*: positions where its move lowers the game-theoretic value of the position
    (a draw thrown away or a won position spoiled), each with its probability of being reached.
    ``P(loss) = 0`` means the agent can never lose to perfect play, whatever the tie-breaks.

    Determinism is checked: the agent is called with two different keys on every batch and
    a ``ValueError`` is raised if its moves differ (e.g. noisy search or sampling).
    """
    if game.name != "tictactoe":
        raise ValueError(f"exact_vs_perfect: only tic-tac-toe is solved here, got {game.name!r}.")
    _, best, _ = solve_tictactoe()
    key = jax.random.PRNGKey(0) if key is None else key
    out = {}
    for side, me in (("first", 1), ("second", -1)):
        frontier = {(0,) * 9: 1.0}
        result = {1: 0.0, 0: 0.0, -1: 0.0}
        blunders, faced = [], 0
        for ply in range(9):
            mover = 1 if ply % 2 == 0 else -1
            boards = list(frontier)
            if not boards:
                break
            nxt: dict = {}
            if mover == me:
                faced += len(boards)
                actions = _agent_moves(game, agent, params, boards, mover, jax.random.fold_in(key, ply))
                moves = [(b, [(int(a), 1.0)]) for b, a in zip(boards, actions)]
            else:
                moves = []
                for b in boards:
                    opt = np.flatnonzero(best[_code(b)])
                    moves.append((b, [(int(a), 1.0 / len(opt)) for a in opt]))
            for b, choices in moves:
                p = frontier[b]
                if mover == me:
                    v, per_action = _negamax(b, mover)
                    a = choices[0][0]
                    if per_action[a] is None:
                        raise ValueError(f"exact_vs_perfect: the agent played the illegal move {a} in {b}.")
                    if per_action[a] < v:
                        blunders.append({"board": b, "move": a, "value_before": v, "value_after": per_action[a],
                                         "reach_prob": p})
                for a, q in choices:
                    nb = b[:a] + (mover,) + b[a + 1:]
                    end = _winner_or_draw(nb)
                    if end is None:
                        nxt[nb] = nxt.get(nb, 0.0) + p * q
                    else:
                        result[end * me] += p * q
            frontier = nxt
        out[side] = {"p_win": result[1], "p_draw": result[0], "p_loss": result[-1], "positions": faced,
                     "blunders": sorted(blunders, key=lambda d: -d["reach_prob"])}
    return out


def _code(board: tuple) -> int:
    return int(sum((2 if c < 0 else c) * p for c, p in zip(board, _POW3)))


def _agent_moves(game: Game, agent, params, boards: list, mover: int, key: jax.Array, chunk: int = 64) -> np.ndarray:
    """The agent's moves on ``boards`` (``mover`` to play), in padded chunks of ``chunk`` (one compilation)."""
    run = _jitted(agent, chunk)
    out = []
    for i in range(0, len(boards), chunk):
        part = boards[i:i + chunk]
        b = np.asarray(part + [part[0]] * (chunk - len(part)), np.int8)
        states = GameState(board=jnp.asarray(b), player=jnp.full(chunk, mover, jnp.int32), done=jnp.zeros(chunk, bool),
                           winner=jnp.zeros(chunk, jnp.int32), moves=jnp.asarray((b != 0).sum(1), jnp.int32))
        k1, k2 = jax.random.split(jax.random.fold_in(key, i))
        a1, a2 = np.asarray(run(params, k1, states))[:len(part)], np.asarray(run(params, k2, states))[:len(part)]
        if not np.array_equal(a1, a2):
            raise ValueError("exact_vs_perfect: the agent is not deterministic (its moves depend on the key); "
                             "evaluate a noise-free agent, e.g. search with gumbel_scale=0, or use evaluate().")
        out.append(a1)
    return np.concatenate(out)
