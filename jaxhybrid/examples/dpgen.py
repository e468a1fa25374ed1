"""dpgen: concurrent learning of a Deep Potential for fcc Cu (paradigm 3, ``alternate``):
explore with DP-MD ↔ label the uncertain frames with the reference (EMT) ↔ retrain.

An ensemble of 4 Deep Potentials, trained together on a small seed set (32-atom frames at
300 K), runs the DP-GEN loop of :func:`jaxhybrid.dp.concurrent_learning`: DP-MD with member 0 at
600, 900 and 1200 K; model deviation ``ε_f`` of every explored frame; up to ``n_label`` frames
with ``lo ≤ ε_f < hi`` labelled by EMT; the ensemble retrained on the grown set. It stops when
90 % of the explored frames are below ``lo`` or after ``rounds`` rounds
(:func:`jaxhybrid.dp.crystal_concurrent_from_config` reads all of it from :func:`train_config`).
Baselines at equal cost (the same seed-set model, number of EMT labels and training steps;
:func:`jaxhybrid.dp.concurrent_vs_baselines`): ``random_selection`` — the same number of frames
drawn uniformly from everything explored; ``seed_only`` — the seed-set model. Measured: maximum force error (max over atoms and frames of
|ΔF_i|, meV/Å; the headline: the rare, far-from-equilibrium configurations concurrent learning
goes after) and force RMSE of member 0 on a 1200 K EMT test trajectory (20 frames, seed + 500),
and each ensemble's own uncertainty there, the largest model deviation ``ε_f`` (no goal).

Trained networks (:mod:`jaxhybrid.pretrained`): the loop and both baselines are trained
together (the random-selection arm draws from the loop's explored frames), so the three final
ensembles are one stored file, ``dpgen-<hash>.eqx``, keyed by :func:`train_config` (seed set,
exploration, trust levels, labels per round, rounds, training steps, learning rates, seed); its
header's meta holds the loop's per-round history. The full run's ensembles for seed 0 ship with
the package. The full run loads them (trained only when absent or with ``--retrain``); the quick
run takes them too when stored (seed 0) and evaluates them afresh on the same 1200 K EMT test
trajectory, so its table is the full run's comparison (4 rounds, 48 labels per arm) and its
figure the full run's per-round history, read from the stored meta (the record's
``history_source`` says so). Only when nothing is stored (another seed: the seed is part of the
key; ``--retrain``) it runs the one-round quick loop, where 6 labels make concurrent learning
and random selection hard to tell apart.

Figures: README, "Deep Potential MD".
"""

from __future__ import annotations

import functools
import pathlib
import time

from jaxhybrid import dp
from jaxhybrid.pretrained import obtain
from jaxhybrid.record import figure, record, save_figure

NAME = "dpgen"
#: the element: any fcc metal of the EMT labeller; lattice constant and mass from ``ase.data``
ELEMENT = "Cu"
TYPE_MAP = (ELEMENT,)
ARMS = dp.CONCURRENT_ARMS


def train_config(quick: bool, seed: int) -> dict:
    """The loop's and the baselines' training (the key of the stored ensembles)."""
    c = dict(labeller="emt", a0=dp.lattice_constant(ELEMENT), cells=[2, 2, 2], seed=seed, rcut=5.0, rcut_smth=3.5,
             sel=64, embedding=[8, 16], fitting=[32, 32], axis=4, n_models=4, seed_frames=6, seed_T=300.0, rounds=4,
             explore_temperatures=[600.0, 900.0, 1200.0], explore_steps=300, explore_every=10, lo=0.05, hi=0.5,
             n_label=12, init_steps=1500, round_steps=800, lr_start=5e-3, lr_end=1e-4, pref_v=[0.02, 1.0])
    if quick:
        c.update(rounds=1, explore_steps=60, n_label=6, init_steps=150, round_steps=100, seed_frames=4,
                 explore_temperatures=[1200.0])
    return c


def config(quick: bool) -> dict:
    """The evaluation: the held-out EMT trajectory (the same in both modes: 32-atom EMT frames
    are cheap, and the quick run then reproduces the full run's figures)."""
    return dict(test_frames=20, test_T=1200.0, test_every=10, test_equilibrate=60)


def train_arms(t: dict):
    """``({arm: ensemble}, meta)``: the loop and its two baselines trained as :func:`train_config`
    ``t`` says (:func:`jaxhybrid.dp.crystal_concurrent_from_config`); ``meta`` holds the loop's history."""
    return dp.crystal_concurrent_from_config(dp.EMTLabeller(TYPE_MAP), ELEMENT, t, name=NAME)


#: the structure of the stored ensembles (shapes only: nothing is compiled)
template = functools.partial(dp.concurrent_template, TYPE_MAP)


def run(quick: bool, seed: int, out: pathlib.Path, retrain: bool = False) -> dict:
    t0 = time.perf_counter()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    got = obtain(NAME, [train_config(q, seed) for q in ([False, True] if quick else [False])], train_arms, template,
                 retrain=retrain)
    t_train = time.perf_counter() - t0
    t, meta, log = got.config, got.meta, got.meta["history"]
    # member 0's errors, and the ensemble's own uncertainty estimate on the test frames (what the loop selects by)
    errs = dp.crystal_arm_errors(got.model, dp.EMTLabeller(TYPE_MAP), ELEMENT, t, temperature=c["test_T"],
                                 n_frames=c["test_frames"], every=c["test_every"], equilibrate=c["test_equilibrate"],
                                 seed=seed + 500, name=f"{NAME}-test")
    metrics, base = dp.concurrent_figures(errs, meta)
    _plot(log, errs, out)
    level = "quick" if t == train_config(True, seed) else "full"
    return record(NAME, 3, quick, t0, {**metrics, "train_s": t_train},
                  {k: "min" for k in ("max_force_error_meV_per_A", "force_rmse_meV_per_A")}, base,
                  headline="max_force_error_meV_per_A", history=log,
                  history_source=("this run's loop" if got.source == "trained" else
                                  f"the stored {level} run's loop (weights meta); not rerun here"),
                  config=c, training=t, weights=dp.weights_summary({NAME: got}, level))


def _plot(log, errs, out):
    from jaxhybrid.dp.plots import arm_bars, concurrent_history

    fig, ax = figure(1, 2, figsize=(10, 4))
    concurrent_history(ax[0], log)
    arm_bars(ax[1], errs, "max_force_error_meV_per_A", ylabel="max force error on 1200 K test (meV/Å)")
    save_figure(fig, out, NAME)
