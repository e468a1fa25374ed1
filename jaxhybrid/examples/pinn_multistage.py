r"""pinn-multistage — multi-stage networks to near machine precision (Wang & Lai 2024; paradigm 2).

Target ``u*(x) = sin(2x + 1) + 0.2 e^{1.3x}`` on [−1, 1] (the 1D example of Wang & Lai 2024).

* **regression** — fit ``u*`` from ``N = 601`` equispaced samples; stage ``k ≥ 1`` fits the
  remainder ``e_k = u* − u_{k−1}`` scaled to unit size, ``e_k / ε_k`` with ``ε_k = RMS(e_k)``,
  using a first layer ``sin(κ_k(Wx + b))``, ``κ_k = 2π f_d`` from the remainder's dominant
  frequency (:func:`jaxhybrid.pinn.dominant_frequency`). Each stage is a small network
  (sin layer + one tanh layer of width 16, 321 parameters, fewer than the samples) trained by
  float64 Levenberg–Marquardt on the rows ``v_k(x_i) − e_k(x_i)/ε_k``
  (:func:`jaxhybrid.pinn.levenberg_marquardt`); a stage that does not lower the training error
  is dropped. With 301 samples and 901 parameters (the former setting) a stage interpolates:
  stage 1 reached 9.8e-13 on the samples but 5.7e-11 between them (under-resolution); with 601
  samples and 321 parameters the errors on and between the samples agree (9.1e-12 / 9.5e-12).
* **PINN** — solve ``−u'' = f := −u*''`` with ``u(±1) = u*(±1)`` built in exactly
  (``u = g + (1 − x²) N``, :class:`jaxhybrid.paradigms.HardConstraint`); stage ``k`` corrects
  ``u_{k−1}`` by ``ε_k v_k`` with ``−v_k'' = r_k / ε_k``, ``r_k = f + u_{k−1}''`` the equation
  residual, ``ε_k = RMS(r_k) / (2π f_d)²`` (second-order operator), homogeneous hard BC for
  ``v_k``. Second derivatives by forward mode (:func:`jaxhybrid.pinn.laplacian`). Every PINN
  stage: Adam then L-BFGS (:mod:`jaxhybrid.pinn.optim`) on 301 collocation points.

Float64 throughout. Errors are relative L2 on test grids of ``4N + 3`` points (mostly between
the training points). Baseline ``single_stage``: the first stage alone (same network and
per-stage budget).

Status (measured, full run, seed 0, 1833 s on 2 cores at load 13–19): PINN 4.8e-9 (one stage)
→ 1.5e-9 → 1.6e-12 (three stages); regression 3.5e-7 → 4.3e-12 → 4.2e-12 (training error
2.4e-12). The 1e-12 regression target is not met: an LM-converged stage leaves a
high-frequency remainder (in a trial run the stage-2 remainder peaked at ≈ 29 cycles per unit)
that the next stage (κ = 2π f_d) barely fits (here 4.3e-12 → 4.2e-12). Training stage 0 longer
(800 LM iterations, squared residual 5e-13 against 3e-11 at 300) made it worse: the second
stage's squared residual on its unit-scaled target stayed ~3e2 (601 rows) after 100 iterations,
so stage 0 stops at 300 iterations.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.paradigms import HardConstraint
from jaxhybrid.pinn import MultiStage, SinMLP, descend, dominant_frequency, laplacian, lbfgs, levenberg_marquardt, rel_l2

NAME = "pinn-multistage"


def u_true(x):
    return jnp.sin(2 * x + 1) + 0.2 * jnp.exp(1.3 * x)


def f_true(x):
    return -laplacian(lambda y: u_true(y[0]))(jnp.atleast_1d(x))


def _g(x):  # linear interpolation of the boundary values
    a, b = u_true(-1.0), u_true(1.0)
    return a + (b - a) * (x[0] + 1) / 2


def _zero(x):
    return jnp.zeros((), x.dtype)


def _bubble(x):
    return 1 - x[0] ** 2


def _f64(tree):
    return jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if isinstance(a, jax.Array) and jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def _train(loss, net, adam, lbfgs_steps, progress, desc):
    net = descend(loss, net, optax.adam(optax.cosine_decay_schedule(3e-3, adam, alpha=0.01)), adam,
                  progress=progress, desc=f"{desc} adam").params
    return lbfgs(loss, net, lbfgs_steps, log_every=500, progress=progress, desc=f"{desc} lbfgs").params


def regression(key, x, xt, width, depth, steps, progress=True):
    """Multi-stage regression of ``u*`` on the points ``x``; stage ``k`` is trained by
    Levenberg–Marquardt (``steps[k]`` iterations) on the rows ``v_k(x_i) − e_k(x_i)/ε_k``. A stage
    that does not lower the training error is not added (the model stays at the last good
    stage). Returns (model, per-stage test errors, per-stage training errors)."""
    y, yt = jax.vmap(u_true)(x[:, 0]), jax.vmap(u_true)(xt[:, 0])
    h = float(x[1, 0] - x[0, 0])
    model, errs, train_errs = None, [], []
    for k, n_steps in enumerate(steps):
        key, sk = jax.random.split(key)
        e = y - (jax.vmap(model)(x) if model is not None else 0.0)
        eps = float(jnp.sqrt(jnp.mean(e**2))) if k else 1.0
        kappa = 2 * np.pi * dominant_frequency(np.asarray(e), h) if k else 1.0
        net = _f64(SinMLP(1, "scalar", width, depth, kappa=kappa, key=sk))
        terms = {"fit": (lambda n, row: n(row[0]) - row[1], (x, e / eps))}
        net = levenberg_marquardt(terms, net, n_steps, log_every=50, progress=progress, desc=f"reg stage {k}").params
        cand = MultiStage([net], [eps]) if model is None else model.add(net, eps)
        tr = rel_l2(jax.vmap(cand)(x), y)
        if model is None or tr < train_errs[-1]:
            model = cand
        train_errs.append(min(tr, train_errs[-1]) if train_errs else tr)
        errs.append(rel_l2(jax.vmap(model)(xt), yt))
    return model, errs, train_errs


def pinn(key, x, xt, stages, width, adam, lbfgs_steps, progress=True):
    """Multi-stage PINN for −u'' = f with exact Dirichlet values; returns (model, errors)."""
    f = jax.vmap(f_true)(x[:, 0])
    yt = jax.vmap(u_true)(xt[:, 0])
    h = float(x[1, 0] - x[0, 0])
    model, errs = None, []
    for k in range(stages):
        key, sk = jax.random.split(key)
        if model is None:
            r, eps, kappa = f, 1.0, 1.0
        else:
            r = f + jax.vmap(laplacian(model))(x)
            fd = dominant_frequency(np.asarray(r), h)
            eps = float(jnp.sqrt(jnp.mean(r**2))) / (2 * np.pi * fd) ** 2
            kappa = 2 * np.pi * fd
        base = _f64(SinMLP(1, "scalar", width, 3, kappa=kappa, key=sk))
        net = HardConstraint(base, particular=_g if model is None else _zero, distance=_bubble)
        rhs = r / eps
        loss = jax.jit(lambda n: jnp.mean((jax.vmap(laplacian(n))(x) + rhs) ** 2))
        net = _train(loss, net, adam, lbfgs_steps, progress, f"pinn stage {k}")
        model = MultiStage([net], [eps]) if model is None else model.add(net, eps)
        errs.append(rel_l2(jax.vmap(model)(xt), yt))
    return model, errs


def config(quick):
    """``n``/``width``/``adam``/``lbfgs``: PINN collocation points, network width and per-stage
    Adam and L-BFGS iterations; ``reg_*``: regression sample points, network width/depth and
    per-stage Levenberg–Marquardt iterations."""
    if quick:
        return dict(n=201, stages=3, width=20, adam=300, lbfgs=500, reg_n=401, reg_width=16, reg_depth=2, reg_steps=(150, 80, 40))
    return dict(n=301, stages=3, width=20, adam=500, lbfgs=2000, reg_n=601, reg_width=16, reg_depth=2, reg_steps=(300, 800, 300))


def run(quick: bool, seed: int, out: Path) -> dict:
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c = config(quick)
    with jax.enable_x64(True):
        # test grids of 4n + 3 points: mostly between the training points
        xr = jnp.linspace(-1.0, 1.0, c["reg_n"])[:, None]
        xrt = jnp.linspace(-1.0, 1.0, 4 * c["reg_n"] + 3)[:, None]
        x = jnp.linspace(-1.0, 1.0, c["n"])[:, None]
        xt = jnp.linspace(-1.0, 1.0, 4 * c["n"] + 3)[:, None]
        k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
        reg_model, reg_errs, reg_train = regression(k1, xr, xrt, c["reg_width"], c["reg_depth"], c["reg_steps"])
        pinn_model, pinn_errs = pinn(k2, x, xt, c["stages"], c["width"], c["adam"], c["lbfgs"])
        metrics = {"pinn_rel_l2": pinn_errs[-1], "regression_rel_l2": reg_errs[-1]}
        _plot(out, xt, reg_model, pinn_model, reg_errs, pinn_errs)
    return {
        "name": NAME, "paradigm": 2, "quick": quick, "wall_s": round(time.perf_counter() - t0, 2),
        "metrics": metrics, "goal": {k: "min" for k in metrics},
        "baselines": {"single_stage": {"pinn_rel_l2": pinn_errs[0], "regression_rel_l2": reg_errs[0]}},
        "stage_errors": {"pinn": pinn_errs, "regression": reg_errs, "regression_train": reg_train}, "config": c,
    }


def _plot(out, xt, reg_model, pinn_model, reg_errs, pinn_errs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yt = np.asarray(jax.vmap(u_true)(xt[:, 0]))
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    ax[0].semilogy(np.arange(len(reg_errs)), reg_errs, "o-", label="regression")
    ax[0].semilogy(np.arange(len(pinn_errs)), pinn_errs, "s-", label="PINN")
    ax[0].set_xlabel("stage")
    ax[0].set_ylabel("relative L2 error")
    ax[0].legend()
    for m, lab in ((reg_model, "regression"), (pinn_model, "PINN")):
        ax[1].semilogy(np.asarray(xt[:, 0]), np.abs(np.asarray(jax.vmap(m)(xt)) - yt) + 1e-18, label=lab, lw=0.8)
    ax[1].set_xlabel("x")
    ax[1].set_ylabel("|u − u*|")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=100)
    plt.close(fig)
