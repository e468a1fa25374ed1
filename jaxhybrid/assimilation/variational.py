"""3D-Var and strong-constraint 4D-Var.

* **3D-Var** (Lorenc 1986): ``x_a = argmin ½‖x − x_b‖²_{B⁻¹} + ½‖y − h(x)‖²_{R⁻¹}`` with a
  static background covariance ``B``, solved by Gauss–Newton in incremental form,
  ``x_{j+1} = x_b + B Hⱼᵀ (Hⱼ B Hⱼᵀ + R)⁻¹ (y − h(x_j) + Hⱼ (x_j − x_b))``, ``Hⱼ = ∂h/∂x(x_j)``
  (one iteration is exact for a linear ``h``).
* **Strong-constraint 4D-Var** (Le Dimet & Talagrand 1986), sliding window of ``L`` observation
  times: the control is the state ``x_0`` at the window start,

      J(x_0) = ½‖x_0 − x_b‖²_{B⁻¹} + ½ Σ_{l=1}^{L} m_l ‖y_l − h(M^l(x_0))‖²_{R⁻¹},

  ``M`` the model to the next observation time and ``m_l`` a mask (observations before the
  first cycle are absent). With ``x_0 = x_b + B^{1/2} v`` (control-variable transform) the
  gradient ``∇_v J`` comes from JAX reverse mode *through the model* (the adjoint, never
  written by hand) and is minimised with ``optax.lbfgs`` (deterministic, full batch) for a fixed
  number of iterations inside ``jit``: the optimiser step is :func:`jaxhybrid.train.trainer`
  run by :func:`jaxhybrid.rollout.evolve`. The analysis at the window end is ``M^L(x_0^*)``;
  the next window starts from ``M(x_0^*)`` (kept in ``state.aux``); the analysis info holds
  ``cost``, ``J`` at the last iterate.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.rollout import evolve, rollout
from jaxhybrid.train import trainer

from .base import EnsembleState, Filter, make_filter
from .ensemble_kf import spd_solve
from .observations import Observation

__all__ = ["var3d", "var4d", "var4d_cost", "obs_windows"]


def _init_single(x0, std0, *, key) -> EnsembleState:
    """One background ``x0 + std0 ξ`` (also the first window start, in ``aux``)."""
    x0 = jnp.asarray(x0)
    x = x0 + std0 * jax.random.normal(key, x0.shape, x0.dtype)
    return EnsembleState(x[None], jnp.zeros((1,), x.dtype), x)


def _check_B(B, d=None):
    B = jnp.asarray(B)
    if B.ndim != 2 or B.shape[0] != B.shape[1]:
        raise ValueError(f"background covariance B must be a square matrix, got shape {B.shape}.")
    return B


def var3d(model: Callable, obs: Observation, B, iterations: int = 1) -> Filter:
    """3D-Var with static background covariance ``B`` (Gauss–Newton ``iterations``)."""
    B = _check_B(B)
    if iterations < 1:
        raise ValueError(f"var3d: iterations must be >= 1, got {iterations}.")
    R = jnp.diag(obs.std**2)

    def analysis(s: EnsembleState, key, y):
        xb = s.E[0]
        x = xb
        for _ in range(iterations):
            H = obs.matrix(x)
            innov = y - obs.h(x) + H @ (x - xb)
            x = xb + B @ H.T @ spd_solve(H @ B @ H.T + R, innov[:, None])[:, 0]
        return s._replace(E=x[None]), {}

    def forecast(s, key=None):
        return s._replace(E=jax.vmap(model)(s.E))

    return make_filter(_init_single, forecast, analysis)


def obs_windows(obs, L: int):
    """Sliding windows ``(K, L, p)`` of the last ``L`` observations and masks ``(K, L)``
    (entries before the first observation are zero with mask 0)."""
    obs = jnp.asarray(obs)
    K = obs.shape[0]
    if L < 1:
        raise ValueError(f"obs_windows: window length must be >= 1, got {L}.")
    idx = np.arange(K)[:, None] - (L - 1) + np.arange(L)[None, :]
    mask = (idx >= 0).astype(np.float32)
    return obs[np.maximum(idx, 0)] * mask[..., None], jnp.asarray(mask, obs.dtype)


def var4d_cost(model: Callable, obs: Observation, x_b, B_sqrt, window, mask):
    """``J(v)`` of strong-constraint 4D-Var in the control variable ``v`` (``x_0 = x_b + B^{1/2} v``)."""
    L = window.shape[0]

    def J(v):
        x0 = x_b + B_sqrt @ v
        traj = rollout(model, x0, L).saved                      # M^1 .. M^L
        r = (window - jax.vmap(obs.h)(traj)) / obs.std
        return 0.5 * jnp.sum(v * v) + 0.5 * jnp.sum(mask[:, None] * r * r)

    return J


def var4d(model: Callable, obs: Observation, B, window: int, iterations: int = 20) -> Filter:
    """Strong-constraint 4D-Var over a sliding window of ``window`` observation times.

    Feed :func:`assimilate` with ``obs_windows(obs, window)`` instead of ``obs``."""
    B = _check_B(B)
    if window < 1 or iterations < 1:
        raise ValueError(f"var4d: need window >= 1 and iterations >= 1, got {window}, {iterations}.")
    B_sqrt = jnp.linalg.cholesky(B)

    def cost(v, batch):                    # batch = (window start x_b, observations, mask)
        x_b, win, mask = batch
        return var4d_cost(model, obs, x_b, B_sqrt, win, mask)(v)

    lbfgs = trainer(cost, optax.lbfgs())

    def analysis(s: EnsembleState, key, y):
        win, mask = y
        x_b = s.aux
        batch = (x_b, win, mask)
        solver = Algorithm(lbfgs.init, lambda st, k: lbfgs.step(st, k, batch))
        st = evolve(solver, lbfgs.init(jnp.zeros_like(x_b)), iterations, save_every=iterations,
                    observe=lambda st: None).final
        x0 = x_b + B_sqrt @ st.params
        xa = rollout(model, x0, window, save_every=window, observe=lambda z: None).final
        return s._replace(E=xa[None], aux=x0), {"cost": optax.tree_utils.tree_get(st.opt_state, "value")}

    def forecast(s, key=None):
        return s._replace(E=jax.vmap(model)(s.E), aux=model(s.aux))

    return make_filter(_init_single, forecast, analysis)
