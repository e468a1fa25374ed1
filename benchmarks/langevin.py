"""Benchmark: jaxhybrid.sampling.mala vs BlackJAX MALA on identical targets (same process).

Cases (float32 both sides; same log-density function object, same step size, same number of
chains and steps, same initial positions; chains ``vmap``-ed on both sides):

* ``gauss_d1e3``  — anisotropic Gaussian, d = 1,000 (scales 0.5…2), 100 chains;
* ``gauss_d1e6``  — the same family with d = 1,000,000, 1 chain (memory: a few d-vectors);
* ``banana_d100`` — 50 independent 2-D bananas (Haario et al. 1999 twist, b = 0.1), d = 100,
  1,000 chains;
* ``funnel_d100`` — Neal's funnel (v ~ N(0, 3²), x_i | v ~ N(0, e^v)), d = 100, 1,000 chains.

Our loop is :func:`jaxhybrid.rollout.rollout` over ``vmap(mala.step)`` with one key per step;
BlackJAX's is ``lax.scan`` over ``vmap(blackjax.mala(...).step)`` with the same keys. Both
accumulate the per-chain acceptance probability and nothing else. Timing: compile excluded
(one warm-up call), ``block_until_ready``, the two sides interleaved (alternating
which goes first), best of ``--repeats``.
``ratio = peer_time / our_time`` (> 1: jaxhybrid is faster); ``ratio_median`` is the median over
the repeats of the paired (back-to-back) time ratios, and ``ratio_cpu_time`` the same best-of
ratio of the process CPU time (all threads): on a shared, oversubscribed machine wall time
mostly measures the other processes, CPU time the work each side does. The
algorithm is the same on both sides (MALA: one ``value_and_grad`` per step, the current point's
value and gradient cached in the state); ours is cheaper per step because the proposal ratio is
one fused dot product and the Gaussian increments and the acceptance uniform come from one
random draw per step (no key split, see :mod:`jaxhybrid.sampling.mala`). The two sides therefore
use different random streams: ``agreement`` is the relative difference of the two mean
acceptance rates (same target and step ⇒ the same expected acceptance), and
``mean_rel_diff`` is ‖mean_ours − mean_peer‖ over the final ensembles divided by their spread
√(Σ var) — for independent streams about √(2/chains) (``mean_rel_diff_expected``).

Usage: ``python benchmarks/langevin.py [--quick] [--json PATH] [--repeats R]``
(default output ``benchmarks/results/langevin-<cpu|gpu>.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from jaxhybrid.rollout import rollout  # noqa: E402
from jaxhybrid.sampling import mala  # noqa: E402

try:
    import blackjax
except ImportError as e:  # pragma: no cover
    raise SystemExit("benchmarks/langevin.py needs blackjax (pip install 'jaxhybrid[bench]').") from e


def _device() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', d.platform)}"


def _scales(d):
    return jnp.asarray(np.linspace(0.5, 2.0, d), jnp.float32)


def gaussian(d):
    inv_var = 1.0 / _scales(d) ** 2
    return lambda x: -0.5 * jnp.sum(x * x * inv_var)


def gaussian_init(d):
    # start in the stationary law: MALA's transient phase needs a smaller step than its
    # stationary phase (Christensen, Roberts & Rosenthal 2005), which is not what we time
    return lambda key, n: _scales(d) * jax.random.normal(key, (n, d), jnp.float32)


def default_init(d):
    return lambda key, n: 0.5 * jax.random.normal(key, (n, d), jnp.float32)


def banana(x, b=0.1):
    x1, x2 = x[0::2], x[1::2]
    return -0.5 * jnp.sum(x1 * x1 / 100.0 + (x2 + b * x1 * x1 - 100.0 * b) ** 2)


def funnel(x):
    v, z = x[0], x[1:]
    return -v * v / 18.0 - 0.5 * jnp.sum(z * z) * jnp.exp(-v) - 0.5 * z.shape[0] * v


def cases(quick: bool):
    s = 5 if quick else 1
    return [
        # name, logdensity, init, d, chains, steps, step size
        ("gauss_d1e3", gaussian(1000), gaussian_init(1000), 1000, 100, 1000 // s, 0.05),
        ("gauss_d1e6", gaussian(1_000_000), gaussian_init(1_000_000), 1_000_000, 1, 200 // s, 0.005),
        ("banana_d100", banana, default_init(100), 100, 1000, 1000 // s, 0.05),
        ("funnel_d100", funnel, default_init(100), 100, 1000, 1000 // s, 0.01),
    ]


def build(logdensity, step_size, n_chains, n_steps):
    ours = mala(logdensity, step_size)
    peer = blackjax.mala(logdensity, step_size)

    @jax.jit
    def run_ours(x0, keys):
        s0 = jax.vmap(ours.init)(x0)
        vstep = jax.vmap(ours.step)

        def step(c, k):
            s, acc = c
            s = vstep(s, jax.random.split(k, n_chains))
            return s, acc + s.accept_prob

        # one block of n_steps (a single inner scan), nothing saved but the final state
        (s, acc) = rollout(step, (s0, jnp.zeros(n_chains)), n_steps, inputs=keys, save_every=n_steps,
                           observe=lambda c: ()).final
        return s.position, acc / n_steps

    @jax.jit
    def run_peer(x0, keys):
        s0 = jax.vmap(peer.init)(x0)
        vstep = jax.vmap(peer.step)

        def body(c, k):
            s, acc = c
            s, info = vstep(jax.random.split(k, n_chains), s)
            return (s, acc + info.acceptance_rate), None

        (s, acc), _ = jax.lax.scan(body, (s0, jnp.zeros(n_chains)), keys)
        return s.position, acc / n_steps

    return run_ours, run_peer


def bench_case(name, logdensity, init, d, n_chains, n_steps, step_size, repeats, seed=0):
    key = jax.random.PRNGKey(seed)
    x0 = init(key, n_chains)
    keys = jax.random.split(jax.random.fold_in(key, 1), n_steps)
    run_ours, run_peer = build(logdensity, step_size, n_chains, n_steps)
    out_o = jax.block_until_ready(run_ours(x0, keys))  # compile + warm-up
    out_p = jax.block_until_ready(run_peer(x0, keys))
    t_o, t_p = [], []
    c_o, c_p = [], []

    def timed(f, acc, cpu):
        t, c = time.perf_counter(), time.process_time()
        jax.block_until_ready(f(x0, keys))
        acc.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)

    for r in range(repeats):  # interleaved, alternating which side goes first
        pair = ((run_ours, t_o, c_o), (run_peer, t_p, c_p)) if r % 2 == 0 else ((run_peer, t_p, c_p), (run_ours, t_o, c_o))
        for f, acc, cpu in pair:
            timed(f, acc, cpu)
    acc_o, acc_p = float(jnp.mean(out_o[1])), float(jnp.mean(out_p[1]))
    # different random streams: compare the final ensembles' means on the scale of their spread
    # (independent streams: expected ≈ √(2/chains); undefined for one chain)
    mean_diff = (float(jnp.linalg.norm(out_o[0].mean(0) - out_p[0].mean(0)) / jnp.sqrt(jnp.sum(out_p[0].var(0))))
                 if n_chains > 1 else None)
    so, sp = n_steps / min(t_o), n_steps / min(t_p)
    return {
        "case": name, "d": d, "chains": n_chains, "steps": n_steps, "step_size": step_size,
        "ours": round(so, 2), "peer": round(sp, 2), "unit": "steps/s (all chains)",
        "ratio": round(so / sp, 3), "ratio_median": round(float(np.median(np.asarray(t_p) / np.asarray(t_o))), 3),
        "ratio_cpu_time": round(min(c_p) / min(c_o), 3),
        "agreement": round(abs(acc_o - acc_p) / max(acc_p, 1e-12), 4),
        "acceptance_ours": round(acc_o, 4), "acceptance_peer": round(acc_p, 4),
        "mean_rel_diff": mean_diff, "mean_rel_diff_expected": round(float(np.sqrt(2.0 / n_chains)), 4) if n_chains > 1 else None,
        "all_times_ours_s": [round(t, 4) for t in t_o], "all_times_peer_s": [round(t, 4) for t in t_p],
        "all_cpu_times_ours_s": [round(t, 4) for t in c_o], "all_cpu_times_peer_s": [round(t, 4) for t in c_p],
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", type=pathlib.Path, default=None,
                   help="output path (default benchmarks/results/langevin-<cpu|gpu>.json)")
    p.add_argument("--quick", action="store_true", help="5x fewer steps (smoke run)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per side (default 7, quick 3)")
    p.add_argument("--cases", nargs="*", default=None, help="subset of case names")
    a = p.parse_args(argv)
    repeats = a.repeats or (3 if a.quick else 7)
    gpu = jax.devices()[0].platform == "gpu"
    print(f"device: {_device()}   blackjax {blackjax.__version__}   load: "
          f"{os.getloadavg() if hasattr(os, 'getloadavg') else 'n/a'}", flush=True)
    rows = []
    for c in cases(a.quick):
        if a.cases and c[0] not in a.cases:
            continue
        r = bench_case(*c, repeats=repeats)
        rows.append(r)
        print(f"{r['case']:<12} d={r['d']:>8} chains={r['chains']:>5}  ours {r['ours']:>10.1f}  blackjax "
              f"{r['peer']:>10.1f} steps/s  ratio {r['ratio']:.3f} (median {r['ratio_median']:.3f}, cpu-time {r['ratio_cpu_time']:.3f})  acceptance {r['acceptance_ours']:.3f} vs "
              f"{r['acceptance_peer']:.3f}", flush=True)
    result = {"area": "langevin", "device": _device(), "quick": a.quick, "blackjax": blackjax.__version__,
              "cases": rows}
    path = a.json or pathlib.Path(__file__).resolve().parent / "results" / f"langevin-{'gpu' if gpu else 'cpu'}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
