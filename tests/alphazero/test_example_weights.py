"""The AlphaZero examples' shipped networks: they load, quick mode evaluates them, and the
tic-tac-toe one is reproduced by retraining its configuration (slow)."""

import json

import jax
import numpy as np
import pytest

from jaxhybrid.alphazero import MatchResult, connect4, evaluate, evaluate_together, make_network, tictactoe
from jaxhybrid.examples import alphazero_connect4 as c4
from jaxhybrid.examples import alphazero_tictactoe as ttt
from jaxhybrid import pretrained

EXAMPLES = [ttt, c4]


def _no_training(cfg):
    raise AssertionError(f"quick mode trained {cfg} instead of loading the shipped network")


def test_evaluate_together_plays_the_same_games_as_separate_matches():
    """Deterministic agents: one batched program gives, per agent, exactly :func:`evaluate`'s counts
    (both sides, every agent), also for an agent that is the opponent itself (shared search call)."""
    import jax.numpy as jnp

    from jaxhybrid.alphazero import solve_tictactoe
    from jaxhybrid.alphazero.solver import board_code

    g = tictactoe()
    best = jnp.asarray(solve_tictactoe()[1])
    legal = lambda s: jax.vmap(g.legal)(s)
    perfect = lambda _, k, s: jnp.argmax(best[board_code(s.board)], -1).astype(jnp.int32)
    pool = {"first_empty": lambda _, k, s: jnp.argmax(legal(s), -1).astype(jnp.int32),
            "last_empty": lambda _, k, s: (8 - jnp.argmax(legal(s)[:, ::-1], -1)).astype(jnp.int32),
            "centre_blind": lambda _, k, s: jnp.where(s.board[:, 4] != 0, perfect(_, k, s),
                                                      jnp.argmax(legal(s), -1)).astype(jnp.int32),
            "perfect": perfect}
    got = evaluate_together(g, pool, perfect, jax.random.PRNGKey(0), 3)
    for name, agent in pool.items():
        assert got[name] == evaluate(g, agent, perfect, jax.random.PRNGKey(1), 3), name
    assert got["perfect"] == MatchResult(0, 6, 0, (0, 3, 0), (0, 3, 0))
    assert evaluate_together(g, pool, perfect, jax.random.PRNGKey(2), 3, batch=2) == got  # in rounds of 2
    assert len({r for r in got.values()}) >= 3  # the agents' games do differ
    # Connect Four: an even number of plies (42; tic-tac-toe's 9 is odd), so the halves end un-swapped
    c = connect4()
    left = lambda _, k, s: jnp.argmax(jax.vmap(c.legal)(s), -1).astype(jnp.int32)
    right = lambda _, k, s: (6 - jnp.argmax(jax.vmap(c.legal)(s)[:, ::-1], -1)).astype(jnp.int32)
    got = evaluate_together(c, {"left": left, "right": right}, left, jax.random.PRNGKey(0), 2)
    assert got["right"] == evaluate(c, right, left, jax.random.PRNGKey(1), 2)
    assert got["left"] == evaluate(c, left, left, jax.random.PRNGKey(1), 2)


@pytest.mark.parametrize("mod", EXAMPLES, ids=lambda m: m.NAME)
def test_shipped_full_network_loads_and_quick_mode_selects_it(mod, empty_cache):
    full, quick = mod.train_config(False, 0), mod.train_config(True, 0)
    assert json.loads(json.dumps(full)) == full and full != quick and full["seed"] == 0
    hit = pretrained.find(mod.NAME, full)
    assert hit is not None and hit[1] == "shipped", f"{mod.NAME}: no shipped weights for {full}"
    model, header = pretrained.load(hit[0], mod.template)
    assert header["config"] == full and header["meta"]["history"] and header["meta"]["rounds"] == len(header["meta"]["history"])
    leaves = jax.tree_util.tree_leaves(model)
    assert all(np.isfinite(np.asarray(x)).all() for x in leaves)
    # the weights differ from the template's initialisation (a trained network, not a fresh one)
    fresh = jax.tree_util.tree_leaves(make_network(tictactoe() if mod is ttt else connect4(), jax.random.PRNGKey(0),
                                                   full["az"]["channels"], full["az"]["blocks"]))
    assert any(not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(leaves, fresh))
    got = pretrained.obtain(mod.NAME, [full, quick], _no_training, mod.template)
    assert got.source == "shipped" and got.config == full
    # another seed has no shipped full network: quick mode would train its own small configuration
    assert pretrained.find(mod.NAME, mod.train_config(False, 1)) is None


@pytest.mark.parametrize("mod", EXAMPLES, ids=lambda m: m.NAME)
def test_quick_run_evaluates_the_shipped_network_and_the_hybrid_wins(mod, quick_record):
    rec = quick_record(mod.NAME)  # strictly better than pure MCTS and than the raw policy
    assert rec["weights"]["network"]["source"] == "shipped" and rec["quick"]
    assert rec["weights"]["network"]["file"] == pretrained.file_name(mod.NAME, mod.train_config(False, 0))
    assert rec["config"]["train_seed"] == 0 and len(rec["history"]) == rec["config"]["rounds"]
    # every agent plays the same number of games (as first and as second player)
    games = {b: v["games"] for b, v in rec["baselines"].items()}
    assert set(games) == {"mechanism_only", "data_only"} and set(games.values()) == {rec["metrics"]["games"]}
    assert rec["metrics"]["games"] == 2 * rec["config"]["eval_games_per_side"]
    assert rec["headline"] == ("losses_vs_perfect" if mod is ttt else "win_rate_vs_mcts200")


@pytest.mark.slow
def test_retraining_the_shipped_tictactoe_configuration_reproduces_its_play():
    """Train the shipped configuration from scratch (40 rounds) and compare the exact probability
    of losing to the perfect player (every line it can choose) with the shipped network's."""
    from jaxhybrid.alphazero import agents, tictactoe

    full = ttt.train_config(False, 0)
    shipped, header = pretrained.load(pretrained.find(ttt.NAME, full)[0], ttt.template)
    model, meta = ttt.trainer(None)(full)
    assert meta["rounds"] == header["meta"]["rounds"] == full["rounds"]  # the round limit, not the CPU budget
    game = tictactoe()
    hybrid = agents(game, ttt.SIMS)["hybrid"]
    a, b = ttt._exact(game, hybrid, model), ttt._exact(game, hybrid, shipped)
    for side in ("first", "second"):  # seeds 0 and 1 both reach 0; intermediate rounds lose up to 0.1
        assert abs(a[f"p_loss_{side}"] - b[f"p_loss_{side}"]) <= 0.05, (side, a, b)
    # the training losses follow the shipped run's
    np.testing.assert_allclose(meta["history"][-1]["policy_ce"], header["meta"]["history"][-1]["policy_ce"], rtol=0.1)
    np.testing.assert_allclose(meta["history"][-1]["value_mse"], header["meta"]["history"][-1]["value_mse"], rtol=0.25)
