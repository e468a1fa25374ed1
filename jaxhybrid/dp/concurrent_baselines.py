"""Concurrent learning against its equal-cost baselines, and how the three are scored.

Does DP-GEN's selection by model deviation (:mod:`.concurrent`) buy anything over labelling the
same number of frames at random? :func:`concurrent_vs_baselines` trains three ensembles from one
seed set, at the same reference cost:

* ``seed_only`` — the ensemble trained on the seed set alone (``init_steps``);
* ``concurrent_learning`` — from it, the DP-GEN loop (:func:`~.concurrent.concurrent_learning`):
  explore, deviate, select within the trust levels, label, retrain ``round_steps`` per round
  that labelled frames;
* ``random_selection`` — from the seed-set ensemble too, as many frames as the loop labelled
  (at least one), drawn uniformly without replacement from *every* frame the loop explored,
  labelled by the same labeller and trained on (with the seed set) for as many steps as the loop
  retrained in total (``round_steps`` × its rounds that labelled, at least one round).

The loop and the random draw share one ``numpy`` generator, ``default_rng(seed)`` (the draw
comes after the loop). :func:`ensemble_errors` scores an ensemble on labelled test frames:
member 0's held-out errors (:func:`~.training.rmse`; member 0 is the one that runs DP-MD) and the
ensemble's own uncertainty there, the largest model deviation (:func:`~.deviation.model_deviation`);
:func:`concurrent_figures` turns the three scores and the loop's summary into a record's figures.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from .concurrent import Explorer, TrustLevels, concurrent_learning, label_frames
from .data import System, pack
from .deviation import member, model_deviation
from .model import DeepPot
from .training import rmse

__all__ = ["CONCURRENT_ARMS", "ARM_FIGURES", "concurrent_vs_baselines", "ensemble_errors", "concurrent_figures"]

#: the three ensembles :func:`concurrent_vs_baselines` returns
CONCURRENT_ARMS = ("concurrent_learning", "random_selection", "seed_only")
#: the figures of :func:`ensemble_errors` each arm has in a record (:func:`concurrent_figures`)
ARM_FIGURES = ("max_force_error_meV_per_A", "force_rmse_meV_per_A", "max_model_deviation_meV_per_A")


def _plain(v):
    """A history value as a JSON-ready Python number (NumPy scalars included); others unchanged."""
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    return v


def concurrent_vs_baselines(ens: DeepPot, seed_set: Sequence[System], atoms, *, labeller,
                            fit: Callable[[DeepPot, list, int, int], DeepPot], init_steps: int, round_steps: int,
                            explorer: Explorer, trust: TrustLevels, n_label: int, rounds: int,
                            seed: int) -> tuple[dict, dict]:
    """The three ensembles of the module docstring and what the loop did.

    Args:
        ens: the untrained ensemble (:func:`~.deviation.make_ensemble`).
        seed_set: the labelled seed systems; ``atoms``: ASE ``Atoms``, the periodic start of
            every exploration (:func:`~.concurrent.concurrent_learning`).
        fit: ``fit(ens, systems, steps, seed) -> ens``, training on all of ``systems``;
            seeds: ``seed`` for the seed set, ``seed + r + 1`` for the loop's round ``r``,
            ``seed + 1`` for the random-selection arm.
        explorer, trust, n_label, rounds: the loop's (:func:`~.concurrent.concurrent_learning`,
            exploring with seed ``seed``).

    Returns:
        ``({arm: ensemble}, meta)`` for the arms :data:`CONCURRENT_ARMS`; ``meta`` (JSON-ready):
        the loop's ``history`` (one record per round), ``labelled_frames``, ``rounds``, ``converged``,
        ``random_selection_steps``.
    """
    if init_steps < 1 or round_steps < 1:
        raise ValueError(f"concurrent_vs_baselines: need init_steps >= 1 and round_steps >= 1, got {init_steps}, "
                         f"{round_steps}.")
    ens0 = fit(ens, list(seed_set), init_steps, seed)
    rng = np.random.default_rng(seed)
    res = concurrent_learning(ens0, seed_set, atoms, labeller=labeller, rng=rng, seed=seed, rounds=rounds,
                              n_label=n_label, trust=trust, explorer=explorer,
                              retrain=lambda e, systems, r: fit(e, systems, round_steps, seed + r + 1))
    log = [{k: _plain(v) for k, v in rec.items()} for rec in res.history]
    n_labelled = int(sum(rec["labelled"] for rec in log))
    pool = np.concatenate(res.explored)
    pick = rng.choice(len(pool), size=max(n_labelled, 1), replace=False)
    steps = round_steps * max(1, sum(rec["labelled"] > 0 for rec in log))
    ens_r = fit(ens0, list(seed_set) + [label_frames(labeller, pool[pick], atoms)], steps, seed + 1)
    meta = {"history": log, "labelled_frames": n_labelled, "rounds": int(res.rounds), "converged": bool(res.converged),
            "random_selection_steps": int(steps)}
    return {"concurrent_learning": res.model, "random_selection": ens_r, "seed_only": ens0}, meta


def ensemble_errors(ens: DeepPot, test: System, *, k_max: Optional[int] = None) -> dict:
    """Member 0's held-out errors on ``test`` (:func:`~.training.rmse`: energy and force RMSE,
    max force error) and ``max_model_deviation_meV_per_A``, the largest ``ε_f`` of the ensemble
    over the test frames. ``k_max``: neighbour slots of both tables (default the model's
    ``sel``: one compiled shape for the errors and the deviation)."""
    k_max = ens.sel if k_max is None else k_max
    m0 = member(ens, 0)
    errs = rmse(m0, pack([test], m0.rcut, k_max=k_max))
    dev = model_deviation(ens, test.coord, test.box[0], test.types, k_max=k_max)
    return {**errs, "max_model_deviation_meV_per_A": float(np.max(dev) * 1e3)}


def concurrent_figures(errors: Mapping[str, dict], meta: Mapping) -> tuple[dict, dict]:
    """``(hybrid, baselines)``: a record's figures of the arms of :func:`concurrent_vs_baselines`
    from their :func:`ensemble_errors` ``errors`` and its ``meta``. ``hybrid``: concurrent
    learning's :data:`ARM_FIGURES`, ``labelled_frames``, ``labels_per_iteration`` and
    ``accurate_fraction_per_iteration`` (one per round), ``rounds``, ``converged``; ``baselines``:
    ``random_selection`` (its figures, as many ``labelled_frames`` as the loop,
    ``training_steps_after_seed_set``) and ``seed_only`` (its figures, no labelled frames)."""
    missing = [a for a in CONCURRENT_ARMS if a not in errors]
    if missing:
        raise ValueError(f"concurrent_figures: no errors of the arms {missing}.")
    figures = {a: {k: errors[a][k] for k in ARM_FIGURES} for a in CONCURRENT_ARMS}
    log, n_labelled = meta["history"], meta["labelled_frames"]
    hybrid = {**figures["concurrent_learning"], "labelled_frames": n_labelled,
              "labels_per_iteration": [rec["labelled"] for rec in log],
              "accurate_fraction_per_iteration": [rec["accurate_frac"] for rec in log], "rounds": meta["rounds"],
              "converged": meta["converged"]}
    return hybrid, {"random_selection": {**figures["random_selection"], "labelled_frames": n_labelled,
                                         "training_steps_after_seed_set": meta["random_selection_steps"]},
                    "seed_only": {**figures["seed_only"], "labelled_frames": 0}}
