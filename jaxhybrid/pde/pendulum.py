r"""A driven pendulum with an unknown friction law: a mechanism with a slot for a learned closure.

    θ' = ω,    ω' = −sin θ − f(ω) + A cos(Ω t)            (A = 0.6, Ω = 0.8),

whose true friction law is ``f(ω) = c₁ω + c₂ω|ω|`` (c₁ = 0.15, c₂ = 0.35). The friction law is
the part a model learns: :func:`pendulum_field` builds the vector field ``field(t, y, params)``
for any law ``friction(params, ω)`` — a network ``f_θ(ω)`` (the hybrid), a linear law ``cω``
(``c = 0``: friction omitted, the mechanism-only model) — and :func:`pendulum_neural_field` is
the data-only neural ODE ``(θ, ω)' = N_θ(θ, ω, cos Ωt, sin Ωt)``. Either is trained through the
solve on short windows of observed trajectories (:func:`~jaxhybrid.pde.fit_windows`) and solved
by :func:`~jaxhybrid.pde.solve_batch`.

Data and evaluation of the standard set-up (the constants below):

* :func:`pendulum_initial_states` — training and held-out initial states in θ₀ ∈ [−1.5, 1.5],
  ω₀ ∈ [−1, 1], and unseen ones with |θ₀| ∈ [1.6, 2.4], |ω₀| ∈ [1, 1.6];
* :func:`pendulum_windows` — the training trajectories on t ∈ [0, 10], observed every 0.1 with
  noise σ = 0.01, cut into 3-time-unit windows (:func:`~jaxhybrid.pde.trajectory_windows`);
* :func:`pendulum_reference` — reference trajectories of the true pendulum (adaptive Dopri8,
  ``rtol = 1e-7``, ``atol = 1e-8``);
* :func:`cylinder_rel_l2` — relative L2 error on the cylinder ``(sin θ, cos θ, ω)`` (a full turn
  of θ is no error);
* :func:`pendulum_errors` — each model solved by fixed-step Tsit5 (Δt = 0.05) from the true
  initial states on t ∈ [0, 40] and scored by :func:`cylinder_rel_l2`: held-out states on
  [0, 10] (interpolation) and (10, 40] (time extrapolation), unseen states on [0, 40]
  (extrapolation).
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping

import diffrax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.metrics import rel_l2

from .trajectories import solve_batch
from .windows import Windows, trajectory_windows

__all__ = ["pendulum_friction", "pendulum_field", "pendulum_neural_field", "pendulum_reference", "cylinder_rel_l2",
           "pendulum_initial_states", "pendulum_windows", "pendulum_errors"]

#: true friction coefficients, forcing amplitude and frequency
C1, C2, AMP, OMEGA = 0.15, 0.35, 0.6, 0.8
#: fixed Tsit5 step of the models
DT = 0.05
#: end of the training (observed) span, end of the evaluation span, window length
T_TRAIN, T_EXTRA, T_WINDOW = 10.0, 40.0, 3.0
#: observation step and noise standard deviation of the training data
OBS_DT, NOISE = 0.1, 0.01
#: initial conditions per set: training, held-out, unseen
N_TRAJ = 8


def pendulum_friction(w):
    """The true friction law ``f(ω) = c₁ω + c₂ω|ω|``."""
    return C1 * w + C2 * w * jnp.abs(w)


def pendulum_field(friction: Callable) -> Callable:
    """Vector field ``field(t, (θ, ω), params) = (ω, −sin θ − friction(params, ω) + A cos Ωt)`` of the
    driven pendulum with the friction law ``friction(params, ω)``."""

    def field(t, y, params):
        return jnp.stack([y[1], -jnp.sin(y[0]) - friction(params, y[1]) + AMP * jnp.cos(OMEGA * t)])

    return field


def pendulum_neural_field(t, y, net):
    """The neural ODE ``(θ, ω)' = net(θ, ω, cos Ωt, sin Ωt)`` (no mechanism: the data-only model)."""
    return net(jnp.concatenate([y, jnp.stack([jnp.cos(OMEGA * t), jnp.sin(OMEGA * t)])]))


_true_field = pendulum_field(lambda _, w: pendulum_friction(w))


def pendulum_reference(y0s, ts) -> np.ndarray:
    """Reference trajectories ``(n, len(ts), 2)`` of the true pendulum from the states ``y0s``
    ``(n, 2)`` at ``t = ts[0]``: adaptive Dopri8, tight tolerances."""
    return solve_batch(_true_field, y0s, ts, solver=diffrax.Dopri8(), dt0=0.01, rtol=1e-7, atol=1e-8,
                       max_steps=200_000)


def cylinder_rel_l2(pred, ref) -> float:
    """Relative L2 error of trajectories ``(..., 2)`` of ``(θ, ω)`` on the cylinder
    ``(sin θ, cos θ, ω)``: a full turn is no error."""
    embed = lambda y: np.stack([np.sin(y[..., 0]), np.cos(y[..., 0]), y[..., 1]], -1)  # noqa: E731
    return float(rel_l2(embed(pred), embed(ref)))


def pendulum_initial_states(seed: int, n: int = N_TRAJ):
    """``(rng, y0_train, y0_test, y0_unseen)``, each ``(n, 2)``: in-range training and held-out
    initial states (θ₀ ∈ [−1.5, 1.5], ω₀ ∈ [−1, 1]) and unseen ones (|θ₀| ∈ [1.6, 2.4],
    |ω₀| ∈ [1, 1.6], random signs), drawn from ``numpy.random.default_rng(seed)``; ``rng`` then
    draws the observation noise."""
    rng = np.random.default_rng(seed)
    in_range = lambda k: np.stack([rng.uniform(-1.5, 1.5, k), rng.uniform(-1.0, 1.0, k)], 1)  # noqa: E731
    y0_train, y0_test = in_range(n), in_range(n)
    y0_unseen = rng.choice([-1.0, 1.0], (n, 2)) * np.stack([rng.uniform(1.6, 2.4, n), rng.uniform(1.0, 1.6, n)], 1)
    return rng, y0_train, y0_test, y0_unseen


@functools.lru_cache(maxsize=None)
def pendulum_windows(seed: int) -> Windows:
    """The training trajectories of ``seed`` (:func:`pendulum_initial_states`), observed on
    ``[0, T_TRAIN]`` every ``OBS_DT`` with noise ``N(0, NOISE²)``, cut into windows of ``T_WINDOW``
    (computed once per seed)."""
    rng, y0_train, _, _ = pendulum_initial_states(seed)
    ts_obs = np.arange(0.0, T_TRAIN + 1e-9, OBS_DT)
    obs = pendulum_reference(y0_train, ts_obs)
    obs = obs + NOISE * rng.standard_normal(obs.shape)
    return trajectory_windows(obs, ts_obs, int(round(T_WINDOW / OBS_DT)))


def pendulum_errors(models: Mapping[str, tuple], y0_test, y0_unseen) -> tuple[dict, np.ndarray, np.ndarray, dict]:
    """Score models ``{name: (field, params)}`` against the true pendulum (module docstring).

    Each model is solved by fixed-step Tsit5 (step ``DT``) from ``t = 0`` at the true held-out
    ``y0_test`` and unseen ``y0_unseen`` initial states (one batch: one compiled solve per vector
    field), saved every ``OBS_DT`` up to ``T_EXTRA``. Returns ``(errors, ts, ref, first)``:
    ``errors[name]`` holds ``extrapolation_rel_l2`` (unseen, [0, T_EXTRA]),
    ``extrapolation_time_rel_l2`` (held-out, (T_TRAIN, T_EXTRA]) and ``interpolation_rel_l2``
    (held-out, [0, T_TRAIN]) by :func:`cylinder_rel_l2`; ``ts`` the save times, ``ref`` the
    reference trajectories (held-out, then unseen) and ``first[name]`` the model's trajectories
    from the first held-out and the first unseen state."""
    ts_long, n_in = jnp.arange(0.0, T_EXTRA + 1e-9, OBS_DT), int(round(T_TRAIN / OBS_DT)) + 1
    n = len(y0_test)
    y0_eval = np.concatenate([y0_test, y0_unseen])
    ref = pendulum_reference(y0_eval, ts_long)
    ref_test, ref_unseen = ref[:n], ref[n:]
    errors, first = {}, {}
    for name, (field, p) in models.items():
        pred = solve_batch(field, y0_eval, ts_long, p, t0=0.0, dt=DT)
        pt, pu = pred[:n], pred[n:]
        first[name] = (pt[0], pu[0])
        errors[name] = {"extrapolation_rel_l2": cylinder_rel_l2(pu, ref_unseen),
                        "extrapolation_time_rel_l2": cylinder_rel_l2(pt[:, n_in:], ref_test[:, n_in:]),
                        "interpolation_rel_l2": cylinder_rel_l2(pt[:, :n_in], ref_test[:, :n_in])}
    return errors, np.asarray(ts_long), ref, first
