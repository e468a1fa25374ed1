"""Game rules against brute-force Python references."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.alphazero.games import GameState, connect4, tictactoe, winning_lines


def py_has_line(board, rows, cols, k, p):
    """Scan every cell and each of the 4 directions (no precomputed lines)."""
    b = np.asarray(board).reshape(rows, cols)
    for r in range(rows):
        for c in range(cols):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + i * dr, c + i * dc) for i in range(k)]
                if all(0 <= rr < rows and 0 <= cc < cols and b[rr, cc] == p for rr, cc in cells):
                    return True
    return False


def py_step(game, board, player, action):
    """Reference rules: returns (board, done, winner, reward) for a running game."""
    board = list(board)
    if game.gravity:
        if not (0 <= action < game.cols):
            return board, True, -player, -1.0
        empties = [r for r in range(game.rows) if board[r * game.cols + action] == 0]
        if not empties:
            return board, True, -player, -1.0
        cell = max(empties) * game.cols + action
    else:
        if not (0 <= action < 9) or board[action] != 0:
            return board, True, -player, -1.0
        cell = action
    board[cell] = player
    if py_has_line(board, game.rows, game.cols, game.k, player):
        return board, True, player, 1.0
    if all(v != 0 for v in board):
        return board, True, 0, 0.0
    return board, False, 0, 0.0


def test_line_counts_and_directions():
    assert len(winning_lines(3, 3, 3)) == 8
    lines = winning_lines(6, 7, 4)
    assert len(lines) == 69  # 24 horizontal + 21 vertical + 2 × 12 diagonal
    # every line is k distinct cells with a constant step in one of the 4 directions
    steps = {(1,): "h", (7,): "v", (8,): "d", (6,): "a"}
    kinds = {}
    for line in lines:
        d = tuple(sorted(set(np.diff(line))))
        kinds[steps[d]] = kinds.get(steps[d], 0) + 1
    assert kinds == {"h": 24, "v": 21, "d": 12, "a": 12}


@pytest.mark.parametrize("make", [tictactoe, connect4])
def test_has_line_matches_brute_force_on_random_boards(make):
    game = make()
    rng = np.random.default_rng(0)
    boards = rng.choice([-1, 0, 1], size=(400, game.num_cells), p=[0.35, 0.3, 0.35]).astype(np.int8)
    f = jax.jit(jax.vmap(game.has_line, in_axes=(0, None)))
    for p in (1, -1):
        ours = np.asarray(f(jnp.asarray(boards), jnp.asarray(p)))
        ref = np.asarray([py_has_line(b, game.rows, game.cols, game.k, p) for b in boards])
        np.testing.assert_array_equal(ours, ref)
        assert 0.1 < ref.mean() < 0.99  # both outcomes are exercised


def test_connect4_wins_in_every_direction():
    game = connect4()
    step = jax.jit(game.step)

    def play(moves):
        s = game.init()
        for a in moves:
            s, r = step(s, a)
        return s, r

    cases = {
        "horizontal": [0, 0, 1, 1, 2, 2, 3],
        "vertical": [0, 1, 0, 1, 0, 1, 0],
        "diagonal ↗": [0, 1, 1, 2, 3, 2, 2, 3, 3, 6, 3],
        "diagonal ↖": [6, 5, 5, 4, 3, 4, 4, 3, 3, 0, 3],
    }
    for name, moves in cases.items():
        s, r = play(moves[:-1])
        assert not bool(s.done), name
        s, r = play(moves)
        assert bool(s.done) and int(s.winner) == 1 and float(r) == 1.0, name
    # second player wins vertically: reward +1 for the mover (−1 in absolute terms)
    s, r = play([0, 1, 2, 1, 2, 1, 3, 1])
    assert bool(s.done) and int(s.winner) == -1 and float(r) == 1.0


@pytest.mark.parametrize("make", [tictactoe, connect4])
def test_random_games_match_reference_rules(make):
    game = make()
    step, legal = jax.jit(game.step), jax.jit(game.legal)
    rng = np.random.default_rng(1)
    outcomes = set()
    for g in range(40 if game.gravity else 60):
        s = game.init()
        board, player, done, winner = [0] * game.num_cells, 1, False, 0
        while not done:
            mask = np.asarray(legal(s))
            ref_mask = ([board[c] == 0 for c in range(game.cols)] if game.gravity else [v == 0 for v in board])
            np.testing.assert_array_equal(mask, ref_mask)
            # now and then an illegal or out-of-range action: the mover loses
            if g % 10 == 9 and s.moves > 2 and rng.random() < 0.3:
                a = int(rng.choice(np.flatnonzero(~mask))) if (~mask).any() else game.num_actions
            else:
                a = int(rng.choice(np.flatnonzero(mask)))
            board, done, winner, reward = py_step(game, board, player, a)
            s, r = step(s, a)
            np.testing.assert_array_equal(np.asarray(s.board), board)
            assert bool(s.done) == done and int(s.winner) == winner and float(r) == reward
            player = -player
            assert int(s.player) == player or done
        outcomes.add(winner)
        # terminal handling: no legal moves, stepping is a no-op with reward 0
        assert not np.asarray(legal(s)).any()
        s2, r2 = step(s, 0)
        assert float(r2) == 0.0
        for a, b in zip(s, s2):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert {1, -1} <= outcomes


def test_tictactoe_draw_and_illegal_move():
    game = tictactoe()
    s = game.init()
    for a in [0, 1, 2, 4, 3, 5, 7, 6, 8]:  # X O X / X O O / O X X: full board, no line
        assert not bool(s.done)
        s, r = game.step(s, a)
        assert float(r) == 0.0
    assert bool(s.done) and int(s.winner) == 0 and int(s.moves) == 9
    s, _ = game.step(game.init(), 4)
    s2, r = game.step(s, 4)  # occupied cell
    assert bool(s2.done) and float(r) == -1.0 and int(s2.winner) == 1
    np.testing.assert_array_equal(np.asarray(s2.board), np.asarray(s.board))


def test_connect4_full_column_is_illegal_and_drop_fills_bottom_up():
    game = connect4()
    s = game.init()
    for i in range(6):
        s, _ = game.step(s, 3)
        assert int(np.asarray(s.board).reshape(6, 7)[5 - i, 3]) == (1 if i % 2 == 0 else -1)
    assert not bool(np.asarray(game.legal(s))[3]) and np.asarray(game.legal(s)).sum() == 6
    s2, r = game.step(s, 3)
    assert bool(s2.done) and float(r) == -1.0


def test_observation_is_from_the_movers_view_and_vmaps():
    game = connect4()
    s, _ = game.step(game.init(), 2)
    obs = game.observe(s)  # second player to move: the first player's stone is the opponent's
    assert obs.shape == (6, 7, 2) and float(obs[5, 2, 1]) == 1.0 and float(obs[..., 0].sum()) == 0.0
    batch = jax.vmap(lambda _: game.init())(jnp.arange(5))
    new, r = jax.vmap(game.step)(batch, jnp.arange(5))
    assert new.board.shape == (5, 42) and np.all(np.asarray(new.player) == -1)
    assert isinstance(new, GameState) and r.shape == (5,)


@pytest.mark.parametrize("make,count", [(tictactoe, 8), (connect4, 2)])
def test_symmetries_map_lines_to_lines_and_commute_with_step(make, count):
    game = make()
    cells, actions = game.symmetries()
    assert cells.shape == (count, game.num_cells) and actions.shape == (count, game.num_actions)
    np.testing.assert_array_equal(cells[0], np.arange(game.num_cells))
    assert len({tuple(c) for c in cells}) == count  # distinct permutations
    lines = {frozenset(l.tolist()) for l in game.lines}
    inv = np.argsort(cells, axis=1)
    for k in range(count):
        assert sorted(cells[k]) == list(range(game.num_cells))
        assert {frozenset(inv[k][l].tolist()) for l in game.lines} == lines  # image of a line is a line
    # step commutes with the symmetry: s ↦ s[cells], a ↦ position of a in actions
    step = jax.jit(game.step)
    rng = np.random.default_rng(3)
    for _ in range(10):
        s = game.init()
        while not bool(s.done):
            a = int(rng.choice(np.flatnonzero(np.asarray(game.legal(s)))))
            for k in range(count):
                ts = s._replace(board=s.board[cells[k]])
                ta = int(np.flatnonzero(actions[k] == a)[0])
                t2, r2 = step(ts, ta)
                s2, r = step(s, a)
                np.testing.assert_array_equal(np.asarray(t2.board), np.asarray(s2.board)[cells[k]])
                assert float(r2) == float(r) and bool(t2.done) == bool(s2.done) and int(t2.winner) == int(s2.winner)
            s, _ = step(s, a)
