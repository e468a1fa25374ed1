"""constitutive-spd — SPD-NN incremental stress law vs an unconstrained MLP (paradigm 2).

Material: a strain-hardening hypoelastic law (:class:`~jaxhybrid.constitutive.HardeningHypoelastic`,
Mandel 6-vectors) ``σⁿ⁺¹ = σⁿ + H(εⁿ⁺¹)(εⁿ⁺¹ − εⁿ)``; data: its stresses along smooth random
multiaxial loading paths of 1,000 increments, cut into 100-increment training windows.
**hybrid (SPD-NN)** — ``H_θ = s(L_θ L_θᵀ + δI)`` (Xu, Huang & Darve 2021): every increment does
positive work, so rollouts over whole unseen paths stay bounded. **data only (MLP)** —
``σⁿ⁺¹ = σⁿ + s·MLP(εⁿ⁺¹, Δε, σⁿ)`` with the same data, scales, one-step loss, optimiser and steps.
Measured on 16 unseen paths rolled out from σ⁰ = 0 (:func:`~jaxhybrid.constitutive.rollout_errors`):
``rollout_rel_error`` (the headline), ``final_rel_error``, ``max_stress_ratio``,
``one_step_rel_error``. Figures and the ablations (input scaling, path count, rollout training): README.md.

Trained networks (:mod:`jaxhybrid.pretrained`): ``constitutive-spd-hybrid`` and
``constitutive-spd-mlp``, keyed by their training configuration (:func:`network_config`: seed,
training paths, increments, amplitude, window, law, sizes, steps, batch, learning rate). The
full run's two networks of seed 0 ship with the package; the training data's scales and the loss
histories are kept in the files' meta.

* full run: ``obtain([full])`` — the shipped (or cached) networks; trained only when absent or
  with ``--retrain`` (3,000 Adam steps on 256 paths each).
* quick run: ``obtain([full, quick])`` — when both full networks are stored (seed 0: shipped) it
  loads them and only redoes the cheap part: the 16 test paths, their rollouts, the tangent
  eigenvalues and the figure, so its table is the full run's. Otherwise (another seed — the seed
  is part of the key, so it never reads seed 0's networks — or ``--retrain``) it trains the
  small quick configuration (48 paths, 400 steps) and evaluates it on the same 16 test paths.
  The record's ``weights`` says which file each network came from (``source``: shipped, cache or
  trained) and ``config["networks"]`` the tier (full or quick).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

from jaxhybrid import constitutive as C
from jaxhybrid.constitutive import plots as CP
from jaxhybrid.pretrained import obtain_tier
from jaxhybrid.record import figure, record, save_figure

NAME = "constitutive-spd"
#: the two networks: SPD-NN (hybrid) and the unconstrained MLP increment (data only)
NETWORKS = ("hybrid", "mlp")
N_TEST_PATHS = 16  # unseen test paths (both tiers), 1,000 increments each


def config(quick: bool) -> dict:
    """Data, sizes and training budget of a tier (the full run's or the small quick one's)."""
    return dict(n_train_paths=48 if quick else 256, n_increments=1000, window=100, amplitude=0.01,
                steps=400 if quick else 3000, batch_windows=16 if quick else 32, lr=1e-2, width=32, mlp_width=64)


def network_config(quick: bool, seed: int, which: str) -> dict:
    """Training configuration of network ``which`` (the key of its weights file)."""
    c = config(quick)
    width = c["width"] if which == "hybrid" else c["mlp_width"]
    c = {k: v for k, v in c.items() if k not in ("width", "mlp_width")}
    return dict(c, seed=seed, model=which, width=width, depth=2, law=dataclasses.asdict(C.HardeningHypoelastic()))


@functools.lru_cache(maxsize=2)  # both networks train on the same data
def _training_data(seed, n_paths, n_increments, amplitude, window):
    """Training windows (many short windows from many paths per minibatch, at the increment size of
    the test paths) and the data's scales (RMS strain, stress, strain increment) of a configuration."""
    return C.incremental_training_data(C.HardeningHypoelastic(), seed, n_paths, n_increments, amplitude, window)


def _train(cfg):
    """``(network, meta)``: one-step loss through ``fit`` with a cosine-decayed Adam."""
    data = _training_data(cfg["seed"], cfg["n_train_paths"], cfg["n_increments"], cfg["amplitude"], cfg["window"])
    return C.train_incremental_law(cfg, *data, desc=f"{NAME}:{cfg['model']}")


def obtain_networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """Both networks, of one tier (:func:`~jaxhybrid.pretrained.obtain_tier`):
    ``({which: Obtained}, "full" | "quick")``."""
    tiers = ({w: (f"{NAME}-{w}", network_config(q, seed, w)) for w in NETWORKS} for q in (False, True))
    return obtain_tier(*tiers, lambda _: _train, C.incremental_law_template, quick=quick, retrain=retrain)


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t0, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    got, tier = obtain_networks(quick, seed, retrain)
    cfg, law = config(tier == "quick"), C.HardeningHypoelastic()
    e_te, s_te = C.reference_paths(law, seed + 10_000, N_TEST_PATHS, cfg["n_increments"], cfg["amplitude"])
    results, preds = C.compare_rollouts({"hybrid": got["hybrid"].model, "data_only": got["mlp"].model}, e_te, s_te)
    losses = {"hybrid": got["hybrid"].meta["losses"], "data_only": got["mlp"].meta["losses"]}
    # eigenvalues of the learned tangent along the test paths (all positive by construction)
    min_eig = C.min_tangent_eigenvalue(got["hybrid"].model, e_te)
    _plot(out, s_te, preds, losses)
    return record(
        NAME, 2, quick, t0, results["hybrid"], C.ROLLOUT_GOALS, {"data_only": results["data_only"]},
        headline="rollout_rel_error",
        config={**cfg, "n_test_paths": N_TEST_PATHS, "networks": tier,
                "spd_min_tangent_eigenvalue_on_test_paths": min_eig, "scales": got["hybrid"].meta["scales"],
                "law": dataclasses.asdict(law)},
        weights={w: got[w].summary() for w in NETWORKS},
    )


def _plot(out, sig, preds, losses):
    fig, ax = figure(1, 3, figsize=(15, 4))
    CP.incremental_law_panels(ax, sig, preds, losses, {"hybrid": ("C0", "SPD-NN"), "data_only": ("C3", "MLP")},
                              {"hybrid": ("C0--", "SPD-NN"), "data_only": ("C3:", "MLP")},
                              [(0, "σ11"), (5, "√2 σ12")], clip=10)
    save_figure(fig, out, NAME)
