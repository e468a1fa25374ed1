"""AlphaZero (paradigm 3): tree search on the game rules ↔ a policy/value network.

* :mod:`~jaxhybrid.alphazero.games` — tic-tac-toe and Connect Four as pure JAX environments;
* :mod:`~jaxhybrid.alphazero.search` — mctx searches: network-guided Gumbel MuZero, pure MCTS
  with random roll-outs, raw policy;
* :mod:`~jaxhybrid.alphazero.network` — residual Flax policy/value network (core adapter);
* :mod:`~jaxhybrid.alphazero.selfplay`, :mod:`~jaxhybrid.alphazero.replay`,
  :mod:`~jaxhybrid.alphazero.training` — self-play → replay buffer → ``fit``, driven by
  :func:`jaxhybrid.paradigms.alternate`, with checkpoints and exact resume;
* :mod:`~jaxhybrid.alphazero.arena` — batched matches; :mod:`~jaxhybrid.alphazero.solver` —
  perfect tic-tac-toe play;
* :mod:`~jaxhybrid.alphazero.experiment` — a run from a JSON-able training configuration (the
  key of a stored network): train it, load it, summarise it;
* :mod:`~jaxhybrid.alphazero.evaluation` — exact play against the perfect player and
  learning-curve monitors; :mod:`~jaxhybrid.alphazero.plots` — figure panels.
"""

from jaxhybrid.alphazero.arena import MatchResult, evaluate, evaluate_agents, evaluate_together, play_match
from jaxhybrid.alphazero.games import Game, GameState, connect4, tictactoe, winning_lines
from jaxhybrid.alphazero.network import PolicyValueNet, make_network
from jaxhybrid.alphazero.search import agents, alphazero_policy, mcts_policy, raw_policy, rollout_value
from jaxhybrid.alphazero.selfplay import Samples, self_play, value_targets
from jaxhybrid.alphazero.solver import exact_vs_perfect, perfect_agent, solve_tictactoe
from jaxhybrid.alphazero.training import AZConfig, AZState, az_loss, init_state, train_alphazero, train_steps
from jaxhybrid.alphazero.experiment import (network_template, train_config, train_from_config,
                                           training_summary)
from jaxhybrid.alphazero.evaluation import (evaluate_pool, exact_curve_monitor, exact_scores, exact_summary,
                                           match_table, win_rate_monitor)

__all__ = [
    "Game", "GameState", "tictactoe", "connect4", "winning_lines",
    "PolicyValueNet", "make_network",
    "agents", "alphazero_policy", "mcts_policy", "raw_policy", "rollout_value",
    "Samples", "self_play", "value_targets",
    "AZConfig", "AZState", "az_loss", "init_state", "train_alphazero", "train_steps",
    "play_match", "evaluate", "evaluate_agents", "evaluate_together", "MatchResult",
    "perfect_agent", "solve_tictactoe", "exact_vs_perfect",
    "train_config", "train_from_config", "network_template", "training_summary",
    "exact_summary", "exact_scores", "match_table", "evaluate_pool", "exact_curve_monitor", "win_rate_monitor",
]
