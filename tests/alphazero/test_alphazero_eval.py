"""AlphaZero runs from a configuration and their evaluation: the configuration dict, the network
template, match tables, pool evaluation against the perfect player (equal to the separate calls
it replaces), exact scores, the learning-curve monitors and the figure panels."""

import json
from dataclasses import asdict
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.alphazero import (AZConfig, MatchResult, connect4, evaluate, evaluate_pool,
                                 evaluate_together, exact_curve_monitor, exact_scores, exact_summary, make_network,
                                 match_table, network_template, perfect_agent, solve_tictactoe, tictactoe,
                                 train_config, train_from_config, training_summary, win_rate_monitor)
from jaxhybrid.alphazero.solver import board_code


class _State(NamedTuple):  # what a monitor reads of the loop's state
    round: int
    model: object = None


def _first_empty(game):
    return lambda _, k, s: jnp.argmax(jax.vmap(game.legal)(s), -1).astype(jnp.int32)


def _perfect_first_choice():  # a deterministic perfect player: the first of the optimal moves
    best = jnp.asarray(solve_tictactoe()[1])
    return lambda _, k, s: jnp.argmax(best[board_code(s.board)], -1).astype(jnp.int32)


def test_train_config_is_the_json_key_of_a_run_and_the_summary_reads_it():
    az = AZConfig(games_per_round=8, channels=4, blocks=1)
    cfg = train_config(tictactoe(), az, 3, 10.0, 7)
    assert cfg == {"game": "tictactoe", "az": asdict(az), "rounds": 3, "budget_s": 10.0, "budget_clock": "cpu",
                   "seed": 7}
    assert json.loads(json.dumps(cfg)) == cfg
    meta = {"rounds": 2, "train_wall_s": 1.5, "train_cpu_s": 2.5, "replay_positions": 40}
    assert training_summary(cfg, meta) == dict(asdict(az), rounds=2, train_wall_s=1.5, train_cpu_s=2.5,
                                               budget_cpu_s=10.0, train_seed=7, replay_positions=40)
    with pytest.raises(ValueError, match="budget_clock"):
        train_config(tictactoe(), az, 3, 10.0, 7, budget_clock="gpu")


def test_network_template_has_the_networks_structure_and_checks_the_game():
    cfg = train_config(connect4(), AZConfig(channels=4, blocks=1), 1, 1.0, 0)
    like = network_template(connect4())(cfg)
    net = make_network(connect4(), jax.random.PRNGKey(0), 4, 1)
    paths = [[(p, x.shape) for p, x in jax.tree_util.tree_flatten_with_path(m)[0]] for m in (like, net)]
    assert paths[0] == paths[1] and len(paths[0]) > 4
    with pytest.raises(ValueError, match="connect4"):
        network_template(tictactoe())(cfg)
    with pytest.raises(ValueError, match="connect4"):
        train_from_config(tictactoe(), cfg)


def test_train_from_config_forwards_the_configuration_and_sums_the_history(monkeypatch):
    from jaxhybrid.alphazero import experiment

    seen = {}

    def fake(game, az, key, rounds, **kw):
        seen.update(game=game.name, az=az, key=key, rounds=rounds, **kw)
        history = [{"train_wall_s": 1.0 * r, "train_cpu_s": 2.0 * r, "positions": 10 * r} for r in (1, 2)]
        return _State(2, model="net"), history

    monkeypatch.setattr(experiment, "train_alphazero", fake)
    cfg = train_config(tictactoe(), AZConfig(games_per_round=8), 5, 30.0, 3, budget_clock="wall")
    model, meta = train_from_config(tictactoe(), cfg, metrics_path="log.jsonl")
    assert model == "net" and seen["az"] == AZConfig(games_per_round=8) and seen["rounds"] == 5
    assert np.array_equal(seen["key"], jax.random.PRNGKey(3))
    assert seen["time_budget_s"] == 30.0 and seen["budget_clock"] == "wall" and seen["metrics_path"] == "log.jsonl"
    assert {k: v for k, v in meta.items() if k != "history"} == {"rounds": 2, "train_wall_s": 2.0, "train_cpu_s": 4.0,
                                                                  "replay_positions": 20, "self_play_games": 16}


def test_match_table_counts_rates_and_sides():
    r = MatchResult(3, 1, 4, (2, 1, 1), (1, 0, 3))
    t = match_table({"a": r}, "ref", counts=("losses", "draws"), rates=("wins", "losses"), sides=("wins",))
    assert list(t["a"]) == ["losses_vs_ref", "draws_vs_ref", "win_rate_vs_ref", "loss_rate_vs_ref", "games",
                            "wins_as_first", "wins_as_second"]
    assert t["a"] == {"losses_vs_ref": 4, "draws_vs_ref": 1, "win_rate_vs_ref": 3 / 8, "loss_rate_vs_ref": 0.5,
                      "games": 8, "wins_as_first": 2, "wins_as_second": 1}
    with pytest.raises(ValueError, match="unknown outcomes"):
        match_table({"a": r}, "ref", counts=("ties",))


def test_exact_scores_of_the_perfect_player_and_of_a_blundering_agent():
    g = tictactoe()
    perfect = exact_scores(g, _perfect_first_choice())
    assert perfect["exact_p_loss_first"] == perfect["exact_p_loss_second"] == 0.0
    assert perfect["blunder_positions"] == 0 and perfect["positions_checked"] > 0
    naive = exact_summary(g, _first_empty(g))
    scores = exact_scores(g, _first_empty(g), max_blunders=1)
    assert naive["p_loss_first"] > 0 or naive["p_loss_second"] > 0
    assert scores["blunder_positions"] == len(naive["blunders"]) > 0 and len(scores["blunders"]) == 1
    assert scores["exact_p_loss_first"] == naive["p_loss_first"]


def test_evaluate_pool_equals_the_separate_calls():
    g = tictactoe()
    pool = {"naive": _first_empty(g), "perfect": _perfect_first_choice()}
    opponent, key = perfect_agent(g), jax.random.PRNGKey(3)
    got = evaluate_pool(g, pool, opponent, "perfect", key, 2, counts=("losses",), sides=("losses",), exact=("naive",))
    table = match_table(evaluate_together(g, pool, opponent, key, 2), "perfect", counts=("losses",),
                        sides=("losses",))
    table["naive"].update(exact_scores(g, pool["naive"]))
    assert got == table and got["perfect"]["losses_vs_perfect"] == 0
    with pytest.raises(ValueError, match="no agent"):
        evaluate_pool(g, pool, opponent, "perfect", key, 2, exact=("hybrid",))


def test_monitors_measure_on_their_schedule():
    g = tictactoe()
    agents = {"hybrid": _perfect_first_choice(), "data_only": _first_empty(g)}
    exact = exact_curve_monitor(g, agents, every=2)
    assert exact(_State(1)) == {}
    rec = exact(_State(2))
    assert rec["hybrid_p_loss_first"] == rec["hybrid_p_loss_second"] == 0.0
    assert rec["data_only_p_loss_first"] == exact_summary(g, agents["data_only"])["p_loss_first"]
    with pytest.raises(ValueError, match="no agent"):
        exact_curve_monitor(g, agents, 2, names=("raw",))
    key = jax.random.PRNGKey(0)
    wins = win_rate_monitor(g, agents, perfect_agent(g), key, 1e9, 2, "vs_perfect")
    first = wins(_State(1))
    k1 = jax.random.fold_in(key, 1)
    assert first == {f"{m}_win_rate_vs_perfect": evaluate(g, a, perfect_agent(g), k1, 2).win_rate
                     for m, a in agents.items()}
    assert wins(_State(2)) == {}  # the next measurement is 1e9 CPU-s away


def test_plot_panels_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxhybrid.alphazero import plots as AP

    history = [{"round": r, "train_wall_s": 60.0 * r, "policy_ce": 1.0 / r, "value_mse": 0.5 / r} for r in (1, 2, 3)]
    history[1]["hybrid_win"] = 0.5
    results = {"hybrid": {"wins": 3, "losses": 1}, "data_only": {"wins": 1, "losses": 3}}
    fig, ax = plt.subplots(1, 3)
    AP.training_panels(ax, history, results, [("hybrid_win", "C0o-", {"label": "h"})], ("wins", "losses"),
                       ("C2", "C3"), x="minutes")
    assert len(ax[0].lines) == 2 and len(ax[1].lines) == 1 and len(ax[2].patches) == 4
    np.testing.assert_allclose(ax[1].lines[0].get_xdata(), [2.0])
    fig.savefig(tmp_path / "panels.png")
    plt.close(fig)
