"""dpgen: concurrent learning of a Deep Potential for fcc Cu (paradigm 3, ``alternate``):
explore with DP-MD ↔ label the uncertain frames with the reference (EMT) ↔ retrain.

An ensemble of 4 Deep Potentials, trained together on a small seed set (32-atom frames at
300 K), runs the DP-GEN loop of :func:`jaxhybrid.dp.concurrent_learning`: DP-MD with member 0 at
600, 900 and 1200 K; model deviation ``ε_f`` of every explored frame; up to ``n_label`` frames
with ``lo ≤ ε_f < hi`` labelled by EMT; the ensemble retrained on the grown set. It stops when
90 % of the explored frames are below ``lo`` or after ``rounds`` rounds.
Baselines at equal cost (the same seed-set model, number of EMT labels and training steps):
``random_selection`` — the same number of frames drawn uniformly from everything explored;
``seed_only`` — the seed-set model. Measured: maximum force error (max over atoms and frames of
|ΔF_i|, meV/Å) and force RMSE on a 1200 K EMT test trajectory. Figures: README, "Deep Potential MD".
"""

from __future__ import annotations

import math
import pathlib
import time

import numpy as np

from jaxhybrid.examples.record import figure, record, save_figure

NAME = "dpgen"
A0, MASS = 3.61, 63.546


def config(quick: bool) -> dict:
    c = dict(rcut=5.0, rcut_smth=3.5, sel=64, embedding=(8, 16), fitting=(32, 32), axis=4, n_models=4, seed_frames=6,
             rounds=4, explore_temperatures=(600.0, 900.0, 1200.0), explore_steps=300, explore_every=10, lo=0.05, hi=0.5,
             n_label=12, init_steps=1500, round_steps=800, test_frames=20, test_T=1200.0, lr_start=5e-3, lr_end=1e-4,
             pref_v=(0.02, 1.0))
    if quick:
        c.update(rounds=1, explore_steps=60, n_label=6, init_steps=150, round_steps=100, test_frames=4, seed_frames=4,
                 explore_temperatures=(1200.0,))
    return c


def _train(ens, systems, steps, c, seed):
    import jax

    from jaxhybrid.dp import LossConfig, pack, train

    return train(ens, pack(systems, c["rcut"], k_max=c["sel"]), steps=steps, batch_size=1, lr_start=c["lr_start"],
                 lr_end=c["lr_end"], loss=LossConfig(start_pref_v=c["pref_v"][0], limit_pref_v=c["pref_v"][1]),
                 key=jax.random.PRNGKey(seed), log_every=math.gcd(steps, 100), ensemble=True)[0]


def _test_error(ens, test, c):
    from jaxhybrid.dp import member, pack, rmse

    m0 = member(ens, 0)
    return rmse(m0, pack([test], m0.rcut, k_max=c["sel"]))  # the deviation's table width: one compilation


def run(quick: bool, seed: int, out: pathlib.Path) -> dict:
    import jax
    from ase.build import bulk

    from jaxhybrid.dp import (EMTLabeller, Explorer, TrustLevels, concurrent_learning, label_frames, make_ensemble,
                              reference_md)

    t0 = time.perf_counter()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    lab, atoms = EMTLabeller(("Cu",)), bulk("Cu", "fcc", a=A0, cubic=True).repeat((2, 2, 2))
    seed_set = reference_md(lab, atoms, temperatures=[300.0], n_frames=c["seed_frames"], every=10, equilibrate=40, seed=seed,
                            name="dpgen-seed")
    test = reference_md(lab, atoms, temperatures=[c["test_T"]], n_frames=c["test_frames"], every=10, equilibrate=60,
                        seed=seed + 500, name="dpgen-test")[0]
    kw = {k: c[k] for k in ("rcut", "rcut_smth", "sel", "embedding", "fitting", "axis")}
    ens0 = _train(make_ensemble(c["n_models"], jax.random.PRNGKey(seed), type_map=("Cu",), **kw), seed_set, c["init_steps"], c,
                  seed)
    rng = np.random.default_rng(seed)
    res = concurrent_learning(ens0, seed_set, atoms, labeller=lab, rng=rng, seed=seed, rounds=c["rounds"],
                              n_label=c["n_label"], trust=TrustLevels(c["lo"], c["hi"]),
                              explorer=Explorer(c["explore_temperatures"], c["explore_steps"], c["explore_every"], mass=MASS),
                              retrain=lambda ens, systems, r: _train(ens, systems, c["round_steps"], c, seed + r + 1))
    log = res.history
    n_labelled = int(sum(rec["labelled"] for rec in log))
    err_cl = _test_error(res.model, test, c)

    # baseline: the same number of frames drawn at random from everything explored, same budget
    # (its seed-set stage is the same computation as ``ens0``'s: same key, data and steps)
    pool = np.concatenate(res.explored)
    pick = rng.choice(len(pool), size=max(n_labelled, 1), replace=False)
    steps = c["round_steps"] * max(1, sum(r["labelled"] > 0 for r in log))
    ens_r = _train(ens0, list(seed_set) + [label_frames(lab, pool[pick], atoms)], steps, c, seed + 1)
    errs = {"concurrent learning": err_cl, "random selection": _test_error(ens_r, test, c),
            "seed only": _test_error(ens0, test, c)}
    keys = ("max_force_error_meV_per_A", "force_rmse_meV_per_A")
    metrics = {**{k: err_cl[k] for k in keys}, "labelled_frames": n_labelled,
               "labels_per_iteration": [rec["labelled"] for rec in log],
               "accurate_fraction_per_iteration": [rec["accurate_frac"] for rec in log], "rounds": res.rounds,
               "converged": bool(res.converged)}
    _plot(log, errs, out)
    return record(NAME, 3, quick, t0, metrics, {k: "min" for k in keys},
                  {"random_selection": {**{k: errs["random selection"][k] for k in keys}, "labelled_frames": n_labelled},
                   "seed_only": {**{k: errs["seed only"][k] for k in keys}, "labelled_frames": 0}},
                  history=log, config={k: (list(v) if isinstance(v, tuple) else v) for k, v in c.items()})


def _plot(log, errs, out):
    fig, ax = figure(1, 2, figsize=(10, 4))
    r = np.arange(1, len(log) + 1)
    ax[0].bar(r - 0.2, [x["labelled"] for x in log], width=0.4, label="labelled")
    ax[0].bar(r + 0.2, [x["candidates"] for x in log], width=0.4, label="candidates (lo ≤ ε_f < hi)")
    ax0 = ax[0].twinx()
    ax0.plot(r, [x["accurate_frac"] for x in log], "k.-", label="fraction ε_f < lo")
    ax0.set_ylim(0, 1.05)
    ax[0].set(xlabel="round", title="concurrent learning")
    ax[0].legend(loc="upper left", fontsize=8)
    names = ["seed only", "random selection", "concurrent learning"]
    ax[1].bar(names, [errs[n]["max_force_error_meV_per_A"] for n in names], color=["gray", "C1", "C0"])
    ax[1].set_ylabel("max force error on 1200 K test (meV/Å)")
    save_figure(fig, out, NAME)
