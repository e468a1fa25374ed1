"""dpmd: a Deep Potential (``se_e2_a``) trained on EMT labels of fcc Cu, run inside Newton's
equations by the jaxhybrid MD engine (paradigm 1: the mechanism's energy is a network).

Labels: ASE EMT on Langevin frames of 32–108-atom Cu cells at 300/600/900 K and −3/0/+3 %
strain (held-out trajectories from other seeds), cached by :func:`jaxhybrid.dp.crystal_data`.
Model and training: :func:`train_config` (DeePMD loss with energy, force and virial terms through
``train.fit``, then the closed-form per-type energy-bias refit). Measured: held-out energy
(meV/atom) and force (meV/Å) RMSEs; g(r) of DP-MD (``md.simulate``) vs EMT-MD (ASE), Langevin
at 600 K, as ``∫|g_DP − g_EMT| dr`` (:func:`jaxhybrid.dp.crystal_md_check`); DP-MD cost per
atom-step at two sizes (the linear-scaling ratio) and against ASE's EMT MD
(:func:`jaxhybrid.dp.crystal_md_scaling`).
Baselines: ``mechanism_only`` — EMT itself (zero error, its cost; a reference, not a competitor);
``data_only`` — an MLP on the raw coordinates of the 108-atom frames
(:func:`jaxhybrid.dp.baselines.fit_mlp_energy`), with the same training frames of that size.

Trained networks: the Deep Potential (``dpmd-dp``) and the data-only MLP (``dpmd-mlp``), keyed
by their training configurations (:func:`train_config`, :func:`data_only_config`), come as one
tier (:func:`networks`, :func:`jaxhybrid.dp.obtain_networks`); the full run's networks for seed
0 ship with the package. The full run evaluates them on the full held-out set (144 frames, every
size); the quick run with seed 0 on the first two frames of three of its 108-atom trajectories
(300 K −3 %, 600 K 0 %, 900 K +3 %; EMT labels them in seconds), with a short DP-MD / EMT-MD
g(r) at 32 atoms and the costs at 32 and 108 atoms. A run that trains the quick configuration
(another seed, a checkout without weights, ``--retrain``) evaluates on 32-atom frames; the
record's ``weights`` says which (``source``; ``level``: full or quick).

Figures and the tuning history: README, "Deep Potential MD".
"""

from __future__ import annotations

import math
import pathlib
import time

import numpy as np

from jaxhybrid import dp, md
from jaxhybrid.dp.baselines import evaluate_mlp_energy
from jaxhybrid.record import figure, record, save_figure

NAME = "dpmd"
#: the element: any fcc metal of the EMT labeller (Cu, Al, Ni, Ag, Au, Pd, Pt); its lattice
#: constant and mass come from ``ase.data`` (:mod:`jaxhybrid.dp.crystals`)
ELEMENT = "Cu"
TYPE_MAP = (ELEMENT,)
SIZES = [(2, 2, 2), (2, 2, 3), (2, 3, 3), (3, 3, 3)]
TEMPERATURES = [300, 600, 900]
STRAINS = [-0.03, 0.0, 0.03]
DATA_ONLY_CELLS = (3, 3, 3)  # the data-only MLP sees one atom count: the 108-atom frames


def train_config(quick: bool, seed: int) -> dict:
    """The Deep Potential's training: data selection (EMT Langevin frames, trajectories seeded by
    ``seed``), model, steps, learning rates, loss prefactors, initialisation seed. The key of its
    stored weights."""
    c = dict(labeller="emt", a0=dp.lattice_constant(ELEMENT), sizes=[list(s) for s in SIZES], temperatures=TEMPERATURES,
             strains=STRAINS, frames_per_traj=12, every=10, equilibrate=60, seed=seed,
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
    keep = ("labeller", "a0", "temperatures", "strains", "frames_per_traj", "every", "equilibrate", "seed")
    return dict({k: d[k] for k in keep}, sizes=[cells], kind="coordinates", widths=[128, 128], batch_size=16,
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


def train_data(t: dict) -> list:
    """The EMT frames of a training configuration ``t`` (:func:`train_config`, :func:`data_only_config`)."""
    return dp.crystal_data_from_config(dp.EMTLabeller(TYPE_MAP), ELEMENT, t, name=f"{ELEMENT.lower()}-train")


def networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """The Deep Potential (``"dp"``) and the data-only MLP (``"data_only"``), of one tier
    (:func:`jaxhybrid.dp.obtain_networks`): ``({key: Obtained}, "full" | "quick")``."""
    return dp.obtain_networks(TYPE_MAP, lambda q: {"dp": (f"{NAME}-dp", train_config(q, seed)),
                                                   "data_only": (f"{NAME}-mlp", data_only_config(q, seed))},
                              train_data, quick=quick, retrain=retrain,
                              log_every=lambda t: min(500, t["steps"]) if "kind" in t else math.gcd(t["steps"], 200))


def run(quick: bool, seed: int, out: pathlib.Path, retrain: bool = False) -> dict:
    t0 = time.perf_counter()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    got, tier = networks(quick, seed, retrain)
    t_train = time.perf_counter() - t0  # obtaining the networks: loading them, or training (with its labels)
    model, hist, mlp = got["dp"].model, got["dp"].meta["history"], got["data_only"].model
    if tier == "quick" and quick:
        c = quick_trained_test(c)
    t1 = time.perf_counter()
    test_sys = dp.crystal_data(dp.EMTLabeller(TYPE_MAP), ELEMENT, c["test_sizes"], c["test_conditions"],
                               n_frames=c["test_frames_per_traj"], every=10, equilibrate=60, seed=1000 + seed,
                               name=f"{ELEMENT.lower()}-test")
    te = dp.pack(test_sys, model.rcut)
    t_data = time.perf_counter() - t1
    err = dp.rmse(model, te)
    size = mlp.n_atoms
    same = [s for s in test_sys if s.n_atoms == size]
    err_same = dp.rmse(model, dp.pack(same, model.rcut)) if len(same) < len(test_sys) else err

    # DP-MD (one run: md_eq steps of equilibration, then md_steps) vs EMT-MD structure at 600 K, the same thermostat
    t1 = time.perf_counter()
    n, energy = c["md_cells"], md.CompiledEnergy(model)
    check = dp.crystal_md_check(energy, dp.EMTLabeller(TYPE_MAP), ELEMENT, n, temperature=600.0, n_steps=c["md_steps"],
                                equilibrate=c["md_eq"], dt_ps=c["dt_ps"], every=10, gamma_per_ps=10.0, seed=seed)

    # cost per atom-step (NVE, compile excluded) at 256, 4,000 atoms (quick: 32, 108), interleaved, and against EMT-MD
    costs = dp.crystal_md_scaling(energy, ELEMENT, c["scaling_cells"], check, n, n_steps=c["scaling_steps"],
                                  dt_ps=c["dt_ps"], temperature=600.0, reference="ase_emt")
    t_md = time.perf_counter() - t1

    # data only: an MLP on raw coordinates of the frames of one size (108 atoms; quick-trained: 32)
    base_data = evaluate_mlp_energy(mlp, same)
    metrics = {**err, f"force_rmse_meV_per_A_{size}_atoms": err_same["force_rmse_meV_per_A"],
               "gr_l1_difference_vs_emt": check.rdf.l1, "dp_md_temperature_K": float(np.mean(check.temperature)),
               **costs, "n_train_frames": got["dp"].meta["n_train_frames"], "n_test_frames": int(len(te.energy)),
               "train_s": t_train, "data_s": t_data, "md_and_timing_s": t_md}
    _plot(model, te, hist, check, out)
    goal = {"energy_rmse_meV_per_atom": "min", "force_rmse_meV_per_A": "min", "gr_l1_difference_vs_emt": "min",
            "cost_ratio_large_vs_small": "min", "speed_vs_ase_emt_md": "max"}
    mech = {"energy_rmse_meV_per_atom": 0.0, "force_rmse_meV_per_A": 0.0, "gr_l1_difference_vs_emt": 0.0,
            "us_per_atom_step_md": check.reference_step_s / check.n_atoms * 1e6,
            "note": "ASE EMT, the reference labeller itself"}
    base = {"mechanism_only": mech,
            "data_only": {**base_data, "n_atoms_evaluated": size,
                          "n_train_frames": got["data_only"].meta["n_train_frames"],
                          "note": f"evaluated on the {size}-atom held-out frames; the hybrid's figure on the same "
                                  f"frames: force_rmse_meV_per_A_{size}_atoms"}}
    return record(NAME, 1, quick, t0, metrics, goal, base, headline="force_rmse_meV_per_A",
                  references=("mechanism_only",), config=c, training={k: g.config for k, g in got.items()},
                  weights=dp.weights_summary(got, tier))


def _plot(model, te, hist, check, out):
    from jaxhybrid.dp.plots import force_parity, rdf_comparison, training_curves

    fig, ax = figure(1, 3, figsize=(14, 4))
    force_parity(ax[0], model, te, "EMT")
    rdf_comparison(ax[1], check.rdf, "EMT-MD (ASE)", "DP-MD (jaxhybrid.md)", f"{ELEMENT}, 600 K")
    training_curves(ax[2], hist)
    save_figure(fig, out, NAME)
