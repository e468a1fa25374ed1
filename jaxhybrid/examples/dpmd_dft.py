"""dpmd-dft: a Deep Potential trained on PySCF Kohn–Sham DFT labels of a water molecule, run
inside Newton's equations at a tiny fraction of the cost of DFT-MD (paradigm 1: the
mechanism's energy is a network trained on first-principles data).

Reference: DFT-MD, PBE/6-31G (the quick configuration STO-3G on a coarse grid) as the force
function of the MD engine's Langevin integrator (0.5 fs, γ = 20 ps⁻¹), every step a labelled
frame: training and held-out trajectories at each temperature from different seeds and
orientations (:func:`jaxhybrid.dp.molecule_dft_md`). DP-MD runs the same compiled program with
the network (:func:`jaxhybrid.dp.molecule_md_check`).
Measured: held-out force (meV/Å) and energy RMSEs; O–H bond-length histograms of DP-MD vs the
held-out DFT-MD (L1 distance ``∫|p_DP − p_DFT| dr`` against its sampling floor: the median and
90th percentile over DP-MD segments as long as the DFT-MD run); seconds per MD step of both.
Baselines: ``mechanism_only`` — DFT itself (its cost; zero error by construction: a reference,
not a competitor); ``data_only`` — an MLP on the raw coordinates; ``data_only_distances`` — an
MLP on the three interatomic distances (:func:`jaxhybrid.dp.baselines.fit_mlp_energy`), both on
the Deep Potential's training frames.

Trained networks: the Deep Potential (``dpmd-dft-dp``) and the two MLPs
(``dpmd-dft-mlp-coordinates``, ``dpmd-dft-mlp-distances``), keyed by their training
configurations (:func:`train_config`, :func:`data_only_config`), come as one tier
(:func:`networks`, :func:`jaxhybrid.dp.obtain_networks`). The full run's networks for seed 0
ship with the package, and so do its held-out labels (``data/dpmd-dft-test-<hash>.npz``, keyed
by :func:`test_label_config`, written by :func:`export_test_labels`): so the quick run with seed
0 shows the full run's held-out errors and redoes the DP-MD bond-length comparison and both
costs per step at quick length. A run that trains the quick configuration (another seed,
``--retrain``) evaluates against STO-3G labels: the level of theory follows the networks
(``weights.dp.level``). The force error spans an order of magnitude across seeds (README: 44.4
meV/Å for seed 0, 5.9 for seed 1); seed 0 ships because it is the default.

Figures: README, "Deep Potential MD".
"""

from __future__ import annotations

import math
import pathlib
import time

import numpy as np

from jaxhybrid import dp, md
from jaxhybrid.dp.baselines import evaluate_mlp_energy
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
#: the training (seed) and held-out (seed 1000 + seed) DFT-MD of the molecule, held-out sets shipped in DATA
WATER_MD = dp.MoleculeDFTMD(TYPE_MAP, SYMBOLS, WATER, MASSES, name="water", labels=DATA / f"{NAME}-test")
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
    c = dict({k: lv[k] for k in dp.LEVEL_KEYS + ("train_steps",)},
             seed=seed, rcut=4.0, rcut_smth=3.0, embedding=[16, 32, 64], fitting=[64, 64, 64], axis=8, steps=20000,
             batch_size=8, lr_start=2e-3, lr_end=1e-5, pref_e=[0.1, 10.0], pref_f=[1000.0, 1.0])
    if quick:
        c.update(embedding=[8, 16], fitting=[32, 32], axis=4, steps=600, lr_end=1e-4)
    return c


def data_only_config(quick: bool, seed: int, kind: str) -> dict:
    """A data-only MLP's training: the Deep Potential's DFT-MD frames, inputs ``kind``, widths,
    steps, seed. The key of its stored weights."""
    t = train_config(quick, seed)
    return dict({k: t[k] for k in dp.LEVEL_KEYS + ("train_steps", "seed")}, kind=kind, widths=[128, 128], batch_size=16,
                steps=600 if quick else 20000)


def test_label_config(quick: bool, seed: int) -> dict:
    """The held-out DFT-MD trajectories (one per temperature, seed 1000 + seed) of the level of
    theory of the full (``quick=False``) or quick configuration: the key of a shipped label set."""
    return WATER_MD.test_key(_level(quick), seed)


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


def test_data(trained_quick: bool, seed: int, log=None):
    """The held-out trajectories of the quick (``trained_quick``) or full configuration's level of
    theory: the shipped label set of :func:`test_label_config` when there is one, else DFT-MD
    (cached). Returns ``(systems, the file read or None)``."""
    return WATER_MD.held_out(_level(trained_quick), seed, log)


def export_test_labels(seed: int = 0) -> pathlib.Path:
    """Write the full run's held-out labels (from the label cache; DFT-MD if absent) to
    ``data/dpmd-dft-test-<hash of test_label_config>.npz`` (:func:`jaxhybrid.dp.write_label_file`)."""
    return WATER_MD.write_held_out(_level(False), seed)


def networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """The Deep Potential (``"dp"``) and the data-only MLPs (``"data_only"``, ``"data_only_distances"``),
    of one tier (:func:`jaxhybrid.dp.obtain_networks`): ``({key: Obtained}, "full" | "quick")``; the
    molecule fixes the Deep Potential's neighbour slots and the MLPs' atom count."""
    return dp.obtain_networks(TYPE_MAP, lambda q: {"dp": (f"{NAME}-dp", train_config(q, seed)), **{
        key: (f"{NAME}-mlp-{kind}", data_only_config(q, seed, kind)) for key, kind, _ in KINDS}},
        lambda t: WATER_MD.trajectories(t, t["seed"], "train"), quick=quick, retrain=retrain, sel=len(SYMBOLS) - 1,
        n_atoms=len(SYMBOLS), log_every=lambda t: math.gcd(t["steps"], 500))


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

    # cost per MD step of DFT-MD (fresh, uncached) and DP-MD; O–H bond lengths of DP-MD vs each held-out trajectory
    t1 = time.perf_counter()
    check = dp.molecule_md_check(model, dp.dft_labeller(TYPE_MAP, c), SYMBOLS, WATER, MASSES,
                                 [s.coord for s in test_sys], c["temperatures"], lambda R: md.bond_lengths(R, OH_PAIRS),
                                 dt_fs=c["dt_fs"], gamma_per_ps=c["gamma_per_ps"], n_steps=c["dp_md_steps"],
                                 n_segments=c["floor_segments"], discard=c["discard_steps"],
                                 timing_steps=(c["timing_dft_steps"], c["timing_dp_steps"]), seed=seed + 500)
    tags = [f"{int(T)}K" for T in c["temperatures"]]
    t_md = time.perf_counter() - t1

    base = {"mechanism_only": {"force_rmse_meV_per_A": 0.0, "energy_rmse_meV_per_atom": 0.0, "oh_bond_hist_l1": 0.0,
                               "speedup_vs_reference": 1.0, "dft_md_s_per_step": check.reference_step_s,
                               "note": f"PySCF {c['xc']}/{c['basis']} DFT-MD itself (the reference)"}}
    for key, kind, inputs in KINDS:
        b = evaluate_mlp_energy(got[key].model, test_sys)
        base[key] = {**b, "energy_rmse_meV": b["energy_rmse_meV_per_atom"] * len(SYMBOLS), "inputs": inputs}
    metrics = {**err, "energy_rmse_meV": err["energy_rmse_meV_per_atom"] * len(SYMBOLS),
               **dp.molecule_md_metrics(check, tags, "oh_bond", unit="A", sides=("dp", "dft")),
               "n_train_frames": got["dp"].meta["n_train_frames"], "n_test_frames": int(len(te.energy)),
               "data_s": t_data, "train_s": t_train, "md_and_timing_s": t_md}
    _plot(model, te, hist, dict(zip(tags, check.distributions)), out, c)
    metrics.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)
    goal = {"force_rmse_meV_per_A": "min", "energy_rmse_meV_per_atom": "min", "speedup_vs_reference": "max",
            "oh_bond_hist_l1": "min"}
    ref = f"PySCF Kohn-Sham DFT {c['xc']}/{c['basis']}, XC grid level {c['grid_level']}"
    if tier == "quick":
        ref += " (quick configuration: minimal basis for a cold-cache run)"
    return record(NAME, 1, quick, t0, metrics, goal, base, headline="force_rmse_meV_per_A",
                  references=("mechanism_only",), reference=ref,
                  test_labels=label_file.name if label_file else "DFT-MD (label cache)", config=c,
                  training={k: g.config for k, g in got.items()}, weights=dp.weights_summary(got, tier))


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
