"""Tree search on the game's own rules with mctx: network-guided (AlphaZero) and pure MCTS.

The *mechanism* is the game: mctx's ``recurrent_fn`` is :meth:`Game.step` itself, so the tree
holds exact game states (no learned model). Two-player zero-sum values are handled with the
sign flip of the negamax form: every node's value is from the view of its player to move, and
an edge carries the mover's reward ``r`` and ``discount = −1``, so mctx's backup

    Q(s, a) = r(s, a) + γ · V(s'),   γ = −1 (game running),  γ = 0 (game over, V(s') := 0)

is the value of the move for the player who made it. Illegal actions are masked at the root
(``invalid_actions``) and inside the tree (prior logits of illegal moves set to the float
minimum); should a search still pick one, :meth:`Game.step` scores it as a loss for the mover.

* :func:`alphazero_policy` — Gumbel MuZero search (Danihelka et al. 2022, *Policy improvement
  by planning with Gumbel*, ICLR) guided by ``f_θ = (p, v)``: priors ``p`` and leaf values
  ``v`` from the network. Its ``action_weights`` (softmax of prior logits + completed Q) are the
  policy-improvement targets of training; with few simulations it still improves the policy.
* :func:`mcts_policy` — pure MCTS, the *mechanism-only* baseline: PUCT search (mctx's
  ``muzero_policy``) with uniform priors over legal moves and leaf values from one uniformly
  random roll-out to the end of the game (Kocsis & Szepesvári 2006; Coulom 2006); it plays the
  most visited move.
* :func:`raw_policy` — the network's policy without search (the *data-only* baseline).

All take a batch of states (a :class:`GameState` with a leading axis) and return actions.
:func:`agents` wraps the three as arena agents ``(params, key, states) -> actions``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mctx

from jaxhybrid.alphazero.games import Game, GameState

__all__ = ["alphazero_policy", "mcts_policy", "raw_policy", "rollout_value", "masked_logits", "agents"]

_NEG = jnp.finfo(jnp.float32).min


def masked_logits(logits: jax.Array, legal: jax.Array) -> jax.Array:
    """Logits with illegal actions set to the float minimum (probability 0 after softmax)."""
    return jnp.where(legal, logits, _NEG)


def _evaluate(game: Game, model, states: GameState):
    logits, value = model(jax.vmap(game.observe)(states))
    legal = jax.vmap(game.legal)(states)
    return masked_logits(logits, legal), value, legal


def _step_output(game: Game, states: GameState, action: jax.Array):
    new, reward = jax.vmap(game.step)(states, action)
    discount = jnp.where(new.done, 0.0, -1.0).astype(jnp.float32)
    return new, reward, discount


def alphazero_policy(
    game: Game,
    model,
    key: jax.Array,
    states: GameState,
    num_simulations: int,
    *,
    gumbel_scale: float = 1.0,
    max_num_considered_actions: int = 16,
) -> mctx.PolicyOutput:
    """Gumbel MuZero search guided by ``model`` (``obs -> (logits, value)``) on a batch of states.

    ``gumbel_scale = 1`` samples the played action (self-play exploration); ``0`` plays the
    deterministic best action (evaluation).
    """
    if num_simulations < 1:
        raise ValueError(f"alphazero_policy: num_simulations must be >= 1, got {num_simulations}.")
    logits, value, legal = _evaluate(game, model, states)
    root = mctx.RootFnOutput(prior_logits=logits, value=jnp.where(states.done, 0.0, value), embedding=states)

    def recurrent_fn(model, rng, action, embedding):
        del rng
        new, reward, discount = _step_output(game, embedding, action)
        logits, value, _ = _evaluate(game, model, new)
        value = jnp.where(new.done, 0.0, value)
        return mctx.RecurrentFnOutput(reward=reward, discount=discount, prior_logits=logits, value=value), new

    return mctx.gumbel_muzero_policy(
        model, key, root, recurrent_fn, num_simulations, invalid_actions=~legal,
        max_num_considered_actions=min(max_num_considered_actions, game.num_actions),
        gumbel_scale=gumbel_scale,
    )


def rollout_value(game: Game, state: GameState, key: jax.Array) -> jax.Array:
    """Outcome of one uniformly random play-out from ``state``, from its mover's view (±1, 0)."""

    def cond(c):
        return ~c[0].done

    def body(c):
        s, k = c
        k, sub = jax.random.split(k)
        a = jax.random.categorical(sub, jnp.where(game.legal(s), 0.0, -jnp.inf))
        return game.step(s, a)[0], k

    final, _ = jax.lax.while_loop(cond, body, (state, key))
    return (final.winner * state.player).astype(jnp.float32)


def mcts_policy(
    game: Game,
    key: jax.Array,
    states: GameState,
    num_simulations: int,
    *,
    pb_c_init: float = 1.25,
) -> mctx.PolicyOutput:
    """Pure MCTS with random roll-outs (no network); ``.action`` is the most visited move."""
    if num_simulations < 1:
        raise ValueError(f"mcts_policy: num_simulations must be >= 1, got {num_simulations}.")
    legal = jax.vmap(game.legal)(states)
    key, k_root = jax.random.split(key)
    n = legal.shape[0]
    root_value = jax.vmap(functools.partial(rollout_value, game))(states, jax.random.split(k_root, n))
    root = mctx.RootFnOutput(prior_logits=masked_logits(jnp.zeros(legal.shape), legal),
                             value=jnp.where(states.done, 0.0, root_value), embedding=states)

    def recurrent_fn(params, rng, action, embedding):
        del params
        new, reward, discount = _step_output(game, embedding, action)
        value = jax.vmap(functools.partial(rollout_value, game))(new, jax.random.split(rng, n))
        logits = masked_logits(jnp.zeros(legal.shape), jax.vmap(game.legal)(new))
        return mctx.RecurrentFnOutput(reward=reward, discount=discount, prior_logits=logits,
                                      value=jnp.where(new.done, 0.0, value)), new

    out = mctx.muzero_policy(None, key, root, recurrent_fn, num_simulations, invalid_actions=~legal,
                             dirichlet_fraction=0.0, pb_c_init=pb_c_init, temperature=0.0)
    # most visited legal move (ties broken by mctx's argmax); action_weights are visit frequencies
    visits = out.search_tree.summary().visit_counts
    action = jnp.argmax(jnp.where(legal, visits, -1), axis=-1).astype(jnp.int32)
    return out.replace(action=action)


def raw_policy(game: Game, model, states: GameState) -> jax.Array:
    """The network's most probable legal move, without search."""
    logits, _, _ = _evaluate(game, model, states)
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


@functools.lru_cache(maxsize=None)
def agents(game: Game, num_simulations: int) -> dict:
    """Arena agents ``(model, key, states) -> actions`` (one object per setting, so compiled
    matches are reused): ``hybrid`` — network-guided search without Gumbel noise;
    ``mechanism_only`` — pure MCTS with random roll-outs, same simulations (ignores ``model``);
    ``data_only`` — the raw policy."""
    return {
        "hybrid": lambda m, k, s: alphazero_policy(game, m, k, s, num_simulations, gumbel_scale=0.0).action,
        "mechanism_only": lambda m, k, s: mcts_policy(game, k, s, num_simulations).action,
        "data_only": lambda m, k, s: raw_policy(game, m, s),
    }
