"""dpmd-dft: a Deep Potential trained on PySCF Kohn–Sham DFT labels of a water molecule, run
inside Newton's equations at a tiny fraction of the cost of DFT-MD (paradigm 1: the
mechanism's energy is a network trained on first-principles data).

Reference: DFT (PBE/6-31G; quick mode STO-3G on a coarse grid) as the force function of the MD
engine's BAOAB Langevin integrator (:func:`jaxhybrid.dp.dft_force_fn`, 0.5 fs, γ = 20 ps⁻¹);
every DFT-MD step is a labelled frame (:func:`jaxhybrid.dp.dft_md`, cached): training and
held-out trajectories at each temperature from different seeds and random orientations.
DP-MD runs the same compiled program with the network (:func:`jaxhybrid.md.langevin_program`).
Measured: held-out force (meV/Å) and energy RMSEs; O–H bond-length histograms of DP-MD vs the
held-out DFT-MD (L1 distance ``∫|p_DP − p_DFT| dr`` against its sampling floor: the median and
90th percentile over DP-MD segments as long as the DFT-MD run); seconds per MD step of both.
Baselines: ``mechanism_only`` — DFT itself (its cost); ``data_only`` — an MLP on the raw
coordinates; ``data_only_distances`` (full run) — an MLP on the three interatomic distances
(:func:`jaxhybrid.dp.mlp_baseline`). Figures: README, "Deep Potential MD".
"""

from __future__ import annotations

import math
import pathlib
import time

import numpy as np

from jaxhybrid.examples.record import figure, record, save_figure

NAME = "dpmd-dft"
SYMBOLS = ("O", "H", "H")
TYPE_MAP = ("O", "H")
MASSES = (15.999, 1.008, 1.008)  # amu
OH_PAIRS = ((0, 1), (0, 2))
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


def labeller(c: dict):
    from jaxhybrid.dp import PySCFLabeller

    return PySCFLabeller(TYPE_MAP, xc=c["xc"], basis=c["basis"], grid_level=c["grid_level"])


def water_data(c: dict, seed: int, split: str, log=None):
    """One labelled DFT-MD trajectory per temperature (``split`` "train" or "test": different
    seeds and therefore different orientations and noise)."""
    from jaxhybrid.dp import dft_md

    lab, (steps, s) = labeller(c), (c["train_steps"], seed) if split == "train" else (c["test_steps"], 1000 + seed)
    return [dft_md(lab, SYMBOLS, WATER, MASSES, T, steps, dt_fs=c["dt_fs"], gamma_per_ps=c["gamma_per_ps"], seed=s,
                   name=f"water-{split}", log=log) for T in c["temperatures"]]


def train_dp(train_set, c: dict, seed: int):
    import jax

    from jaxhybrid.dp import DeepPot, LossConfig, train

    model = DeepPot(TYPE_MAP, sel=len(SYMBOLS) - 1, key=jax.random.PRNGKey(seed),
                    **{k: c[k] for k in ("rcut", "rcut_smth", "embedding", "fitting", "axis")})
    return train(model, train_set, steps=c["steps"], batch_size=c["batch_size"], lr_start=c["lr_start"], lr_end=c["lr_end"],
                 loss=LossConfig(*c["pref_e"], *c["pref_f"]), key=jax.random.PRNGKey(seed + 1),
                 log_every=math.gcd(c["steps"], 500), progress=False)


def run(quick: bool, seed: int, out: pathlib.Path) -> dict:
    from jaxhybrid import md
    from jaxhybrid.dp import dft_force_fn, mlp_baseline, molecule_energy_fn, one_thread, pack, rmse

    t0, c0 = time.perf_counter(), time.process_time()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    train_sys, test_sys = water_data(c, seed, "train"), water_data(c, seed, "test")
    t_data = time.perf_counter() - t0
    tr, te = pack(train_sys, c["rcut"]), pack(test_sys, c["rcut"])

    t1 = time.perf_counter()
    model, hist = train_dp(tr, c, seed)
    t_train = time.perf_counter() - t1
    err = rmse(model, te)
    dp_force = md.energy_force_fn(molecule_energy_fn(model, [TYPE_MAP.index(s) for s in SYMBOLS]))

    def program(force_fn, R0, T, n_steps, seeds, **kw):  # the same Langevin program for DFT-MD and DP-MD
        return md.langevin_program(force_fn, R0, T, n_steps, dt=c["dt_fs"] * 1e-3, gamma=c["gamma_per_ps"], mass=MASSES,
                                   seeds=seeds, **kw)

    # cost per MD step: DFT-MD (fresh, uncached) and DP-MD, same integrator, time step, friction
    lab = labeller(c)
    with one_thread():
        e_ref = float(lab.energy_forces(list(SYMBOLS), WATER)[0])  # PySCF import and first SCF outside the timing
    dft_step_s = program(dft_force_fn(lab, SYMBOLS, e_ref), WATER, 300.0, c["timing_dft_steps"], [7]).best_time() \
        / c["timing_dft_steps"]
    dp_step_s = program(dp_force, WATER, 300.0, c["timing_dp_steps"], [7]).best_time(3) / c["timing_dp_steps"]

    # O–H bond lengths: one vmapped DP-MD program for every temperature; per temperature run 0 is the long
    # DP-MD run, the first test_steps steps of runs 1..K are segments as long as the DFT-MD trajectory
    k0, nT, nS = c["discard_steps"], len(c["temperatures"]), c["floor_segments"] + 1
    runs = np.asarray(program(dp_force, np.repeat([s.coord[0] for s in test_sys], nS, axis=0),
                              np.repeat(c["temperatures"], nS), c["dp_md_steps"], [seed + 500 + k for k in range(nS)] * nT,
                              batched=True, observe=lambda x: x.positions)())
    runs = runs.reshape((nT, nS) + runs.shape[1:])
    metrics, structure = {}, {}
    for T, s, rs in zip(c["temperatures"], test_sys, runs):
        b_dft, b_dp = md.bond_lengths(s.coord[k0:], OH_PAIRS).ravel(), md.bond_lengths(rs[0, k0:], OH_PAIRS).ravel()
        edges = md.histogram_edges(b_dft, b_dp)
        floors = [md.histogram_l1(md.bond_lengths(g, OH_PAIRS), b_dp, edges) for g in rs[1:, k0:c["test_steps"]]]
        tag = f"{int(T)}K"
        structure[tag] = dict(edges=edges, b_dp=b_dp, b_dft=b_dft, l1=md.histogram_l1(b_dp, b_dft, edges),
                              floor=float(np.median(floors)))
        metrics.update({f"oh_bond_hist_l1_{tag}": structure[tag]["l1"],
                        f"oh_bond_hist_l1_sampling_floor_{tag}": structure[tag]["floor"],
                        f"oh_bond_hist_l1_sampling_floor_p90_{tag}": float(np.percentile(floors, 90))})
        for side, b in (("dp", b_dp), ("dft", b_dft)):
            metrics.update({f"oh_bond_mean_A_{side}_{tag}": float(b.mean()), f"oh_bond_std_A_{side}_{tag}": float(b.std())})
    t_md = time.perf_counter() - t1 - t_train

    base = {"mechanism_only": {"force_rmse_meV_per_A": 0.0, "energy_rmse_meV_per_atom": 0.0, "oh_bond_hist_l1": 0.0,
                               "speedup_vs_reference": 1.0, "dft_md_s_per_step": dft_step_s,
                               "note": f"PySCF {c['xc']}/{c['basis']} DFT-MD itself (the reference)"}}
    for key, kind, inputs in (("data_only", "coordinates", "raw Cartesian coordinates (9)"),
                              ("data_only_distances", "distances", "interatomic distances (3)"))[:1 if quick else 2]:
        b = mlp_baseline(train_sys, test_sys, kind, steps=c["data_only_steps"], seed=seed, widths=c["data_only_widths"])
        base[key] = {**b, "energy_rmse_meV": b["energy_rmse_meV_per_atom"] * len(SYMBOLS), "inputs": inputs}
    metrics = {**err, "energy_rmse_meV": err["energy_rmse_meV_per_atom"] * len(SYMBOLS),
               "speedup_vs_reference": dft_step_s / dp_step_s, "dft_md_s_per_step": dft_step_s, "dp_md_s_per_step": dp_step_s,
               "oh_bond_hist_l1": float(np.mean([v["l1"] for v in structure.values()])),
               "oh_bond_hist_l1_sampling_floor": float(np.mean([v["floor"] for v in structure.values()])),
               "n_train_frames": int(len(tr.energy)), "n_test_frames": int(len(te.energy)), "data_s": t_data,
               "train_s": t_train, "md_and_timing_s": t_md, **metrics}
    _plot(model, te, hist, structure, out, c)
    metrics.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)
    goal = {"force_rmse_meV_per_A": "min", "energy_rmse_meV_per_atom": "min", "speedup_vs_reference": "max",
            "oh_bond_hist_l1": "min"}
    ref = f"PySCF Kohn-Sham DFT {c['xc']}/{c['basis']}, XC grid level {c['grid_level']}"
    return record(NAME, 1, quick, t0, metrics, goal, base,
                  reference=ref + (" (quick mode: minimal basis for a cold-cache CI run)" if quick else ""),
                  config={k: list(v) if isinstance(v, tuple) else v for k, v in c.items()})


def _plot(model, te, hist, structure, out, c):
    from jaxhybrid.dp.plots import force_parity, training_curves

    fig, ax = figure(1, 3, figsize=(14, 4))
    force_parity(ax[0], model, te, f"DFT ({c['xc']}/{c['basis']})")
    for k, (tag, v) in enumerate(structure.items()):
        mid, w = 0.5 * (v["edges"][1:] + v["edges"][:-1]), np.diff(v["edges"])
        dp_label = f"DP-MD {tag} (L1 {v['l1']:.2f}, floor {v['floor']:.2f})"
        for side, ls, label in (("b_dft", "-", f"DFT-MD {tag}"), ("b_dp", "--", dp_label)):
            ax[1].plot(mid, np.histogram(v[side], v["edges"])[0] / (len(v[side]) * w), ls, color=f"C{k}", label=label)
    ax[1].set(xlabel="O–H bond length (Å)", ylabel="density (1/Å)", title="O–H bond-length distribution")
    ax[1].legend(fontsize=7)
    training_curves(ax[2], hist)
    ax[2].ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
    save_figure(fig, out, NAME)
