"""constitutive-spd — SPD-NN incremental stress law vs an unconstrained MLP (paradigm 2).

Material: a strain-hardening hypoelastic law (:class:`~jaxhybrid.constitutive.HardeningHypoelastic`,
Mandel 6-vectors) ``σⁿ⁺¹ = σⁿ + H(εⁿ⁺¹)(εⁿ⁺¹ − εⁿ)``; data: its stresses along smooth random
multiaxial loading paths of 1,000 increments, cut into 100-increment training windows.
**hybrid (SPD-NN)** — ``H_θ = s(L_θ L_θᵀ + δI)`` (Xu, Huang & Darve 2021): every increment does
positive work, so rollouts over whole unseen paths stay bounded. **data only (MLP)** —
``σⁿ⁺¹ = σⁿ + s·MLP(εⁿ⁺¹, Δε, σⁿ)`` with the same data, scales, one-step loss, optimiser and steps.
Measured on unseen paths rolled out from σ⁰ = 0 (:func:`~jaxhybrid.constitutive.rollout_errors`):
``rollout_rel_error``, ``final_rel_error``, ``max_stress_ratio``, ``one_step_rel_error``.
Figures and the ablations (input scaling, path count, rollout training): README.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.constitutive import HardeningHypoelastic, MLPIncrement, SPDNN, one_step_loss, rollout_errors
from jaxhybrid.constitutive.data import path_windows, strain_paths, stress_paths
from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.train import fit

NAME = "constitutive-spd"


def run(quick: bool, seed: int, out: Path) -> dict:
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = dict(n_train_paths=48 if quick else 256, n_test_paths=4 if quick else 16, n_increments=1000,
               window=100, amplitude=0.01, steps=400 if quick else 3000, batch_windows=16 if quick else 32,
               lr=1e-2, width=32, mlp_width=64)
    law = HardeningHypoelastic()
    e_tr = strain_paths(seed, cfg["n_train_paths"], cfg["n_increments"], cfg["amplitude"])
    e_te = strain_paths(seed + 10_000, cfg["n_test_paths"], cfg["n_increments"], cfg["amplitude"])
    s_tr, s_te = stress_paths(law, e_tr), stress_paths(law, e_te)
    # input/output scales from the training data only: RMS strain and stress components, RMS
    # strain increment; their ratio is the stiffness scale of the tangent
    e_scale = float(np.sqrt(np.mean(e_tr**2)))
    s_scale = float(np.sqrt(np.mean(s_tr**2)))
    inc_scale = float(np.sqrt(np.mean(np.sum(np.diff(e_tr, axis=1) ** 2, -1))))
    # many short windows (at the increment size of the test paths) from many paths per minibatch
    w_tr = path_windows(e_tr, s_tr, cfg["window"])

    opt = optax.adam(optax.cosine_decay_schedule(cfg["lr"], cfg["steps"], 0.02))
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    models = {
        "hybrid": SPDNN(6, cfg["width"], 2, stress_scale=s_scale / e_scale, strain_scale=e_scale, key=k1),
        "data_only": MLPIncrement(6, cfg["mlp_width"], 2, stress_scale=s_scale, strain_scale=e_scale,
                                  increment_scale=inc_scale, key=k2),
    }
    results, preds, losses = {}, {}, {}
    for name, model in models.items():
        res = fit(one_step_loss, model, w_tr, opt, steps=cfg["steps"], batch_size=cfg["batch_windows"],
                  key=k3, log_every=max(cfg["steps"] // 20, 1), desc=f"{NAME}:{name}")
        results[name], preds[name] = rollout_errors(res.params, e_te, s_te)
        losses[name] = [h["loss"] for h in res.history]
        models[name] = res.params
    # eigenvalues of the learned tangent along the test paths (all positive by construction)
    H = jax.vmap(jax.vmap(models["hybrid"].tangent))(jnp.asarray(e_te))
    min_eig = float(jnp.min(jnp.linalg.eigvalsh(H)))
    _plot(out, e_te, s_te, preds, losses)
    goal = {"rollout_rel_error": "min", "final_rel_error": "min", "max_stress_ratio": "min", "one_step_rel_error": "min"}
    return record(
        NAME, 2, quick, t0, results["hybrid"], goal, {"data_only": results["data_only"]},
        config={**cfg, "spd_min_tangent_eigenvalue_on_test_paths": min_eig,
                   "scales": {"strain": e_scale, "stress": s_scale, "increment": inc_scale},
                   "law": {"K0": law.K0, "G0": law.G0, "bK": law.bK, "bG": law.bG, "eps0": law.eps0}},
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
