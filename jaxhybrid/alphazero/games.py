"""Two-player "k in a row" board games as pure JAX environments: tic-tac-toe and Connect Four.

Both are *line games*: two players alternately put a stone on an ``R × C`` grid; a player who
owns every cell of one of the game's winning lines (``k`` consecutive cells horizontally,
vertically or along either diagonal) wins; a full board without a line is a draw. They differ
in what an action is:

* tic-tac-toe (3 × 3, k = 3): action ``a ∈ {0..8}`` is a cell, legal when empty;
* Connect Four (6 × 7, k = 4): action ``a ∈ {0..6}`` is a column, legal when its top cell is
  empty; the stone drops to the lowest empty cell of that column (row 0 is the top row).

State (:class:`GameState`) is an absolute board with ``+1`` for the first player's stones and
``-1`` for the second's, ``player`` (``+1``/``-1``) to move, ``done`` and ``winner``
(``+1``, ``-1`` or 0 for a draw / running game). Conventions, shared with the search:

* ``step(state, a) -> (state', reward)``: ``reward`` is the outcome *from the mover's view*
  (+1 the move won, 0 otherwise). An illegal move ends the game as a loss for the mover
  (reward −1), so a search that ever tried one inside its tree would see it as the worst move.
  Stepping a finished game is a no-op with reward 0.
* ``observe(state)``: ``(R, C, 2)`` float planes from the mover's view (own stones, opponent's
  stones), so one network serves both players.

All functions act on one game; batch with ``jax.vmap``. Winning lines are enumerated once, on
the host, as an index array ``lines[n_lines, k]`` into the flattened board (8 lines in
tic-tac-toe, 69 in Connect Four: 24 horizontal, 21 vertical, 12 + 12 diagonal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["GameState", "Game", "tictactoe", "connect4", "winning_lines"]


class GameState(NamedTuple):
    """``board``: ``(R·C,)`` int8 in {+1, −1, 0}; ``player``: int32 ±1 to move; ``done``: bool;
    ``winner``: int32 in {+1, −1, 0}; ``moves``: int32 stones placed."""

    board: jax.Array
    player: jax.Array
    done: jax.Array
    winner: jax.Array
    moves: jax.Array


def winning_lines(rows: int, cols: int, k: int) -> np.ndarray:
    """All runs of ``k`` cells in the 4 directions (→, ↓, ↘, ↙) as flat indices ``(n, k)``."""
    if min(rows, cols) < 1 or k < 1 or k > max(rows, cols):
        raise ValueError(f"winning_lines: need a grid of at least one cell and 1 ≤ k ≤ max(rows, cols); got {rows}×{cols}, k={k}.")
    out = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        for r in range(rows):
            for c in range(cols):
                rr, cc = r + dr * (k - 1), c + dc * (k - 1)
                if 0 <= rr < rows and 0 <= cc < cols:
                    out.append([(r + dr * i) * cols + (c + dc * i) for i in range(k)])
    return np.asarray(out, np.int32)


@dataclass(frozen=True, eq=False)
class Game:
    """A line game. ``gravity=False``: actions are cells; ``True``: actions are columns."""

    name: str
    rows: int
    cols: int
    k: int
    gravity: bool
    lines: np.ndarray = field(repr=False, default=None)

    def __post_init__(self):
        object.__setattr__(self, "lines", winning_lines(self.rows, self.cols, self.k))

    @property
    def num_cells(self) -> int:
        return self.rows * self.cols

    @property
    def num_actions(self) -> int:
        return self.cols if self.gravity else self.num_cells

    @property
    def max_moves(self) -> int:
        return self.num_cells

    @property
    def obs_shape(self) -> tuple[int, int, int]:
        return (self.rows, self.cols, 2)

    # -- rules -------------------------------------------------------------------------------

    def init(self) -> GameState:
        """The empty board, first player (+1) to move."""
        return GameState(
            board=jnp.zeros(self.num_cells, jnp.int8),
            player=jnp.asarray(1, jnp.int32),
            done=jnp.asarray(False),
            winner=jnp.asarray(0, jnp.int32),
            moves=jnp.asarray(0, jnp.int32),
        )

    def legal(self, state: GameState) -> jax.Array:
        """Boolean mask ``(num_actions,)`` of legal actions (all False once the game is over)."""
        empty = state.board == 0
        mask = empty[: self.cols] if self.gravity else empty
        return mask & ~state.done

    def _cell(self, board: jax.Array, action: jax.Array) -> jax.Array:
        if not self.gravity:
            return action
        column = board.reshape(self.rows, self.cols)[:, action] == 0
        # lowest empty row: the last True of `column` (row 0 is the top); 0 if the column is full
        row = self.rows - 1 - jnp.argmax(column[::-1])
        return row * self.cols + action

    def has_line(self, board: jax.Array, player: jax.Array) -> jax.Array:
        """Whether ``player`` owns every cell of some winning line."""
        return jnp.any(jnp.all(board[self.lines] == player.astype(board.dtype), axis=1))

    def step(self, state: GameState, action: jax.Array) -> tuple[GameState, jax.Array]:
        """Play ``action`` for ``state.player``; returns ``(state', reward from the mover's view)``."""
        action = jnp.asarray(action, jnp.int32)
        in_range = (action >= 0) & (action < self.num_actions)
        a = jnp.clip(action, 0, self.num_actions - 1)
        legal = in_range & self.legal(state)[a]
        active = ~state.done
        cell = self._cell(state.board, a)
        placed = state.board.at[cell].set(state.player.astype(jnp.int8))
        board = jnp.where(active & legal, placed, state.board)
        win = legal & self.has_line(board, state.player)
        full = jnp.all(board != 0)
        illegal = active & ~legal
        done = state.done | illegal | win | full
        winner = jnp.where(active & win, state.player, jnp.where(illegal, -state.player, state.winner))
        reward = jnp.where(active, jnp.where(illegal, -1.0, jnp.where(win, 1.0, 0.0)), 0.0)
        new = GameState(
            board=board,
            player=jnp.where(active, -state.player, state.player),
            done=done,
            winner=winner.astype(jnp.int32),
            moves=state.moves + (active & legal).astype(jnp.int32),
        )
        return new, reward.astype(jnp.float32)

    def observe(self, state: GameState) -> jax.Array:
        """``(R, C, 2)`` float32 planes: the mover's stones, the opponent's stones."""
        b = state.board.reshape(self.rows, self.cols).astype(jnp.int32)
        return jnp.stack([b == state.player, b == -state.player], -1).astype(jnp.float32)

    def outcome(self, state: GameState) -> jax.Array:
        """Final result from the view of the player to move in ``state`` (±1, 0): ``winner·player``."""
        return (state.winner * state.player).astype(jnp.float32)

    def symmetries(self) -> tuple[np.ndarray, np.ndarray]:
        """The board symmetries that preserve the rules, as gathers ``(cells (S, R·C), actions (S, A))``.

        Symmetry ``k`` maps a board ``b`` to ``b[cells[k]]`` and a policy ``π`` over actions to
        ``π[actions[k]]``; the identity comes first. The set of winning lines is invariant under
        each, so values are too and optimal moves map to optimal moves. Without gravity on a
        square board: the 8 elements of the dihedral group D4 (rotations and reflections); with
        gravity (Connect Four) only the left-right mirror keeps "drop to the bottom"; otherwise
        the 4 symmetries of a rectangle.
        """
        idx = np.arange(self.num_cells).reshape(self.rows, self.cols)
        if self.gravity:
            maps = [idx, idx[:, ::-1]]
        elif self.rows == self.cols:
            maps = [np.rot90(idx, r) for r in range(4)] + [np.rot90(idx, r)[:, ::-1] for r in range(4)]
        else:
            maps = [idx, idx[:, ::-1], idx[::-1, :], idx[::-1, ::-1]]
        cells = np.stack([m.reshape(-1) for m in maps]).astype(np.int32)
        actions = cells[:, : self.cols] % self.cols if self.gravity else cells
        return cells, np.ascontiguousarray(actions)

    def render(self, state: GameState) -> str:
        b = np.asarray(state.board).reshape(self.rows, self.cols)
        return "\n".join("".join(".XO"[v] for v in row) for row in b)


def tictactoe() -> Game:
    """Tic-tac-toe: 3 × 3, three in a row, actions are cells 0..8 (row-major)."""
    return Game("tictactoe", 3, 3, 3, gravity=False)


def connect4() -> Game:
    """Connect Four: 6 rows × 7 columns, four in a row, actions are columns 0..6."""
    return Game("connect4", 6, 7, 4, gravity=True)
