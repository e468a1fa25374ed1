"""dpmd-dft: a Deep Potential trained on PySCF Kohn–Sham DFT labels of a water molecule, run
inside Newton's equations at a tiny fraction of the cost of DFT-MD (paradigm 1: the
mechanism's energy is a network trained on first-principles data).

Reference: DFT (PBE/6-31G; the quick configuration STO-3G on a coarse grid) as the force function
of the MD engine's BAOAB Langevin integrator (:func:`jaxhybrid.dp.dft_force_fn`, 0.5 fs,
γ = 20 ps⁻¹); every DFT-MD step is a labelled frame (:func:`jaxhybrid.dp.dft_md`, cached):
training and held-out trajectories at each temperature from different seeds and random
orientations. DP-MD runs the same compiled program with the network
(:func:`jaxhybrid.md.langevin_program`).
Measured: held-out force (meV/Å) and energy RMSEs; O–H bond-length histograms of DP-MD vs the
held-out DFT-MD (L1 distance ``∫|p_DP − p_DFT| dr`` against its sampling floor: the median and
90th percentile over DP-MD segments as long as the DFT-MD run); seconds per MD step of both.
Baselines: ``mechanism_only`` — DFT itself (its cost; zero error by construction: a reference,
not a competitor); ``data_only`` — an MLP on the raw coordinates; ``data_only_distances`` — an
MLP on the three interatomic distances (:func:`jaxhybrid.dp.baselines.fit_mlp_energy`), both on
the Deep Potential's training frames.

Trained networks (:mod:`jaxhybrid.pretrained`): the Deep Potential (``dpmd-dft-dp``)
and the two MLPs (``dpmd-dft-mlp-coordinates``, ``dpmd-dft-mlp-distances``) are stored under the
hash of their training configuration (:func:`train_config`, :func:`data_only_config`: level of
theory, DFT-MD data, model, steps, learning rates, loss prefactors, seed). The full run's
networks for seed 0 ship with the package, and so do its held-out labels
(``data/dpmd-dft-test-<hash>.npz``, keyed by :func:`test_label_config`: the 600 PBE/6-31G
DFT-MD frames, 300/600/900 K; 6-31G DFT-MD costs ~0.2 s a step, so labelling them would
dominate a quick run; :func:`export_test_labels` writes the file from the label cache).

The three come as one tier (:func:`networks`, :func:`~jaxhybrid.pretrained.obtain_tier`):

* full run: the stored full networks, trained only when absent or with ``--retrain``.
* quick run: the full networks when all three are stored (seed 0: shipped), evaluated on the
  full run's held-out set (shipped labels), so the held-out errors are the full run's; the DP-MD
  bond-length comparison and both costs per step are redone at quick length
  (:func:`jaxhybrid.dp.molecule_md_check`). Otherwise (another seed, ``--retrain``) it trains the
  quick configuration on STO-3G DFT-MD labels and evaluates against STO-3G labels: the level of
  theory always follows the networks (``weights.dp.level`` in the record).
* seeds: the seed is part of every key (initialisation, training trajectories; the held-out set
  uses seed 1000 + seed), so another seed never reads seed 0's networks or labels: its quick run
  trains the quick configuration. The force error spans an order of magnitude across seeds
  (README: 44.4 meV/Å for seed 0, 5.9 for seed 1); seed 0 ships because it is the default.

Figures: README, "Deep Potential MD".
"""

from __future__ import annotations

import functools
import math
import pathlib
import time

import numpy as np

from jaxhybrid import dp, md
from jaxhybrid.dp.baselines import evaluate_mlp_energy
from jaxhybrid.dp.dft_md import VACUUM_CELL
from jaxhybrid.pretrained import obtain_tier
from jaxhybrid.record import figure, record, save_figure

NAME = "dpmd-dft"
SYMBOLS = ("O", "H", "H")
TYPE_MAP = ("O", "H")
MASSES = (15.999, 1.008, 1.008)  # amu
OH_PAIRS = ((0, 1), (0, 2))
# near the experimental gas-phase geometry (r_OH 0.958 Å, ∠HOH 104.5°), the MD starting point
WATER = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])
#: shipped held-out label sets
DATA = pathlib.Path(__file__).parent / "data"
KINDS = (("data_only", "coordinates", "raw Cartesian coordinates (9)"),
         ("data_only_distances", "distances", "interatomic distances (3)"))


def _level(quick: bool) -> dict:
    """Level of theory and DFT-MD settings shared by the training and held-out trajectories."""
    c = dict(xc="PBE", basis="6-31g", grid_level=2, dt_fs=0.5, gamma_per_ps=20.0, temperatures=[300.0, 600.0, 900.0],
             train_steps=200, test_steps=200)
    if quick:
        # quick (cold cache, nothing stored): minimal basis, coarse grid, two temperatures, short trajectories
        c.update(basis="sto-3g", grid_level=0, temperatures=[300.0, 900.0], train_steps=24, test_steps=16)
    return c


def train_config(quick: bool, seed: int) -> dict:
    """The Deep Potential's training: DFT-MD data (level of theory, temperatures, length, seed),
    model, steps, learning rates, loss prefactors. The key of its stored weights."""
    lv = _level(quick)
    c = dict({k: lv[k] for k in ("xc", "basis", "grid_level", "dt_fs", "gamma_per_ps", "temperatures", "train_steps")},
             seed=seed, rcut=4.0, rcut_smth=3.0, embedding=[16, 32, 64], fitting=[64, 64, 64], axis=8, steps=20000,
             batch_size=8, lr_start=2e-3, lr_end=1e-5, pref_e=[0.1, 10.0], pref_f=[1000.0, 1.0])
    if quick:
        c.update(embedding=[8, 16], fitting=[32, 32], axis=4, steps=600, lr_end=1e-4)
    return c


def data_only_config(quick: bool, seed: int, kind: str) -> dict:
    """A data-only MLP's training: the Deep Potential's DFT-MD frames, inputs ``kind``, widths,
    steps, seed. The key of its stored weights."""
    t = train_config(quick, seed)
    return dict({k: t[k] for k in ("xc", "basis", "grid_level", "dt_fs", "gamma_per_ps", "temperatures", "train_steps",
                                   "seed")}, kind=kind, widths=[128, 128], batch_size=16, steps=600 if quick else 20000)


def test_label_config(quick: bool, seed: int) -> dict:
    """The held-out DFT-MD trajectories (one per temperature, seed 1000 + seed) of the level of
    theory of the full (``quick=False``) or quick configuration: the key of a shipped label set."""
    c = _level(quick)
    return dict({k: c[k] for k in ("xc", "basis", "grid_level", "dt_fs", "gamma_per_ps", "temperatures", "test_steps")},
                seed=1000 + seed, symbols=list(SYMBOLS), masses=[float(m) for m in MASSES],
                start=WATER.round(6).tolist())


def config(quick: bool, trained_quick: bool | None = None) -> dict:
    """Evaluation, DP-MD and timing settings of the run (the training is in :func:`train_config`);
    ``trained_quick``: the networks are the quick configuration's (default: ``quick``)."""
    trained_quick = quick if trained_quick is None else trained_quick
    c = dict(_level(trained_quick), discard_steps=40, timing_dft_steps=20, dp_md_steps=20000, timing_dp_steps=20000,
             floor_segments=16)
    if quick:
        c.update(discard_steps=6 if trained_quick else 40, timing_dft_steps=5, dp_md_steps=2000, timing_dp_steps=2000,
                 floor_segments=4)
    return c


def labeller(c: dict):
    return dp.PySCFLabeller(TYPE_MAP, xc=c["xc"], basis=c["basis"], grid_level=c["grid_level"])


def water_data(c: dict, seed: int, split: str, log=None):
    """One labelled DFT-MD trajectory per temperature (``split`` "train" or "test": different
    seeds and therefore different orientations and noise)."""
    lab, (steps, s) = labeller(c), (c["train_steps"], seed) if split == "train" else (c["test_steps"], 1000 + seed)
    return [dp.dft_md(lab, SYMBOLS, WATER, MASSES, T, steps, dt_fs=c["dt_fs"], gamma_per_ps=c["gamma_per_ps"], seed=s,
                      name=f"water-{split}", log=log) for T in c["temperatures"]]


def test_data(trained_quick: bool, seed: int, log=None):
    """The held-out trajectories of the level of theory of the quick (``trained_quick``) or full
    configuration: the shipped label set of :func:`test_label_config` when there is one (the first
    shipped file holds coordinates, energies and forces: the types and the vacuum cell are given
    here), else DFT-MD (cached). Returns ``(systems, the file read or None)``."""
    return dp.stored_labels(DATA, f"{NAME}-test", test_label_config(trained_quick, seed),
                            lambda: water_data(_level(trained_quick), seed, "test", log), type_map=TYPE_MAP,
                            types=[TYPE_MAP.index(s) for s in SYMBOLS], box=np.eye(3) * VACUUM_CELL, pbc=False)


def export_test_labels(seed: int = 0) -> pathlib.Path:
    """Write the full run's held-out labels (from the label cache; DFT-MD if absent) to
    ``data/dpmd-dft-test-<hash of test_label_config>.npz`` (:func:`jaxhybrid.dp.write_label_file`)."""
    key = test_label_config(False, seed)
    return dp.write_label_file(dp.keyed_label_file(DATA, f"{NAME}-test", key), water_data(_level(False), seed, "test"),
                               key)


def train(t: dict):
    """``(model, meta)`` of the network trained as ``t`` says (:func:`train_config`: the Deep
    Potential; :func:`data_only_config`: a data-only MLP) on its DFT-MD frames."""
    t0 = time.perf_counter()
    model, meta = dp.fit_from_config(TYPE_MAP, water_data(t, t["seed"], "train"), t, sel=len(SYMBOLS) - 1,
                                     log_every=math.gcd(t["steps"], 500))
    return model, dict(meta, train_s=round(time.perf_counter() - t0, 2))


def networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """The Deep Potential (``"dp"``) and the data-only MLPs (``"data_only"``, ``"data_only_distances"``),
    of one tier (:func:`~jaxhybrid.pretrained.obtain_tier`): ``({key: Obtained}, "full" | "quick")``."""
    tiers = ({"dp": (f"{NAME}-dp", train_config(q, seed)),
              **{key: (f"{NAME}-mlp-{kind}", data_only_config(q, seed, kind)) for key, kind, _ in KINDS}}
             for q in (False, True))
    # templates: the molecule fixes the Deep Potential's neighbour slots and the MLPs' atom count
    like = functools.partial(dp.template_from_config, TYPE_MAP, sel=len(SYMBOLS) - 1, n_atoms=len(SYMBOLS))
    return obtain_tier(*tiers, lambda _: train, like, quick=quick, retrain=retrain)


def run(quick: bool, seed: int, out: pathlib.Path, retrain: bool = False) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    got, tier = networks(quick, seed, retrain)
    t_train = time.perf_counter() - t0
    model, hist = got["dp"].model, got["dp"].meta["history"]
    c = config(quick, tier == "quick")
    t1 = time.perf_counter()
    test_sys, label_file = test_data(tier == "quick", seed)
    t_data = time.perf_counter() - t1
    te = dp.pack(test_sys, model.rcut)
    err = dp.rmse(model, te)

    # cost per MD step of DFT-MD (fresh, uncached) and DP-MD, same integrator, time step, friction; O–H bond
    # lengths: per temperature a long DP-MD run from the held-out trajectory's first frame, and segments as long
    # as the DFT-MD trajectory for the sampling floor (one vmapped program for every temperature)
    t1 = time.perf_counter()
    check = dp.molecule_md_check(model, labeller(c), SYMBOLS, WATER, MASSES, [s.coord for s in test_sys],
                                 c["temperatures"], lambda R: md.bond_lengths(R, OH_PAIRS), dt_fs=c["dt_fs"],
                                 gamma_per_ps=c["gamma_per_ps"], n_steps=c["dp_md_steps"],
                                 n_segments=c["floor_segments"], discard=c["discard_steps"],
                                 timing_steps=(c["timing_dft_steps"], c["timing_dp_steps"]), seed=seed + 500)
    dft_step_s, dp_step_s = check.reference_step_s, check.step_s
    structure = {f"{int(T)}K": v for T, v in zip(c["temperatures"], check.distributions)}
    t_md = time.perf_counter() - t1

    base = {"mechanism_only": {"force_rmse_meV_per_A": 0.0, "energy_rmse_meV_per_atom": 0.0, "oh_bond_hist_l1": 0.0,
                               "speedup_vs_reference": 1.0, "dft_md_s_per_step": dft_step_s,
                               "note": f"PySCF {c['xc']}/{c['basis']} DFT-MD itself (the reference)"}}
    for key, kind, inputs in KINDS:
        b = evaluate_mlp_energy(got[key].model, test_sys)
        base[key] = {**b, "energy_rmse_meV": b["energy_rmse_meV_per_atom"] * len(SYMBOLS), "inputs": inputs}
    metrics = {**err, "energy_rmse_meV": err["energy_rmse_meV_per_atom"] * len(SYMBOLS),
               "speedup_vs_reference": dft_step_s / dp_step_s, "dft_md_s_per_step": dft_step_s,
               "dp_md_s_per_step": dp_step_s,
               "oh_bond_hist_l1": float(np.mean([v.l1 for v in structure.values()])),
               "oh_bond_hist_l1_sampling_floor": float(np.mean([v.floor for v in structure.values()])),
               "n_train_frames": got["dp"].meta["n_train_frames"], "n_test_frames": int(len(te.energy)),
               "data_s": t_data, "train_s": t_train, "md_and_timing_s": t_md,
               **md.distribution_metrics(structure, "oh_bond", unit="A", sides=("dp", "dft"))}
    _plot(model, te, hist, structure, out, c)
    metrics.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)
    goal = {"force_rmse_meV_per_A": "min", "energy_rmse_meV_per_atom": "min", "speedup_vs_reference": "max",
            "oh_bond_hist_l1": "min"}
    ref = f"PySCF Kohn-Sham DFT {c['xc']}/{c['basis']}, XC grid level {c['grid_level']}"
    weights = {k: {**g.summary(), "level": tier, "train_s": g.meta["train_s"]} for k, g in got.items()}
    if tier == "quick":
        ref += " (quick configuration: minimal basis for a cold-cache run)"
    return record(NAME, 1, quick, t0, metrics, goal, base, headline="force_rmse_meV_per_A",
                  references=("mechanism_only",), reference=ref,
                  test_labels=label_file.name if label_file else "DFT-MD (label cache)", config=c,
                  training={k: g.config for k, g in got.items()}, weights=weights)


def _plot(model, te, hist, structure, out, c):
    from jaxhybrid.dp.plots import distribution_comparison, force_parity, training_curves

    fig, ax = figure(1, 3, figsize=(14, 4))
    force_parity(ax[0], model, te, f"DFT ({c['xc']}/{c['basis']})")
    distribution_comparison(ax[1], structure, xlabel="O–H bond length (Å)", ylabel="density (1/Å)",
                            title="O–H bond-length distribution", reference="DFT-MD", sample="DP-MD")
    training_curves(ax[2], hist)
    ax[2].ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
    save_figure(fig, out, NAME)


if __name__ == "__main__":  # python -m jaxhybrid.examples.dpmd_dft export-test-labels [SEED]
    import sys

    if len(sys.argv) < 2 or sys.argv[1] != "export-test-labels":
        sys.exit("usage: python -m jaxhybrid.examples.dpmd_dft export-test-labels [SEED]")
    p = export_test_labels(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print(f"wrote {p} ({p.stat().st_size / 1024:.0f} KiB)")
