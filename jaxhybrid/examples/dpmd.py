"""dpmd: a Deep Potential (``se_e2_a``) trained on EMT labels of fcc Cu, run inside Newton's
equations by the jaxhybrid MD engine (paradigm 1: the mechanism's energy is a network).

Protocol
--------
* Reference labels: ASE EMT (effective-medium theory, a cheap many-body stand-in for DFT of
  fcc metals). Frames come from Langevin MD of fcc Cu supercells of 32, 48, 72 and 108 atoms at
  300, 600 and 900 K under −3 %, 0 and +3 % isotropic strain (36 trajectories; training and
  held-out trajectories use different seeds). Labels are cached as DeePMD-kit system
  directories (``jaxhybrid.dp.cache_dir()``), so a second run reads them.
* Model: ``se_e2_a`` with ``r_c`` = 5.5 Å, ``r_s`` = 4.0 Å and, for 2-core CPU time, embedding
  [8, 16, 32], axis 8, fitting [128, 128, 128] (DeePMD-kit's defaults are [25, 50, 100], 16,
  [240, 240, 240]; the embedding, evaluated per pair, sets the cost; configurable in
  :func:`config`). Trained with the DeePMD loss through ``train.fit``: 3,000 steps of one frame,
  learning rate 1e-2 → 1e-4 (exponential), prefactors energy 0.1 → 50, force 1000 → 1 and
  virial 0.02 → 1 (EMT gives virials). Then the per-type energy bias is re-fitted in closed
  form to the training energies (:func:`jaxhybrid.dp.training.refit_energy_bias`).

  Why the virial and the bias refit: without them the held-out energy error was a per-strain
  offset (+38, −13, +10 meV/atom at −3 %, 0, +3 % strain; spread within one trajectory
  < 1 meV/atom): forces of a near-perfect crystal say nothing about E(V), which only the
  weakly weighted energy term taught. The virial (−∂E/∂ε) constrains E(V) directly (offsets
  became uniform, 8–11 meV/atom); the closed-form bias refit then removes the uniform part,
  which forces and virials cannot see (3,000-step runs, 2 cores: 7.7 → 0.63 meV/atom, force
  RMSE 29 meV/Å). The learning rate mattered most for forces: at 3,000 steps, 2e-3 → 1e-5 gave
  267 meV/Å, 2e-3 → 1e-4 115, 5e-3 → 1e-4 43, 1e-2 → 1e-4 (wider fitting net) 29. 8,000
  steps of the final recipe gave 23.5 meV/Å but 1.26 meV/atom, so the run keeps 3,000.
* Metrics on the held-out frames: energy RMSE (meV/atom), force-component RMSE (meV/Å).
* DP-MD vs EMT-MD: Langevin NVT of a 256-atom crystal at 600 K with the same time step and
  friction; radial distribution functions and their L1 difference ``∫|g_DP − g_EMT| dr``.
* Cost: DP-MD (NVE, neighbour list, jit) per atom-step at 256 and 4,000 atoms (linear scaling
  ratio) and per step against ASE's EMT MD on the same 256 atoms.

Full run (seed 0, 2 CPU cores shared with other jobs at load 7–9): 412 s wall (training 89 s);
held-out 0.63 meV/atom and 29.3 meV/Å (max component error 416 meV/Å); g(r) L1 difference
0.071; 95 → 124 µs per atom-step from 256 to 4,000 atoms (×1.31); ASE EMT MD 406 µs per
atom-step (DP-MD 4.3× faster); MLP on raw coordinates 63.9 meV/atom, 813 meV/Å.

Baselines: ``mechanism_only`` — the reference (EMT) itself: zero error by definition, its cost
per atom-step; ``data_only`` — an MLP on the raw Cartesian coordinates of the 108-atom frames
(energy, forces = −∇E; no symmetry, no locality), evaluated on the held-out 108-atom frames.
"""

from __future__ import annotations

import math
import pathlib
import time

import numpy as np

NAME = "dpmd"
SIZES = [(2, 2, 2), (2, 2, 3), (2, 3, 3), (3, 3, 3)]
TEMPERATURES = [300, 600, 900]
STRAINS = [-0.03, 0.0, 0.03]
A0 = 3.61  # Å, fcc Cu
MASS_CU = 63.546


def config(quick: bool) -> dict:
    """Model, training and MD sizes of the run (written into the record)."""
    c = dict(rcut=5.5, rcut_smth=4.0, embedding=(8, 16, 32), fitting=(128, 128, 128), axis=8, steps=3000, batch_size=1,
             lr_start=1e-2, lr_end=1e-4, pref_e=(0.1, 50.0), pref_f=(1000.0, 1.0), pref_v=(0.02, 1.0), refit_bias=True,
             train_frames_per_traj=12, test_frames_per_traj=4, md_steps=600, md_eq=200,
             md_cells=4, dt_ps=0.002, scaling_cells=(4, 10), scaling_steps=20, data_only_steps=3000)
    if quick:
        # quick: 32-atom frames only, a slower learning-rate decay for the short budget, 32-atom MD (one compiled run), scaling timed at 32 and 108 atoms (the 32-atom
        # figure doubles as the DP-MD cost against EMT), one chunk length per compiled loop
        c.update(embedding=(8, 16), fitting=(32, 32), axis=4, steps=300, lr_start=2e-3, lr_end=1e-4, train_frames_per_traj=3, test_frames_per_traj=2,
                 md_steps=500, md_eq=100, md_cells=2, scaling_cells=(2, 3), scaling_steps=5, data_only_steps=300)
    return c


def cu_data(quick: bool, frames_per_traj: int, seed: int, name: str, log=None):
    """Labelled EMT Cu frames (list of systems, one per trajectory), cached on disk."""
    from ase.build import bulk

    from jaxhybrid.dp import EMTLabeller, reference_md

    lab = EMTLabeller(("Cu",))
    sizes = SIZES[:1] if quick else SIZES
    temps = [300, 900] if quick else TEMPERATURES
    strains = [-0.03, 0.03] if quick else STRAINS
    out = []
    for rep in sizes:
        atoms = bulk("Cu", "fcc", a=A0, cubic=True).repeat(rep)
        out += reference_md(lab, atoms, temperatures=temps, strains=strains, n_frames=frames_per_traj, every=10, equilibrate=60,
                            seed=seed, name=name, log=log)
    return out


def train_dp(train_set, c: dict, seed: int, progress: bool = False):
    import jax

    from jaxhybrid.dp import DeepPot, LossConfig, train

    model = DeepPot(("Cu",), rcut=c["rcut"], rcut_smth=c["rcut_smth"], sel=int(train_set.idx.shape[2]),
                    embedding=c["embedding"], fitting=c["fitting"], axis=c["axis"], key=jax.random.PRNGKey(seed))
    return train(model, train_set, steps=c["steps"], batch_size=c["batch_size"], lr_start=c["lr_start"], lr_end=c["lr_end"],
                 loss=LossConfig(c["pref_e"][0], c["pref_e"][1], c["pref_f"][0], c["pref_f"][1], *c.get("pref_v", (0.0, 0.0))),
                 key=jax.random.PRNGKey(seed + 1), log_every=math.gcd(c["steps"], 200), progress=progress,
                 refit_bias=c.get("refit_bias", False))


# ---------------------------------------------------------------------------------------------
# data-only baseline: MLP on raw coordinates


def _data_only(train_sys, test_sys, steps: int, seed: int):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    from jaxhybrid.nn import MLP
    from jaxhybrid.train import fit

    tr = [s for s in train_sys if s.n_atoms == 108]
    te = [s for s in test_sys if s.n_atoms == 108]
    if not tr or not te:
        tr = [s for s in train_sys if s.n_atoms == train_sys[0].n_atoms]
        te = [s for s in test_sys if s.n_atoms == train_sys[0].n_atoms]
    n = tr[0].n_atoms
    X = np.concatenate([s.coord for s in tr]).reshape(-1, 3 * n)
    E = np.concatenate([s.energy for s in tr]) / n
    F = np.concatenate([s.force for s in tr]).reshape(-1, 3 * n)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    e_mu, e_sd = E.mean(), E.std() + 1e-9
    net = MLP(3 * n, 1, widths=[128, 128], activation=jnp.tanh, key=jax.random.PRNGKey(seed))

    def energy(net, x):  # eV per atom
        return net((x - mu) / sd)[0] * e_sd + e_mu

    def loss(net, b):
        e, g = jax.vmap(jax.value_and_grad(lambda x: energy(net, x)))(b["x"])
        f = -g * n
        return jnp.mean((e - b["e"]) ** 2) * 100 + jnp.mean((f - b["f"]) ** 2)

    res = fit(loss, net, {"x": X, "e": E, "f": F}, optax.adam(optax.exponential_decay(1e-3, steps, 0.05)), steps=steps,
              batch_size=min(16, len(X)), key=jax.random.PRNGKey(seed + 1), log_every=min(500, steps), progress=False)
    Xt = np.concatenate([s.coord for s in te]).reshape(-1, 3 * n)
    Et = np.concatenate([s.energy for s in te]) / n
    Ft = np.concatenate([s.force for s in te]).reshape(-1, 3 * n)
    e, g = eqx.filter_jit(jax.vmap(jax.value_and_grad(lambda x: energy(res.params, x))))(jnp.asarray(Xt))
    return {"energy_rmse_meV_per_atom": float(np.sqrt(np.mean((np.asarray(e) - Et) ** 2)) * 1e3),
            "force_rmse_meV_per_A": float(np.sqrt(np.mean((-np.asarray(g) * n - Ft) ** 2)) * 1e3),
            "n_atoms_evaluated": n}


# ---------------------------------------------------------------------------------------------
# MD: DP through jaxhybrid.md vs EMT through ASE


def _emt_md(cells: int, T: float, dt_ps: float, n_eq: int, n_prod: int, every: int, seed: int):
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    a = bulk("Cu", "fcc", a=A0, cubic=True).repeat((cells,) * 3)
    a.calc = EMT()
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(a, temperature_K=T, rng=rng)
    dyn = Langevin(a, dt_ps * 1000 * units.fs, temperature_K=T, friction=0.01 / units.fs, rng=rng)
    dyn.run(n_eq)
    frames = []
    t0 = time.perf_counter()
    for _ in range(n_prod // every):
        dyn.run(every)
        frames.append(a.get_positions().copy())
    wall = time.perf_counter() - t0
    return np.asarray(frames), np.asarray(a.get_cell()), wall / n_prod


def _dp_md(model, cells: int, T: float, dt_ps: float, n_eq: int, n_prod: int, every: int, seed: int):
    import jax

    from jaxhybrid import md

    R, box = md.fcc_lattice(cells, A0)
    # one run of n_eq + n_prod steps (one compilation); the first n_eq steps are equilibration
    res = md.simulate(model, R, box, n_steps=n_eq + n_prod, dt=dt_ps, ensemble="langevin", temperature=T, gamma=10.0,
                      masses=MASS_CU, units=md.METAL, skin=0.5, progress=False, compute_pressure=False, thermo_every=every,
                      save_every=every, key=jax.random.PRNGKey(seed))
    k = n_prod // every
    temperature = np.asarray(res.thermo["temperature"])[-k:]
    return np.asarray(res.trajectory)[-k:], box, temperature


def dp_cost_per_atom_step(model, cells, n_steps: int, repeats: int = 5, dt_ps: float = 0.002):
    """Best-of-``repeats`` wall time of ``n_steps`` jit-compiled DP-MD NVE steps (neighbour
    list refreshed inside the force function), per atom-step (s), compile excluded, for each
    crystal size in ``cells`` (an int or a sequence). The repeats of the sizes are interleaved
    so that a load change on a shared machine touches every size alike (the scaling ratio)."""
    import jax

    from jaxhybrid import md
    from jaxhybrid.rollout import evolve

    single = isinstance(cells, int)
    runs = []
    for k in ([cells] if single else list(cells)):
        R, box = md.fcc_lattice(k, A0)
        R = R + 0.05 * jax.random.normal(jax.random.PRNGKey(0), R.shape, R.dtype)
        nl = md.neighbor_list(model.cutoff, 0.5)
        nbrs = nl.allocate(R, box)
        integ = md.nve(md.neighbor_force_fn(model, nl, box), dt_ps)
        P = md.maxwell_boltzmann(jax.random.PRNGKey(1), md.METAL.mass(MASS_CU), md.METAL.kT(600.0), R.shape[0])
        s0 = integ.init(R, P, md.METAL.mass(MASS_CU), nbrs)
        run = jax.jit(lambda s, integ=integ: evolve(integ, s, n_steps).final)
        jax.block_until_ready(run(s0))
        runs.append((run, s0, R.shape[0]))
    best = [np.inf] * len(runs)
    for _ in range(repeats):
        for i, (run, s0, _) in enumerate(runs):
            t = time.perf_counter()
            jax.block_until_ready(run(s0))
            best[i] = min(best[i], time.perf_counter() - t)
    out = [b / (n_steps * r[2]) for b, r in zip(best, runs)]
    return out[0] if single else out


def run(quick: bool, seed: int, out: pathlib.Path) -> dict:
    import jax.numpy as jnp

    from jaxhybrid import md
    from jaxhybrid.dp import pack, rmse

    t0 = time.perf_counter()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    train_sys = cu_data(quick, c["train_frames_per_traj"], 0 + seed, "cu-train")
    test_sys = cu_data(quick, c["test_frames_per_traj"], 1000 + seed, "cu-test")
    tr, te = pack(train_sys, c["rcut"]), pack(test_sys, c["rcut"])
    t_data = time.perf_counter() - t0

    t1 = time.perf_counter()
    model, hist = train_dp(tr, c, seed)
    t_train = time.perf_counter() - t1
    err = rmse(model, te)

    # DP-MD vs EMT-MD structure at 600 K
    T, every = 600.0, 10
    traj_dp, box, temp_dp = _dp_md(model, c["md_cells"], T, c["dt_ps"], c["md_eq"], c["md_steps"], every, seed)
    traj_emt, cell_emt, emt_step_s = _emt_md(c["md_cells"], T, c["dt_ps"], c["md_eq"], c["md_steps"], every, seed)
    L = float(box.matrix[0, 0])
    r_max = min(0.5 * L, 6.0)
    r, g_dp = md.rdf(jnp.asarray(traj_dp, jnp.float32), box, r_max=r_max, n_bins=120)
    _, g_emt = md.rdf(jnp.asarray(traj_emt, jnp.float32), md.make_box(jnp.asarray(cell_emt, jnp.float32)), r_max=r_max, n_bins=120)
    dr = r[1] - r[0]
    gr_l1 = float(np.sum(np.abs(g_dp - g_emt)) * dr)
    T_dp = float(np.mean(temp_dp))

    # cost per atom-step and linear scaling
    n_small, n_large = c["scaling_cells"]  # 256 and 4000 atoms (quick: 32 and 108)
    cost_small, cost_large = dp_cost_per_atom_step(model, (n_small, n_large), c["scaling_steps"])
    emt_cost = emt_step_s / (4 * c["md_cells"] ** 3)
    dp_cost_md = cost_small if c["md_cells"] == n_small else dp_cost_per_atom_step(model, c["md_cells"], c["scaling_steps"])

    t_md = time.perf_counter() - t1 - t_train
    base_data = _data_only(train_sys, test_sys, c["data_only_steps"], seed)
    metrics = {
        "energy_rmse_meV_per_atom": err["energy_rmse_meV_per_atom"],
        "force_rmse_meV_per_A": err["force_rmse_meV_per_A"],
        "max_force_error_meV_per_A": err["max_force_error_meV_per_A"],
        "gr_l1_difference_vs_emt": gr_l1,
        "dp_md_temperature_K": T_dp,
        "n_atoms_small": 4 * n_small**3,
        "n_atoms_large": 4 * n_large**3,
        "us_per_atom_step_small": cost_small * 1e6,
        "us_per_atom_step_large": cost_large * 1e6,
        "cost_ratio_large_vs_small": cost_large / cost_small,
        "speed_vs_ase_emt_md": emt_cost / dp_cost_md,
        "n_train_frames": int(len(tr.energy)),
        "n_test_frames": int(len(te.energy)),
        "train_s": t_train,
        "data_s": t_data,
        "md_and_timing_s": t_md,
    }
    _plot(model, te, hist, r, g_dp, g_emt, out / "dpmd.png")
    return {
        "name": NAME,
        "paradigm": 1,
        "quick": quick,
        "wall_s": time.perf_counter() - t0,
        "metrics": metrics,
        "goal": {"energy_rmse_meV_per_atom": "min", "force_rmse_meV_per_A": "min", "gr_l1_difference_vs_emt": "min",
                 "cost_ratio_large_vs_small": "min", "speed_vs_ase_emt_md": "max"},
        "baselines": {
            "mechanism_only": {"energy_rmse_meV_per_atom": 0.0, "force_rmse_meV_per_A": 0.0, "gr_l1_difference_vs_emt": 0.0,
                               "us_per_atom_step_md": emt_cost * 1e6, "note": "ASE EMT, the reference labeller itself"},
            "data_only": base_data,
        },
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in c.items()},
    }


def _plot(model, te, hist, r, g_dp, g_emt, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxhybrid.dp import predict

    e, f, _ = predict(model, te)
    atom = te.types >= 0
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    ax[0].scatter(te.force[atom].ravel(), f[atom].ravel(), s=2, alpha=0.4)
    lim = float(np.abs(te.force[atom]).max())
    ax[0].plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
    ax[0].set_xlabel("EMT force component (eV/Å)")
    ax[0].set_ylabel("DP force component (eV/Å)")
    ax[0].set_title("held-out forces")
    ax[1].plot(r, g_emt, label="EMT-MD (ASE)")
    ax[1].plot(r, g_dp, "--", label="DP-MD (jaxhybrid.md)")
    ax[1].set_xlabel("r (Å)")
    ax[1].set_ylabel("g(r)")
    ax[1].set_title("Cu, 600 K")
    ax[1].legend()
    steps = [h["step"] for h in hist]
    ax[2].semilogy(steps, [h["rmse_f"] * 1e3 for h in hist], label="force RMSE (meV/Å)")
    ax[2].semilogy(steps, [h["rmse_e_per_atom"] * 1e3 for h in hist], label="energy RMSE (meV/atom)")
    ax[2].set_xlabel("step")
    ax[2].set_title("training (minibatch)")
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
