r"""pinn-multistage — multi-stage networks to near machine precision (Wang & Lai 2024; paradigm 2).

Target ``u*(x) = sin(2x + 1) + 0.2 e^{1.3x}`` on [−1, 1] (the 1D example of Wang & Lai 2024).
**Regression** (:func:`jaxhybrid.pinn.regression_stages`): stage ``k`` fits the remainder
``u* − u_{k−1}`` scaled to unit size with a ``sin(κ_k ·)`` first layer tuned to its dominant
frequency, on a denser grid than the stage before (601 → 1201 → 2401 points; the last stage a
128-wide sin layer for the broadband remainder). **PINN** (:func:`jaxhybrid.pinn.pinn_stages`):
``−u'' = f := −u*''`` with ``u(±1) = u*(±1)`` built in exactly; stage ``k`` solves for the
correction driven by the equation residual. Every stage is trained by float64 Levenberg–Marquardt.
Baseline ``single_stage``: the first stage alone. Measured: relative L2 errors on test grids of
``4N + 3`` points (mostly between the training points). Figures and the diagnosis: README.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.pinn import laplacian, pinn_stages, regression_stages

NAME = "pinn-multistage"


def u_true(x):
    return jnp.sin(2 * x + 1) + 0.2 * jnp.exp(1.3 * x)


def f_true(x):
    return -laplacian(lambda y: u_true(y[0]))(jnp.atleast_1d(x))


def lift(x):  # linear interpolation of the boundary values
    a, b = u_true(-1.0), u_true(1.0)
    return a + (b - a) * (x[0] + 1) / 2


def config(quick):
    """Per stage: ``pinn_n``/``reg_n`` collocation or sample points, ``*_width``/``*_depth`` the
    network, ``*_steps`` Levenberg–Marquardt iterations."""
    if quick:
        return dict(pinn_n=(201, 401), pinn_width=(16, 16), pinn_depth=(2, 2), pinn_steps=(100, 300),
                    reg_n=(401, 801), reg_width=(16, 16), reg_depth=(2, 2), reg_steps=(150, 150))
    return dict(pinn_n=(601, 1201), pinn_width=(16, 16), pinn_depth=(2, 2), pinn_steps=(300, 1000),
                reg_n=(601, 1201, 2401), reg_width=(16, 16, 128), reg_depth=(2, 2, 1), reg_steps=(300, 2000, 400))


def run(quick: bool, seed: int, out: Path) -> dict:
    t0, out, c = time.perf_counter(), Path(out), config(quick)
    out.mkdir(parents=True, exist_ok=True)
    with jax.enable_x64(True):
        grid = lambda n: jnp.linspace(-1.0, 1.0, n)[:, None]  # noqa: E731  (test grids of 4n + 3 points)
        k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
        xrt, xt = grid(4 * max(c["reg_n"]) + 3), grid(4 * max(c["pinn_n"]) + 3)
        exact = lambda x: u_true(x[0])  # noqa: E731  (u* of a point (1,))
        reg_model, reg_errs, reg_train, reg_diag = regression_stages(
            exact, k1, [grid(n) for n in c["reg_n"]], xrt, c["reg_width"], c["reg_depth"], c["reg_steps"])
        # −u'' = f with the exact boundary values: u = lift + (1 − x²) · network
        pinn_model, pinn_errs, pinn_diag = pinn_stages(
            laplacian, f_true, lift, lambda x: 1 - x[0] ** 2, exact, k2, [grid(n) for n in c["pinn_n"]], xt,
            c["pinn_width"], c["pinn_depth"], c["pinn_steps"])
        _plot(out, xt, reg_model, pinn_model, reg_errs, pinn_errs)
    metrics = {"pinn_rel_l2": pinn_errs[-1], "regression_rel_l2": reg_errs[-1]}
    return record(NAME, 2, quick, t0, metrics, {k: "min" for k in metrics},
                  {"single_stage": {"pinn_rel_l2": pinn_errs[0], "regression_rel_l2": reg_errs[0]}},
                  stage_errors={"pinn": pinn_errs, "regression": reg_errs, "regression_train": reg_train},
                  regression_stages=reg_diag, pinn_stages=pinn_diag, config=c)


def _plot(out, xt, reg_model, pinn_model, reg_errs, pinn_errs):
    yt = np.asarray(jax.vmap(u_true)(xt[:, 0]))
    fig, ax = figure(1, 2, figsize=(11, 3.8))
    ax[0].semilogy(np.arange(len(reg_errs)), reg_errs, "o-", label="regression")
    ax[0].semilogy(np.arange(len(pinn_errs)), pinn_errs, "s-", label="PINN")
    for m, lab in ((reg_model, "regression"), (pinn_model, "PINN")):
        ax[1].semilogy(np.asarray(xt[:, 0]), np.abs(np.asarray(jax.vmap(m)(xt)) - yt) + 1e-18, label=lab, lw=0.8)
    ax[0].set(xlabel="stage", ylabel="relative L2 error")
    ax[1].set(xlabel="x", ylabel="|u − u*|")
    ax[0].legend(), ax[1].legend()
    save_figure(fig, out, NAME, dpi=100)
