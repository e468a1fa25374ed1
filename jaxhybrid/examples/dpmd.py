"""dpmd: a Deep Potential (``se_e2_a``) trained on EMT labels of fcc Cu, run inside Newton's
equations by the jaxhybrid MD engine (paradigm 1: the mechanism's energy is a network).

Labels: ASE EMT on Langevin frames of 32–108-atom Cu cells at 300/600/900 K and −3/0/+3 %
strain (held-out trajectories from other seeds), cached by :func:`jaxhybrid.dp.reference_md`.
Model and training: :func:`config` (DeePMD loss with energy, force and virial terms through
``train.fit``, then the closed-form per-type energy-bias refit). Measured: held-out energy
(meV/atom) and force (meV/Å) RMSEs; g(r) of DP-MD (``md.simulate``) vs EMT-MD (ASE), Langevin
at 600 K, as ``∫|g_DP − g_EMT| dr``; DP-MD cost per atom-step at two sizes
(:func:`jaxhybrid.md.cost_per_atom_step`, the linear-scaling ratio) and against ASE's EMT MD.
Baselines: ``mechanism_only`` — EMT itself (zero error, its cost); ``data_only`` — an MLP on the
raw coordinates of the 108-atom frames (:func:`jaxhybrid.dp.mlp_baseline`).
Figures and the tuning history: README, "Deep Potential MD".
"""

from __future__ import annotations

import math
import pathlib
import time

import numpy as np

from jaxhybrid.examples.record import figure, record, save_figure

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
        # quick: 32-atom frames only, a slower learning-rate decay for the short budget, 32-atom MD (one compiled
        # run), scaling timed at 32 and 108 atoms (the 32-atom figure doubles as the DP-MD cost against EMT)
        c.update(embedding=(8, 16), fitting=(32, 32), axis=4, steps=300, lr_start=2e-3, lr_end=1e-4, train_frames_per_traj=3,
                 test_frames_per_traj=2, md_steps=500, md_eq=100, md_cells=2, scaling_cells=(2, 3), scaling_steps=5,
                 data_only_steps=300)
    return c


def cu_data(quick: bool, frames_per_traj: int, seed: int, name: str, log=None):
    """Labelled EMT Cu frames (list of systems, one per trajectory), cached on disk."""
    from ase.build import bulk

    from jaxhybrid.dp import EMTLabeller, reference_md

    lab = EMTLabeller(("Cu",))
    temps, strains = ([300, 900], [-0.03, 0.03]) if quick else (TEMPERATURES, STRAINS)
    return [s for rep in (SIZES[:1] if quick else SIZES)
            for s in reference_md(lab, bulk("Cu", "fcc", a=A0, cubic=True).repeat(rep), temperatures=temps, strains=strains,
                                  n_frames=frames_per_traj, every=10, equilibrate=60, seed=seed, name=name, log=log)]


def train_dp(train_set, c: dict, seed: int, progress: bool = False):
    import jax

    from jaxhybrid.dp import DeepPot, LossConfig, train

    model = DeepPot(("Cu",), sel=int(train_set.idx.shape[2]), key=jax.random.PRNGKey(seed),
                    **{k: c[k] for k in ("rcut", "rcut_smth", "embedding", "fitting", "axis")})
    return train(model, train_set, steps=c["steps"], batch_size=c["batch_size"], lr_start=c["lr_start"], lr_end=c["lr_end"],
                 loss=LossConfig(*c["pref_e"], *c["pref_f"], *c.get("pref_v", (0.0, 0.0))), key=jax.random.PRNGKey(seed + 1),
                 log_every=math.gcd(c["steps"], 200), progress=progress, refit_bias=c.get("refit_bias", False))


def run(quick: bool, seed: int, out: pathlib.Path) -> dict:
    import jax
    import jax.numpy as jnp
    from ase.build import bulk

    from jaxhybrid import md
    from jaxhybrid.dp import EMTLabeller, mlp_baseline, pack, rmse, timed_reference_md

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

    # DP-MD (one run: md_eq steps of equilibration, then md_steps) vs EMT-MD structure at 600 K
    T, every, k, n = 600.0, 10, c["md_steps"] // 10, c["md_cells"]
    R, box = md.fcc_lattice(n, A0)
    res = md.simulate(model, R, box, n_steps=c["md_eq"] + c["md_steps"], dt=c["dt_ps"], ensemble="langevin", temperature=T,
                      gamma=10.0, masses=MASS_CU, units=md.METAL, skin=0.5, progress=False, compute_pressure=False,
                      thermo_every=every, save_every=every, key=jax.random.PRNGKey(seed))
    traj_emt, cell_emt, emt_step_s = timed_reference_md(
        EMTLabeller(("Cu",)), bulk("Cu", "fcc", a=A0, cubic=True).repeat((n,) * 3), temperature=T, n_steps=c["md_steps"],
        every=every, equilibrate=c["md_eq"], dt_fs=c["dt_ps"] * 1000, friction_per_fs=0.01, seed=seed)
    r_max = min(0.5 * float(box.matrix[0, 0]), 6.0)
    r, g_dp = md.rdf(jnp.asarray(np.asarray(res.trajectory)[-k:], jnp.float32), box, r_max=r_max, n_bins=120)
    _, g_emt = md.rdf(jnp.asarray(traj_emt, jnp.float32), md.make_box(jnp.asarray(cell_emt, jnp.float32)), r_max=r_max,
                      n_bins=120)

    # cost per atom-step (NVE, compile excluded) at two sizes, interleaved, and against EMT-MD
    sizes = list(c["scaling_cells"]) + ([] if n in c["scaling_cells"] else [n])  # 256, 4,000 atoms (quick: 32, 108)
    starts = [md.fcc_lattice(s, A0) for s in sizes]
    starts = [(R + 0.05 * jax.random.normal(jax.random.PRNGKey(0), R.shape, R.dtype), b) for R, b in starts]
    costs = md.cost_per_atom_step(model, starts, n_steps=c["scaling_steps"], dt=c["dt_ps"], mass=MASS_CU, temperature=600.0,
                                  key=jax.random.PRNGKey(1))
    cost_small, cost_large = costs[:2]
    emt_cost = emt_step_s / (4 * n**3)
    t_md = time.perf_counter() - t1 - t_train

    # data only: an MLP on raw coordinates of the 108-atom frames (quick: the first size)
    size = 108 if any(s.n_atoms == 108 for s in train_sys) else train_sys[0].n_atoms
    base_data = mlp_baseline([s for s in train_sys if s.n_atoms == size], [s for s in test_sys if s.n_atoms == size],
                             steps=c["data_only_steps"], seed=seed, log_every=min(500, c["data_only_steps"]))
    small, large = c["scaling_cells"]
    metrics = {**err, "gr_l1_difference_vs_emt": float(np.sum(np.abs(g_dp - g_emt)) * (r[1] - r[0])),
               "dp_md_temperature_K": float(np.mean(np.asarray(res.thermo["temperature"])[-k:])),
               "n_atoms_small": 4 * small**3, "n_atoms_large": 4 * large**3, "us_per_atom_step_small": cost_small * 1e6,
               "us_per_atom_step_large": cost_large * 1e6, "cost_ratio_large_vs_small": cost_large / cost_small,
               "speed_vs_ase_emt_md": emt_cost / costs[sizes.index(n)], "n_train_frames": int(len(tr.energy)),
               "n_test_frames": int(len(te.energy)), "train_s": t_train, "data_s": t_data, "md_and_timing_s": t_md}
    _plot(model, te, hist, r, g_dp, g_emt, out)
    goal = {"energy_rmse_meV_per_atom": "min", "force_rmse_meV_per_A": "min", "gr_l1_difference_vs_emt": "min",
            "cost_ratio_large_vs_small": "min", "speed_vs_ase_emt_md": "max"}
    mech = {"energy_rmse_meV_per_atom": 0.0, "force_rmse_meV_per_A": 0.0, "gr_l1_difference_vs_emt": 0.0,
            "us_per_atom_step_md": emt_cost * 1e6, "note": "ASE EMT, the reference labeller itself"}
    base = {"mechanism_only": mech, "data_only": {**base_data, "n_atoms_evaluated": size}}
    return record(NAME, 1, quick, t0, metrics, goal, base, config={k: list(v) if isinstance(v, tuple) else v for k, v in c.items()})


def _plot(model, te, hist, r, g_dp, g_emt, out):
    from jaxhybrid.dp.plots import force_parity, training_curves

    fig, ax = figure(1, 3, figsize=(14, 4))
    force_parity(ax[0], model, te, "EMT")
    ax[1].plot(r, g_emt, label="EMT-MD (ASE)")
    ax[1].plot(r, g_dp, "--", label="DP-MD (jaxhybrid.md)")
    ax[1].set(xlabel="r (Å)", ylabel="g(r)", title="Cu, 600 K")
    ax[1].legend()
    training_curves(ax[2], hist)
    save_figure(fig, out, NAME)
