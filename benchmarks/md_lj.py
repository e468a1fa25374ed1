"""Benchmark: jaxhybrid.md vs JAX-MD on the same Lennard-Jones NVE liquid (same process).

Same work on both sides: float32, the same initial positions and velocities (an equilibrated
liquid at ρ = 0.8442, T ≈ 0.72, made once with our Langevin integrator), the same box, the
same potential (LJ with JAX-MD's C¹ switch between r_onset = 2.0 and r_c = 2.5 — the
``energy.lennard_jones_neighbor_list`` default — reproduced by ``cutoff_mode="smooth"``), the
same Verlet skin (JAX-MD ``dr_threshold = 0.5`` = our ``skin = 0.5``: list radius 3.0, rebuild
when an atom moved more than 0.25), δt = 0.005, velocity Verlet, the same number of steps,
neighbour-list rebuild logic active on both sides.

* JAX-MD, used as its docs show: ``space.periodic``, ``energy.lennard_jones_neighbor_list``
  (``format=partition.Dense``), ``simulate.nve``, a ``lax.fori_loop`` of ``apply_fn`` +
  ``nbrs.update``; on overflow it re-allocates and re-runs (not counted as a timed success).
* jaxhybrid: ``md.nve`` with ``md.neighbor_force_fn`` (cell-list Verlet list refreshed inside the
  force function, analytic fused energy+force), stepped by the shared ``evolve`` (``rollout``).

Both sides record the total energy every ``block`` steps (ours from the state, JAX-MD by one
energy call per block). ``agreement`` = relative difference of the mean potential energy per
atom over the timed runs (chaotic trajectories decorrelate; the means must agree
statistically). Each side's energy drift is ``max |E(t) − E(0)| / |E(0)|``.

Timing: compile excluded (warm-up run first), ``block_until_ready``, ours and peer interleaved,
``--repeats`` runs each, the median kept. ``ratio = ours_steps_per_s / peer_steps_per_s``.

Also reported: the device's memory bandwidth (timed in-place ``x + 1`` passes over a large
array, read + write)
and an estimate of the bytes our step moves per atom (neighbour indices + gathered
coordinates + per-atom state), giving the bandwidth-bound limit of atom-steps/s.

Usage: ``python benchmarks/md_lj.py [--json PATH] [--sizes 4000 ...] [--steps S] [--repeats R]``.
Sizes are rounded to the nearest fcc count 4k³ (32000, 256000 and 1000188 ≈ 1M are exact or
nearest); the case name carries the actual atom count.
"""

from __future__ import annotations

import gc
import statistics
import time

import harness  # noqa: E402  (benchmarks/harness.py: puts the work tree first on sys.path)
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import md  # noqa: E402
from jaxhybrid.rollout import evolve  # noqa: E402

try:
    from jax_md import energy as jm_energy
    from jax_md import partition as jm_partition
    from jax_md import simulate as jm_simulate
    from jax_md import space as jm_space
except ImportError as e:  # pragma: no cover
    raise SystemExit("benchmarks/md_lj.py needs jax-md (pip install jax-md).") from e

RHO, KT, DT, RC, R_ON, SKIN = 0.8442, 0.72, 0.005, 2.5, 2.0, 0.5


def _bandwidth_gbs() -> float:
    """Streaming bandwidth: 20 in-place ``x ← x + 1`` passes over a large float32 array inside
    one jitted loop (no allocation or launch effects), (read + write) bytes / time, best of 3."""
    gpu = jax.devices()[0].platform != "cpu"
    n = (1 << 28) if gpu else (1 << 24)  # 1 GiB / 64 MiB
    reps = 20
    f = jax.jit(lambda a: jax.lax.fori_loop(0, reps, lambda i, y: y + 1.0, a), donate_argnums=0)
    x = f(jnp.zeros((n,), jnp.float32))
    jax.block_until_ready(x)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        x = f(x)
        jax.block_until_ready(x)
        best = min(best, time.perf_counter() - t)
    del x
    return 2 * 4 * n * reps / best / 1e9


def _fcc_count(n):
    k = max(2, round((n / 4) ** (1 / 3)))
    return 4 * k**3


def _steps_for(n, platform):
    if platform == "cpu":
        return 500 if n <= 8000 else max(50, int(2_000_000 / n) // 10 * 10)
    return {True: 1000}.get(n <= 50_000, 500 if n <= 300_000 else 200)


def _initial_liquid(n, seed=0):
    """fcc lattice → melt at T = 2 → equilibrate at T = 0.72 (Langevin, our engine), float32."""
    R, box = md.lj_liquid_box(n, RHO, jnp.float32)
    lj = md.lennard_jones(cutoff=RC, cutoff_mode="smooth", r_onset=R_ON)
    hot = md.simulate(lj, R, box, n_steps=200, dt=DT, temperature=2.0, ensemble="langevin", gamma=5.0, skin=SKIN,
                      thermo_every=100, progress=False, compute_pressure=False, key=jax.random.PRNGKey(seed))
    eq = md.simulate(lj, hot.state.positions, box, n_steps=300, dt=DT, temperature=KT, momenta=hot.state.momenta,
                     ensemble="langevin", gamma=5.0, skin=SKIN, thermo_every=100, progress=False,
                     compute_pressure=False, key=jax.random.PRNGKey(seed + 1))
    R = md.wrap(eq.state.positions, box)
    P = eq.state.momenta - jnp.mean(eq.state.momenta, 0)
    return R, P, box, lj


def _stats(E_tot, U, n):
    E_tot = np.asarray(E_tot, np.float64)
    drift = float(np.max(np.abs(E_tot - E_tot[0])) / abs(E_tot[0]))
    return drift, float(np.mean(np.asarray(U, np.float64)) / n)


def run_case(n_req, steps, repeats, block):
    n = _fcc_count(n_req)
    platform = jax.devices()[0].platform
    steps = steps or _steps_for(n, platform)
    steps = max(block, (steps // block) * block)
    t0 = time.perf_counter()
    R, P, box, lj = _initial_liquid(n)
    L = float(box.matrix[0, 0])
    print(f"[lj-N{n}] equilibrated liquid in {time.perf_counter() - t0:.1f}s; {steps} steps per run", flush=True)

    # ---------------- ours
    nl = md.neighbor_list(RC, SKIN, "dense")
    nbrs = nl.allocate(R, box)
    integ = md.nve(md.neighbor_force_fn(lj, nl, box), DT)
    state0 = integ.init(R, P, 1.0, nbrs)

    def obs(s):
        return jnp.stack([s.energy, s.energy + 0.5 * jnp.sum(s.momenta * s.momenta / s.mass)])

    ours_run = jax.jit(lambda s: evolve(integ, s, steps, save_every=block, observe=obs))

    # ---------------- JAX-MD
    disp, shift = jm_space.periodic(L)
    nfn, efn = jm_energy.lennard_jones_neighbor_list(disp, L, r_onset=R_ON, r_cutoff=RC, dr_threshold=SKIN,
                                                     format=jm_partition.Dense)
    init_fn, apply_fn = jm_simulate.nve(efn, shift, DT)
    jnbrs = nfn.allocate(R)
    jstate0 = init_fn(jax.random.PRNGKey(0), R, kT=KT, neighbor=jnbrs, momenta=P)

    def peer_run_fn(st, nb):
        def body(i, c):
            s, b = c
            s = apply_fn(s, neighbor=b)
            b = b.update(s.position)
            return s, b

        def blk(c, _):
            c = jax.lax.fori_loop(0, block, body, c)
            s, b = c
            U = efn(s.position, neighbor=b)
            K = 0.5 * jnp.sum(s.momentum**2 / s.mass)
            return c, jnp.stack([U, U + K])

        (st, nb), e = jax.lax.scan(blk, (st, nb), None, length=steps // block)
        return st, nb, e

    peer_run = jax.jit(peer_run_fn)

    # warm-up (compile) both; JAX-MD re-allocates on overflow as its docs prescribe
    t = time.perf_counter()
    res = ours_run(state0)
    jax.block_until_ready(res)
    while bool(res.final.aux.overflow):
        state0 = state0._replace(aux=nl.reallocate(R, box, res.final.aux))
        res = ours_run(state0)
        jax.block_until_ready(res)
    t_ours_c = time.perf_counter() - t
    t = time.perf_counter()
    out = peer_run(jstate0, jnbrs)
    jax.block_until_ready(out)
    while bool(out[1].did_buffer_overflow):
        jnbrs = nfn.allocate(R, extra_capacity=8)
        jstate0 = init_fn(jax.random.PRNGKey(0), R, kT=KT, neighbor=jnbrs, momenta=P)
        out = peer_run(jstate0, jnbrs)
        jax.block_until_ready(out)
    t_peer_c = time.perf_counter() - t
    print(f"[lj-N{n}] warm-up (incl. compile): ours {t_ours_c:.1f}s, jax-md {t_peer_c:.1f}s", flush=True)

    times_o, times_p, e_o, e_p = [], [], [], []
    for rep in range(repeats):
        t = time.perf_counter()
        res = ours_run(state0)
        jax.block_until_ready(res)
        times_o.append(time.perf_counter() - t)
        if bool(res.final.aux.overflow):
            raise RuntimeError("ours: neighbour list overflowed during a timed run")
        e_o.append(np.asarray(res.saved))
        t = time.perf_counter()
        out = peer_run(jstate0, jnbrs)
        jax.block_until_ready(out)
        times_p.append(time.perf_counter() - t)
        if bool(out[1].did_buffer_overflow):
            raise RuntimeError("jax-md: neighbour list overflowed during a timed run")
        e_p.append(np.asarray(out[2]))
        print(f"[lj-N{n}] rep {rep}: ours {steps / times_o[-1]:.1f} steps/s, jax-md {steps / times_p[-1]:.1f} steps/s",
              flush=True)
    to, tp = statistics.median(times_o), statistics.median(times_p)
    eo, ep = e_o[-1], e_p[-1]
    drift_o, u_o = _stats(eo[:, 1], eo[:, 0], n)
    drift_p, u_p = _stats(ep[:, 1], ep[:, 0], n)
    # energies with the initial state prepended for drift relative to t = 0
    e0 = float(obs(state0)[1])
    drift_o = max(drift_o, float(np.max(np.abs(eo[:, 1] - e0)) / abs(e0)))
    drift_p = max(drift_p, float(np.max(np.abs(ep[:, 1] - e0)) / abs(e0)))
    u_o = float(np.mean([np.mean(e[:, 0]) for e in e_o])) / n
    u_p = float(np.mean([np.mean(e[:, 0]) for e in e_p])) / n
    m = res.final.aux.max_neighbors
    bytes_per_atom_step = 4 * m + 12 * m + 10 * 12  # indices + gathered xyz + r, p, F, m traffic
    case = {
        "case": f"lj-N{n}",
        "n_atoms": n,
        "steps": steps,
        "ours": steps / to,
        "peer": steps / tp,
        "unit": "steps/s",
        "ratio": (steps / to) / (steps / tp),
        "agreement": abs(u_o - u_p) / abs(u_p),
        "atom_steps_per_s_ours": n * steps / to,
        "atom_steps_per_s_peer": n * steps / tp,
        "energy_drift_rel_ours": drift_o,
        "energy_drift_rel_peer": drift_p,
        "mean_potential_per_atom_ours": u_o,
        "mean_potential_per_atom_peer": u_p,
        "max_neighbors_ours": int(m),
        "max_neighbors_peer": int(jnbrs.idx.shape[1]),
        "rebuilds_ours_per_run": int(res.final.aux.n_builds - state0.aux.n_builds),
        "bytes_per_atom_step_est": bytes_per_atom_step,
        "compile_plus_first_run_s_ours": t_ours_c,
        "compile_plus_first_run_s_peer": t_peer_c,
        "times_s_ours": times_o,
        "times_s_peer": times_p,
        "dt": DT, "cutoff": RC, "r_onset": R_ON, "skin": SKIN, "density": RHO, "dtype": "float32",
    }
    del res, out, state0, jstate0, nbrs, jnbrs
    gc.collect()
    return case


def main(argv=None):
    ap = harness.parser(__doc__, repeats=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000])
    ap.add_argument("--steps", type=int, default=None, help="steps per timed run (default: by size and device)")
    ap.add_argument("--block", type=int, default=50, help="energy sampling interval (steps)")
    args = ap.parse_args(argv)
    bw = _bandwidth_gbs()
    print(f"device {harness.device()}; memory bandwidth (x+1, read+write) {bw:.1f} GB/s", flush=True)
    cases = []
    for n in args.sizes:
        c = run_case(n, args.steps, args.repeats, args.block)
        c["bandwidth_GBps"] = bw
        c["atom_steps_per_s_bandwidth_limit"] = bw * 1e9 / c["bytes_per_atom_step_est"]
        cases.append(c)
        path = harness.write_result("md_lj", cases, args.json, bandwidth_GBps=bw)   # after every size
    print(f"\n{'case':<14}{'ours st/s':>11}{'peer st/s':>11}{'ratio':>7}{'atom-st/s ours':>16}{'atom-st/s peer':>16}"
          f"{'agree':>9}{'drift ours':>12}{'drift peer':>12}{'BW limit':>12}")
    for c in cases:
        print(f"{c['case']:<14}{c['ours']:>11.1f}{c['peer']:>11.1f}{c['ratio']:>7.2f}{c['atom_steps_per_s_ours']:>16.3e}"
              f"{c['atom_steps_per_s_peer']:>16.3e}{c['agreement']:>9.1e}{c['energy_drift_rel_ours']:>12.1e}"
              f"{c['energy_drift_rel_peer']:>12.1e}{c['atom_steps_per_s_bandwidth_limit']:>12.2e}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
