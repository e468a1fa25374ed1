"""dpmd-dft: a Deep Potential trained on PySCF Kohn–Sham DFT labels of a water molecule, run
inside Newton's equations at a tiny fraction of the cost of DFT-MD (paradigm 1: the
mechanism's energy is a network trained on first-principles data).

Protocol
--------
* Reference (the mechanism): Kohn–Sham DFT, PBE / 6-31G (PySCF; Sun et al., WIREs Comput. Mol.
  Sci. 8, e1340 (2018)), energies and analytic nuclear gradients, for one gas-phase H₂O.
  Quick mode uses the minimal STO-3G basis and a coarser XC grid so that a cold-cache quick run
  stays within a minute (the record says which basis was used).
* DFT-MD: Langevin dynamics with the MD engine's BAOAB integrator (:func:`jaxhybrid.md.langevin`,
  δt = 0.5 fs, γ = 20 ps⁻¹) whose force function calls PySCF through ``jax.pure_callback``
  (:func:`dft_force_fn`), inside the shared :func:`jaxhybrid.rollout.evolve` loop. DP-MD uses
  the *same* integrator, time step, friction and loop with the Deep Potential as the force
  function, so the cost comparison is per step of identical dynamics.
* Labels: every DFT-MD step is a labelled frame (energy, forces). Training trajectories at 300,
  600 and 900 K (one per temperature, seed ``seed``), held-out trajectories at the same
  temperatures from another seed; each trajectory starts from a randomly rotated molecule
  (an isolated molecule has no preferred orientation). Each trajectory is cached on disk as a
  DeePMD-kit system directory under ``jaxhybrid.dp.cache_dir()`` (:func:`dft_md`), so a second
  run reads the labels instead of recomputing them.
* Model: ``se_e2_a`` (``r_c`` = 4 Å, all pairs of the molecule inside), trained with the DeePMD
  loss (moving prefactors, decaying learning rate) through ``train.fit``. Metrics on the
  held-out frames: force-component RMSE (meV/Å), energy RMSE (meV/atom and meV/molecule).
* Structure: O–H bond-length distributions of DP-MD (long runs) and DFT-MD (the held-out
  trajectories after 25 fs of equilibration), at each temperature: L1 distance of the
  histogram densities ``∫|p_DP − p_DFT| dr`` (0 = identical, 2 = disjoint), mean and standard
  deviation of both. Because the DFT-MD trajectory is short, the L1 distance a *perfect* model
  would show is not 0: ``oh_bond_hist_l1_sampling_floor`` is the median (and ``_p90`` the 90th
  percentile) of the L1 distances between DP-MD segments as long as the DFT-MD trajectory
  (independent seeds, same start) and the long DP-MD run.
* Cost: seconds per MD step of DFT-MD (a fresh, uncached run measured in every run) and DP-MD
  (jit-compiled rollout, compile excluded, best of 3) → ``speedup_vs_reference``.

Baselines: ``mechanism_only`` — DFT itself (error 0 by definition; its cost per step);
``data_only`` — an MLP on the raw Cartesian coordinates (9 inputs; energy, forces = −∇E; no
symmetry) trained on the same labels with the same loss weights; ``data_only_distances`` (full
run only) — the same MLP on the three flattened interatomic distances (rotation- and
translation-invariant by construction; for three atoms they fix the geometry, so this is a
strong baseline).

Measured (seed 0, 2 CPU cores shared with other jobs, load 6–9): full run from a cold label
cache 1,141 s wall / 606 CPU-s (labels 782 s of it: 1,200 DFT-MD steps; training 181 s; DP-MD
and timing 128 s); held-out force RMSE 12.3 meV/Å, energy 0.45 meV/atom (1.35 meV/molecule);
DFT-MD 0.56 s per step vs DP-MD 182 µs (speed-up 3,051×; 1,922× in an earlier run where DFT-MD
took 0.30 s per step); MLP on raw coordinates 1,078 meV/Å, MLP on distances 139 meV/Å. Mean O–H
bond DP / DFT at 300, 600, 900 K: 0.989 / 0.991, 0.993 / 0.993, 0.997 / 0.991 Å; histogram L1
0.37, 0.25, 0.42 against sampling floors (median) 0.31, 0.28, 0.25 — at 900 K the 100 fs DFT-MD
trajectory is narrower (std 0.030 Å) than DP-MD (0.045 Å) by more than the floor.
Quick mode (STO-3G) from a cold cache: 73 s wall / 51 CPU-s under load 5.
"""

from __future__ import annotations

import contextlib
import math
import pathlib
import time
from typing import Optional, Sequence

import numpy as np

NAME = "dpmd-dft"
SYMBOLS = ("O", "H", "H")
TYPE_MAP = ("O", "H")
MASSES = (15.999, 1.008, 1.008)  # amu
# near the experimental gas-phase geometry (r_OH 0.958 Å, ∠HOH 104.5°), the MD starting point
WATER = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])


def config(quick: bool) -> dict:
    """DFT level, data, model, training and MD sizes of the run (written into the record)."""
    c = dict(xc="PBE", basis="6-31g", grid_level=2, dt_fs=0.5, gamma_per_ps=20.0, temperatures=(300.0, 600.0, 900.0),
             train_steps=200, test_steps=200, discard_steps=40, timing_dft_steps=20, rcut=4.0, rcut_smth=3.0,
             embedding=(16, 32, 64), fitting=(64, 64, 64), axis=8, steps=20000, batch_size=8, lr_start=2e-3, lr_end=1e-5,
             pref_e=(0.1, 10.0), pref_f=(1000.0, 1.0), dp_md_steps=20000, timing_dp_steps=20000, floor_segments=16,
             data_only_steps=20000, data_only_widths=(128, 128))
    if quick:
        # quick (CI, cold cache ≤ 60 s): minimal basis, coarse grid, two temperatures, short trajectories
        c.update(basis="sto-3g", grid_level=0, temperatures=(300.0, 900.0), train_steps=24, test_steps=16, discard_steps=6,
                 timing_dft_steps=5, embedding=(8, 16), fitting=(32, 32), axis=4, steps=600, lr_end=1e-4, dp_md_steps=2000,
                 timing_dp_steps=2000, floor_segments=4, data_only_steps=600)
    return c


# ---------------------------------------------------------------------------------------------
# DFT-MD through the MD engine's integrator, labels cached on disk


@contextlib.contextmanager
def one_thread():
    """Run PySCF's OpenMP kernels on one thread (restored afterwards). For a molecule this small
    the threads only add synchronisation; on a shared 2-core machine two spinning OpenMP threads
    made a water SCF 7× slower (1.27 s vs 0.18 s). The DP-MD side runs on one thread too."""
    from pyscf import lib

    n = lib.num_threads()
    lib.num_threads(1)
    try:
        yield
    finally:
        lib.num_threads(n)


def dft_force_fn(labeller, symbols: Sequence[str], e_ref: float = 0.0):
    """``force_fn(R, aux) -> (E − e_ref, F, aux)`` of :mod:`jaxhybrid.md` whose energy (eV) and
    forces (eV/Å) come from ``labeller.energy_forces(symbols, R)`` (R in Å), called on the host
    through ``jax.pure_callback`` — so the DFT reference runs in the same compiled integrator
    and ``evolve`` loop as a learned potential. The dynamics run in the default float32; the
    energy is returned relative to ``e_ref`` (e.g. the energy of the starting geometry) so that
    float32 keeps its meV digits (a total energy of −2,076 eV would keep only ~0.1 meV)."""
    import jax
    import jax.numpy as jnp

    symbols = list(symbols)

    def force_fn(R, aux=None):
        dtype = np.dtype(R.dtype)

        def host(x):
            with one_thread():
                e, f = labeller.energy_forces(symbols, np.asarray(x, np.float64))
            return np.asarray(e - e_ref, dtype), np.asarray(f, dtype)

        shapes = (jax.ShapeDtypeStruct((), R.dtype), jax.ShapeDtypeStruct(R.shape, R.dtype))
        e, f = jax.pure_callback(host, shapes, R)
        return jnp.asarray(e), jnp.asarray(f), aux

    return force_fn


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniform (Haar) random rotation: QR of a Gaussian matrix with the sign fix, det = +1."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def langevin_program(force_fn, R0, T, n_steps: int, dt_fs: float, gamma_per_ps: float, seeds: Sequence[int],
                     masses=MASSES, batched: bool = False, observe=None):
    """BAOAB Langevin (:func:`jaxhybrid.md.langevin`, METAL units: eV, Å, ps, amu) from ``R0``
    with Maxwell–Boltzmann momenta at ``T``, ``n_steps`` steps through
    :func:`jaxhybrid.rollout.evolve`, saving ``observe(state)`` (default positions, energy,
    forces) after every step. Seed ``s`` gives ``k1, k2 = split(PRNGKey(s))``: the momenta from
    ``k1``, step ``n``'s thermostat noise from ``fold_in(k2, n)``. Returns ``(run, s0)``: the ahead-of-time compiled run (``run(s0)``)
    and its initial state (one per seed, stacked and ``vmap``-ed when ``batched``; otherwise
    ``seeds[0]`` only). With ``batched``, ``T`` and ``R0`` may also give one temperature and one
    start per seed: the temperature is a traced argument of the program, so runs at several
    temperatures share one compilation. Compiling first lets a caller time the steps alone."""
    import jax
    import jax.numpy as jnp

    from jaxhybrid import md
    from jaxhybrid.rollout import evolve

    seeds = list(seeds if batched else seeds[:1])
    Ts = np.broadcast_to(np.asarray(T, np.float64), (len(seeds),))
    R0s = np.asarray(R0, np.float32)
    R0s = np.broadcast_to(R0s, (len(seeds),) + R0s.shape[-2:])
    m = md.METAL.mass(jnp.asarray(masses, jnp.float32))[:, None]
    dt, gamma = dt_fs * 1e-3, gamma_per_ps
    observe = (lambda x: (x.positions, x.energy, x.forces)) if observe is None else observe
    states, keys = [], []
    for seed, Ti, Ri in zip(seeds, Ts, R0s):  # initial states on the host (init validates eagerly)
        k1, k2 = jax.random.split(jax.random.PRNGKey(int(seed)))
        kT = md.METAL.kT(float(Ti))
        Ri = jnp.asarray(Ri)
        states.append(md.langevin(force_fn, dt, kT, gamma).init(Ri, md.maxwell_boltzmann(k1, m, kT, Ri.shape[0], Ri.dtype),
                                                                m, None))
        keys.append(k2)
    kTs = jnp.asarray([md.METAL.kT(float(Ti)) for Ti in Ts], jnp.float32)
    keys = jnp.stack(keys)

    def one(s, kT, key):
        return evolve(md.langevin(force_fn, dt, kT, gamma), s, n_steps, key=key, observe=observe).saved

    if batched:
        s0 = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *states)
        compiled = jax.jit(jax.vmap(one)).lower(s0, kTs, keys).compile()
        return (lambda s: compiled(s, kTs, keys)), s0
    compiled = jax.jit(one).lower(states[0], kTs[0], keys[0]).compile()
    return (lambda s: compiled(s, kTs[0], keys[0])), states[0]


def langevin_md(force_fn, R0, T: float, n_steps: int, dt_fs: float, gamma_per_ps: float, seed: int, masses=MASSES):
    """Positions, energies and forces of every step of one Langevin run (see
    :func:`langevin_program`), as numpy arrays with a leading step axis."""
    run, s0 = langevin_program(force_fn, R0, T, n_steps, dt_fs, gamma_per_ps, [seed], masses)
    return tuple(np.asarray(a) for a in run(s0))


def seconds_per_step(force_fn, R0, c: dict, n_steps: int, repeats: int = 1) -> float:
    """Best-of-``repeats`` wall time per step of ``n_steps`` Langevin steps at 300 K (the
    program of :func:`langevin_program`, compiled before the clock starts), the same program
    for DFT-MD and DP-MD."""
    import jax

    run, s0 = langevin_program(force_fn, R0, 300.0, n_steps, c["dt_fs"], c["gamma_per_ps"], [7])
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(run(s0))
        best = min(best, time.perf_counter() - t)
    return best / n_steps


def dft_md(labeller, T: float, n_steps: int, *, dt_fs: float = 0.5, gamma_per_ps: float = 20.0, seed: int = 0,
           name: str = "water", cache: Optional[pathlib.Path] = None, log=None):
    """Labelled DFT-MD trajectory of the water molecule at ``T`` (every step a frame): a
    :class:`jaxhybrid.dp.System`, cached as a DeePMD-kit system directory in
    ``cache_dir()/<name>-<hash of the arguments and DFT settings>`` and read back on the next
    call with the same arguments (published atomically, as :func:`jaxhybrid.dp.reference_md`)."""
    from jaxhybrid.dp import System, cached_system

    if n_steps < 1 or T <= 0 or dt_fs <= 0 or gamma_per_ps <= 0:
        raise ValueError(f"dft_md: need n_steps >= 1, T > 0, dt_fs > 0 and gamma_per_ps > 0; got {n_steps}, {T}, {dt_fs}, "
                         f"{gamma_per_ps}.")
    spec = dict(kind="dft-md-langevin", labeller=labeller.name, xc=labeller.xc, basis=labeller.basis,
                grid_level=getattr(labeller, "grid_level", None), conv_tol=getattr(labeller, "conv_tol", None),
                symbols=list(SYMBOLS), T=float(T), n_steps=int(n_steps), dt_fs=float(dt_fs), gamma_per_ps=float(gamma_per_ps),
                seed=int(seed), noise="fold_in")  # step n's noise is fold_in(key, n): older cached runs are not reused

    def make():
        t0 = time.perf_counter()
        rng = np.random.default_rng(seed * 1009 + int(T))
        R0 = (WATER - WATER.mean(0)) @ random_rotation(rng).T
        R0 = np.asarray(R0, np.float32).astype(np.float64)
        with one_thread():
            e_ref = float(labeller.energy_forces(list(SYMBOLS), R0)[0])
        R, E, F = langevin_md(dft_force_fn(labeller, SYMBOLS, e_ref), R0, T, n_steps, dt_fs, gamma_per_ps, seed)
        n = len(SYMBOLS)
        sysm = System(TYPE_MAP, np.array([TYPE_MAP.index(s) for s in SYMBOLS]), R.astype(np.float64),
                      np.broadcast_to(np.eye(3) * 100.0, (n_steps, 3, 3)).copy(), E.astype(np.float64) + e_ref,
                      F.astype(np.float64), None, False).validate()
        if log:
            log(f"dft_md {name}: T={T} {n_steps} steps in {time.perf_counter() - t0:.1f}s")
        return sysm

    return cached_system(name, spec, make, cache)


def labeller(c: dict):
    from jaxhybrid.dp import PySCFLabeller

    return PySCFLabeller(TYPE_MAP, xc=c["xc"], basis=c["basis"], grid_level=c["grid_level"])


def water_data(c: dict, seed: int, split: str, log=None):
    """One labelled DFT-MD trajectory per temperature (``split`` "train" or "test": different
    seeds and therefore different orientations and noise)."""
    lab = labeller(c)
    steps, s = (c["train_steps"], seed) if split == "train" else (c["test_steps"], 1000 + seed)
    return [dft_md(lab, T, steps, dt_fs=c["dt_fs"], gamma_per_ps=c["gamma_per_ps"], seed=s, name=f"water-{split}", log=log)
            for T in c["temperatures"]]


# ---------------------------------------------------------------------------------------------
# the Deep Potential of a molecule as an MD force function


def molecule_energy_fn(model, types: Sequence[int]):
    """``E(R)`` of an isolated molecule: every other atom is a neighbour (no periodic images;
    pairs beyond ``r_c`` get zero environment rows from the switching function)."""
    import jax.numpy as jnp

    n = len(types)
    idx = jnp.asarray([[j for j in range(n) if j != i] for i in range(n)], jnp.int32).reshape(n, n - 1)
    shifts = jnp.zeros((n, n - 1, 3), jnp.int8)
    types = jnp.asarray(types, jnp.int32)

    def energy(R):
        return model.energy_from_pairs(R, jnp.eye(3, dtype=R.dtype) * 100.0, types, idx, shifts)

    return energy


def train_dp(train_set, c: dict, seed: int):
    import jax

    from jaxhybrid.dp import DeepPot, LossConfig, train

    model = DeepPot(TYPE_MAP, rcut=c["rcut"], rcut_smth=c["rcut_smth"], sel=len(SYMBOLS) - 1, embedding=c["embedding"],
                    fitting=c["fitting"], axis=c["axis"], key=jax.random.PRNGKey(seed))
    return train(model, train_set, steps=c["steps"], batch_size=c["batch_size"], lr_start=c["lr_start"], lr_end=c["lr_end"],
                 loss=LossConfig(c["pref_e"][0], c["pref_e"][1], c["pref_f"][0], c["pref_f"][1]),
                 key=jax.random.PRNGKey(seed + 1), log_every=math.gcd(c["steps"], 500), progress=False)


# ---------------------------------------------------------------------------------------------
# structure: O–H bond-length distributions


def oh_lengths(R: np.ndarray) -> np.ndarray:
    """Both O–H bond lengths of every frame of ``R`` (F, 3, 3) (atom 0 = O), flattened."""
    R = np.asarray(R)
    return np.linalg.norm(R[:, 1:] - R[:, :1], axis=-1).ravel()


def hist_l1(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> float:
    """``∫|p_a − p_b| dr`` of the histogram densities of samples ``a`` and ``b`` on ``edges``
    (0 for identical histograms, 2 for disjoint ones). Samples outside the edges count as
    disjoint mass (each side adds its out-of-range fraction), so they can only raise it."""
    pa = np.histogram(a, edges)[0] / len(a)
    pb = np.histogram(b, edges)[0] / len(b)
    return float(np.sum(np.abs(pa - pb)) + (1.0 - pa.sum()) + (1.0 - pb.sum()))


def _hist_edges(samples: Sequence[np.ndarray], n_bins: int = 24) -> np.ndarray:
    lo = min(float(np.min(s)) for s in samples)
    hi = max(float(np.max(s)) for s in samples)
    pad = 0.05 * (hi - lo)
    return np.linspace(lo - pad, hi + pad, n_bins + 1)


def dp_md_runs(force_fn, starts: Sequence[np.ndarray], temperatures: Sequence[float], c: dict, n_steps: int,
               seeds: Sequence[int]) -> np.ndarray:
    """Positions of Langevin runs, one per (temperature, seed), the temperature ``i`` run from
    ``starts[i]``; one vmapped program for all: (len(temperatures), len(seeds), n_steps, N, 3)."""
    nT, nS = len(temperatures), len(seeds)
    R0 = np.repeat(np.asarray(starts, np.float32), nS, axis=0)
    Ts = np.repeat(np.asarray(temperatures, np.float64), nS)
    run, s0 = langevin_program(force_fn, R0, Ts, n_steps, c["dt_fs"], c["gamma_per_ps"], list(seeds) * nT, batched=True,
                               observe=lambda x: x.positions)
    out = np.asarray(run(s0))
    return out.reshape((nT, nS) + out.shape[1:])


# ---------------------------------------------------------------------------------------------
# data-only baselines: MLP on raw coordinates / on interatomic distances


def _features(kind: str):
    import jax.numpy as jnp

    if kind == "coordinates":
        return lambda R: R.ravel()
    if kind == "distances":
        iu = np.triu_indices(len(SYMBOLS), 1)
        return lambda R: jnp.sqrt(jnp.sum((R[:, None] - R[None]) ** 2, -1)[iu])
    raise ValueError(f"unknown feature kind {kind!r}: use 'coordinates' or 'distances'.")


def data_only(train_sys, test_sys, kind: str, c: dict, seed: int) -> dict:
    """MLP energy ``E(φ(R))`` (φ: raw coordinates or interatomic distances, standardised),
    forces ``−∇_R E``, trained on the same labels with loss ``100·ΔE² + mean ΔF²`` (eV/atom,
    eV/Å) through ``train.fit``; held-out energy and force RMSEs."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    from jaxhybrid.nn import MLP
    from jaxhybrid.train import fit

    n = len(SYMBOLS)
    phi = _features(kind)
    R = np.concatenate([s.coord for s in train_sys]).astype(np.float32)
    E = (np.concatenate([s.energy for s in train_sys]) / n).astype(np.float32)
    F = np.concatenate([s.force for s in train_sys]).astype(np.float32)
    X = np.asarray(jax.vmap(phi)(jnp.asarray(R)))
    mu, sd = X.mean(0), X.std(0) + 1e-6
    e_mu, e_sd = float(E.mean()), float(E.std()) + 1e-9
    net = MLP(X.shape[1], 1, widths=list(c["data_only_widths"]), activation=jnp.tanh, key=jax.random.PRNGKey(seed))

    def energy(net, R):  # eV per atom
        return net((phi(R) - mu) / sd)[0] * e_sd + e_mu

    def loss(net, b):
        e, g = jax.vmap(jax.value_and_grad(lambda r: energy(net, r)))(b["R"])
        return jnp.mean((e - b["e"]) ** 2) * 100 + jnp.mean((-g * n - b["f"]) ** 2)

    steps = c["data_only_steps"]
    res = fit(loss, net, {"R": R, "e": E, "f": F}, optax.adam(optax.exponential_decay(1e-3, steps, 0.05)), steps=steps,
              batch_size=min(16, len(R)), key=jax.random.PRNGKey(seed + 1), log_every=math.gcd(steps, 500), progress=False)
    Rt = np.concatenate([s.coord for s in test_sys]).astype(np.float32)
    Et = np.concatenate([s.energy for s in test_sys]) / n
    Ft = np.concatenate([s.force for s in test_sys])
    e, g = eqx.filter_jit(jax.vmap(jax.value_and_grad(lambda r: energy(res.params, r))))(jnp.asarray(Rt))
    de = np.asarray(e, np.float64) - Et
    return {"energy_rmse_meV_per_atom": float(np.sqrt(np.mean(de**2)) * 1e3),
            "energy_rmse_meV": float(np.sqrt(np.mean(de**2)) * n * 1e3),
            "force_rmse_meV_per_A": float(np.sqrt(np.mean((-np.asarray(g, np.float64) * n - Ft) ** 2)) * 1e3),
            "inputs": "raw Cartesian coordinates (9)" if kind == "coordinates" else "interatomic distances (3)"}


# ---------------------------------------------------------------------------------------------


def run(quick: bool, seed: int, out: pathlib.Path) -> dict:
    from jaxhybrid import md
    from jaxhybrid.dp import pack, rmse

    t0, c0 = time.perf_counter(), time.process_time()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    train_sys = water_data(c, seed, "train")
    test_sys = water_data(c, seed, "test")
    t_data = time.perf_counter() - t0
    tr, te = pack(train_sys, c["rcut"]), pack(test_sys, c["rcut"])

    t1 = time.perf_counter()
    model, hist = train_dp(tr, c, seed)
    t_train = time.perf_counter() - t1
    err = rmse(model, te)
    types = [TYPE_MAP.index(s) for s in SYMBOLS]
    dp_force = md.energy_force_fn(molecule_energy_fn(model, types))

    # cost per MD step: DFT-MD (fresh, uncached) and DP-MD, same integrator, time step, friction
    lab = labeller(c)
    n_dft = c["timing_dft_steps"]
    with one_thread():
        e_ref = float(lab.energy_forces(list(SYMBOLS), WATER)[0])  # PySCF import and first SCF outside the timing
    dft_step_s = seconds_per_step(dft_force_fn(lab, SYMBOLS, e_ref), WATER, c, n_dft)
    dp_step_s = seconds_per_step(dp_force, WATER, c, c["timing_dp_steps"], repeats=3)

    # O–H bond-length distributions: DP-MD vs the held-out DFT-MD trajectories
    k0 = c["discard_steps"]
    structure, per_T = {}, []
    n_seg = c["test_steps"] - k0
    # one vmapped program for every temperature: per temperature, run 0 is the long DP-MD run and
    # the first test_steps steps of runs 1..K are DP-MD segments as long as the DFT-MD trajectory
    all_runs = dp_md_runs(dp_force, [s.coord[0] for s in test_sys], c["temperatures"], c, c["dp_md_steps"],
                          [seed + 500 + k for k in range(c["floor_segments"] + 1)])
    for T, s, runs in zip(c["temperatures"], test_sys, all_runs):
        b_dft = oh_lengths(s.coord[k0:])
        long, segs = runs[0, k0:], runs[1:, k0:c["test_steps"]]
        b_dp = oh_lengths(long)
        edges = _hist_edges([b_dft, b_dp])
        l1 = hist_l1(b_dp, b_dft, edges)
        floors = [hist_l1(oh_lengths(g), b_dp, edges) for g in segs]
        floor, floor_p90 = float(np.median(floors)), float(np.percentile(floors, 90))
        tag = f"{int(T)}K"
        structure[tag] = dict(l1=l1, floor=floor, floor_p90=floor_p90, dp_mean=float(b_dp.mean()), dp_std=float(b_dp.std()), dft_mean=float(b_dft.mean()),
                              dft_std=float(b_dft.std()), edges=edges, b_dp=b_dp, b_dft=b_dft, n_dft_frames=n_seg)
        per_T.append(l1)
    t_md = time.perf_counter() - t1 - t_train

    base_raw = data_only(train_sys, test_sys, "coordinates", c, seed)
    baselines = {"mechanism_only": {"force_rmse_meV_per_A": 0.0, "energy_rmse_meV_per_atom": 0.0, "oh_bond_hist_l1": 0.0,
                                    "speedup_vs_reference": 1.0, "dft_md_s_per_step": dft_step_s,
                                    "note": f"PySCF {c['xc']}/{c['basis']} DFT-MD itself (the reference)"},
                 "data_only": base_raw}
    if not quick:  # the extra invariant-input baseline (quick mode keeps to the required one, for time)
        baselines["data_only_distances"] = data_only(train_sys, test_sys, "distances", c, seed)
    metrics = {
        "force_rmse_meV_per_A": err["force_rmse_meV_per_A"],
        "energy_rmse_meV_per_atom": err["energy_rmse_meV_per_atom"],
        "energy_rmse_meV": err["energy_rmse_meV_per_atom"] * len(SYMBOLS),
        "max_force_error_meV_per_A": err["max_force_error_meV_per_A"],
        "speedup_vs_reference": dft_step_s / dp_step_s,
        "dft_md_s_per_step": dft_step_s,
        "dp_md_s_per_step": dp_step_s,
        "oh_bond_hist_l1": float(np.mean(per_T)),
        "oh_bond_hist_l1_sampling_floor": float(np.mean([v["floor"] for v in structure.values()])),
        "n_train_frames": int(len(tr.energy)),
        "n_test_frames": int(len(te.energy)),
        "data_s": t_data,
        "train_s": t_train,
        "md_and_timing_s": t_md,
    }
    for tag, v in structure.items():
        metrics[f"oh_bond_hist_l1_{tag}"] = v["l1"]
        metrics[f"oh_bond_hist_l1_sampling_floor_{tag}"] = v["floor"]
        metrics[f"oh_bond_hist_l1_sampling_floor_p90_{tag}"] = v["floor_p90"]
        for side in ("dp", "dft"):
            metrics[f"oh_bond_mean_A_{side}_{tag}"] = v[f"{side}_mean"]
            metrics[f"oh_bond_std_A_{side}_{tag}"] = v[f"{side}_std"]
    _plot(model, te, hist, structure, out / "dpmd-dft.png", c)
    metrics["wall_s"] = time.perf_counter() - t0
    metrics["cpu_s"] = time.process_time() - c0
    return {
        "name": NAME,
        "paradigm": 1,
        "quick": quick,
        "wall_s": time.perf_counter() - t0,
        "metrics": metrics,
        "goal": {"force_rmse_meV_per_A": "min", "energy_rmse_meV_per_atom": "min", "speedup_vs_reference": "max",
                 "oh_bond_hist_l1": "min"},
        "baselines": baselines,
        "reference": f"PySCF Kohn-Sham DFT {c['xc']}/{c['basis']}, XC grid level {c['grid_level']}"
                     + (" (quick mode: minimal basis for a cold-cache CI run)" if quick else ""),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in c.items()},
    }


def _plot(model, te, hist, structure, path, c):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxhybrid.dp import predict

    e, f, _ = predict(model, te)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    ax[0].scatter(te.force.ravel(), f.ravel(), s=2, alpha=0.4)
    lim = float(np.abs(te.force).max())
    ax[0].plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
    ax[0].set_xlabel(f"DFT ({c['xc']}/{c['basis']}) force component (eV/Å)")
    ax[0].set_ylabel("DP force component (eV/Å)")
    ax[0].set_title("held-out forces")
    for k, (tag, v) in enumerate(structure.items()):
        col = f"C{k}"
        mid = 0.5 * (v["edges"][1:] + v["edges"][:-1])
        w = np.diff(v["edges"])
        ax[1].plot(mid, np.histogram(v["b_dft"], v["edges"])[0] / (len(v["b_dft"]) * w), "-", color=col, label=f"DFT-MD {tag}")
        ax[1].plot(mid, np.histogram(v["b_dp"], v["edges"])[0] / (len(v["b_dp"]) * w), "--", color=col,
                   label=f"DP-MD {tag} (L1 {v['l1']:.2f}, floor {v['floor']:.2f})")
    ax[1].set_xlabel("O–H bond length (Å)")
    ax[1].set_ylabel("density (1/Å)")
    ax[1].set_title("O–H bond-length distribution")
    ax[1].legend(fontsize=7)
    steps = [h["step"] for h in hist]
    ax[2].semilogy(steps, [h["rmse_f"] * 1e3 for h in hist], label="force RMSE (meV/Å)")
    ax[2].semilogy(steps, [h["rmse_e_per_atom"] * 1e3 for h in hist], label="energy RMSE (meV/atom)")
    ax[2].set_xlabel("step")
    ax[2].ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
    ax[2].set_title("training (minibatch)")
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
