"""Observation operators ``y = h(x) + ε``, ``ε ~ N(0, diag(σ²))``, and the hidden Markov model.

An :class:`Observation` holds ``h`` (a function of one state, static), the noise standard
deviations ``std`` (one per observed component) and whether ``h`` is linear (the filters then use
its matrix ``H = ∂h/∂x``). Factories:

* :func:`full` — every component, ``h(x) = x``;
* :func:`partial` — every ``every``-th site starting at ``offset``, ``h(x) = x[idx]``;
* :func:`nonlinear` — ``h(x) = f(x[idx])`` for a pointwise ``f`` (``"arctan"``, ``"abs"``,
  ``"square"`` or any callable).

:class:`HMM` bundles a model step, the number of model steps between observations, an
observation and the initial law ``N(x0, diag(σ0²))``; :func:`simulate` draws a truth trajectory
and its observations through :func:`jaxhybrid.rollout.rollout`; :func:`climatology` gives the
mean and covariance of a long free run (a static background covariance for 3D/4D-Var).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Union

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.rollout import rollout

__all__ = ["Observation", "full", "partial", "nonlinear", "HMM", "simulate", "climatology", "gaussian_loglik"]

_POINTWISE = {"arctan": jnp.arctan, "abs": jnp.abs, "square": jnp.square}


class Observation(eqx.Module):
    """``y = h(x) + ε`` with independent Gaussian noise of standard deviations ``std``."""

    h: Callable = eqx.field(static=True)
    std: jax.Array
    linear: bool = eqx.field(static=True)

    def __call__(self, x):
        return self.h(x)

    @property
    def dim(self) -> int:
        return int(self.std.shape[0])

    def sample(self, key, x):
        """One noisy observation of the state ``x``."""
        return self.h(x) + self.std * jax.random.normal(key, self.std.shape, self.std.dtype)

    def matrix(self, x):
        """Jacobian ``H = ∂h/∂x`` at ``x`` (the observation matrix when ``h`` is linear)."""
        return jax.jacfwd(self.h)(x)


def _std(std, p):
    s = jnp.broadcast_to(jnp.asarray(std, jnp.result_type(float)), (p,))
    if not bool(np.all(np.asarray(s) > 0)):
        raise ValueError(f"observation noise std must be positive, got {std}.")
    return s


def _indices(dim, every, offset):
    if dim < 1 or every < 1 or not 0 <= offset < every:
        raise ValueError(f"observation: need dim >= 1, every >= 1 and 0 <= offset < every, got {dim}, {every}, {offset}.")
    return np.arange(offset, dim, every)


def full(dim: int, std: float = 1.0) -> Observation:
    """Observe every component: ``h(x) = x``, ``R = std² I``."""
    if dim < 1:
        raise ValueError(f"full: dim must be >= 1, got {dim}.")
    return Observation(lambda x: x, _std(std, dim), True)


def partial(dim: int, every: int, std: float = 1.0, offset: int = 0) -> Observation:
    """Observe sites ``offset, offset + every, …``: ``h(x) = x[idx]``."""
    idx = _indices(dim, every, offset)
    return Observation(lambda x: x[..., idx], _std(std, len(idx)), True)


def nonlinear(dim: int, fn: Union[str, Callable] = "arctan", every: int = 1, std: float = 1.0,
              offset: int = 0) -> Observation:
    """Observe ``f(x[idx])`` for a pointwise ``f`` (``"arctan"``, ``"abs"``, ``"square"`` or a callable)."""
    if isinstance(fn, str):
        if fn not in _POINTWISE:
            raise ValueError(f"nonlinear: unknown function {fn!r}; choose one of {sorted(_POINTWISE)} or pass a callable.")
        fn = _POINTWISE[fn]
    idx = _indices(dim, every, offset)
    return Observation(lambda x: fn(x[..., idx]), _std(std, len(idx)), False)


def gaussian_loglik(obs: Observation, x, y):
    """``log p(y | x) = −½ Σ ((y − h(x))/σ)²`` (up to a constant)."""
    r = (y - obs.h(x)) / obs.std
    return -0.5 * jnp.sum(r * r, -1)


class HMM(NamedTuple):
    """Hidden Markov model: ``x_{k+1} = M^{steps_per_obs}(x_k)``, ``y_k = h(x_k) + ε_k``.

    ``step``: one model step; ``steps_per_obs``: model steps between observations;
    ``obs``: the :class:`Observation`; ``x0``/``std0``: initial law ``N(x0, diag(std0²))``."""

    step: Callable
    steps_per_obs: int
    obs: Observation
    x0: jax.Array
    std0: float = 1.0

    def forecast(self, x):
        """Advance one state to the next observation time."""
        return rollout(self.step, x, self.steps_per_obs, save_every=self.steps_per_obs,
                       observe=lambda s: None).final


@eqx.filter_jit
def _free_run(step, x, n_steps: int, save_every: int, saved: bool):
    """The rollout of :func:`simulate` as one jitted program, compiled once per step function and
    shapes (an eager ``lax.scan`` would trace and compile a fresh closure on every call):
    the states every ``save_every`` steps (``saved``) or the final state."""
    res = rollout(step, x, n_steps, save_every=save_every, observe=None if saved else (lambda s: None))
    return res.saved if saved else res.final


def simulate(hmm: HMM, key, n_cycles: int, burn_in: int = 0, include_initial: bool = False):
    """Draw a truth trajectory and its observations.

    Returns ``(truth, obs)`` with shapes ``(n_cycles, d)`` and ``(n_cycles, p)``: the states at
    the observation times ``k = 1..n_cycles`` after ``burn_in`` unobserved cycles (started from
    a draw of the initial law) and their noisy observations. With ``include_initial=True`` the
    truth has ``n_cycles + 1`` rows, the state at time 0 (no observation) first."""
    if n_cycles < 1 or burn_in < 0 or hmm.steps_per_obs < 1:
        raise ValueError(f"simulate: need n_cycles >= 1, burn_in >= 0, steps_per_obs >= 1; got "
                         f"{n_cycles}, {burn_in}, {hmm.steps_per_obs}.")
    k0, k1 = jax.random.split(key)
    x = hmm.x0 + hmm.std0 * jax.random.normal(k0, jnp.shape(hmm.x0), jnp.asarray(hmm.x0).dtype)
    if burn_in:
        x = _free_run(hmm.step, x, burn_in * hmm.steps_per_obs, hmm.steps_per_obs, False)
    truth = jnp.concatenate([jnp.asarray(x)[None], _free_run(hmm.step, x, n_cycles * hmm.steps_per_obs,
                                                             hmm.steps_per_obs, True)], axis=0)
    obs = jax.vmap(hmm.obs.sample)(jax.random.split(k1, n_cycles), truth[1:])
    return (truth if include_initial else truth[1:]), obs


def climatology(hmm: HMM, key, n_cycles: int, burn_in: int = 500):
    """Mean ``(d,)`` and covariance ``(d, d)`` (float64 NumPy) of the truth at ``n_cycles``
    observation times of a free run after ``burn_in`` cycles (on the attractor):
    ``x̄ = mean_k x_k``, ``C = cov_k(x_k)`` with the ``n − 1`` normalisation."""
    if n_cycles < 2:
        raise ValueError(f"climatology: need n_cycles >= 2 states for a covariance, got {n_cycles}.")
    truth, _ = simulate(hmm, key, n_cycles, burn_in=burn_in)
    t = np.asarray(truth, np.float64)
    return t.mean(0), np.cov(t.T)
