"""Benchmark: Deep Potential (``se_e2_a``) training and MD throughput at 256 and 4,000 atoms.

No peer is run: DeePMD-kit (TensorFlow/PyTorch) is not installed in this environment, so every
case has ``"peer": null`` and ``"ratio": null``; the figures are ours only, with the model
configuration written beside them.

* ``train-N``: one optimisation step (Adam) of the DeePMD loss ``p_e (ΔE/N)² + p_f mean(ΔF²)``
  on one N-atom fcc Cu frame (forces by autodiff inside the loss, then the parameter gradient:
  the second-order cost DeePMD training pays). Labels are synthetic (zeros): the cost does not
  depend on their values.
* ``md-N``: velocity-Verlet NVE steps of DP-MD through ``jaxhybrid.md`` (dense Verlet list,
  skin 0.5 Å, refreshed inside the force function), float32.

Timing: compile excluded (one warm-up call), ``block_until_ready``, best of ``--repeats``
interleaved repeats. ``--quick`` uses a small network and fewer steps.

Usage: ``python benchmarks/deep_potential.py [--json PATH] [--quick] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from jaxhybrid import md  # noqa: E402
from jaxhybrid.dp import DeepPot  # noqa: E402
from jaxhybrid.rollout import evolve  # noqa: E402

A0, MASS = 3.61, 63.546


def setup(cells, model):
    R, box = md.fcc_lattice(cells, A0)
    R = R + 0.05 * jax.random.normal(jax.random.PRNGKey(0), R.shape, R.dtype)
    nl = md.neighbor_list(model.cutoff, 0.5)
    return R, box, nl, nl.allocate(R, box)


def train_runner(model, cells, steps):
    import equinox as eqx

    R, box, nl, nbrs = setup(cells, model)
    n = R.shape[0]
    opt = optax.adam(1e-3)
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(p):
        m = eqx.combine(p, static)
        e, g = jax.value_and_grad(lambda x: m(x, nbrs, box))(R)
        return (e / n) ** 2 + jnp.mean(g**2)

    def step(carry, _):
        p, s = carry
        gr = jax.grad(loss)(p)
        u, s = opt.update(gr, s, p)
        return (optax.apply_updates(p, u), s), None

    run = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), None, length=steps)[0])
    state = (params, opt.init(params))
    return lambda: run(*state), n


def md_runner(model, cells, steps):
    R, box, nl, nbrs = setup(cells, model)
    integ = md.nve(md.neighbor_force_fn(model, nl, box), 0.002)
    m = md.METAL.mass(MASS)
    P = md.maxwell_boltzmann(jax.random.PRNGKey(1), m, md.METAL.kT(600.0), R.shape[0])
    s0 = integ.init(R, P, m, nbrs)
    run = jax.jit(lambda s: evolve(integ, s, steps).final)
    return lambda: run(s0), R.shape[0]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=str(pathlib.Path(__file__).parent / "results" / "deep_potential-cpu.json"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    cfg = dict(rcut=5.5, rcut_smth=4.0, sel=80, embedding=(25, 50, 100), fitting=(240, 240, 240), axis=16, atom_block=256)
    if args.quick:
        cfg.update(embedding=(8, 16, 32), fitting=(64, 64, 64), axis=4)
    model = DeepPot(("Cu",), key=jax.random.PRNGKey(0), **cfg)
    steps = {"train": 2 if args.quick else 3, "md": 5 if args.quick else 10}
    cases = []
    runners = {}
    for kind, make in (("train", train_runner), ("md", md_runner)):
        for cells in (4, 10):
            f, n = make(model, cells, steps[kind])
            t = time.perf_counter()
            jax.block_until_ready(f())  # compile + first run
            runners[(kind, n)] = (f, time.perf_counter() - t)
    times = {k: [] for k in runners}
    for _ in range(args.repeats):  # interleaved repeats
        for k, (f, _) in runners.items():
            t = time.perf_counter()
            jax.block_until_ready(f())
            times[k].append(time.perf_counter() - t)
    for (kind, n), ts in times.items():
        best = min(ts) / steps[kind]
        cases.append({"case": f"{kind}-N{n}", "n_atoms": n, "ours": 1.0 / best, "peer": None, "unit": "steps/s", "ratio": None,
                      "agreement": None, "atom_steps_per_s": n / best, "us_per_atom_step": best / n * 1e6,
                      "steps_per_call": steps[kind], "times_s": ts, "compile_plus_first_s": runners[(kind, n)][1]})
        print(f"{kind:>5} N={n:5d}  {1.0 / best:9.3f} steps/s  {best / n * 1e6:9.2f} us/atom-step")
    for kind in ("train", "md"):
        a, b = [c for c in cases if c["case"].startswith(kind)]
        print(f"{kind}: cost per atom-step ratio N={b['n_atoms']} / N={a['n_atoms']}: {b['us_per_atom_step'] / a['us_per_atom_step']:.2f}")
    rec = {"area": "deep_potential", "device": f"{jax.default_backend()}:{jax.devices()[0].device_kind}",
           "peer_note": "no peer installed (DeePMD-kit not available here): peer and ratio are null",
           "model_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}, "dtype": "float32",
           "quick": args.quick, "cases": cases}
    pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.json).write_text(json.dumps(rec, indent=2))
    print("wrote", args.json)


if __name__ == "__main__":
    main()
