"""Learned closures of a coarse forecast model and model output statistics (MOS).

The truth is the two-scale Lorenz-96 system (:func:`~jaxhybrid.assimilation.two_scale_l96`,
Wilks 2005); the forecast model resolves only the slow variables ``X``:

    Ẋ_k = X_{k−1}(X_{k+1} − X_{k−2}) − X_k + F + U_k(X),

where ``U_k`` stands for the unresolved coupling ``−(hc/b) Σ_j Y_{j,k}`` (the *subgrid
tendency*, diagnosed exactly from the truth by :func:`subgrid_tendency`). A closure is any
function ``X -> U``: Wilks' local polynomial :func:`poly_closure`, or a network applied to each
site's neighbourhood ``X_{k−2..k+2}`` (:class:`LocalClosure`, shared by all sites and hence
translation equivariant). :func:`coarse_model` is the RK4 step of the closed coarse model;
gradients flow through it, so a closure can be trained *through* the solver with
:func:`jaxhybrid.paradigms.refine`.

MOS (Glahn & Lowry 1972): a map from a biased model's forecast to the truth fitted on past
forecast/truth pairs; :func:`linear_mos` is the least-squares affine map, :class:`ResidualMOS` a
network correction ``f + s·net(f/s)`` to be trained.

Data for training and verification from a truth run ``X`` (n, d): :func:`trajectory_windows`
(start states and the following ``length`` states, the targets of training *through* the solver)
and :func:`lead_targets` (the truth at the lead times of forecasts started at given indices).
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.rollout import rollout

from .models import lorenz96_rhs, rk4, two_scale_l96

__all__ = ["subgrid_tendency", "two_scale_truth", "coarse_model", "stencil", "LocalClosure", "poly_closure",
           "forecast_batch", "linear_mos", "ResidualMOS", "trajectory_windows", "lead_targets"]


def subgrid_tendency(state, K: int = 8, J: int = 32, h: float = 1.0, b: float = 10.0, c: float = 10.0):
    """``U_k = −(hc/b) Σ_j Y_{j,k}`` of two-scale states ``[X (K), Y (K·J)]`` (any leading axes)."""
    Y = state[..., K:]
    return -(h * c / b) * Y.reshape(Y.shape[:-1] + (K, J)).sum(-1)


def two_scale_truth(key, n_samples: int, every: int, *, dt: float = 0.001, K: int = 8, J: int = 32,
                    F: float = 20.0, h: float = 1.0, b: float = 10.0, c: float = 10.0, spinup: float = 5.0):
    """A two-scale Lorenz-96 truth run: ``(X, U)`` of shapes ``(n_samples, K)``, sampled every
    ``every`` steps of ``dt`` after a spin-up of ``spinup`` time units from a random start
    (``X ~ N(0, (F/4)²)``, ``Y ~ N(0, 0.1²)``); ``U`` is the :func:`subgrid_tendency`."""
    if n_samples < 1 or every < 1 or spinup < 0:
        raise ValueError(f"two_scale_truth: need n_samples >= 1, every >= 1 and spinup >= 0, got "
                         f"{n_samples}, {every}, {spinup}.")
    step = two_scale_l96(dt, K, J, F, h, b, c)
    s0 = jnp.concatenate([F * 0.25 * jax.random.normal(key, (K,)),
                          0.1 * jax.random.normal(jax.random.fold_in(key, 1), (K * J,))])
    n_spin = int(round(spinup / dt))
    if n_spin:
        s0 = rollout(step, s0, n_spin, save_every=n_spin, observe=lambda s: None).final
    traj = rollout(step, s0, n_samples * every, save_every=every).saved
    return traj[:, :K], subgrid_tendency(traj, K, J, h, b, c)


def coarse_model(closure: Callable, dt: float = 0.005, forcing: float = 20.0) -> Callable:
    """RK4 step of the one-scale model ``Ẋ = L96(X; F) + closure(X)`` (``closure`` of the whole X)."""
    return rk4(lambda x: lorenz96_rhs(x, forcing) + closure(x), dt)


def stencil(x, width: int = 2):
    """Periodic neighbourhoods ``X_{k−w..k+w}`` of every site: shape ``(K, 2w + 1)``."""
    return jnp.stack([jnp.roll(x, s) for s in range(width, -width - 1, -1)], -1)


class LocalClosure(eqx.Module):
    """``U_k = scale · net(stencil(X)_k / scale)``: one network for every site (translation
    equivariant); ``net`` maps ``2·width + 1`` inputs to 1."""

    net: Callable
    scale: float = eqx.field(static=True, default=10.0)
    width: int = eqx.field(static=True, default=2)

    def __call__(self, x):
        return jax.vmap(self.net)(stencil(x, self.width) / self.scale)[..., 0] * self.scale


def poly_closure(coef) -> Callable:
    """Wilks' (2005) local polynomial closure ``U_k = Σ_p a_p X_k^p`` (``coef`` highest power first)."""
    return lambda x: jnp.polyval(coef, x)


def forecast_batch(step: Callable, x0s, n_steps: int, save_every: int):
    """Forecasts of every initial state in ``x0s`` (M, d): ``(M, n_steps / save_every, d)``."""
    return jax.jit(jax.vmap(lambda x: rollout(step, x, n_steps, save_every=save_every).saved))(x0s)


def linear_mos(forecasts, truths) -> Callable:
    """Least-squares affine MOS ``x̂ = W f + w₀`` fitted on pairs ``(forecasts, truths)`` (n, d);
    returns the map ``f -> x̂`` (rows)."""
    fc, tr = np.asarray(forecasts), np.asarray(truths)
    if fc.ndim != 2 or fc.shape[0] != tr.shape[0] or fc.shape[0] < fc.shape[1] + 1:
        raise ValueError(f"linear_mos: need (n, d) forecasts and truths with n > d, got {fc.shape}, {tr.shape}.")
    W, *_ = np.linalg.lstsq(np.concatenate([fc, np.ones((len(fc), 1))], 1), tr, rcond=None)
    W = jnp.asarray(W, jnp.asarray(forecasts).dtype)
    return lambda f: jnp.asarray(f) @ W[:-1] + W[-1]


class ResidualMOS(eqx.Module):
    """Network MOS ``x̂ = f + scale · net(f / scale)`` of one forecast ``f`` (d,): a correction of
    the forecast, zero when ``net`` outputs zero; ``net`` maps d inputs to d."""

    net: Callable
    scale: float = eqx.field(static=True, default=10.0)

    def __call__(self, f):
        return f + self.scale * self.net(f / self.scale)


def trajectory_windows(X, length: int, stride: int):
    """Start states ``X[i]`` and targets ``X[i+1 .. i+length]`` for ``i = 0, stride, …`` while
    ``i < n − length − 1``: shapes ``(m, d)`` and ``(m, length, d)``."""
    X = jnp.asarray(X)
    if X.ndim != 2 or length < 1 or stride < 1 or X.shape[0] < length + 2:
        raise ValueError(f"trajectory_windows: need X (n, d) with n >= length + 2, length >= 1 and stride >= 1; "
                         f"got {X.shape}, {length}, {stride}.")
    idx = np.arange(0, X.shape[0] - length - 1, stride)
    return X[idx], jnp.stack([X[i + 1: i + length + 1] for i in idx])


def lead_targets(X, starts, n_steps: int, save_every: int) -> np.ndarray:
    """The truth at the saved lead times of forecasts started at ``X[s]`` for ``s`` in ``starts``:
    ``X[s + save_every], X[s + 2·save_every], …, X[s + n_steps]``, shape ``(M, n_steps / save_every, d)``
    (the reference of :func:`forecast_batch` and :func:`~jaxhybrid.assimilation.lead_rmse`)."""
    starts = np.asarray(starts)
    if save_every < 1 or n_steps % save_every or starts.max() + n_steps >= len(X):
        raise ValueError(f"lead_targets: need save_every >= 1 dividing n_steps and starts + n_steps < len(X) = {len(X)}.")
    return np.stack([np.asarray(X[s + save_every: s + n_steps + 1: save_every]) for s in starts])
