r"""Multi-stage neural networks (Wang & Lai 2024, *Multi-stage neural networks: function
approximator of machine-precision accuracy*, J. Comput. Phys. 504, 112865).

A single network trained to convergence stalls at a relative error of ~1e-5–1e-7: the remaining
error is small in magnitude and of higher frequency than the network's output. Multi-stage
training fits that remainder with a fresh network whose output is *scaled to unit size* and
whose first layer is tuned to its frequency, then sums the stages:

    u_m(x) = Σ_{k=0}^{m} ε_k v_k(x),     v_k(x) = N_k(sin(κ_k (W_k x + b_k)))  (k ≥ 1).

* regression: the remainder ``e_k = u − u_{k−1}`` is known on the data; ``ε_k = RMS(e_k)`` and
  ``v_k`` is trained on ``e_k / ε_k``;
* PINN (equation ``L u = f`` of order ``n``): the equation residual ``r_k = f − L u_{k−1}`` is
  known; with dominant frequency ``f_d`` the error magnitude is
  ``ε_k ≈ RMS(r_k) / (2π f_d)^n`` and ``v_k`` is trained on ``L(u_{k−1} + ε_k v_k) = f`` (for a
  linear ``L``: ``L v_k = r_k / ε_k``).

The frequency scale ``κ_k = 2π f_d`` comes from :func:`dominant_frequency` — the peak of the
amplitude spectrum of the remainder sampled on a uniform grid (for the first stage ``κ = 1``).
All of this runs in float64 (float32 stops at ~1e-7).

:func:`regression_stages` and :func:`pinn_stages` are the two training loops on 1D uniform
grids, every stage a float64 :class:`SinMLP` trained by Levenberg–Marquardt
(:func:`~jaxhybrid.pinn.lm_fit`) on its own, typically denser, grid (the remainder's frequency
rises with each stage).
"""

from __future__ import annotations

from typing import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.metrics import rel_l2
from jaxhybrid.nn import MLP
from jaxhybrid.paradigms import HardConstraint

from .optim import lm_fit

__all__ = ["SinMLP", "MultiStage", "dominant_frequency", "regression_stages", "pinn_stages"]


class SinMLP(eqx.Module):
    """``x ↦ MLP_tanh(sin(κ (W x + b)))``: a network whose first layer is a sinusoid of
    frequency scale ``κ`` (``W`` has unit-variance Gaussian entries, ``b`` uniform in [−1, 1])."""

    first: eqx.nn.Linear
    body: MLP
    kappa: float = eqx.field(static=True)
    scalar_in: bool = eqx.field(static=True)

    def __init__(self, in_size, out_size, width: int = 32, depth: int = 3, kappa: float = 1.0, *, key):
        if not kappa > 0 or depth < 1:
            raise ValueError(f"SinMLP: need kappa > 0 and depth >= 1, got {kappa}, {depth}.")
        k1, k2, k3 = jax.random.split(key, 3)
        self.scalar_in = in_size == "scalar"
        d = 1 if self.scalar_in else int(in_size)
        lin = eqx.nn.Linear(d, width, key=k1)
        lin = eqx.tree_at(lambda l: (l.weight, l.bias), lin,
                          (jax.random.normal(k2, (width, d)), jax.random.uniform(k3, (width,), minval=-1.0, maxval=1.0)))
        self.first, self.kappa = lin, float(kappa)
        self.body = MLP(width, out_size, width, depth - 1, key=key)

    def __call__(self, x):
        h = jnp.reshape(x, (1,)) if self.scalar_in else x
        return self.body(jnp.sin(self.kappa * self.first(h)))


class MultiStage(eqx.Module):
    """``u(x) = Σ_k scales[k] · stages[k](x)``."""

    stages: tuple
    scales: tuple

    def __init__(self, stages: Sequence[Callable], scales: Sequence[float]):
        if len(stages) != len(scales) or not stages:
            raise ValueError("MultiStage: need as many scales as stages (at least one).")
        self.stages, self.scales = tuple(stages), tuple(jnp.asarray(s) for s in scales)

    def __call__(self, x):
        return sum(jax.lax.stop_gradient(s) * net(x) for s, net in zip(self.scales, self.stages))

    def add(self, net: Callable, scale: float) -> "MultiStage":
        return MultiStage(self.stages + (net,), self.scales + (scale,))


def dominant_frequency(values, spacing: float) -> float:
    """Frequency (cycles per unit length) of the largest non-constant Fourier amplitude of
    samples on a uniform grid (1D ``(n,)``; for ``(n_1, …, n_d)`` the largest over the axes)."""
    v = np.asarray(values, np.float64)
    if v.size < 4 or not spacing > 0:
        raise ValueError("dominant_frequency: need >= 4 samples and a positive spacing.")
    best_amp, best_f = -1.0, 0.0
    for ax in range(v.ndim):
        spec = np.abs(np.fft.rfft(v - v.mean(axis=ax, keepdims=True), axis=ax))
        spec = np.moveaxis(spec, ax, 0).reshape(spec.shape[ax], -1).sum(1)
        freqs = np.fft.rfftfreq(v.shape[ax], spacing)
        k = int(np.argmax(spec[1:])) + 1
        if spec[k] > best_amp:
            best_amp, best_f = spec[k], freqs[k]
    return float(best_f)


def _f64(tree):
    return jax.tree_util.tree_map(
        lambda a: a.astype(jnp.float64) if isinstance(a, jax.Array) and jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def _check_stages(name, xs, widths, depths, steps):
    if not (len(xs) == len(widths) == len(depths) == len(steps)) or not steps:
        raise ValueError(f"{name}: need one grid, width, depth and step count per stage.")
    for x in xs:
        if jnp.ndim(x) != 2 or jnp.shape(x)[1] != 1 or jnp.shape(x)[0] < 4:
            raise ValueError(f"{name}: every stage grid must be a uniform 1D grid of shape (n >= 4, 1), got {jnp.shape(x)}.")


def _zero(x):
    return jnp.zeros((), x.dtype)


def regression_stages(target: Callable, key, xs, x_test, widths, depths, steps, *, progress: bool = True):
    """Multi-stage regression of ``target`` (a function of one row ``x`` of shape (1,)).

    Stage ``k`` samples ``target`` on its grid ``xs[k]`` (n_k, 1), fits the remainder
    ``e_k = u − u_{k−1}`` scaled by ``ε_k = RMS(e_k)`` (``ε_0 = 1``) with a ``SinMLP`` of width
    ``widths[k]``, depth ``depths[k]`` and ``κ_k = 2π f_d(e_k)`` (``κ_0 = 1``), trained by
    ``steps[k]`` Levenberg–Marquardt iterations on the rows ``v_k(x_i) − e_k(x_i)/ε_k``. A stage
    that does not lower the error on its own samples is not added. Run inside
    ``jax.enable_x64(True)``. Returns ``(model, test errors, training errors, diagnostics)``, one
    entry per stage: relative L2 errors on ``x_test`` and on the stage's grid, and
    ``{n, eps, f_d, lm_loss, lm_mu, kept, train, test}``."""
    _check_stages("regression_stages", xs, widths, depths, steps)
    yt = jax.vmap(target)(x_test)
    model, errs, train_errs, diag = None, [], [], []
    for k, (x, width, depth, n_steps) in enumerate(zip(xs, widths, depths, steps)):
        key, sk = jax.random.split(key)
        y = jax.vmap(target)(x)
        e = y - (jax.vmap(model)(x) if model is not None else 0.0)
        eps = float(jnp.sqrt(jnp.mean(e**2))) if k else 1.0
        fd = dominant_frequency(np.asarray(e), float(x[1, 0] - x[0, 0])) if k else 0.0
        net = _f64(SinMLP(1, "scalar", width, depth, kappa=2 * np.pi * fd if k else 1.0, key=sk))
        net, res = lm_fit({"fit": (lambda n, row: n(row[0]) - row[1], (x, e / eps))}, net, n_steps,
                          progress=progress, desc=f"reg stage {k}")
        cand = MultiStage([net], [eps]) if model is None else model.add(net, eps)
        tr = float(rel_l2(jax.vmap(cand)(x), y))
        tr_old = float(rel_l2(jax.vmap(model)(x), y)) if model is not None else np.inf
        if tr < tr_old:
            model = cand
        train_errs.append(min(tr, tr_old))
        errs.append(float(rel_l2(jax.vmap(model)(x_test), yt)))
        diag.append({"n": int(x.shape[0]), "eps": eps, "f_d": fd, "lm_loss": float(res.opt_state.loss),
                     "lm_mu": float(res.opt_state.mu), "kept": bool(tr < tr_old), "train": train_errs[-1], "test": errs[-1]})
    return model, errs, train_errs, diag


def pinn_stages(operator: Callable, source: Callable, lift: Callable, distance: Callable, exact: Callable, key, xs,
                x_test, widths, depths, steps, *, order: int = 2, progress: bool = True):
    """Multi-stage PINN for a linear equation in residual form ``A u + f = 0`` with exact
    boundary values (``A = Δ`` for ``−Δu = f``).

    ``operator(u)`` is the function ``x ↦ (A u)(x)`` (e.g. :func:`~jaxhybrid.pinn.laplacian`);
    ``source`` is ``f``, ``exact`` the solution (for the test errors only), all on rows ``x``
    (1,). Stage 0 is ``lift + distance · N_0`` (:class:`~jaxhybrid.paradigms.HardConstraint`);
    stage ``k ≥ 1`` corrects ``u_{k−1}`` by ``ε_k v_k`` with ``v_k = distance · N_k`` (zero on
    the boundary) solving ``A v_k + r_k / ε_k = 0``, ``r_k = f + A u_{k−1}`` the equation residual,
    ``ε_k = RMS(r_k) / (2π f_d)^order``, ``κ_k = 2π f_d(r_k)`` (``order``: that of ``A``);
    ``steps[k]`` Levenberg–Marquardt iterations on the rows ``(A v_k)(x_i) + r_k(x_i)/ε_k`` of the
    grid ``xs[k]``. Run inside ``jax.enable_x64(True)``. Returns ``(model, test errors,
    diagnostics {n, eps, f_d, lm_loss, lm_mu, test})``."""
    _check_stages("pinn_stages", xs, widths, depths, steps)
    yt = jax.vmap(exact)(x_test)
    model, errs, diag = None, [], []
    for k, (x, width, depth, n_steps) in enumerate(zip(xs, widths, depths, steps)):
        key, sk = jax.random.split(key)
        f = jax.vmap(source)(x)
        if model is None:
            r, eps, fd, kappa = f, 1.0, 0.0, 1.0
        else:
            r = f + jax.vmap(operator(model))(x)
            fd = dominant_frequency(np.asarray(r), float(x[1, 0] - x[0, 0]))
            eps = float(jnp.sqrt(jnp.mean(r**2))) / (2 * np.pi * fd) ** order
            kappa = 2 * np.pi * fd
        base = _f64(SinMLP(1, "scalar", width, depth, kappa=kappa, key=sk))
        net = HardConstraint(base, particular=lift if model is None else _zero, distance=distance)
        rows = jnp.concatenate([x, (r / eps)[:, None]], axis=1)
        net, res = lm_fit({"pde": (lambda n, row: operator(n)(row[:1]) + row[1], rows)}, net, n_steps,
                          progress=progress, desc=f"pinn stage {k}")
        model = MultiStage([net], [eps]) if model is None else model.add(net, eps)
        errs.append(float(rel_l2(jax.vmap(model)(x_test), yt)))
        diag.append({"n": int(x.shape[0]), "eps": eps, "f_d": fd, "lm_loss": float(res.opt_state.loss),
                     "lm_mu": float(res.opt_state.mu), "test": errs[-1]})
    return model, errs, diag
