"""dpmd: a Deep Potential (``se_e2_a``) trained on EMT labels of fcc Cu, run inside Newton's
equations by the jaxhybrid MD engine (paradigm 1: the mechanism's energy is a network).

Labels: ASE EMT on Langevin frames of 32–108-atom Cu cells at 300/600/900 K and −3/0/+3 %
strain (held-out trajectories from other seeds), cached by :func:`jaxhybrid.dp.reference_md`.
Model and training: :func:`train_config` (DeePMD loss with energy, force and virial terms through
``train.fit``, then the closed-form per-type energy-bias refit). Measured: held-out energy
(meV/atom) and force (meV/Å) RMSEs; g(r) of DP-MD (``md.simulate``) vs EMT-MD (ASE), Langevin
at 600 K, as ``∫|g_DP − g_EMT| dr``; DP-MD cost per atom-step at two sizes
(:func:`jaxhybrid.md.cost_per_atom_step`, the linear-scaling ratio) and against ASE's EMT MD.
Baselines: ``mechanism_only`` — EMT itself (zero error, its cost; a reference, not a competitor);
``data_only`` — an MLP on the raw coordinates of the 108-atom frames
(:func:`jaxhybrid.dp.baselines.fit_mlp_energy`), with the same training frames of that size.

Trained networks (:mod:`jaxhybrid.examples.pretrained`): the Deep Potential (``dpmd-dp``) and the
data-only MLP (``dpmd-mlp``) are stored under the hash of their training configuration
(:func:`train_config`, :func:`data_only_config`: data selection, sizes, steps, learning rates,
loss prefactors and the seed). The full run's networks for seed 0 ship with the package.

* full run: ``obtain([full])`` — the shipped (or cached) full networks, trained only when absent
  or with ``--retrain``; evaluated on the full held-out set (144 frames, every size).
* quick run: ``obtain([full, quick])`` — the full networks when stored (seed 0: shipped), so the
  quick run shows the full run's models on a quick held-out set: the first two frames of three
  of the full held-out set's 108-atom trajectories (300 K −3 %, 600 K 0 %, 900 K +3 %; EMT
  labels them in seconds), a short DP-MD / EMT-MD g(r) at 32 atoms and the costs at 32 and 108
  atoms. Both networks have their full training budget. Only when nothing is stored (another
  seed, a checkout without weights, ``--retrain``) it trains the small quick configuration on
  32-atom frames and evaluates on 32-atom frames, as before the weights shipped; the record's
  ``weights`` says which (``source``: shipped, cache or trained; ``level``: full or quick).
* seeds: the seed is part of both keys (network initialisation, training-data trajectories), so
  another seed never reads seed 0's weights: its quick run trains the quick configuration.

Figures and the tuning history: README, "Deep Potential MD".
"""

from __future__ import annotations

import functools
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
DATA_ONLY_CELLS = (3, 3, 3)  # the data-only MLP sees one atom count: the 108-atom frames


def train_config(quick: bool, seed: int) -> dict:
    """The Deep Potential's training: data selection (EMT Langevin frames, trajectories seeded by
    ``seed``), model, steps, learning rates, loss prefactors, initialisation seed. The key of its
    stored weights."""
    c = dict(labeller="emt", a0=A0, sizes=[list(s) for s in SIZES], temperatures=TEMPERATURES, strains=STRAINS,
             frames_per_traj=12, every=10, equilibrate=60, seed=seed,
             rcut=5.5, rcut_smth=4.0, embedding=[8, 16, 32], fitting=[128, 128, 128], axis=8, steps=3000, batch_size=1,
             lr_start=1e-2, lr_end=1e-4, pref_e=[0.1, 50.0], pref_f=[1000.0, 1.0], pref_v=[0.02, 1.0], refit_bias=True)
    if quick:
        # quick: 32-atom frames only, a slower learning-rate decay for the short budget
        c.update(sizes=[list(SIZES[0])], temperatures=[300, 900], strains=[-0.03, 0.03], frames_per_traj=3,
                 embedding=[8, 16], fitting=[32, 32], axis=4, steps=300, lr_start=2e-3)
    return c


def data_only_config(quick: bool, seed: int) -> dict:
    """The data-only MLP's training: the Deep Potential's training frames of one atom count
    (108 atoms; quick: 32), raw coordinates, widths, steps, seed. The key of its stored weights."""
    d = train_config(quick, seed)
    cells = list(DATA_ONLY_CELLS) if list(DATA_ONLY_CELLS) in d["sizes"] else d["sizes"][0]
    return dict({k: d[k] for k in ("labeller", "a0", "temperatures", "strains", "frames_per_traj", "every", "equilibrate",
                                   "seed")}, sizes=[cells], kind="coordinates", widths=[128, 128], batch_size=16,
                steps=300 if quick else 3000)


def config(quick: bool) -> dict:
    """Evaluation and MD sizes of the run (the training is in :func:`train_config`). The held-out
    trajectories (seed 1000 + seed) are ``test_conditions`` (temperature, strain) × ``test_sizes``."""
    c = dict(test_sizes=[list(s) for s in SIZES], test_conditions=[[T, e] for T in TEMPERATURES for e in STRAINS],
             test_frames_per_traj=4, md_steps=600, md_eq=200, md_cells=4, dt_ps=0.002, scaling_cells=[4, 10],
             scaling_steps=20)
    if quick:
        # quick: the first 2 frames of three 108-atom held-out trajectories of the full run (every temperature and
        # strain once); 32-atom MD (one compiled run), scaling timed at 32 and 108 atoms (the 32-atom figure
        # doubles as the DP-MD cost against EMT)
        c.update(test_sizes=[list(DATA_ONLY_CELLS)], test_conditions=[[300, -0.03], [600, 0.0], [900, 0.03]],
                 test_frames_per_traj=2, md_steps=500, md_eq=100, md_cells=2, scaling_cells=[2, 3], scaling_steps=5)
    return c


def quick_trained_test(c: dict) -> dict:
    """The held-out selection when the quick configuration was trained (32-atom frames at its
    temperatures and strains)."""
    t = train_config(True, 0)
    return dict(c, test_sizes=t["sizes"], test_conditions=[[T, e] for T in t["temperatures"] for e in t["strains"]],
                test_frames_per_traj=2)


def cu_data(sizes, conditions, frames_per_traj: int, seed: int, name: str, every: int = 10, equilibrate: int = 60,
            log=None):
    """Labelled EMT Cu frames (list of systems, one per trajectory: cell repetitions ``sizes`` ×
    ``conditions``, (temperature K, strain) pairs), cached on disk."""
    from ase.build import bulk

    from jaxhybrid.dp import EMTLabeller, reference_md

    lab = EMTLabeller(("Cu",))
    return [s for rep in sizes for T, eps in conditions
            for s in reference_md(lab, bulk("Cu", "fcc", a=A0, cubic=True).repeat(tuple(rep)), temperatures=[T],
                                  strains=[eps], n_frames=frames_per_traj, every=every, equilibrate=equilibrate, seed=seed,
                                  name=name, log=log)]


def _training_data(t: dict):
    return cu_data(t["sizes"], [[T, e] for T in t["temperatures"] for e in t["strains"]], t["frames_per_traj"], t["seed"],
                   "cu-train", t["every"], t["equilibrate"])


def _dp(t: dict, sel: int, key):
    from jaxhybrid.dp import DeepPot

    return DeepPot(("Cu",), sel=sel, key=key, **{k: t[k] for k in ("rcut", "rcut_smth", "embedding", "fitting", "axis")})


def train_dp(t: dict, progress: bool = False):
    """``(model, meta)`` of the Deep Potential trained as :func:`train_config` ``t`` says."""
    import jax

    from jaxhybrid.dp import LossConfig, pack, train

    t0 = time.perf_counter()
    tr = pack(_training_data(t), t["rcut"])
    sel, seed = int(tr.idx.shape[2]), t["seed"]
    model, hist = train(_dp(t, sel, jax.random.PRNGKey(seed)), tr, steps=t["steps"], batch_size=t["batch_size"],
                        lr_start=t["lr_start"], lr_end=t["lr_end"],
                        loss=LossConfig(*t["pref_e"], *t["pref_f"], *t["pref_v"]), key=jax.random.PRNGKey(seed + 1), log_every=math.gcd(t["steps"], 200), progress=progress,
                        refit_bias=t["refit_bias"])
    return model, {"sel": sel, "n_train_frames": int(len(tr.energy)), "train_s": round(time.perf_counter() - t0, 2),
                   "history": [{k: float(v) for k, v in h.items()} for h in hist]}


def train_data_only(t: dict):
    """``(model, meta)`` of the data-only MLP trained as :func:`data_only_config` ``t`` says."""
    from jaxhybrid.dp.baselines import fit_mlp_energy

    t0 = time.perf_counter()
    systems = _training_data(t)
    model, _ = fit_mlp_energy(systems, t["kind"], steps=t["steps"], seed=t["seed"], widths=t["widths"],
                              batch_size=t["batch_size"], log_every=min(500, t["steps"]))
    return model, {"n_atoms": model.n_atoms, "n_train_frames": int(sum(s.n_frames for s in systems)),
                   "train_s": round(time.perf_counter() - t0, 2)}


class Compiled:
    """A Deep Potential for the MD engine whose energy and forces are one compiled function (the
    engine's ``energy_and_forces`` path; the same numbers): the integrators evaluate the first
    forces outside ``jit``, which would otherwise run, and compile, the network op by op."""

    def __init__(self, model):
        self.model, self.cutoff = model, model.cutoff

    def __call__(self, positions, nbrs, box, species=None):
        return self.model(positions, nbrs, box, species)

    def energy_and_forces(self, positions, nbrs, box, species=None):
        return _energy_forces()(self.model, positions, nbrs, box, species)


@functools.cache
def _energy_forces():
    import equinox as eqx
    import jax

    @eqx.filter_jit
    def f(model, positions, nbrs, box, species):
        e, g = jax.value_and_grad(model)(positions, nbrs, box, species)
        return e, -g

    return f


def networks(quick: bool, seed: int, retrain: bool = False):
    """The Deep Potential and the data-only MLP as :func:`jaxhybrid.examples.pretrained.obtain`
    gives them (see the module docstring); the MLP is of the level the Deep Potential came from."""
    import equinox as eqx
    import jax

    from jaxhybrid.dp.baselines import mlp_energy_template
    from jaxhybrid.examples.pretrained import obtain

    levels = [False, True] if quick else [False]
    # templates as shapes only (eval_shape): building them for real would compile every initialiser
    got = obtain(f"{NAME}-dp", [train_config(q, seed) for q in levels], train_dp,
                 lambda t, m: eqx.filter_eval_shape(_dp, t, m["sel"], jax.random.PRNGKey(0)), retrain=retrain)
    trained_quick = got.config == train_config(True, seed)
    got_mlp = obtain(f"{NAME}-mlp", [data_only_config(trained_quick, seed)], train_data_only,
                     lambda t, m: eqx.filter_eval_shape(mlp_energy_template, t["kind"], m["n_atoms"], t["widths"]),
                     retrain=retrain)
    return got, got_mlp, trained_quick


def run(quick: bool, seed: int, out: pathlib.Path, retrain: bool = False) -> dict:
    import jax
    import jax.numpy as jnp
    from ase.build import bulk

    from jaxhybrid import md
    from jaxhybrid.dp import EMTLabeller, pack, rmse, timed_reference_md
    from jaxhybrid.dp.baselines import evaluate_mlp_energy

    t0 = time.perf_counter()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    got, got_mlp, trained_quick = networks(quick, seed, retrain)
    t_train = time.perf_counter() - t0  # obtaining the networks: loading them, or training (with its labels)
    model, hist = got.model, got.meta["history"]
    if trained_quick and quick:
        c = quick_trained_test(c)
    t1 = time.perf_counter()
    test_sys = cu_data(c["test_sizes"], c["test_conditions"], c["test_frames_per_traj"], 1000 + seed, "cu-test")
    te = pack(test_sys, model.rcut)
    t_data = time.perf_counter() - t1
    err = rmse(model, te)
    size = got_mlp.model.n_atoms
    same = [s for s in test_sys if s.n_atoms == size]
    err_same = rmse(model, pack(same, model.rcut)) if len(same) < len(test_sys) else err

    # DP-MD (one run: md_eq steps of equilibration, then md_steps) vs EMT-MD structure at 600 K
    t1 = time.perf_counter()
    T, every, k, n = 600.0, 10, c["md_steps"] // 10, c["md_cells"]
    R, box = md.fcc_lattice(n, A0)
    res = md.simulate(Compiled(model), R, box, n_steps=c["md_eq"] + c["md_steps"], dt=c["dt_ps"], ensemble="langevin",
                      temperature=T, gamma=10.0, masses=MASS_CU, units=md.METAL, skin=0.5, progress=False, compute_pressure=False,
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
    costs = md.cost_per_atom_step(Compiled(model), starts, n_steps=c["scaling_steps"], dt=c["dt_ps"], mass=MASS_CU,
                                  temperature=600.0, key=jax.random.PRNGKey(1))
    cost_small, cost_large = costs[:2]
    emt_cost = emt_step_s / (4 * n**3)
    t_md = time.perf_counter() - t1

    # data only: an MLP on raw coordinates of the frames of one size (108 atoms; quick-trained: 32)
    base_data = evaluate_mlp_energy(got_mlp.model, same)
    small, large = c["scaling_cells"]
    metrics = {**err, f"force_rmse_meV_per_A_{size}_atoms": err_same["force_rmse_meV_per_A"],
               "gr_l1_difference_vs_emt": float(np.sum(np.abs(g_dp - g_emt)) * (r[1] - r[0])),
               "dp_md_temperature_K": float(np.mean(np.asarray(res.thermo["temperature"])[-k:])),
               "n_atoms_small": 4 * small**3, "n_atoms_large": 4 * large**3, "us_per_atom_step_small": cost_small * 1e6,
               "us_per_atom_step_large": cost_large * 1e6, "cost_ratio_large_vs_small": cost_large / cost_small,
               "speed_vs_ase_emt_md": emt_cost / costs[sizes.index(n)], "n_train_frames": got.meta["n_train_frames"],
               "n_test_frames": int(len(te.energy)), "train_s": t_train, "data_s": t_data, "md_and_timing_s": t_md}
    _plot(model, te, hist, r, g_dp, g_emt, out)
    goal = {"energy_rmse_meV_per_atom": "min", "force_rmse_meV_per_A": "min", "gr_l1_difference_vs_emt": "min",
            "cost_ratio_large_vs_small": "min", "speed_vs_ase_emt_md": "max"}
    mech = {"energy_rmse_meV_per_atom": 0.0, "force_rmse_meV_per_A": 0.0, "gr_l1_difference_vs_emt": 0.0,
            "us_per_atom_step_md": emt_cost * 1e6, "note": "ASE EMT, the reference labeller itself"}
    base = {"mechanism_only": mech,
            "data_only": {**base_data, "n_atoms_evaluated": size, "n_train_frames": got_mlp.meta["n_train_frames"],
                          "note": f"evaluated on the {size}-atom held-out frames; the hybrid's figure on the same frames: "
                                  f"force_rmse_meV_per_A_{size}_atoms"}}
    level = "quick" if trained_quick else "full"
    weights = {"dp": {**got.summary(), "level": level, "train_s": got.meta["train_s"]},
               "data_only": {**got_mlp.summary(), "level": level, "train_s": got_mlp.meta["train_s"]}}
    return record(NAME, 1, quick, t0, metrics, goal, base, headline="force_rmse_meV_per_A", references=("mechanism_only",),
                  config=c, training={"dp": got.config, "data_only": got_mlp.config}, weights=weights)


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
