"""constitutive-dpk — a symmetric DPK stress network learned from Cauchy–Born data of an FCC metal,
used as the material of a finite-element solve (paradigm 2).

Data (atomistic → continuum): ``P(F) = ∂W/∂F`` of an FCC crystal from the MD engine's analytic EAM
(:func:`jaxhybrid.md.eam_analytic`) through the Cauchy–Born rule, ``F = I + δ``, ``δ_ij ~ U(−s, s)``,
``s ~ U(0, 0.12)``. **hybrid (DPK)** — ``P(F) = F Σ_i [g(‖F w̃_i‖, z) − g(‖w̃_i‖, z₀)] w̃_i ⊗ w̃_i``
over the Oₕ orbit of 4 trainable vectors (Hu, Yang & Yuan 2024): frame indifference, cubic
symmetry and a stress-free reference hold exactly. **data only (MLP)** — ``P = MLP(F − I)``, same
data, loss, optimiser and steps. Measured: test relative error of P on 1,000 held-out gradients
at 25 / 100 / 400 training samples (headline: ``test_rel_error``, 100 samples), symmetry
violations (float32), and ``fe_displacement_rel_error`` of a plate with a hole (2% stretch,
:mod:`~jaxhybrid.constitutive.fem`, 8 × 12 mesh) solved with the learned law (100 samples) vs
Cauchy–Born (README.md).

Trained networks (:mod:`jaxhybrid.examples.pretrained`): ``constitutive-dpk-hybrid-<n>`` and
``constitutive-dpk-mlp-<n>`` for each training-set size ``n``, keyed by their training
configuration (:func:`network_config`: seed, size, sample pool, strain range, EAM, sizes, steps,
learning rate); the stress scale of the training data is kept in the files' meta. The full run's
six networks of seed 0 ship with the package.

* full run: ``obtain([full])`` — the shipped (or cached) networks; trained only when absent or
  with ``--retrain`` (1,500 Adam steps each, sizes 25, 100 and 400).
* quick run: when all six full networks are stored (seed 0: shipped) it loads them and redoes
  only the cheap part — Cauchy–Born labels of the test set, the test errors, the symmetry checks,
  the three FE solves on the full run's mesh and the figure — so its table is the full run's.
  Otherwise (another seed — the seed is part of the key, so it never reads seed 0's networks — or
  ``--retrain``) it trains the small quick configuration (100 samples only, 500 steps) and solves
  the FE problem on a coarser 4 × 6 mesh. The record's ``weights`` says which file each network
  came from (``source``: shipped, cache or trained) and ``config["networks"]`` the tier.
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

from jaxhybrid import md
from jaxhybrid.constitutive import DPK, CauchyBorn, MLPStress, equilibrium_lattice_constant, fem, point_group, symmetry_violation
from jaxhybrid.constitutive.data import sample_F, sample_rotations
from jaxhybrid.examples.pretrained import obtain_tier
from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.train import fit

NAME = "constitutive-dpk"
EAM_PARAMS = dict(A=0.5, beta=3.0, D=1.0, alpha=5.0, r0=1.0, cutoff=2.5)
NETWORKS = ("hybrid", "mlp")
N_TEST = 1000  # held-out deformation gradients (both tiers)
#: FE mesh of the plate, (n_radial, n_theta): the full run's; quick mode solves on a coarser one
MESH = {False: (8, 12), True: (4, 6)}


class Scaled(eqx.Module):  # the networks work in units of the stress scale
    net: eqx.Module
    scale: float = eqx.field(static=True)

    def __call__(self, F):
        return self.scale * self.net(F)


def cauchy_born_law():
    eam = md.eam_analytic(**EAM_PARAMS)
    a0 = equilibrium_lattice_constant(eam, "fcc", 1.35)
    return CauchyBorn(eam, "fcc", a0, dtype=jnp.float64), a0


def config(quick: bool) -> dict:
    """Training-set sizes, budget and network sizes of a tier (the full run's or the quick one's)."""
    return dict(sizes=[100] if quick else [25, 100, 400], s_max=0.12, steps=500 if quick else 1500, lr=1e-2,
                n_vectors=4, width=32, n_global=2, mlp_width=64)


def network_config(quick: bool, seed: int, which: str, n: int) -> dict:
    """Training configuration of network ``which`` trained on ``n`` samples (the key of its file):
    the first ``n`` of a pool of ``max(sizes)`` gradients drawn with ``seed``."""
    c = config(quick)
    net = (dict(n_vectors=c["n_vectors"], width=c["width"], depth=2, n_global=c["n_global"], group="cubic")
           if which == "hybrid" else dict(width=c["mlp_width"], depth=2))
    return dict(seed=seed, model=which, n_train=n, pool=max(c["sizes"]), s_max=c["s_max"], steps=c["steps"],
                lr=c["lr"], strain_scale=0.1, eam=EAM_PARAMS, lattice="fcc", **net)


@functools.lru_cache(maxsize=2)
def _pool(seed, pool, s_max):
    """``(F, P, s)``: the training pool, its Cauchy–Born stresses (float64 → float32) and RMS ‖P‖."""
    with jax.enable_x64(True):
        cb64, _ = cauchy_born_law()
        F = sample_F(seed, pool, s_max)
        P = np.asarray(eqx.filter_jit(lambda law, F: jax.vmap(law.pk1)(F))(cb64, jnp.asarray(F, jnp.float64)), np.float32)
    return F, P, float(np.sqrt(np.mean(np.sum(P**2, axis=(1, 2)))))


def _make(cfg, scale, key):
    k1, k2, _ = jax.random.split(key, 3)
    if cfg["model"] == "hybrid":
        net = DPK(cfg["group"], cfg["n_vectors"], cfg["width"], cfg["depth"], cfg["n_global"], cfg["strain_scale"], key=k1)
    else:
        net = MLPStress(cfg["width"], cfg["depth"], cfg["strain_scale"], key=k2)
    return Scaled(net, scale)


def _train(cfg):
    """``(network, meta)``: relative squared error of P, cosine-decayed Adam, full batch."""
    t0 = time.perf_counter()
    F, P, s = _pool(cfg["seed"], cfg["pool"], cfg["s_max"])
    n = cfg["n_train"]

    def loss(model, batch):
        return jnp.mean(jnp.sum((jax.vmap(model)(batch[0]) * (1.0 / s) - batch[1] * (1.0 / s)) ** 2, axis=(1, 2)))

    key = jax.random.PRNGKey(cfg["seed"] + n)  # initialisations (k1: DPK, k2: MLP) and k3 of fit
    opt = optax.adam(optax.cosine_decay_schedule(cfg["lr"], cfg["steps"], 0.02))
    res = fit(loss, _make(cfg, s, key), (F[:n], P[:n]), opt, steps=cfg["steps"], key=jax.random.split(key, 3)[2],
              log_every=max(cfg["steps"] // 10, 1), desc=f"{NAME}:{cfg['model']}:{n}")
    losses = [float(h["loss"]) for h in res.history]
    return res.params, {"stress_scale": s, "losses": losses, "final_loss": losses[-1],
                        "train_s": round(time.perf_counter() - t0, 2)}


def _like(cfg, meta):  # structure of a stored network (shapes only; the stress scale is a static field)
    return eqx.filter_eval_shape(_make, cfg, meta["stress_scale"], jax.random.PRNGKey(0))


def obtain_networks(quick: bool, seed: int, retrain: bool = False) -> tuple[dict, str]:
    """``({(which, n): Obtained}, "full" | "quick")``, of one tier
    (:func:`~jaxhybrid.examples.pretrained.obtain_tier`; the quick tier trains on 100 samples only)."""
    tiers = ({(w, n): (f"{NAME}-{w}-{n}", network_config(q, seed, w, n)) for w in NETWORKS for n in config(q)["sizes"]}
             for q in (False, True))
    return obtain_tier(*tiers, lambda _: _train, _like, quick=quick, retrain=retrain)


@eqx.filter_jit
def _predict(model, F):
    return jax.vmap(model)(F)


def run(quick: bool, seed: int, out: Path, retrain: bool = False) -> dict:
    t0, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    got, tier = obtain_networks(quick, seed, retrain)
    cfg = config(tier == "quick")
    with jax.enable_x64(True):
        cb64, a0 = cauchy_born_law()
        F_te = sample_F(seed + 1, N_TEST, cfg["s_max"])
        # the test gradients and, after them, the figure's uniaxial line: one evaluation (one compile) each
        lam, F_line = _uniaxial()
        F_eval = np.concatenate([F_te, F_line.astype(np.float32)])
        P_eval = np.asarray(_predict(cb64.pk1, jnp.asarray(F_eval, jnp.float64)))
        P_te, lines = P_eval[:N_TEST].astype(np.float32), {"reference": P_eval[N_TEST:]}
        C = np.asarray(jax.jit(jax.hessian(cb64.energy_density))(jnp.eye(3, dtype=jnp.float64)))
    errs = {"hybrid": {}, "data_only": {}}
    for (w, n), g in got.items():
        pred, name = np.asarray(_predict(g.model, jnp.asarray(F_eval))), "hybrid" if w == "hybrid" else "data_only"
        errs[name][n] = float(np.sqrt(np.sum((pred[:N_TEST] - P_te) ** 2) / np.sum(P_te**2)))
        if n == 100:
            lines[name] = pred[N_TEST:]
    models = {"hybrid": got[("hybrid", 100)].model, "data_only": got[("mlp", 100)].model}
    # symmetry violations (float32) on 64 test gradients, rotations rounded from float64
    Fs, Q = jnp.asarray(F_te[:64]), jnp.asarray(sample_rotations(seed, 64), jnp.float32)
    sym = {k: symmetry_violation(eqx.filter_jit(m), Fs, point_group("cubic"), Q) for k, m in models.items()}
    # finite elements: plate with a hole, learned laws vs the Cauchy–Born law
    mesh = fem.plate_with_hole_mesh(1.0, 0.3, *MESH[quick])
    bc, fe = fem.plate_tension_bc(mesh, 0.02), {}
    with jax.enable_x64(True):
        ref = fem.solve(cb64.pk1, mesh, *bc, n_load=2, tol=1e-10, dtype=jnp.float64)
        for name, m in models.items():
            m64 = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, m)
            r = fem.solve(lambda F: m64(F), mesh, *bc, n_load=2, tol=1e-10, dtype=jnp.float64)
            ok = r.converged and np.all(np.isfinite(r.u))
            fe[name] = (float(np.linalg.norm(r.u - ref.u) / np.linalg.norm(ref.u)) if ok else float("inf"), ok, r.u)
    rec = {name: {"test_rel_error": errs[name][100], **{f"test_rel_error_{n}": errs[name][n] for n in cfg["sizes"] if n != 100},
                  "frame_violation": sym[name]["frame"], "material_violation": sym[name]["material"],
                  "cauchy_asymmetry": sym[name]["cauchy_asym"], "fe_displacement_rel_error": fe[name][0],
                  "fe_converged": float(fe[name][1])} for name in models}
    _plot(out, errs, mesh, ref.u, fe, lam, lines)
    return record(NAME, 2, quick, t0, rec["hybrid"], {k: "max" if k == "fe_converged" else "min" for k in rec["hybrid"]},
                  {"data_only": rec["data_only"]}, headline="test_rel_error",
                  config={**cfg, "n_test": N_TEST, "networks": tier, "fe_mesh": list(MESH[quick]), "eam": EAM_PARAMS, "lattice_constant": a0,
                          "stress_scale": got[("hybrid", 100)].meta["stress_scale"],
                          "cubic_constants_C11_C12_C44": [float(C[0, 0, 0, 0]), float(C[0, 0, 1, 1]), float(C[0, 1, 0, 1])],
                          "fe_reference_converged": bool(ref.converged), "fe_newton_residuals_reference": ref.residual_norms,
                          "fe_nodes": int(mesh.nodes.shape[0])},
                  weights={f"{w}-{n}": g.summary() for (w, n), g in got.items()})


N_LINE = np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5])


def _uniaxial():
    """``(λ, F)``: 41 uniaxial stretches along ``N_LINE`` (a direction not in the data), λ ∈ [0.9, 1.1]."""
    lam = np.linspace(0.9, 1.1, 41)
    return lam, np.eye(3)[None] + (lam - 1)[:, None, None] * np.einsum("i,j->ij", N_LINE, N_LINE)[None]


def _plot(out, errs, mesh, u_ref, fe, lam, lines):
    fig, ax = figure(1, 3, figsize=(15, 4.2))
    n = N_LINE
    ax[1].plot(lam, np.einsum("kij,i,j->k", lines["reference"], n, n), "k-", lw=2, label="Cauchy–Born")
    for name, col, lab in (("hybrid", "C0", "DPK (Oₕ)"), ("data_only", "C3", "MLP")):
        ax[0].loglog(sorted(errs[name]), [errs[name][k] for k in sorted(errs[name])], "o-", color=col, label=lab)
        ax[1].plot(lam, np.einsum("kij,i,j->k", lines[name], n, n), col + ("--" if name == "hybrid" else ":"), label=lab)
    ax[0].set(xlabel="training samples", ylabel="test relative error of P", title="Cauchy–Born FCC (EAM)")
    ax[1].set(xlabel="stretch along n = (1, 2, 0.5)/|·|", ylabel="n·P·n", title="100 samples")
    X, err = mesh.nodes, np.linalg.norm(fe["hybrid"][2] - u_ref, axis=1) / np.abs(u_ref).max()
    sc = ax[2].scatter(X[:, 0] + 10 * u_ref[:, 0], X[:, 1] + 10 * u_ref[:, 1], c=err, s=12, cmap="viridis")
    fig.colorbar(sc, ax=ax[2], label="|u_DPK − u_CB| / max|u_CB|")
    ax[2].set(aspect="equal", title="plate with hole (×10 displacement)")
    ax[0].legend(), ax[1].legend()
    save_figure(fig, out, NAME)
