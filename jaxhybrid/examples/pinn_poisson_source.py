r"""pinn-poisson-source — the inverse source problem of the Poisson equation with a PINN (paradigm 2).

Problem (manufactured): on Ω = (0, 1)², ``−Δu = f``, ``u = 0`` on ∂Ω, with

    u*(x, y) = sin(πx) sin(πy) + 0.2 sin(2πx) sin(2πy),   f* = −Δu* = 2π² [s₁ + 0.8 s₂].

Observations ``u^δ = u*(x_j) + σ ξ_j`` at ``N_OBS`` distinct random nodes of the 63×63 interior
grid (h = 1/64), with ``σ = 0`` (noise-free) or ``σ = 1% × RMS(u*)`` (1% noise); ``f`` is not
observed anywhere.

* **hybrid (PINN)** — two networks (inputs mapped to [−1, 1]², a first layer ``sin(Wx + b)``
  then tanh layers, :class:`jaxhybrid.pinn.SinMLP`), ``u_θ`` (with the boundary condition built in exactly:
  ``u_θ = x(1−x)y(1−y)·N_θ``, :class:`jaxhybrid.paradigms.HardConstraint`) and ``f_η``, trained on

      L = mean_j (u_θ(x_j) − u^δ_j)² + mean_i ((Δu_θ + f_η)(z_i) / F_SCALE)²

  (the boundary term ``‖u_θ − g‖²_∂Ω`` of the review's loss is identically zero here) with
  ``N_COL`` fixed uniform collocation points ``z_i``; Laplacian by forward mode
  (:func:`jaxhybrid.pinn.laplacian`). Adam then L-BFGS (:mod:`jaxhybrid.pinn.optim`),
  float64. With noise, 10% of the observations are held out and the L-BFGS iterate with the
  smallest held-out misfit is kept (early stopping on data only; the truth is never used).
* **mechanism only** — the FD Poisson operator on the same 63×63 grid restricted to the observed
  nodes (:func:`jaxhybrid.inverse.poisson_source`, fast sine-transform solver) inverted by
  Tikhonov with a gradient penalty (:func:`jaxhybrid.inverse.tikhonov`), λ chosen by the smallest
  error of ``f`` against the truth over a grid of λ (favours the baseline); ``u = (−Δ_h)⁻¹ f``.
* **data only** — the same ``u``-network architecture regressed on the observations alone
  (Adam + L-BFGS, float64, the same iteration budget), evaluated on the grid, and
  ``f = −Δ_h u`` by the 5-point Laplacian.

Metrics: relative L2 errors ``u_rel_l2`` and ``f_rel_l2`` (noise-free data) and
``f_rel_l2_noisy`` (1% noise); PINN errors on a 101×101 grid over the closed square, baselines
on their 63×63 grid nodes.

Status (measured, full run, seed 0, 2 CPU cores under load ~20, 2683 s): PINN u 1.3e-3,
f 3.4e-2, f (1% noise) 3.9e-2; Tikhonov u 4.2e-5, f 1.2e-2, f noisy 9.2e-2; data only u 5.0e-5,
f 2.5e-3, f noisy 8.6e-2. With noise the PINN gives the best f (2.2–2.4× lower error); noise-free
it does **not** yet beat the baselines: L-BFGS converges slowly on the coupled (u, f) problem
and the budget is far from what the 1e-4 / 1e-3 targets need. Quick mode: u 1.2e-2, f 0.19.
"""

from __future__ import annotations

import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.inverse import poisson_source, tikhonov
from jaxhybrid.pinn.multistage import SinMLP
from jaxhybrid.paradigms import HardConstraint
from jaxhybrid.pde import fd_coords, laplacian_fd, poisson_fd
from jaxhybrid.pinn import Box, descend, laplacian, lbfgs, least_squares, rel_l2

NAME = "pinn-poisson-source"
N_GRID = 63
F_SCALE = 2 * np.pi**2
NOISE_REL = 0.01
DOMAIN = Box([0.0, 0.0], [1.0, 1.0])


def u_true(x):
    s1 = jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])
    s2 = jnp.sin(2 * jnp.pi * x[0]) * jnp.sin(2 * jnp.pi * x[1])
    return s1 + 0.2 * s2


def f_true(x):
    return -laplacian(u_true)(x)


def _zero(x):
    return jnp.zeros((), x.dtype)


def _distance(x):
    return x[0] * (1 - x[0]) * x[1] * (1 - x[1]) * 16.0  # = 1 at the centre


class Centered(eqx.Module):
    """``x ↦ net(2x − 1)``: inputs mapped from the unit square to [−1, 1]²."""

    net: eqx.Module

    def __call__(self, x):
        return self.net(2 * x - 1)


class Fields(eqx.Module):
    """The two networks: ``u`` (hard Dirichlet BC) and ``f = F_SCALE · f_net``."""

    u: HardConstraint
    f_net: Centered

    def f(self, x):
        return F_SCALE * self.f_net(x)


def make_fields(key, width, depth):
    ku, kf = jax.random.split(key)
    u = HardConstraint(Centered(SinMLP(2, "scalar", width, depth, key=ku)), particular=_zero, distance=_distance)
    return Fields(u, Centered(SinMLP(2, "scalar", width, depth, key=kf)))


def _to_f64(tree):
    return jax.tree_util.tree_map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, tree)


def make_observations(key, n_obs, noise_rel):
    """Observed node indices on the FD grid, coordinates and noisy values."""
    k1, k2 = jax.random.split(key)
    flat = jax.random.choice(k1, N_GRID * N_GRID, (n_obs,), replace=False)
    idx = (flat // N_GRID, flat % N_GRID)
    gx, gy = fd_coords((N_GRID, N_GRID), (1.0, 1.0))
    x = jnp.stack([gx[idx], gy[idx]], -1)
    u = jax.vmap(u_true)(x)
    sigma = noise_rel * float(jnp.sqrt(jnp.mean(jax.vmap(u_true)(jnp.stack([gx.ravel(), gy.ravel()], -1)) ** 2)))
    return idx, x, u + sigma * jax.random.normal(k2, u.shape, u.dtype), sigma


def pinn_residuals():
    def data(p, b):
        return jax.vmap(p.u)(b["obs_x"]) - b["obs_u"]

    def pde(p, b):
        lap = jax.vmap(laplacian(p.u))(b["col"])
        return (lap + jax.vmap(p.f)(b["col"])) / F_SCALE

    return {"data": data, "pde": pde}


def train(loss_fn, params, adam_steps, lbfgs_steps, val_fn=None, progress=True, desc=""):
    """Adam (cosine-decayed), then L-BFGS; with ``val_fn`` the L-BFGS
    iterate with the smallest ``val_fn`` (checked every 100 iterations) is returned."""
    sched = optax.cosine_decay_schedule(3e-3, adam_steps, alpha=0.03)
    params = descend(lambda p: loss_fn(p)[0], params, optax.adam(sched), adam_steps, progress=progress, desc=f"{desc} adam").params
    if val_fn is None:
        return lbfgs(lambda p: loss_fn(p)[0], params, lbfgs_steps, log_every=500, progress=progress, desc=f"{desc} lbfgs").params
    best = {"val": float(val_fn(params)), "params": params}

    def keep_best(step, p):
        v = float(val_fn(p))
        if v < best["val"]:
            best.update(val=v, params=p)

    lbfgs(lambda p: loss_fn(p)[0], params, lbfgs_steps, log_every=100, progress=progress, desc=f"{desc} lbfgs",
          stop_stalled=False, callback=keep_best)
    best = best["params"]
    return best


def grid_eval(fields, n=101):
    g = jnp.linspace(0.0, 1.0, n)
    pts = jnp.stack([a.ravel() for a in jnp.meshgrid(g, g, indexing="ij")], -1)
    return pts, jax.vmap(fields.u)(pts), jax.vmap(fields.f)(pts)


def solve_pinn(key, obs_x, obs_u, n_col, width, depth, adam_steps, lbfgs_steps, holdout=0.0, progress=True, desc="pinn"):
    kc, kn, kh = jax.random.split(key, 3)
    col = DOMAIN.sample_interior(kc, n_col)
    params = _to_f64(make_fields(kn, width, depth))
    n_val = int(round(holdout * obs_x.shape[0]))
    perm = jax.random.permutation(kh, obs_x.shape[0])
    val, trn = perm[:n_val], perm[n_val:]
    batch = {"obs_x": obs_x[trn], "obs_u": obs_u[trn], "col": col}
    loss = least_squares(pinn_residuals())
    loss_fn = jax.jit(lambda p: loss(p, batch))
    val_fn = None
    if n_val:
        val_fn = jax.jit(lambda p: jnp.mean((jax.vmap(p.u)(obs_x[val]) - obs_u[val]) ** 2))
    return train(loss_fn, params, adam_steps, lbfgs_steps, val_fn, progress, desc)


def errors_pinn(fields):
    pts, u, f = grid_eval(fields)
    return rel_l2(u, jax.vmap(u_true)(pts)), rel_l2(f, jax.vmap(f_true)(pts))


def mechanism_only(idx, obs_u, lams=tuple(10.0 ** np.arange(-12.0, -3.0))):
    """Tikhonov FD inversion; returns (u_err, f_err, best λ)."""
    op = poisson_source((N_GRID, N_GRID), (1.0, 1.0), idx)
    gx, gy = fd_coords((N_GRID, N_GRID), (1.0, 1.0))
    pts = jnp.stack([gx.ravel(), gy.ravel()], -1)
    u_ref = jax.vmap(u_true)(pts).reshape(N_GRID, N_GRID)
    f_ref = jax.vmap(f_true)(pts).reshape(N_GRID, N_GRID)
    best = None
    for lam in lams:
        f = tikhonov(op, obs_u, float(lam), maxiter=1500, tol=1e-12)
        e = rel_l2(f, f_ref)
        if best is None or e < best[1]:
            best = (f, e, float(lam))
    f, ef, lam = best
    u = poisson_fd(f, (1.0, 1.0), "dirichlet")
    return rel_l2(u, u_ref), ef, lam


def data_only(key, obs_x, obs_u, width, depth, adam_steps, lbfgs_steps, progress=True):
    """MLP regression of u (same hard-BC architecture), f = −Δ_h u on the FD grid."""
    net = _to_f64(make_fields(key, width, depth).u)
    loss_fn = jax.jit(lambda p: (jnp.mean((jax.vmap(p)(obs_x) - obs_u) ** 2), {}))
    net = train(loss_fn, net, adam_steps, lbfgs_steps, progress=progress, desc="data-only")
    gx, gy = fd_coords((N_GRID, N_GRID), (1.0, 1.0))
    pts = jnp.stack([gx.ravel(), gy.ravel()], -1)
    u = jax.vmap(net)(pts).reshape(N_GRID, N_GRID)
    f = -laplacian_fd(u, (1.0, 1.0), "dirichlet")
    u_ref = jax.vmap(u_true)(pts).reshape(N_GRID, N_GRID)
    f_ref = jax.vmap(f_true)(pts).reshape(N_GRID, N_GRID)
    return rel_l2(u, u_ref), rel_l2(f, f_ref), (np.asarray(u), np.asarray(f))


def config(quick):
    if quick:
        return dict(n_obs=400, n_col=500, width=20, depth=3, adam=300, lbfgs=400)
    return dict(n_obs=1000, n_col=1000, width=24, depth=3, adam=1000, lbfgs=2500)


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    with jax.enable_x64(True):
        key = jax.random.PRNGKey(seed)
        k_obs, k_noise_obs, k_pinn, k_pinn_noisy, k_data, k_data_noisy = jax.random.split(key, 6)
        idx, obs_x, obs_clean, _ = make_observations(k_obs, c["n_obs"], 0.0)
        _, _, obs_noisy, sigma = make_observations(k_obs, c["n_obs"], NOISE_REL)
        del k_noise_obs

        fields = solve_pinn(k_pinn, obs_x, obs_clean, c["n_col"], c["width"], c["depth"], c["adam"], c["lbfgs"], desc="pinn")
        u_err, f_err = errors_pinn(fields)
        fields_noisy = solve_pinn(k_pinn_noisy, obs_x, obs_noisy, c["n_col"], c["width"], c["depth"], c["adam"], c["lbfgs"],
                                  holdout=0.1, desc="pinn noisy")
        u_err_n, f_err_n = errors_pinn(fields_noisy)

        mu, mf, lam = mechanism_only(idx, obs_clean)
        mu_n, mf_n, lam_n = mechanism_only(idx, obs_noisy)
        du, df, _ = data_only(k_data, obs_x, obs_clean, c["width"], c["depth"], c["adam"], c["lbfgs"])
        du_n, df_n, _ = data_only(k_data_noisy, obs_x, obs_noisy, c["width"], c["depth"], c["adam"], c["lbfgs"])

        metrics = {"u_rel_l2": u_err, "f_rel_l2": f_err, "f_rel_l2_noisy": f_err_n, "u_rel_l2_noisy": u_err_n}
        baselines = {
            "mechanism_only": {"u_rel_l2": mu, "f_rel_l2": mf, "f_rel_l2_noisy": mf_n, "u_rel_l2_noisy": mu_n,
                               "lambda": lam, "lambda_noisy": lam_n},
            "data_only": {"u_rel_l2": du, "f_rel_l2": df, "f_rel_l2_noisy": df_n, "u_rel_l2_noisy": du_n},
        }
        _plot(out, fields, fields_noisy, metrics)
    return {
        "name": NAME,
        "paradigm": 2,
        "quick": quick,
        "wall_s": round(time.perf_counter() - t_start, 2),
        "metrics": metrics,
        "goal": {k: "min" for k in metrics},
        "baselines": baselines,
        "config": {**c, "noise_sigma": sigma, "grid": N_GRID},
    }


def _plot(out, fields, fields_noisy, metrics):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts, u, f = grid_eval(fields)
    _, _, fn = grid_eval(fields_noisy)
    ft = jax.vmap(f_true)(pts)
    sh = (101, 101)
    fig, ax = plt.subplots(1, 4, figsize=(16, 3.6))
    panels = [(ft, "f* (truth)"), (f, f"f PINN, noise-free (rel L2 {metrics['f_rel_l2']:.1e})"),
              (np.abs(f - ft), "|f − f*| noise-free"), (fn, f"f PINN, 1% noise (rel L2 {metrics['f_rel_l2_noisy']:.1e})")]
    for a, (v, t) in zip(ax, panels):
        im = a.imshow(np.asarray(v).reshape(sh).T, origin="lower", extent=(0, 1, 0, 1))
        a.set_title(t, fontsize=9)
        fig.colorbar(im, ax=a, fraction=0.046)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=100)
    plt.close(fig)
