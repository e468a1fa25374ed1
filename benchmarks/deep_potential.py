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

import time

import harness  # noqa: E402  (benchmarks/harness.py: puts the work tree first on sys.path)
import jax
import jax.numpy as jnp
import optax

from jaxhybrid import md  # noqa: E402
from jaxhybrid.dp import DeepPot  # noqa: E402
from jaxhybrid.rollout import evolve  # noqa: E402
from jaxhybrid.train import trainer  # noqa: E402

A0, MASS = 3.61, 63.546


def setup(cells, model):
    R, box = md.fcc_lattice(cells, A0)
    R = R + 0.05 * jax.random.normal(jax.random.PRNGKey(0), R.shape, R.dtype)
    nl = md.neighbor_list(model.cutoff, 0.5)
    return R, box, nl, nl.allocate(R, box)


def train_runner(model, cells, steps):
    """``steps`` optimisation steps of an energy + force loss on one frame: the library's
    trainer (one Adam step, ``train.trainer``) run by ``rollout.evolve`` in one compiled call."""
    import equinox as eqx

    R, box, nl, nbrs = setup(cells, model)
    n = R.shape[0]

    def loss(m, batch):
        e, g = jax.value_and_grad(lambda x: m(x, nbrs, box))(R)
        return (e / n) ** 2 + jnp.mean(g**2)

    tr = trainer(loss, optax.adam(1e-3))
    run = eqx.filter_jit(lambda s: evolve(tr, s, steps, observe=lambda c: None).final.params)
    state = tr.init(model)
    return lambda: eqx.filter(run(state), eqx.is_array), n


def main(argv=None):
    args = harness.parser(__doc__, repeats=3).parse_args(argv)
    cfg = dict(rcut=5.5, rcut_smth=4.0, sel=80, embedding=(25, 50, 100), fitting=(240, 240, 240), axis=16, atom_block=256)
    if args.quick:
        cfg.update(embedding=(8, 16, 32), fitting=(64, 64, 64), axis=4)
    model = DeepPot(("Cu",), key=jax.random.PRNGKey(0), **cfg)
    steps = {"train": 2 if args.quick else 3, "md": 5 if args.quick else 10}
    cases = []
    runners = {}
    for cells in (4, 10):
        f, n = train_runner(model, cells, steps["train"])
        t = time.perf_counter()
        jax.block_until_ready(f())  # compile + first run
        runners[("train", n)] = (f, time.perf_counter() - t)
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
    configs = [setup(cells, model)[:2] for cells in (4, 10)]   # MD: NVE at 600 K, the md engine's own timing
    per_atom = md.cost_per_atom_step(model, configs, n_steps=steps["md"], dt=0.002, mass=MASS, temperature=600.0,
                                     key=jax.random.PRNGKey(1), repeats=args.repeats)
    for (R, _), best in zip(configs, per_atom):
        n = R.shape[0]
        cases.append({"case": f"md-N{n}", "n_atoms": n, "ours": 1.0 / (best * n), "peer": None, "unit": "steps/s",
                      "ratio": None, "agreement": None, "atom_steps_per_s": 1.0 / best, "us_per_atom_step": best * 1e6,
                      "steps_per_call": steps["md"]})
        print(f"   md N={n:5d}  {1.0 / (best * n):9.3f} steps/s  {best * 1e6:9.2f} us/atom-step")
    for kind in ("train", "md"):
        a, b = [c for c in cases if c["case"].startswith(kind)]
        print(f"{kind}: cost per atom-step ratio N={b['n_atoms']} / N={a['n_atoms']}: {b['us_per_atom_step'] / a['us_per_atom_step']:.2f}")
    harness.write_result("deep_potential", cases, args.json,
                         peer_note="no peer installed (DeePMD-kit not available here): peer and ratio are null",
                         model_config={k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
                         dtype="float32", quick=args.quick)


if __name__ == "__main__":
    main()
