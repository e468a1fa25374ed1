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

Trained networks (:mod:`jaxhybrid.examples.pretrained`): ``constitutive-spd-hybrid`` and
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

import functools
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.constitutive import HardeningHypoelastic, MLPIncrement, SPDNN, one_step_loss, rollout_errors
from jaxhybrid.constitutive.data import path_windows, strain_paths, stress_paths
from jaxhybrid.examples.pretrained import obtain_tier
from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.train import fit

NAME = "constitutive-spd"
#: the two networks: SPD-NN (hybrid) and the unconstrained MLP increment (data only)
NETWORKS = ("hybrid", "mlp")
N_TEST_PATHS = 16  # unseen test paths (both tiers), 1,000 increments each


def config(quick: bool) -> dict:
    """Data, sizes and training budget of a tier (the full run's or the small quick one's)."""
    return dict(n_train_paths=48 if quick else 256, n_increments=1000, window=100, amplitude=0.01,
                steps=400 if quick else 3000, batch_windows=16 if quick else 32, lr=1e-2, width=32, mlp_width=64)


def _law_params(law) -> dict:
    return {"K0": law.K0, "G0": law.G0, "bK": law.bK, "bG": law.bG, "eps0": law.eps0}


def network_config(quick: bool, seed: int, which: str) -> dict:
    """Training configuration of network ``which`` (the key of its weights file)."""
    c = config(quick)
    width = c["width"] if which == "hybrid" else c["mlp_width"]
    c = {k: v for k, v in c.items() if k not in ("width", "mlp_width")}
    return dict(c, seed=seed, model=which, width=width, depth=2, law=_law_params(HardeningHypoelastic()))


@functools.lru_cache(maxsize=2)
def _training_data(seed, n_paths, n_increments, amplitude, window):
    """Training windows and the data's scales (RMS strain, stress, strain increment) of a configuration."""
    law = HardeningHypoelastic()
    e_tr = strain_paths(seed, n_paths, n_increments, amplitude)
    s_tr = stress_paths(law, e_tr)
    # input/output scales from the training data only: RMS strain and stress components, RMS
    # strain increment; their ratio is the stiffness scale of the tangent
    scales = {"strain": float(np.sqrt(np.mean(e_tr**2))), "stress": float(np.sqrt(np.mean(s_tr**2))),
              "increment": float(np.sqrt(np.mean(np.sum(np.diff(e_tr, axis=1) ** 2, -1))))}
    # many short windows (at the increment size of the test paths) from many paths per minibatch
    return path_windows(e_tr, s_tr, window), scales


def _keys(seed):
    """``(k_hybrid_init, k_mlp_init, k_minibatches)``."""
    return jax.random.split(jax.random.PRNGKey(seed), 3)


def _make(cfg, scales, key):
    if cfg["model"] == "hybrid":
        return SPDNN(6, cfg["width"], cfg["depth"], stress_scale=scales["stress"] / scales["strain"],
                     strain_scale=scales["strain"], key=key)
    return MLPIncrement(6, cfg["width"], cfg["depth"], stress_scale=scales["stress"], strain_scale=scales["strain"],
                        increment_scale=scales["increment"], key=key)


def _train(cfg):
    """``(network, meta)``: one-step loss through ``fit`` with a cosine-decayed Adam."""
    t0 = time.perf_counter()
    windows, scales = _training_data(cfg["seed"], cfg["n_train_paths"], cfg["n_increments"], cfg["amplitude"],
                                     cfg["window"])
    k_h, k_m, k_b = _keys(cfg["seed"])
    opt = optax.adam(optax.cosine_decay_schedule(cfg["lr"], cfg["steps"], 0.02))
    res = fit(one_step_loss, _make(cfg, scales, k_h if cfg["model"] == "hybrid" else k_m), windows, opt,
              steps=cfg["steps"], batch_size=cfg["batch_windows"], key=k_b, log_every=max(cfg["steps"] // 20, 1),
              desc=f"{NAME}:{cfg['model']}")
    losses = [float(h["loss"]) for h in res.history]
    return res.params, {"scales": scales, "losses": losses, "final_loss": losses[-1],
                        "train_s": round(time.perf_counter() - t0, 2)}


def _like(cfg, meta):  # structure of a stored network (shapes only; the scales are static fields)
    return eqx.filter_eval_shape(_make, cfg, meta["scales"], jax.random.PRNGKey(0))


def obtain_networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """Both networks, of one tier (:func:`~jaxhybrid.examples.pretrained.obtain_tier`):
    ``({which: Obtained}, "full" | "quick")``."""
    tiers = ({w: (f"{NAME}-{w}", network_config(q, seed, w)) for w in NETWORKS} for q in (False, True))
    return obtain_tier(*tiers, lambda _: _train, _like, quick=quick, retrain=retrain)


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    got, tier = obtain_networks(quick, seed, retrain)
    cfg = config(tier == "quick")
    law = HardeningHypoelastic()
    e_te = strain_paths(seed + 10_000, N_TEST_PATHS, cfg["n_increments"], cfg["amplitude"])
    s_te = stress_paths(law, e_te)
    results, preds = {}, {}
    for w, key in (("hybrid", "hybrid"), ("mlp", "data_only")):
        results[key], preds[key] = rollout_errors(got[w].model, e_te, s_te)
    losses = {"hybrid": got["hybrid"].meta["losses"], "data_only": got["mlp"].meta["losses"]}
    # eigenvalues of the learned tangent along the test paths (all positive by construction)
    H = jax.jit(jax.vmap(jax.vmap(got["hybrid"].model.tangent)))(jnp.asarray(e_te))
    min_eig = float(jnp.min(jnp.linalg.eigvalsh(H)))
    _plot(out, e_te, s_te, preds, losses)
    goal = {"rollout_rel_error": "min", "final_rel_error": "min", "max_stress_ratio": "min", "one_step_rel_error": "min"}
    return record(
        NAME, 2, quick, t0, results["hybrid"], goal, {"data_only": results["data_only"]}, headline="rollout_rel_error",
        config={**cfg, "n_test_paths": N_TEST_PATHS, "networks": tier, "spd_min_tangent_eigenvalue_on_test_paths": min_eig,
                "scales": got["hybrid"].meta["scales"], "law": _law_params(law)},
        weights={w: got[w].summary() for w in NETWORKS},
    )


def _plot(out, eps, sig, preds, losses):
    fig, ax = figure(1, 3, figsize=(15, 4))
    n = np.arange(sig.shape[1])
    for c, lab in ((0, "σ11"), (5, "√2 σ12")):
        ax[0].plot(n, sig[0, :, c], "k-", lw=2, label=f"reference {lab}")
        ax[0].plot(n, preds["hybrid"][0, :, c], "C0--", label=f"SPD-NN {lab}")
        ax[0].plot(n, np.clip(preds["data_only"][0, :, c], -10, 10), "C3:", label=f"MLP {lab}")
    ax[0].set(xlabel="increment", ylabel="stress", title="unseen path: rollout")
    ax[0].legend(fontsize=7)
    for name, col in (("hybrid", "C0"), ("data_only", "C3")):
        e = np.sqrt(np.sum((preds[name] - sig) ** 2, axis=(0, 2)) / np.sum(sig**2, axis=(0, 2)).clip(1e-30))
        ax[1].semilogy(n[1:], e[1:], col, label={"hybrid": "SPD-NN", "data_only": "MLP"}[name])
        ax[2].semilogy(losses[name], col, label={"hybrid": "SPD-NN", "data_only": "MLP"}[name])
    ax[1].set(xlabel="increment", ylabel="relative stress error", title="error along the rollout (test paths)")
    ax[2].set(xlabel="log interval", ylabel="one-step loss", title="training")
    ax[1].legend()
    ax[2].legend()
    save_figure(fig, out, NAME)
