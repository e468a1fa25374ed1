"""Search, value targets, the perfect solver, the replay buffer and checkpoint resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.alphazero import (AZConfig, alphazero_policy, evaluate, make_network, mcts_policy, perfect_agent,
                                 raw_policy, rollout_value, self_play, solve_tictactoe, tictactoe, connect4,
                                 train_alphazero, value_targets)
from jaxhybrid.alphazero.replay import replay_add, replay_init
from jaxhybrid.alphazero.selfplay import Samples
from jaxhybrid.alphazero.solver import board_code

TTT = tictactoe()
C4 = connect4()


def random_states(game, n, key, max_plies):
    """Running positions reached by random legal play (a game stops before a finishing move)."""
    return jax.jit(_random_states, static_argnums=(0, 1, 3))(game, n, key, max_plies)


def _random_states(game, n, key, max_plies):
    s = jax.vmap(lambda _: game.init())(jnp.arange(n))
    plies = jax.random.randint(key, (n,), 0, max_plies)
    for t in range(max_plies):
        k = jax.random.fold_in(key, t)
        legal = jax.vmap(game.legal)(s)
        a = jax.random.categorical(k, jnp.where(legal, 0.0, -jnp.inf))
        nxt, _ = jax.vmap(game.step)(s, a)
        keep = (t < plies) & ~nxt.done
        s = jax.tree_util.tree_map(lambda x, y: jnp.where(keep.reshape((-1,) + (1,) * (x.ndim - 1)), x, y), nxt, s)
    return s


@pytest.mark.parametrize("game", [TTT, C4], ids=["tictactoe", "connect4"])
def test_search_respects_the_legal_mask(game):
    states = random_states(game, 32, jax.random.PRNGKey(0), game.max_moves)
    legal = np.asarray(jax.vmap(game.legal)(states))
    assert (legal.sum(1) < game.num_actions).mean() > 0.3  # many positions have illegal moves
    model = make_network(game, jax.random.PRNGKey(1), channels=8, blocks=1)
    az = jax.jit(lambda k, s: alphazero_policy(game, model, k, s, 8))(jax.random.PRNGKey(2), states)
    mc = jax.jit(lambda k, s: mcts_policy(game, k, s, 8))(jax.random.PRNGKey(3), states)
    raw = raw_policy(game, model, states)
    for action, weights in ((az.action, az.action_weights), (mc.action, mc.action_weights), (raw, None)):
        a = np.asarray(action)
        assert legal[np.arange(32), a].all()
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
    assert running.sum() > 32  # the trees did grow
    assert not ((children >= 0) & ~node_legal & running[..., None]).any()


def test_search_finds_the_immediate_win_and_the_block():
    # X to move on X X . / O O . / . . . : playing 2 wins; with O to move the threat is at 5 / 2
    g = TTT
    s = g.init()
    for a in (0, 3, 1, 4):
        s, _ = g.step(s, a)
    batch = jax.tree_util.tree_map(lambda x: x[None], s)
    model = make_network(g, jax.random.PRNGKey(0), channels=8, blocks=1)  # untrained
    out = alphazero_policy(g, model, jax.random.PRNGKey(1), batch, 32, gumbel_scale=0.0)
    assert int(out.action[0]) == 2
    mc = mcts_policy(g, jax.random.PRNGKey(2), batch, 64)
    assert int(mc.action[0]) == 2


def test_rollout_value_sign_and_mean():
    # X has won: value for O (to move) is −1; from an X-to-move position one move from winning
    # in two ways the random roll-out value is positive on average
    g = TTT
    s = g.init()
    for a in (0, 3, 1, 4, 2):
        s, _ = g.step(s, a)
    assert bool(s.done) and float(rollout_value(g, s, jax.random.PRNGKey(0))) == -1.0
    s = g.init()
    for a in (0, 3, 4):  # X: 0, 4; O: 3 → O to move, X threatens 8 (and more)
        s, _ = g.step(s, a)
    vals = jax.vmap(lambda k: rollout_value(g, s, k))(jax.random.split(jax.random.PRNGKey(1), 400))
    assert float(jnp.mean(vals)) < -0.2  # bad for O, the player to move


def test_value_targets_carry_the_sign_of_the_player_to_move():
    players = jnp.asarray([[1, 1], [-1, -1], [1, 1]])
    np.testing.assert_array_equal(value_targets(jnp.asarray([1, -1]), players), [[1, -1], [-1, 1], [1, -1]])
    # in real self-play: a position's target is +1 iff its player to move went on to win
    g = TTT
    model = make_network(g, jax.random.PRNGKey(0), channels=8, blocks=1)
    smp = jax.jit(lambda k: self_play(g, model, k, 16, 4))(jax.random.PRNGKey(3))
    obs, z, valid = np.asarray(smp.obs), np.asarray(smp.value), np.asarray(smp.valid)
    n_games = 16
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
    r = evaluate(TTT, perfect, perfect, jax.random.PRNGKey(0), 50)
    assert r.draws == 100
    rand = lambda _, k, s: jax.random.categorical(k, jnp.where(jax.vmap(TTT.legal)(s), 0.0, -jnp.inf))
    r = evaluate(TTT, perfect, rand, jax.random.PRNGKey(1), 50)
    assert r.losses == 0 and r.wins > 60


def test_replay_buffer_is_a_fifo_ring():
    buf = replay_init(5, (1,), 2)
    mk = lambda vals, valid: Samples(jnp.asarray(vals, jnp.float32)[:, None], jnp.zeros((len(vals), 2)),
                                     jnp.asarray(vals, jnp.float32), jnp.asarray(valid))
    buf = replay_add(buf, mk([1, 2, 3, 4], [1, 0, 1, 1]))
    assert int(buf.size) == 3 and buf.value[:3].tolist() == [1, 3, 4]
    buf = replay_add(buf, mk([5, 6, 7], [1, 1, 1]))
    assert int(buf.size) == 5 and sorted(buf.value.tolist()) == [3, 4, 5, 6, 7] and int(buf.ptr) == 1


def test_resume_from_checkpoint_continues_identically(tmp_path):
    cfg = AZConfig(games_per_round=8, sims_train=4, train_steps=5, batch_size=16, buffer_size=200, channels=8, blocks=1)
    key = jax.random.PRNGKey(4)
    full, hist_full = train_alphazero(TTT, cfg, key, 3)
    part, _ = train_alphazero(TTT, cfg, key, 2, checkpoint_dir=tmp_path)
    assert part.round == 2 and (tmp_path / "ckpt.json").exists()
    resumed, hist = train_alphazero(TTT, cfg, key, 3, checkpoint_dir=tmp_path)
    assert resumed.round == 3 and len(hist) == 3
    for a, b in zip(jax.tree_util.tree_leaves((full.model, full.opt_state)), jax.tree_util.tree_leaves((resumed.model, resumed.opt_state))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(full.replay.obs, resumed.replay.obs)
    assert hist[-1]["loss"] == hist_full[-1]["loss"]
    # and the network did change over the rounds
    fresh, _ = train_alphazero(TTT, cfg, key, 0)
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(fresh.model), jax.tree_util.tree_leaves(full.model)))
    with pytest.raises(ValueError, match="another game or configuration"):
        train_alphazero(TTT, AZConfig(games_per_round=4), key, 3, checkpoint_dir=tmp_path)
