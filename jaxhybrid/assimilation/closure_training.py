"""Fitting closures and MOS from a truth run, and scoring a closed coarse model's forecasts.

Closures of the coarse model ``Ẋ = L96(X; F) + U(X)`` (:mod:`~jaxhybrid.assimilation.closure`):

* :func:`fit_poly_closure` — Wilks' (2005) local polynomial ``U_k = Σ_p a_p X_k^p`` fitted by least
  squares to the pairs ``(X_k, U_k)`` of all sites and times (``numpy.polyfit``).
* :func:`fit_regression` — *offline* learning: a model fitted to targets by the mean squared error
  ``mean ‖model(x_i) − y_i‖²`` (a closure to the diagnosed tendencies ``U``, or a network MOS
  to the truth), minibatched Adam with a cosine-decayed learning rate.
* :func:`fit_through_solver` — *online* learning (paradigm 1, :func:`jaxhybrid.paradigms.refine`):
  the closure refined by the MSE of RK4 forecasts of ``window`` steps from truth states against
  the truth that follows (:func:`~jaxhybrid.assimilation.trajectory_windows`), gradients through
  the solver, with gradient clipping (global norm 1) for the long backward pass.
* :func:`closure_lead_rmse` — RMSE of the closed model's forecasts at the saved leads
  (:func:`~jaxhybrid.assimilation.forecast_batch`, :func:`~jaxhybrid.assimilation.lead_rmse`);
  :func:`persistence_lead_rmse` — that of persistence ``x̂(t) = x(0)``, the data-only forecast.

MOS (Glahn & Lowry 1972): :func:`mos_pairs` — forecasts of a biased model at one lead from states
of a truth run and the truth at the verifying times; :func:`fit_mos` — the least-squares affine
MOS (:func:`~jaxhybrid.assimilation.linear_mos`) and a network MOS (e.g. a
:class:`~jaxhybrid.assimilation.ResidualMOS`, by :func:`fit_regression`) fitted on those pairs;
:func:`mos_skill` — the RMSE of the biased forecasts and of both corrections on test forecasts.

Learning rates decay as ``η_k = η [(1 − α) ½(1 + cos(π k / K)) + α]`` over ``K`` steps.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.paradigms import mse, refine
from jaxhybrid.rollout import rollout
from jaxhybrid.train import fit

from .closure import coarse_model, forecast_batch, linear_mos, poly_closure, trajectory_windows
from .metrics import lead_rmse

__all__ = ["fit_poly_closure", "fit_regression", "fit_through_solver", "closure_lead_rmse",
           "persistence_lead_rmse", "mos_pairs", "fit_mos", "mos_skill"]


def fit_poly_closure(X, U, degree: int) -> Callable:
    """:func:`~jaxhybrid.assimilation.poly_closure` of degree ``degree`` fitted by least squares to
    all pairs ``(X_k, U_k)`` of ``X``, ``U`` (n, K); float32 coefficients."""
    if np.shape(X) != np.shape(U) or degree < 0:
        raise ValueError(f"fit_poly_closure: X and U must have one shape and degree >= 0; got {np.shape(X)}, "
                         f"{np.shape(U)}, {degree}.")
    return poly_closure(jnp.asarray(np.polyfit(np.ravel(X), np.ravel(U), degree), jnp.float32))


def _fit(loss, model, data, lr, steps, batch, key, desc, alpha, clip, log_every):
    opt = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=alpha))
    opt = optax.chain(optax.clip_by_global_norm(1.0), opt) if clip else opt
    return fit(loss, model, data, opt, steps=steps, batch_size=batch, key=key, desc=desc,
               log_every=log_every or max(1, steps // 10)).params


def fit_regression(model, inputs, targets, *, lr: float, steps: int, batch_size: int, key: jax.Array,
                   alpha: float = 0.05, log_every: int | None = None, desc: str = "regression"):
    """``model`` (one sample → one target) fitted to ``(inputs, targets)`` by the MSE, ``batch_size``
    samples per step (module docstring; ``α = alpha``); returns the fitted model."""
    if len(inputs) != len(targets) or len(inputs) == 0:
        raise ValueError(f"fit_regression: need as many targets as inputs (> 0), got {len(inputs)}, {len(targets)}.")
    return _fit(lambda m, b: mse(jax.vmap(m)(b[0]), b[1]), model, (inputs, targets), lr, steps, batch_size, key, desc,
                alpha, False, log_every)


def fit_through_solver(closure, X, window: int, stride: int, *, dt: float, forcing: float, lr: float, steps: int,
                       batch_size: int, key: jax.Array, alpha: float = 0.1, log_every: int | None = None,
                       desc: str = "closure online"):
    """``closure`` refined through the coarse model's RK4 solver (``dt``, ``forcing``): loss
    ``mean ‖x̂_{1..window}(X_i) − X_{i+1..i+window}‖²`` over the windows of the truth run ``X``
    starting every ``stride`` states, ``batch_size`` windows per step, clipped cosine Adam."""
    loss = refine(lambda m, x0: jax.vmap(lambda x: rollout(coarse_model(m, dt, forcing), x, window).saved)(x0))
    return _fit(lambda m, b: loss(m, (b[0], b[1])), closure, trajectory_windows(X, window, stride), lr, steps,
                batch_size, key, desc, alpha, True, log_every)


def closure_lead_rmse(closure: Callable, x0, ref, n_steps: int, save_every: int, *, dt: float,
                      forcing: float) -> np.ndarray:
    """RMSE per lead ``(L,)`` of the coarse model closed by ``closure`` forecasting ``n_steps`` from
    each state of ``x0`` (M, K), saved every ``save_every`` steps, against ``ref`` (M, L, K)
    (e.g. :func:`~jaxhybrid.assimilation.lead_targets`)."""
    return lead_rmse(forecast_batch(coarse_model(closure, dt, forcing), x0, n_steps, save_every), ref)


def persistence_lead_rmse(x0, ref) -> np.ndarray:
    """RMSE per lead ``(L,)`` of persistence forecasts (each start state ``x0`` (M, K) kept at
    every lead) against ``ref`` (M, L, K)."""
    ref = np.asarray(ref)
    if ref.ndim != 3 or np.shape(x0) != (ref.shape[0], ref.shape[2]):
        raise ValueError(f"persistence_lead_rmse: need x0 (M, K) and ref (M, L, K), got {np.shape(x0)}, {ref.shape}.")
    return lead_rmse(np.repeat(np.asarray(x0)[:, None], ref.shape[1], 1), ref)


def mos_pairs(step: Callable, X, lead: int, stride: int) -> tuple[jax.Array, jax.Array]:
    """``(forecasts, truths)``: forecasts of ``lead`` steps of ``step`` from ``X[i]``,
    ``i = 0, stride, …`` while ``i < n − lead``, and the truth ``X[i + lead]`` (each ``(m, K)``)."""
    if lead < 1 or stride < 1 or len(X) <= lead:
        raise ValueError(f"mos_pairs: need lead >= 1, stride >= 1 and more than lead states; got {lead}, {stride}, "
                         f"{len(X)}.")
    idx = np.arange(0, len(X) - lead, stride)
    return forecast_batch(step, X[idx], lead, lead)[:, 0], X[idx + lead]


def fit_mos(step: Callable, X, lead: int, stride: int, network, *, lr: float, steps: int, key: jax.Array,
            batch_size: int | None = None, log_every: int | None = None, desc: str = "MOS") -> tuple[Callable, object]:
    """``(linear, network)``: MOS maps ``forecast -> truth`` of the model ``step`` at ``lead``
    steps, fitted on :func:`mos_pairs` of the truth run ``X`` (every ``stride``-th state): the
    least-squares affine map and ``network`` trained by :func:`fit_regression` (``batch_size``
    default ``min(128, pairs)``, cosine-decayed Adam with ``α = 0.05``)."""
    forecasts, truths = mos_pairs(step, X, lead, stride)
    batch = min(128, len(forecasts)) if batch_size is None else batch_size
    net = fit_regression(network, forecasts, truths, lr=lr, steps=steps, batch_size=batch, key=key, log_every=log_every,
                         desc=desc)
    return linear_mos(forecasts, truths), net


def mos_skill(step: Callable, X, lead: int, stride: int, network, x0_test, truth_test, *, lr: float, steps: int,
              key: jax.Array, batch_size: int | None = None, log_every: int | None = None, desc: str = "MOS") -> dict:
    """RMSE over all test forecasts and sites, ``(mean (x̂ − x)²)^{1/2}``, of the model ``step``'s
    forecasts at ``lead`` steps from ``x0_test`` (M, K) against ``truth_test`` (M, K): ``biased``
    (uncorrected), ``linear`` and ``network`` (the MOS maps of :func:`fit_mos` on the truth run ``X``)."""
    linear, net = fit_mos(step, X, lead, stride, network, lr=lr, steps=steps, key=key, batch_size=batch_size,
                          log_every=log_every, desc=desc)
    fc = forecast_batch(step, x0_test, lead, lead)[:, 0]
    rm = lambda p: float(np.sqrt(np.mean((np.asarray(p) - np.asarray(truth_test)) ** 2)))  # noqa: E731
    return {"biased": rm(fc), "linear": rm(linear(fc)), "network": rm(jax.vmap(net)(fc))}
