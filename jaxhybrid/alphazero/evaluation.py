"""Measuring agents during and after training: exact play against the perfect tic-tac-toe player,
and learning-curve monitors for :func:`~jaxhybrid.alphazero.train_alphazero`.

* :func:`exact_summary` — :func:`~jaxhybrid.alphazero.exact_vs_perfect` of a deterministic agent
  flattened for a record: the exact ``P(loss)`` of one game as first and as second player against
  the perfect player (random among its optimal moves), its blunders (position, move,
  game-theoretic value before and after, probability of being reached) and the number of
  positions it was asked to move in.
* :func:`exact_scores` — the same as record fields (``exact_p_loss_first``/``_second``,
  ``blunder_positions``, the most likely ``blunders``, ``positions_checked``).
* :func:`match_table` — match results of a pool of agents against one opponent
  (:func:`~jaxhybrid.alphazero.evaluate_together`) as metric dicts: counts and rates of wins,
  draws or losses ``vs_<opponent>``, games, and counts as first and as second player.
* :func:`evaluate_pool` — a pool of agents against one reference player in one compiled match
  (:func:`~jaxhybrid.alphazero.evaluate_together`) as a :func:`match_table`, plus the exact
  scores of named deterministic agents when the reference is the perfect tic-tac-toe player.
* :func:`exact_curve_monitor` — every ``every`` rounds, :func:`exact_summary`'s two ``P(loss)``
  of named agents with the current network (``<agent>_p_loss_first`` / ``_second``).
* :func:`win_rate_monitor` — at most once per ``every_cpu_s`` CPU seconds of the process, the
  win rate of named agents against a fixed opponent over ``n_per_side`` games per side
  (:func:`~jaxhybrid.alphazero.evaluate`; ``<agent>_win_rate_<label>``).

A monitor's records join the round's history; the loop excludes the time spent in it from its
training time and budget.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np

from jaxhybrid.alphazero.arena import Agent, MatchResult, evaluate, evaluate_together
from jaxhybrid.alphazero.games import Game
from jaxhybrid.alphazero.solver import exact_vs_perfect
from jaxhybrid.alphazero.training import AZState

__all__ = ["exact_summary", "exact_scores", "match_table", "evaluate_pool", "exact_curve_monitor", "win_rate_monitor"]


def exact_summary(game: Game, agent: Agent, params: Any = None) -> dict:
    """``{"p_loss_first", "p_loss_second", "blunders", "positions"}`` of a deterministic ``agent``
    (with network ``params``) against perfect play, over every line (module docstring); blunders of
    both sides, most likely first within a side, boards as lists."""
    r = exact_vs_perfect(game, agent, params)
    return {"p_loss_first": r["first"]["p_loss"], "p_loss_second": r["second"]["p_loss"],
            "blunders": [dict(b, board=list(b["board"])) for s in ("first", "second") for b in r[s]["blunders"]],
            "positions": r["first"]["positions"] + r["second"]["positions"]}


def exact_scores(game: Game, agent: Agent, params: Any = None, max_blunders: int = 10) -> dict:
    """:func:`exact_summary` as record fields: ``exact_p_loss_first``, ``exact_p_loss_second``,
    ``blunder_positions`` (their number), ``blunders`` (the first ``max_blunders``) and
    ``positions_checked``."""
    e = exact_summary(game, agent, params)
    return {"exact_p_loss_first": e["p_loss_first"], "exact_p_loss_second": e["p_loss_second"],
            "blunder_positions": len(e["blunders"]), "blunders": e["blunders"][:max_blunders],
            "positions_checked": e["positions"]}


_OUTCOMES = {"wins": 0, "draws": 1, "losses": 2}
_RATES = {"wins": "win", "draws": "draw", "losses": "loss"}


def match_table(results: Mapping[str, MatchResult], opponent: str, *, counts: Sequence[str] = (),
                rates: Sequence[str] = (), sides: Sequence[str] = ()) -> dict:
    """``{agent: metrics}`` from match results (agent's view). For each outcome ``o`` of ``counts``
    (``"wins"``, ``"draws"``, ``"losses"``): ``<o>_vs_<opponent>``, its number of games; of
    ``rates``: ``<win|draw|loss>_rate_vs_<opponent>``, that number over the games; then ``games``;
    and of ``sides``: ``<o>_as_first`` and ``<o>_as_second``, the numbers as first and as second
    player."""
    bad = set(counts).union(rates, sides) - set(_OUTCOMES)
    if bad:
        raise ValueError(f"match_table: unknown outcomes {sorted(bad)}; use 'wins', 'draws' or 'losses'.")
    table = {}
    for name, r in results.items():
        row = {f"{o}_vs_{opponent}": getattr(r, o) for o in counts}
        row.update({f"{_RATES[o]}_rate_vs_{opponent}": r.win_rate if o == "wins" else getattr(r, o) / r.games
                    for o in rates})
        row["games"] = r.games
        for o in sides:
            row[f"{o}_as_first"], row[f"{o}_as_second"] = r.first[_OUTCOMES[o]], r.second[_OUTCOMES[o]]
        table[name] = row
    return table


def evaluate_pool(game: Game, pool: Mapping[str, Agent], opponent: Agent, opponent_name: str, key: jax.Array,
                  n_per_side: int, params: Any = None, batch: int | None = None, *, counts: Sequence[str] = (),
                  rates: Sequence[str] = (), sides: Sequence[str] = (), exact: Sequence[str] = ()) -> dict:
    """``{agent: metrics}``: every agent of ``pool`` (with the network ``params``) against
    ``opponent``, ``n_per_side`` games as first and as second player each, all in one compiled
    program (:func:`~jaxhybrid.alphazero.evaluate_together`, ``batch`` games per side and agent at
    a time), tabulated by :func:`match_table` (``counts``, ``rates``, ``sides``; names
    ``..._vs_<opponent_name>``); the agents named in ``exact`` (deterministic) also get
    :func:`exact_scores` against the perfect player (tic-tac-toe only)."""
    missing = set(exact) - set(pool)
    if missing:
        raise ValueError(f"evaluate_pool: no agent named {sorted(missing)} in the pool {sorted(pool)}.")
    matches = evaluate_together(game, pool, opponent, key, n_per_side, params, batch)
    table = match_table(matches, opponent_name, counts=counts, rates=rates, sides=sides)
    for name in exact:
        table[name].update(exact_scores(game, pool[name], params))
    return table


def exact_curve_monitor(game: Game, agents: Mapping[str, Agent], every: int,
                        names: Sequence[str] = ("hybrid", "data_only")) -> Callable[[AZState], dict]:
    """``monitor(state)``: on rounds divisible by ``every``, ``<name>_p_loss_first`` and
    ``<name>_p_loss_second`` of :func:`exact_summary` for each of ``names`` (deterministic agents of
    ``agents``) with ``state.model``; ``{}`` on other rounds."""
    if every < 1:
        raise ValueError(f"exact_curve_monitor: every must be >= 1, got {every}.")
    missing = set(names) - set(agents)
    if missing:
        raise ValueError(f"exact_curve_monitor: no agent named {sorted(missing)} (have {sorted(agents)}).")

    def monitor(state: AZState) -> dict:
        if state.round % every:
            return {}
        rec = {}
        for m in names:
            e = exact_summary(game, agents[m], state.model)
            rec[f"{m}_p_loss_first"], rec[f"{m}_p_loss_second"] = e["p_loss_first"], e["p_loss_second"]
        return rec

    return monitor


def win_rate_monitor(game: Game, agents: Mapping[str, Agent], opponent: Agent, key: jax.Array, every_cpu_s: float,
                     n_per_side: int, label: str, names: Sequence[str] = ("hybrid", "data_only")
                     ) -> Callable[[AZState], dict]:
    """``monitor(state)``: when at least ``every_cpu_s`` CPU seconds of the process have passed
    since its last measurement (the first round always measures), ``<name>_win_rate_<label>``:
    :func:`~jaxhybrid.alphazero.evaluate` of ``agents[name]`` (with ``state.model``) against
    ``opponent`` over ``n_per_side`` games per side, key ``fold_in(key, state.round)``; ``{}``
    otherwise."""
    if n_per_side < 1:
        raise ValueError(f"win_rate_monitor: n_per_side must be >= 1, got {n_per_side}.")
    last = [-np.inf]

    def monitor(state: AZState) -> dict:
        if time.process_time() - last[0] < every_cpu_s:
            return {}
        k = jax.random.fold_in(key, state.round)
        rec = {f"{m}_win_rate_{label}": evaluate(game, agents[m], opponent, k, n_per_side, state.model).win_rate
               for m in names}
        last[0] = time.process_time()
        return rec

    return monitor
