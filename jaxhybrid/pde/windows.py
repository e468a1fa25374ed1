"""Learning a vector field through an ODE solve on short windows of observed trajectories.

Fitting ``y' = f_θ(t, y)`` to a long noisy trajectory by one long solve gives a rugged loss
(small changes of θ move the late states a lot). The standard remedy is multiple shooting's
simple form: cut the observations into short windows, start each window's solve from its
observed first state and fit the next ``k`` observations (Ribeiro et al. 2020, *On the smoothness
of nonlinear system identification*, Automatica 121; the windows of neural-ODE training,
Chen et al. 2018).

* :func:`trajectory_windows` — windows of ``k`` steps every ``k // 2`` samples (half overlap).
* :func:`fit_windows` — train θ (a network, coefficients) through :func:`ode_solve` (fixed-step
  Tsit5) on those windows with the relative squared misfit
  (:func:`jaxhybrid.paradigms.refine` + :func:`jaxhybrid.train.fit`).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.paradigms import refine, rel_mse
from jaxhybrid.train import FitResult, fit

from .mol import ode_solve

__all__ = ["Windows", "trajectory_windows", "fit_windows"]


class Windows(NamedTuple):
    """Start states ``(W, ...)``, start times ``(W,)`` and targets ``(W, k, ...)`` (the ``k``
    observations after each start); ``k`` steps per window."""

    y0: np.ndarray
    t0: np.ndarray
    targets: np.ndarray
    k: int


def trajectory_windows(obs, ts, k: int) -> Windows:
    """Windows of ``k`` steps of observed trajectories ``obs`` ``(n, T, ...)`` at times ``ts``
    ``(T,)``, starting every ``k // 2`` samples while a full window fits."""
    obs, ts = np.asarray(obs), np.asarray(ts)
    if obs.ndim < 2 or ts.shape != (obs.shape[1],):
        raise ValueError(f"trajectory_windows: need obs (n, T, ...) and ts (T,), got {obs.shape}, {ts.shape}.")
    if not (isinstance(k, (int, np.integer)) and 2 <= k < obs.shape[1]):
        raise ValueError(f"trajectory_windows: k must be an int in [2, {obs.shape[1] - 1}], got {k!r}.")
    starts = range(0, obs.shape[1] - k, k // 2)
    state = obs.shape[2:]
    y0 = np.stack([obs[:, s] for s in starts], 1).reshape((-1,) + state)
    t0 = np.repeat(np.asarray([ts[s] for s in starts])[None], obs.shape[0], 0).reshape(-1)
    tgt = np.stack([obs[:, s + 1: s + k + 1] for s in starts], 1).reshape((-1, k) + state)
    return Windows(y0, t0, tgt, int(k))


def fit_windows(field: Callable, params, windows: Windows, *, obs_dt: float, dt: float, steps: int,
                learning_rate: float, key, batch_size: int = 64, desc: str = "fit", **fit_kw) -> FitResult:
    """Train ``params`` of ``field(t, y, params)`` through the solve on ``windows``.

    Each window is solved from ``(t0, y0)`` by fixed-step Tsit5 (step ``dt``) and saved at
    ``t0 + obs_dt · (1..k)``; the loss is the relative squared misfit to the targets over a
    minibatch of windows. Adam with a cosine-decayed ``learning_rate`` (to 2%) and global-norm
    clipping at 1; ``batch_size`` windows per step (at most all of them).
    """
    if not (obs_dt > 0 and dt > 0 and steps >= 1):
        raise ValueError(f"fit_windows: need obs_dt > 0, dt > 0 and steps >= 1, got {obs_dt}, {dt}, {steps}.")
    k = windows.k
    offsets = obs_dt * jnp.arange(1, k + 1)
    max_steps = int(np.ceil(k * obs_dt / dt)) + 8

    def mechanism(p, inputs):
        y0, t0 = inputs
        return jax.vmap(lambda a, b: ode_solve(field, a, b + offsets, t0=b, solver="nonstiff", dt=dt,
                                               max_steps=max_steps, args=p)[0])(y0, t0)

    loss = refine(mechanism, misfit=rel_mse)
    opt = optax.chain(optax.clip_by_global_norm(1.0),
                      optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.02)))
    data = (jnp.asarray(windows.y0), jnp.asarray(windows.t0), jnp.asarray(windows.targets))
    fit_kw.setdefault("log_every", max(1, steps // 20))
    return fit(lambda p, b: loss(p, ((b[0], b[1]), b[2])), params, data, opt, steps=steps,
               batch_size=min(batch_size, len(windows.y0)), key=key, desc=desc, **fit_kw)
