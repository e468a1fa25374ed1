"""Search, value targets, the perfect solver, the replay buffer and checkpoint resume."""

import functools
import shutil
from dataclasses import replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.alphazero import (AZConfig, alphazero_policy, evaluate, evaluate_together, exact_vs_perfect, make_network, mcts_policy, perfect_agent,
                                 raw_policy, rollout_value, solve_tictactoe, tictactoe, connect4,
                                 train_alphazero, value_targets)
from jaxhybrid.alphazero.replay import replay_add, replay_init
from jaxhybrid.alphazero.selfplay import Samples
from jaxhybrid.alphazero.solver import board_code
from jaxhybrid.alphazero.training import symmetric_batch

TTT = tictactoe()
C4 = connect4()


# On CPU the cost of these tests is XLA compilation, not play. The search tests share one compiled
# program per game (module-level jit, one network per game, one batch size and simulation count),
# compiled without LLVM's optimisation passes (about half the compile time; same semantics).
_FAST_COMPILE = {"xla_backend_optimization_level": 0}
BATCH, SIMS_AZ, SIMS_MC = 32, 32, 64
# the training tests share one small configuration: the same self-play and training-step programs
# (with a persistent compilation cache, as `make test` has, they are compiled once)
SMALL = AZConfig(games_per_round=8, sims_train=4, train_steps=5, batch_size=16, buffer_size=200, channels=8, blocks=0)


@functools.partial(jax.jit, static_argnums=(0, 1, 3), compiler_options=_FAST_COMPILE)
def random_states(game, n, key, max_plies):
    """Running positions reached by random legal play (a game stops before a finishing move)."""
    s = jax.vmap(lambda _: game.init())(jnp.arange(n))
    plies = jax.random.randint(key, (n,), 0, max_plies)

    def ply(t, s):
        k = jax.random.fold_in(key, t)
        legal = jax.vmap(game.legal)(s)
        a = jax.random.categorical(k, jnp.where(legal, 0.0, -jnp.inf))
        nxt, _ = jax.vmap(game.step)(s, a)
        keep = (t < plies) & ~nxt.done
        return jax.tree_util.tree_map(lambda x, y: jnp.where(keep.reshape((-1,) + (1,) * (x.ndim - 1)), x, y), nxt, s)

    return jax.lax.fori_loop(0, max_plies, ply, s)


@functools.partial(jax.jit, static_argnums=(0,), compiler_options=_FAST_COMPILE)
def searches(game, model, key, states, gumbel_scale):
    """Network-guided Gumbel search, pure MCTS and the raw policy on one batch of states."""
    k_az, k_mc = jax.random.split(key)
    az = alphazero_policy(game, model, k_az, states, SIMS_AZ, gumbel_scale=gumbel_scale)
    mc = mcts_policy(game, k_mc, states, SIMS_MC)
    return az, mc, raw_policy(game, model, states)


@pytest.fixture(scope="module")
def nets():
    """One small untrained network per game, shared (a new network object would recompile the searches)."""
    return {g.name: make_network(g, jax.random.PRNGKey(1), channels=8, blocks=1) for g in (TTT, C4)}


@pytest.mark.parametrize("game", [TTT, C4], ids=["tictactoe", "connect4"])
def test_search_respects_the_legal_mask(game, nets):
    states = random_states(game, BATCH, jax.random.PRNGKey(0), game.max_moves)
    legal = np.asarray(jax.vmap(game.legal)(states))
    assert (legal.sum(1) < game.num_actions).mean() > 0.3  # many positions have illegal moves
    az, mc, raw = searches(game, nets[game.name], jax.random.PRNGKey(2), states, 1.0)  # Gumbel-sampled moves
    for action, weights in ((az.action, az.action_weights), (mc.action, mc.action_weights), (raw, None)):
        a = np.asarray(action)
        assert legal[np.arange(BATCH), a].all()
        if weights is not None:
            w = np.asarray(weights)
            assert np.all(w[~legal] == 0.0) and np.allclose(w.sum(1), 1.0, atol=1e-5)
    # inside the tree: every expanded child of every visited, running node is a legal move there
    tree = az.search_tree
    children = np.asarray(tree.children_index)  # (B, nodes, A), -1 where unexpanded
    boards = np.asarray(tree.embeddings.board)  # (B, nodes, cells)
    done = np.asarray(tree.embeddings.done)
    node_legal = (boards[..., : game.cols] if game.gravity else boards) == 0
    running = (np.asarray(tree.node_visits) > 0) & ~done
    assert running.sum() > BATCH  # the trees did grow
    assert not ((children >= 0) & ~node_legal & running[..., None]).any()


def test_search_finds_the_immediate_win(nets):
    # X to move on X X . / O O . / . . . : playing 2 wins at once.
    # O to move on X X . / O O . / . . X : playing 5 wins at once (better than blocking X at 2).
    # Each in 16 copies (MCTS: 16 independent roll-out searches), with the untrained network.
    g = TTT

    def position(moves):
        s = g.init()
        for a in moves:
            s, _ = g.step(s, a)
        return s

    half = BATCH // 2
    x_wins, o_wins = position((0, 3, 1, 4)), position((0, 3, 1, 4, 8))
    batch = jax.tree_util.tree_map(lambda x, o: jnp.stack([x] * half + [o] * half), x_wins, o_wins)
    az, mc, _ = searches(g, nets[g.name], jax.random.PRNGKey(1), batch, 0.0)  # no Gumbel noise: the best move
    want = [2] * half + [5] * half
    assert np.asarray(az.action).tolist() == want
    assert np.asarray(mc.action).tolist() == want


def test_rollout_value_sign_and_mean():
    # X has won: value for O (to move) is −1; from an X-to-move position one move from winning
    # in two ways the random roll-out value is positive on average
    g = TTT
    won = g.init()
    for a in (0, 3, 1, 4, 2):
        won, _ = g.step(won, a)
    s = g.init()
    for a in (0, 3, 4):  # X: 0, 4; O: 3 → O to move, X threatens 8 (and more)
        s, _ = g.step(s, a)
    # one compiled call: the finished game once, then 400 roll-outs from s
    states = jax.tree_util.tree_map(lambda w, x: jnp.stack([w] + [x] * 400), won, s)
    keys = jax.random.split(jax.random.PRNGKey(1), 401)
    vals = jax.jit(jax.vmap(lambda st, k: rollout_value(g, st, k)), compiler_options=_FAST_COMPILE)(states, keys)
    assert bool(won.done) and float(vals[0]) == -1.0
    assert float(jnp.mean(vals[1:])) < -0.2  # bad for O, the player to move


def test_value_targets_carry_the_sign_of_the_player_to_move():
    from jaxhybrid.alphazero.training import _player  # jit(self_play), the training loop's

    players = jnp.asarray([[1, 1], [-1, -1], [1, 1]])
    np.testing.assert_array_equal(value_targets(jnp.asarray([1, -1]), players), [[1, -1], [-1, 1], [1, -1]])
    # in real self-play: a position's target is +1 iff its player to move went on to win
    g = TTT
    n_games = SMALL.games_per_round
    model = make_network(g, jax.random.PRNGKey(0), SMALL.channels, SMALL.blocks)
    smp = _player(g, n_games, SMALL.sims_train, 0)(model, jax.random.PRNGKey(3))
    obs, z, valid = np.asarray(smp.obs), np.asarray(smp.value), np.asarray(smp.valid)
    z = z.reshape(g.max_moves, n_games)
    valid = valid.reshape(g.max_moves, n_games)
    obs = obs.reshape(g.max_moves, n_games, 3, 3, 2)
    decisive = 0
    for j in range(n_games):
        t_last = np.flatnonzero(valid[:, j])[-1]
        won = z[t_last, j] == 1.0
        for t in np.flatnonzero(valid[:, j]):
            assert z[t, j] == z[t_last, j] * (1 if (t_last - t) % 2 == 0 else -1)
        decisive += won
        # the game ends with a win of the last mover or a draw on a full board
        assert z[t_last, j] == 1.0 or (z[t_last, j] == 0.0 and t_last == g.max_moves - 1)
    assert decisive > 0
    assert np.allclose(np.asarray(smp.policy)[np.asarray(smp.valid)].sum(-1), 1.0, atol=1e-5)


def test_solver_values_and_perfect_play_draws():
    value, best, n = solve_tictactoe()
    assert n == 4520  # running positions reachable from the empty board
    assert value[0] == 0 and best[0].all()  # a draw; every first move keeps the draw
    # X in a corner: O must take the centre (the only non-losing reply)
    code = int(board_code(jnp.asarray([1, 0, 0, 0, 0, 0, 0, 0, 0])))
    assert value[code] == 0 and np.flatnonzero(best[code]).tolist() == [4]
    # X X . / O O . / . . .  with X to move: winning, and only cell 2 wins at once
    code = int(board_code(jnp.asarray([1, 1, 0, -1, -1, 0, 0, 0, 0])))
    assert value[code] == 1 and np.flatnonzero(best[code]).tolist() == [2]
    perfect = perfect_agent(TTT)
    r = evaluate(TTT, perfect, perfect, jax.random.PRNGKey(0), 50)  # compiled match shared with evaluate_agents' test
    assert r.draws == 100
    rand = lambda _, k, s: jax.random.categorical(k, jnp.where(jax.vmap(TTT.legal)(s), 0.0, -jnp.inf))
    r = evaluate_together(TTT, {"perfect": perfect}, rand, jax.random.PRNGKey(1), 50)["perfect"]  # both sides, one program
    assert r.games == 100 and r.losses == 0 and r.wins > 60


def test_replay_buffer_is_a_fifo_ring():
    buf = replay_init(5, (1,), 2)
    mk = lambda vals, valid: Samples(jnp.asarray(vals, jnp.float32)[:, None], jnp.zeros((len(vals), 2)),
                                     jnp.asarray(vals, jnp.float32), jnp.asarray(valid))
    buf = replay_add(buf, mk([1, 2, 3, 4], [1, 0, 1, 1]))
    assert int(buf.size) == 3 and buf.value[:3].tolist() == [1, 3, 4]
    buf = replay_add(buf, mk([5, 6, 7], [1, 1, 1]))
    assert int(buf.size) == 5 and sorted(buf.value.tolist()) == [3, 4, 5, 6, 7] and int(buf.ptr) == 1


def test_resume_from_checkpoint_continues_identically(tmp_path):
    # one uninterrupted run of 2 rounds writes a checkpoint after each round; a copy of the one of
    # round 1 is resumed to round 2 and must end where the uninterrupted run ended
    cfg = SMALL
    key = jax.random.PRNGKey(4)
    full_dir, part_dir = tmp_path / "full", tmp_path / "part"

    def keep_round_1(r, s, rec):
        if r == 1:
            assert (full_dir / "ckpt.eqx").exists()
            shutil.copytree(full_dir, part_dir)

    full, hist_full = train_alphazero(TTT, cfg, key, 2, checkpoint_dir=full_dir, callback=keep_round_1)
    assert full.round == 2 and len(hist_full) == 2 and part_dir.exists()
    played = []
    resumed, hist = train_alphazero(TTT, cfg, key, 2, checkpoint_dir=part_dir, callback=lambda r, s, rec: played.append(r))
    assert played == [2] and resumed.round == 2 and len(hist) == 2  # only round 2 was played again
    assert hist[0] == hist_full[0]  # round 1's record came from the checkpoint
    for a, b in zip(jax.tree_util.tree_leaves((full.model, full.opt_state)), jax.tree_util.tree_leaves((resumed.model, resumed.opt_state))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(full.replay.obs, resumed.replay.obs)
    assert hist[-1]["loss"] == hist_full[-1]["loss"]
    # and the network did change over the rounds
    fresh, _ = train_alphazero(TTT, cfg, key, 0)
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(fresh.model), jax.tree_util.tree_leaves(full.model)))
    with pytest.raises(ValueError, match="written by another run .*config"):
        train_alphazero(TTT, replace(cfg, games_per_round=4), key, 2, checkpoint_dir=part_dir)


def test_train_steps_draws_uniformly_from_the_filled_buffer_and_carries_the_optimiser_state():
    from jaxhybrid.alphazero.training import _draw, train_steps

    cap, size = 50, 20
    obs = np.zeros((cap, 3, 3, 2), np.float32)
    obs[:, 0, 0, 0] = np.arange(cap)  # the slot index, to see which slots were drawn
    pi = np.full((cap, 9), 1 / 9, np.float32)
    z = np.where(np.arange(cap) < size, 1.0, 0.0).astype(np.float32)
    data = tuple(jnp.asarray(x) for x in (obs, pi, z))
    drawn = _draw(data, jnp.asarray(size, jnp.int32), jax.random.PRNGKey(0), None, 40, 16)
    slots = np.asarray(drawn[0][:, 0, 0, 0]).astype(int)
    assert slots.shape == (640,) and slots.max() < size  # only filled slots
    counts = np.bincount(slots, minlength=size)
    assert counts.min() > 0 and abs(counts.mean() - 32) < 1e-9 and counts.std() < 3 * np.sqrt(32)  # ~ uniform
    cfg, n = SMALL, SMALL.train_steps  # the training loop's step program (module comment above)
    model = make_network(TTT, jax.random.PRNGKey(1), cfg.channels, cfg.blocks)
    opt = cfg.optimizer()
    st0 = opt.init(eqx.filter(model, eqx.is_inexact_array))
    m1, st1, (loss, ce, mse) = train_steps(model, st0, opt, data, jnp.asarray(size, jnp.int32), jax.random.PRNGKey(2), n, cfg.batch_size)
    assert np.isfinite(loss) and abs(loss - (ce + mse)) < 1e-5
    count = lambda st: [int(x) for x in jax.tree_util.tree_leaves(st) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.integer)]
    assert count(st1) == [n] * len(count(st1)) and count(st1)  # Adam's step count advanced by n
    _, st2, _ = train_steps(m1, st1, opt, data, jnp.asarray(size, jnp.int32), jax.random.PRNGKey(3), n, cfg.batch_size)
    assert count(st2) == [2 * n] * len(count(st2))  # ... and continues from the previous round's


def test_a_non_finite_loss_stops_the_loop_naming_the_round():
    from jaxhybrid.rollout import DivergenceError

    cfg = replace(SMALL, lr=1e30)
    with pytest.raises(DivergenceError) as e:
        train_alphazero(TTT, cfg, jax.random.PRNGKey(0), 3)
    assert "round" in str(e.value) and e.value.step >= 1 and e.value.state.round == e.value.step - 1


def test_solver_is_invariant_under_the_board_symmetries():
    value, best, _ = solve_tictactoe()
    cells, actions = TTT.symmetries()
    codes = np.flatnonzero(best.any(1))  # running reachable positions
    boards = np.stack([(c // 3 ** np.arange(9)) % 3 for c in codes])
    boards = np.where(boards == 2, -1, boards)
    for k in range(8):
        t = np.asarray(board_code(jnp.asarray(boards[:, cells[k]])))
        np.testing.assert_array_equal(value[t], value[codes])
        np.testing.assert_array_equal(best[t], best[codes][:, actions[k]])


def test_symmetric_batch_permutes_board_and_policy_alike():
    g = TTT
    s = g.init()
    for a in (0, 4, 5):
        s, _ = g.step(s, a)
    cells, actions = g.symmetries()
    obs = jnp.stack([g.observe(s)] * 8)
    pi = jnp.stack([jax.nn.one_hot(1, 9)] * 8)  # the move at cell 1
    o, p, z = symmetric_batch((obs, pi, jnp.arange(8.0)), (jnp.asarray(cells), jnp.asarray(actions)), jnp.arange(8))
    np.testing.assert_array_equal(np.asarray(z), np.arange(8.0))
    for k in range(8):
        t = s._replace(board=s.board[cells[k]])
        np.testing.assert_array_equal(np.asarray(o[k]), np.asarray(g.observe(t)))
        assert int(np.asarray(t.board)[np.argmax(np.asarray(p[k]))]) == 0  # the move maps to an empty cell
        assert int(cells[k][np.argmax(np.asarray(p[k]))]) == 1  # ... namely the image of cell 1


def _centre_blind(_, k, s):
    """Deterministic: the first optimal move when the centre is taken, else the first empty cell."""
    _, best, _ = solve_tictactoe()
    opt = jnp.argmax(jnp.asarray(best)[board_code(s.board)], -1)
    first = jnp.argmax(jax.vmap(TTT.legal)(s), axis=-1)
    return jnp.where(s.board[:, 4] != 0, opt, first).astype(jnp.int32)


def _centre_blind_py(board):
    _, best, _ = solve_tictactoe()
    code = sum((2 if c < 0 else c) * 3**i for i, c in enumerate(board))
    return int(np.argmax(best[code])) if board[4] != 0 else board.index(0)


def _ref_probs(board, mover, me, move):
    """Brute force, tree recursion without merging: (P(win), P(draw), P(loss)) of agent ``me``
    from ``board``, the perfect player uniform over its optimal moves."""
    from jaxhybrid.alphazero.solver import _negamax, _winner_or_draw
    end = _winner_or_draw(board)
    if end is not None:
        return np.asarray([end == me, end == 0, end == -me], float)
    if mover == me:
        a = move(board)
        return _ref_probs(board[:a] + (mover,) + board[a + 1:], -mover, me, move)
    v, per = _negamax(board, mover)
    opt = [a for a in range(9) if per[a] is not None and per[a] == v]
    return sum(_ref_probs(board[:a] + (mover,) + board[a + 1:], -mover, me, move) for a in opt) / len(opt)


def test_exact_evaluation_against_brute_force_and_sampled_games():
    r = exact_vs_perfect(TTT, _centre_blind)
    for side, me in (("first", 1), ("second", -1)):
        ref = _ref_probs((0,) * 9, 1, me, _centre_blind_py)
        np.testing.assert_allclose([r[side]["p_win"], r[side]["p_draw"], r[side]["p_loss"]], ref, atol=1e-12)
        assert (r[side]["p_loss"] > 0) == bool(r[side]["blunders"])
        assert all(b["value_after"] < b["value_before"] for b in r[side]["blunders"])
    assert 0.2 < r["second"]["p_loss"] < 0.9  # not a degenerate case
    # sampled games agree with the exact probabilities (binomial, 5 sigma)
    n = 100
    m = evaluate(TTT, _centre_blind, perfect_agent(TTT), jax.random.PRNGKey(0), n)
    for side, counts in (("first", m.first), ("second", m.second)):
        p = r[side]["p_loss"]
        assert abs(counts[2] - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1e-9
    # a deterministic perfect player never loses and never blunders
    _, best, _ = solve_tictactoe()
    det_perfect = lambda _, k, s: jnp.argmax(jnp.asarray(best)[board_code(s.board)], -1).astype(jnp.int32)
    r = exact_vs_perfect(TTT, det_perfect)
    for side in ("first", "second"):
        assert r[side]["p_loss"] == 0 and r[side]["p_win"] == 0 and not r[side]["blunders"]
    with pytest.raises(ValueError, match="not deterministic"):
        exact_vs_perfect(TTT, perfect_agent(TTT))


def test_evaluate_agents_equals_evaluate_per_agent_and_checks_counts():
    from jaxhybrid.alphazero import evaluate_agents

    perfect = perfect_agent(TTT)
    pool = {"blind": _centre_blind, "perfect": perfect}
    key = jax.random.PRNGKey(4)
    # game counts of matches the tests above compiled (blind vs perfect: 100, perfect vs perfect: 50)
    res = evaluate_agents(TTT, pool, perfect, key, {"blind": 100, "perfect": 50})
    assert res["blind"] == evaluate(TTT, _centre_blind, perfect, key, 100) and res["blind"].games == 200
    assert res["perfect"].games == 100 and res["perfect"].losses == 0   # perfect play never loses
    both = evaluate_agents(TTT, pool, perfect, key, 100)  # one count for every agent
    assert both["blind"] == res["blind"] and both["perfect"].games == 200
    with pytest.raises(ValueError, match="game count"):
        evaluate_agents(TTT, pool, perfect, key, {"blind": 2})
