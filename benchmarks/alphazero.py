"""Benchmark: AlphaZero self-play throughput (search included) on Connect Four.

What is timed: ``plies`` self-play moves of ``batch`` games in lock-step from the empty board,
each move a Gumbel MuZero search (mctx) with ``sims`` simulations on the game rules, guided by
the residual Flax policy/value network of the ``alphazero-connect4`` example (32 channels, two
residual blocks, untrained: throughput does not depend on the weights), followed by the game
step; i.e. exactly :func:`jaxhybrid.alphazero.self_play`'s loop body. ``positions/s`` =
``batch · plies / time``. With ``plies = 8`` no game can end, so every timed position is a real
one. Compile time is excluded (one warm-up call), ``block_until_ready``, best of ``--repeats``.

There is no peer: no other JAX AlphaZero implementation is a dependency of this project, so
``peer``, ``ratio`` and ``agreement`` are ``null``. As a reference point the table also times
the same loop with pure MCTS (200 simulations, random roll-outs; the example's opponent).

Usage: ``python benchmarks/alphazero.py [--quick] [--json PATH] [--repeats R]``
(default output ``benchmarks/results/alphazero-<cpu|gpu>.json``).
"""

from __future__ import annotations

import time

import harness  # noqa: E402  (benchmarks/harness.py: puts the work tree first on sys.path)
import jax
import jax.numpy as jnp

from jaxhybrid.alphazero import alphazero_policy, connect4, make_network, mcts_policy  # noqa: E402


def build(game, policy, batch, plies):
    @jax.jit
    def play(key):
        states = jax.vmap(lambda _: game.init())(jnp.arange(batch))

        def body(s, k):
            a = policy(k, s)
            return jax.vmap(game.step)(s, a)[0], None

        final, _ = jax.lax.scan(body, states, jax.random.split(key, plies))
        return final.board

    return play


def bench(play, repeats, key):
    jax.block_until_ready(play(key))  # compile + warm-up
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(play(jax.random.fold_in(key, i + 1)))
        times.append(time.perf_counter() - t)
    return min(times), times


def main(argv=None):
    args = harness.parser(__doc__, repeats=3).parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    game = connect4()
    model = make_network(game, jax.random.PRNGKey(0), channels=32, blocks=2)
    sims = 16
    plies = 2 if args.quick else 8
    az = lambda k, s: alphazero_policy(game, model, k, s, sims).action  # Gumbel noise on, as in self-play
    mc = lambda k, s: mcts_policy(game, k, s, 200).action
    cases = [(f"selfplay_connect4_b{b}_sims{sims}", az, b) for b in (1, 64, 1024)]
    cases.append(("mcts200_rollouts_connect4_b64", mc, 64))
    rows = []
    for name, policy, batch in cases:
        best, times = bench(build(game, policy, batch, plies), repeats, jax.random.PRNGKey(1))
        rows.append({"case": name, "batch": batch, "plies": plies, "ours": round(batch * plies / best, 2),
                     "peer": None, "unit": "positions/s", "ratio": None, "agreement": None,
                     "all_times_s": [round(t, 4) for t in times]})
        print(f"{name:<36} {rows[-1]['ours']:>12.1f} positions/s   (best of {repeats}: {best:.3f} s)", flush=True)
    harness.write_result("alphazero", rows, args.json, quick=args.quick, network="PolicyValueNet(32 ch, 2 blocks)",
                         note="no peer: peer, ratio and agreement are null")


if __name__ == "__main__":
    main()
