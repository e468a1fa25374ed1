r"""Optimisers for PINNs beyond first order, all driven by :func:`jaxhybrid.train.fit`.

* **Adam, L-BFGS**: ``fit(lambda p, _: loss(p), params, None, optax.adam(...) | optax.lbfgs(...),
  steps=..., until=until_stalled())``. ``optax.lbfgs`` is the two-loop recursion with
  ``memory_size`` pairs and the zoom line search enforcing the strong Wolfe conditions (Nocedal &
  Wright 2006, Alg. 7.4 and 3.5); the trainer reuses the line search's last value and gradient
  (``optax.value_and_grad_from_state``), so an iteration costs one value-and-gradient evaluation
  plus the extra line-search trials. :func:`until_stalled` stops a run once the loss has not
  decreased over a whole chunk of ``log_every`` steps.
* **Levenberg–Marquardt**: :func:`levenberg_marquardt` builds a :class:`~jaxhybrid.train.Trainer`
  that minimises a sum of squared **pointwise** residuals ``F(θ) = Σ_k Σ_i r_k(θ; x_{k,i})²`` by
  damped Gauss–Newton steps ``(JᵀJ + μ I) δ = −Jᵀr`` (Levenberg 1944, Marquardt 1963) with
  Nielsen's damping update (Madsen, Nielsen & Tingleff 2004, *Methods for non-linear least
  squares problems*, Alg. 3.16): with the gain ratio ``ρ = (F(θ) − F(θ + δ)) / (δᵀ(μ δ − Jᵀr))``
  a trial step is accepted when ``ρ > 0`` and then ``μ ← μ · max(1/3, 1 − (2ρ − 1)³)``,
  ``ν ← 2``; otherwise ``μ ← μ ν``, ``ν ← 2ν``. Each residual is written for **one** row (point,
  observation) and the Jacobian is assembled row by row (``vmap`` of a per-row gradient), so its
  cost is that of one batched gradient, not ``m`` reverse passes. With fewer rows than
  parameters the same ``δ = −Jᵀ (JJᵀ + μI)⁻¹ r`` is computed from the ``m × m`` (dual) system.
  For the small networks of PINNs (10²–10³ parameters) the dense solve is cheap, and in float64
  the method reaches residuals many orders of magnitude below first-order methods or L-BFGS in
  the same time. :func:`fit` runs it in compiled chunks with its NaN/Inf guard and progress bar;
  ``until=until_lm_converged(tol)`` stops at the end of the chunk where ``F ≤ tol`` or ``μ`` has
  passed :data:`MU_MAX` (no descent left; from then on steps are no-ops). Open
  :func:`one_blas_thread` around the ``fit`` call on CPU. :func:`lm_fit` is that whole recipe
  in one call, optionally keeping the iterate with the smallest held-out misfit (early stopping
  on validation data, split off by :func:`holdout`); :func:`lm_regression` applies it to plain
  regression of a network on observations ``u(x_j) ≈ y_j`` (the data-only baseline of a PINN).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Mapping, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxhybrid.rollout import DivergenceError
from jaxhybrid.train import Trainer, TrainState, fit

__all__ = ["levenberg_marquardt", "LMState", "MU_MAX", "until_lm_converged", "until_stalled", "one_blas_thread",
           "lm_fit", "holdout", "lm_regression"]

PyTree = Any
RowResidual = Callable[[PyTree, Any], jax.Array]

MU_MAX = 1e16
"""Levenberg–Marquardt damping beyond which no descent is left: steps become no-ops."""


def until_stalled() -> Callable[[int, PyTree, dict], bool]:
    """``until`` for :func:`jaxhybrid.train.fit`: true after a chunk whose last loss is not below
    the smallest chunk-end loss before it (the loss stalled for ``log_every`` steps). Build one
    per ``fit`` call (it remembers the best loss)."""
    best = [np.inf]

    def until(step: int, params: PyTree, record: dict) -> bool:
        last = record["loss"]
        stop = not last < best[0]
        best[0] = min(best[0], last)
        return stop

    return until


def until_lm_converged(tol: float = 0.0) -> Callable[[int, PyTree, dict], bool]:
    """``until`` for :func:`jaxhybrid.train.fit` with :func:`levenberg_marquardt`: true after the
    chunk where the loss ``Σ r²`` fell to ``tol`` or below or the damping passed :data:`MU_MAX`."""
    if not tol >= 0:
        raise ValueError(f"until_lm_converged: tol must be >= 0, got {tol}.")
    return lambda step, params, record: record["loss"] <= tol or record["stalled"] > 0


def one_blas_thread():
    """Limit BLAS/LAPACK (which the CPU Cholesky calls) to one thread while the context is open.
    The ``P × P`` factorisations are small, and OpenBLAS threads spinning against XLA's own
    thread pool made them 5–40× slower on a shared 2-core machine (``import jaxhybrid`` also
    defaults ``OPENBLAS_NUM_THREADS`` to 1; this covers a numpy imported first). Dispatch is
    asynchronous, so open it around the whole ``fit`` call (which blocks on every chunk). A no-op
    without ``threadpoolctl``."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1)


class LMState(NamedTuple):
    """Levenberg–Marquardt internals (``TrainState.opt_state``): ``loss`` = ``Σ r²`` at the current
    parameters; ``M, v`` = ``(JᵀJ, Jᵀr)`` (primal) or ``(J, r)`` (dual, fewer rows than
    parameters) there; damping ``mu`` and its growth factor ``nu``."""

    loss: jax.Array
    M: jax.Array
    v: jax.Array
    mu: jax.Array
    nu: jax.Array


def levenberg_marquardt(terms: Mapping[str, tuple[RowResidual, PyTree]], *, mu0: float = 1e-3) -> Trainer:
    """Levenberg–Marquardt on ``Σ_k Σ_i r_k(params, rows_k[i])²`` as a :class:`~jaxhybrid.train.Trainer`.

    Args:
        terms: name → ``(r, rows)`` with ``r(params, row) -> scalar`` the residual of one row and
            ``rows`` a pytree of arrays whose leading axis indexes the rows (e.g. points
            ``(n, d)``, or ``(points, values)``). Weights go inside ``r`` (multiply by ``√w``).
        mu0: initial damping ``μ₀ > 0``.

    Returns:
        ``Trainer(init, step, params)``: ``init(params) -> TrainState(params, LMState, 0)``
        (raises :class:`~jaxhybrid.rollout.DivergenceError` with ``step=0`` if the initial loss
        is NaN/Inf); ``step(state, key=None, batch=None)`` makes one trial step (accepted or
        rejected; ``key`` and ``batch`` are ignored) and returns ``info = {"loss": Σ r² after the
        step, "finite", "mu", "stalled": μ > MU_MAX}``. Drive it with
        ``fit(None, params, None, lm, steps=..., until=until_lm_converged(tol))``.
    """
    if not mu0 > 0:
        raise ValueError(f"levenberg_marquardt: need mu0 > 0, got {mu0}.")
    if not terms:
        raise ValueError("levenberg_marquardt: `terms` is empty; pass name -> (residual(params, row), rows).")
    for k, t in terms.items():
        if not (isinstance(t, tuple) and len(t) == 2 and callable(t[0])):
            raise ValueError(f"levenberg_marquardt: term {k!r} must be a pair (residual(params, row), rows).")
    fns = [t[0] for t in terms.values()]
    rows = [jax.tree_util.tree_map(jnp.asarray, t[1]) for t in terms.values()]
    m = sum(int(jax.tree_util.tree_leaves(rw)[0].shape[0]) for rw in rows)

    def split(params):
        trainable, static = eqx.partition(params, eqx.is_inexact_array)
        theta, unravel = ravel_pytree(trainable)
        row_fn = lambda fn: lambda th, row: jnp.reshape(fn(eqx.combine(unravel(th), static), row), ())  # noqa: E731
        return theta, unravel, static, row_fn

    def residuals(th, row_fn):
        return jnp.concatenate([jax.vmap(row_fn(fn), (None, 0))(th, rw) for fn, rw in zip(fns, rows)])

    def normal_eq(th, row_fn):
        # primal: (Σr², JᵀJ, Jᵀr); dual (m < P): (Σr², J, r)
        rs, gs = zip(*[jax.vmap(jax.value_and_grad(row_fn(fn)), (None, 0))(th, rw) for fn, rw in zip(fns, rows)])
        r, J = jnp.concatenate(rs), jnp.concatenate(gs)
        return (jnp.sum(r * r), J, r) if m < th.shape[0] else (jnp.sum(r * r), J.T @ J, J.T @ r)

    def lm_step(M, v, mu, dual):
        # (JᵀJ + μI) δ = −Jᵀr, or in the dual form δ = −Jᵀ (JJᵀ + μI)⁻¹ r (the same δ); returns (δ, Jᵀr)
        tri = jax.scipy.linalg.solve_triangular
        if dual:
            K = M @ M.T
            L = jnp.linalg.cholesky(K + mu * jnp.eye(K.shape[0], dtype=K.dtype))
            return -M.T @ tri(L.T, tri(L, v, lower=True), lower=False), M.T @ v
        L = jnp.linalg.cholesky(M + mu * jnp.eye(M.shape[0], dtype=M.dtype))
        return -tri(L.T, tri(L, v, lower=True), lower=False), v

    @eqx.filter_jit
    def start(params):
        theta, _, _, row_fn = split(params)
        return normal_eq(theta, row_fn)

    def init(params) -> TrainState:
        theta, _, _, _ = split(params)
        if theta.size == 0:
            raise ValueError("levenberg_marquardt: `params` has no floating-point arrays to train.")
        loss, M, v = start(params)
        if not isinstance(loss, jax.core.Tracer) and not bool(jnp.isfinite(loss)):
            raise DivergenceError("levenberg_marquardt: the initial loss is NaN/Inf; check the residuals at the "
                                  "initial parameters (in `.state`).", step=0, state=params)
        one = jnp.ones((), theta.dtype)
        return TrainState(params, LMState(loss, M, v, mu0 * one, 2.0 * one), jnp.asarray(0, jnp.int32))

    def step(state: TrainState, key=None, batch=None):
        theta, unravel, static, row_fn = split(state.params)
        o = state.opt_state
        dual = m < theta.shape[0]

        def trial():
            delta, g = lm_step(o.M, o.v, o.mu, dual)
            new_th = theta + delta
            r_new = residuals(new_th, row_fn)
            new_loss = jnp.sum(r_new * r_new)
            pred = jnp.dot(delta, o.mu * delta - g)  # = 2 (L(0) − L(δ)) of the linear model
            rho = (o.loss - new_loss) / jnp.where(pred > 0, pred, 1.0)
            accept = jnp.isfinite(new_loss) & jnp.all(jnp.isfinite(delta)) & (rho > 0) & (pred > 0)
            loss2, M2, v2 = jax.lax.cond(accept, lambda: normal_eq(new_th, row_fn), lambda: (o.loss, o.M, o.v))
            mu2 = jnp.where(accept, o.mu * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), o.mu * o.nu)
            nu2 = jnp.where(accept, 2.0, 2.0 * o.nu).astype(o.nu.dtype)
            return jnp.where(accept, new_th, theta), LMState(loss2, M2, v2, mu2.astype(o.mu.dtype), nu2)

        th2, o2 = jax.lax.cond(o.mu > MU_MAX, lambda: (theta, o), trial)
        params = eqx.combine(unravel(th2), static)
        info = {"loss": o2.loss, "finite": jnp.isfinite(o2.loss) & jnp.all(jnp.isfinite(o2.v)), "mu": o2.mu,
                "stalled": (o2.mu > MU_MAX).astype(o2.mu.dtype)}
        return TrainState(params, o2, state.step + 1), info

    return Trainer(init, step, lambda state: state.params)


def lm_fit(terms: Mapping[str, tuple[RowResidual, PyTree]], params: PyTree, steps: int, *,
           val_fn: Callable[[PyTree], Any] | None = None, log_every: int | None = None, tol: float = 0.0,
           progress: bool = True, desc: str = "lm"):
    """``steps`` iterations of :func:`levenberg_marquardt` on ``terms`` from ``params`` through
    :func:`jaxhybrid.train.fit` (inside :func:`one_blas_thread`, stopped early by
    :func:`until_lm_converged` with ``tol``); chunks of ``log_every`` (default 50, or 10 with
    ``val_fn``). With ``val_fn`` (e.g. the misfit on held-out observations) the iterate with
    the smallest ``val_fn`` among the start and the chunk ends is returned instead of the last.
    Returns ``(params, result)`` with ``result`` the :class:`~jaxhybrid.train.FitResult`
    (``result.opt_state`` is the final :class:`LMState`: loss ``Σ r²`` and damping ``mu``)."""
    if steps < 0:
        raise ValueError(f"lm_fit: steps must be >= 0, got {steps}.")
    log_every = log_every or (50 if val_fn is None else 10)
    best = {"val": np.inf if val_fn is None else float(val_fn(params)), "params": params}

    def keep_best(step, p, record):
        if val_fn is not None and (v := float(val_fn(p))) < best["val"]:
            best.update(val=v, params=p)

    with one_blas_thread():
        res = fit(None, params, None, levenberg_marquardt(terms), steps=steps, log_every=log_every, progress=progress,
                  desc=desc, callback=keep_best, until=until_lm_converged(tol))
    return (res.params if val_fn is None else best["params"]), res


def holdout(key, x, y, fraction: float, predictor: Callable[[PyTree], Callable]):
    """Split observations ``(x (n, d), y (n,))`` at random: ``round(fraction · n)`` held out.
    Returns ``(train_index, val_fn)`` with ``val_fn(params)`` the mean squared misfit
    ``mean_j (u(x_j) − y_j)²`` of ``u = predictor(params)`` on the held-out rows (jit-compiled;
    ``None`` when nothing is held out), the ``val_fn`` of :func:`lm_fit`."""
    if not 0 <= fraction < 1:
        raise ValueError(f"holdout: fraction must be in [0, 1), got {fraction}.")
    val, trn = jnp.split(jax.random.permutation(key, x.shape[0]), [int(round(fraction * x.shape[0]))])
    val_fn = jax.jit(lambda p: jnp.mean((jax.vmap(predictor(p))(x[val]) - y[val]) ** 2)) if val.size else None
    return trn, val_fn


def lm_regression(make_net: Callable[[jax.Array], PyTree], x: jax.Array, y: jax.Array, key: jax.Array, *, steps: int,
                  holdout_frac: float = 0.0, desc: str = "regression") -> tuple:
    """Least-squares regression ``Σ_j (u(x_j) − y_j)²`` of the network ``u = make_net(k)`` on
    observations ``(x (n, d), y (n,))`` by :func:`lm_fit`: the data-only counterpart of a PINN with
    the same network, optimiser and budget. ``key`` splits into the network's key and the
    :func:`holdout` split (``round(holdout_frac · n)`` observations kept out for early stopping).
    Returns ``(net, FitResult)``."""
    if np.shape(x)[0] != np.shape(y)[0]:
        raise ValueError(f"lm_regression: {np.shape(x)[0]} points but {np.shape(y)[0]} values.")
    kn, kh = jax.random.split(key)
    trn, val_fn = holdout(kh, x, y, holdout_frac, lambda p: p)
    terms = {"data": (lambda p, row: p(row[0]) - row[1], (x[trn], y[trn]))}
    return lm_fit(terms, make_net(kn), steps, val_fn=val_fn, desc=desc)
