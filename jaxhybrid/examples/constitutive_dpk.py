"""constitutive-dpk — a symmetric DPK stress network learned from Cauchy–Born data of an FCC metal,
used as the material of a finite-element solve (paradigm 2).

Data (atomistic → continuum): ``P(F) = ∂W/∂F`` of an FCC crystal from the MD engine's analytic EAM
(:func:`jaxhybrid.md.eam_analytic`) through the Cauchy–Born rule, ``F = I + δ``, ``δ_ij ~ U(−s, s)``,
``s ~ U(0, 0.12)``. **hybrid (DPK)** — ``P(F) = F Σ_i [g(‖F w̃_i‖, z) − g(‖w̃_i‖, z₀)] w̃_i ⊗ w̃_i``
over the Oₕ orbit of 4 trainable vectors (Hu, Yang & Yuan 2024): frame indifference, cubic
symmetry and a stress-free reference hold exactly. **data only (MLP)** — ``P = MLP(F − I)``, same
data, loss, optimiser and steps. Measured: test relative error of P at 25 / 100 / 400 samples,
symmetry violations (float32), and ``fe_displacement_rel_error`` of a plate with a hole (2%
stretch, :mod:`~jaxhybrid.constitutive.fem`) solved with the learned law vs Cauchy–Born (README.md).
"""

from __future__ import annotations

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
from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.train import fit

NAME = "constitutive-dpk"
EAM_PARAMS = dict(A=0.5, beta=3.0, D=1.0, alpha=5.0, r0=1.0, cutoff=2.5)


class Scaled(eqx.Module):  # the networks work in units of the stress scale
    net: eqx.Module
    scale: float = eqx.field(static=True)

    def __call__(self, F):
        return self.scale * self.net(F)


def cauchy_born_law():
    eam = md.eam_analytic(**EAM_PARAMS)
    a0 = equilibrium_lattice_constant(eam, "fcc", 1.35)
    return CauchyBorn(eam, "fcc", a0, dtype=jnp.float64), a0


def run(quick: bool, seed: int, out: Path) -> dict:
    t0, out = time.perf_counter(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = dict(sizes=[100] if quick else [25, 100, 400], n_test=300 if quick else 1000, s_max=0.12,
               steps=500 if quick else 1500, lr=1e-2, n_vectors=4, width=32, n_global=2, mlp_width=64)
    with jax.enable_x64(True):
        cb64, a0 = cauchy_born_law()
        F_all, F_te = sample_F(seed, max(cfg["sizes"]), cfg["s_max"]), sample_F(seed + 1, cfg["n_test"], cfg["s_max"])
        pk1_64 = eqx.filter_jit(jax.vmap(cb64.pk1))
        P_all, P_te = (np.asarray(pk1_64(jnp.asarray(F, jnp.float64)), np.float32) for F in (F_all, F_te))
        C = np.asarray(jax.hessian(cb64.energy_density)(jnp.eye(3, dtype=jnp.float64)))
    s = float(np.sqrt(np.mean(np.sum(P_all**2, axis=(1, 2)))))

    def loss(model, batch):
        return jnp.mean(jnp.sum((jax.vmap(model)(batch[0]) * (1.0 / s) - batch[1] * (1.0 / s)) ** 2, axis=(1, 2)))

    opt = optax.adam(optax.cosine_decay_schedule(cfg["lr"], cfg["steps"], 0.02))
    errs, models = {"hybrid": {}, "data_only": {}}, {}
    for n in cfg["sizes"]:
        k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed + n), 3)
        for name, net in (("hybrid", DPK("cubic", cfg["n_vectors"], cfg["width"], 2, cfg["n_global"], key=k1)),
                          ("data_only", MLPStress(cfg["mlp_width"], 2, key=k2))):
            res = fit(loss, Scaled(net, s), (F_all[:n], P_all[:n]), opt, steps=cfg["steps"], key=k3,
                      log_every=max(cfg["steps"] // 10, 1), desc=f"{NAME}:{name}:{n}")
            pred = np.asarray(eqx.filter_jit(jax.vmap(res.params))(jnp.asarray(F_te)))
            errs[name][n] = float(np.sqrt(np.sum((pred - P_te) ** 2) / np.sum(P_te**2)))
            models[name] = res.params if n == 100 else models.get(name)
    # symmetry violations (float32) on 64 test gradients, rotations rounded from float64
    Fs, Q = jnp.asarray(F_te[:64]), jnp.asarray(sample_rotations(seed, 64), jnp.float32)
    sym = {k: symmetry_violation(eqx.filter_jit(m), Fs, point_group("cubic"), Q) for k, m in models.items()}
    # finite elements: plate with a hole, learned laws vs the Cauchy–Born law
    mesh = fem.plate_with_hole_mesh(1.0, 0.3, 4 if quick else 8, 6 if quick else 12)
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
    _plot(out, errs, mesh, ref.u, fe, models)
    return record(NAME, 2, quick, t0, rec["hybrid"], {k: "max" if k == "fe_converged" else "min" for k in rec["hybrid"]},
                  {"data_only": rec["data_only"]},
                  config={**cfg, "eam": EAM_PARAMS, "lattice_constant": a0, "stress_scale": s,
                          "cubic_constants_C11_C12_C44": [float(C[0, 0, 0, 0]), float(C[0, 0, 1, 1]), float(C[0, 1, 0, 1])],
                          "fe_reference_converged": bool(ref.converged), "fe_newton_residuals_reference": ref.residual_norms,
                          "fe_nodes": int(mesh.nodes.shape[0])})


def _plot(out, errs, mesh, u_ref, fe, models):
    fig, ax = figure(1, 3, figsize=(15, 4.2))
    lam, n = np.linspace(0.9, 1.1, 41), np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5])
    Fs = np.eye(3)[None] + (lam - 1)[:, None, None] * np.einsum("i,j->ij", n, n)[None]  # uniaxial, not in the data
    with jax.enable_x64(True):
        Pt = np.asarray(jax.vmap(cauchy_born_law()[0].pk1)(jnp.asarray(Fs)))
    ax[1].plot(lam, np.einsum("kij,i,j->k", Pt, n, n), "k-", lw=2, label="Cauchy–Born")
    for name, col, lab in (("hybrid", "C0", "DPK (Oₕ)"), ("data_only", "C3", "MLP")):
        ax[0].loglog(sorted(errs[name]), [errs[name][k] for k in sorted(errs[name])], "o-", color=col, label=lab)
        Pm = np.asarray(jax.vmap(models[name])(jnp.asarray(Fs, jnp.float32)))
        ax[1].plot(lam, np.einsum("kij,i,j->k", Pm, n, n), col + ("--" if name == "hybrid" else ":"), label=lab)
    ax[0].set(xlabel="training samples", ylabel="test relative error of P", title="Cauchy–Born FCC (EAM)")
    ax[1].set(xlabel="stretch along n = (1, 2, 0.5)/|·|", ylabel="n·P·n", title="100 samples")
    X, err = mesh.nodes, np.linalg.norm(fe["hybrid"][2] - u_ref, axis=1) / np.abs(u_ref).max()
    sc = ax[2].scatter(X[:, 0] + 10 * u_ref[:, 0], X[:, 1] + 10 * u_ref[:, 1], c=err, s=12, cmap="viridis")
    fig.colorbar(sc, ax=ax[2], label="|u_DPK − u_CB| / max|u_CB|")
    ax[2].set(aspect="equal", title="plate with hole (×10 displacement)")
    ax[0].legend(), ax[1].legend()
    save_figure(fig, out, NAME)
