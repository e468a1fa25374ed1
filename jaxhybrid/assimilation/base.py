"""Filter state, the ``(init, forecast, analysis)`` triple and the assimilation cycle.

Every method of :mod:`jaxhybrid.assimilation` is a :class:`Filter`:

    state = filt.init(key, x0, std0)          # initial ensemble / background
    state = filt.forecast(state, key)         # mechanism: the model to the next obs time
    state = filt.analysis(state, y, key)      # data: correct with the observation y

:func:`assimilate` runs ``K`` cycles as ``jaxhybrid.paradigms.cycle(forecast, analysis)`` (the
paradigm-3 alternation as a pure step) inside one :func:`jaxhybrid.rollout.rollout`, so a whole
experiment is one ``jit``-compiled ``lax.scan`` and a batch of experiments is a ``vmap`` of it.

The state is an :class:`EnsembleState`: members ``E`` (N × d; N = 1 for 3D/4D-Var), log-weights
``logw`` (uniform except in the particle filter), the forecast mean of the last cycle (for
forecast scores) and ``aux`` (method-specific: the 4D-Var window start).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from jaxhybrid.paradigms import cycle
from jaxhybrid.rollout import rollout

__all__ = ["EnsembleState", "Filter", "AssimilationResult", "assimilate", "weighted_mean",
           "weighted_spread", "ensemble_forecast", "init_ensemble", "inflate"]


class EnsembleState(NamedTuple):
    E: jax.Array            # (N, d) members
    logw: jax.Array         # (N,) normalised log-weights (log 1/N for equal weights)
    forecast_mean: jax.Array  # (d,) weighted mean before the last analysis
    aux: Any = None         # method-specific (4D-Var: the window start)


class Filter(NamedTuple):
    """A data-assimilation method as three pure functions (see the module docstring)."""

    init: Callable
    forecast: Callable
    analysis: Callable


class AssimilationResult(NamedTuple):
    """Output of :func:`assimilate`: final state and per-cycle statistics (leading axis K)."""

    final: EnsembleState
    mean_a: jax.Array     # (K, d) analysis means
    mean_f: jax.Array     # (K, d) forecast means
    spread_a: jax.Array   # (K,)  sqrt(mean_i var_i) of the analysis ensemble
    spread_f: jax.Array   # (K,)  same for the forecast ensemble
    ensemble: Optional[jax.Array]  # (K, N, d) analysis ensembles when keep_ensemble=True


def weighted_mean(state: EnsembleState):
    w = jnp.exp(state.logw)
    return w @ state.E


def weighted_spread(state: EnsembleState):
    """``sqrt(mean_i Var_w[x_i])`` with the unbiased (N − 1) normalisation for equal weights."""
    w = jnp.exp(state.logw)
    N = state.E.shape[0]
    if N == 1:
        return jnp.zeros((), state.E.dtype)
    A = state.E - w @ state.E
    var = w @ (A * A) / jnp.maximum(1.0 - jnp.sum(w * w), 1e-12)
    return jnp.sqrt(jnp.mean(var))


def init_ensemble(key, x0, std0, N: int) -> EnsembleState:
    """``N`` members ``x0 + std0 · ξ`` with equal weights."""
    if N < 1:
        raise ValueError(f"init_ensemble: need N >= 1 members, got {N}.")
    x0 = jnp.asarray(x0)
    E = x0 + std0 * jax.random.normal(key, (N,) + x0.shape, x0.dtype)
    logw = jnp.full((N,), -jnp.log(N), x0.dtype)
    return EnsembleState(E, logw, jnp.mean(E, 0))


def ensemble_forecast(model: Callable) -> Callable:
    """``forecast(state, key)`` applying ``model`` (one state to the next obs time) to every member."""

    def forecast(state: EnsembleState, key):
        E = jax.vmap(model)(state.E)
        return state._replace(E=E)

    return forecast


def inflate(E, infl):
    """Multiplicative inflation of the anomalies: ``x̄ + λ (E − x̄)``."""
    m = jnp.mean(E, 0)
    return m + infl * (E - m)


def assimilate(filt: Filter, state: EnsembleState, obs, key, *, keep_ensemble: bool = False,
               unroll: int = 1) -> AssimilationResult:
    """Run ``K = len(obs)`` forecast → analysis cycles from ``state``.

    ``obs`` is any pytree with leading axis ``K`` (usually the ``(K, p)`` observations; 4D-Var
    takes observation windows); cycle ``k`` forecasts to the time of ``obs[k]`` and assimilates
    it. One ``lax.scan`` (:func:`jaxhybrid.rollout.rollout`) over :func:`jaxhybrid.paradigms.cycle`.
    """
    leaves = jax.tree_util.tree_leaves(obs)
    if not leaves:
        raise ValueError("assimilate: no observations given.")
    K = int(jnp.shape(leaves[0])[0])
    keys = jax.random.split(key, 2 * K)
    keys = keys.reshape((K, 2) + keys.shape[1:])

    def mechanism(c, x):
        return filt.forecast(c[0], x[1][0])

    def data(sf, x):
        sa = filt.analysis(sf, x[0], x[1][1])
        return sa._replace(forecast_mean=weighted_mean(sf)), weighted_spread(sf)

    step = cycle(mechanism, data)

    def observe(c):
        s, spread_f = c
        return (weighted_mean(s), s.forecast_mean, weighted_spread(s), spread_f,
                s.E if keep_ensemble else None)

    carry0 = (state, jnp.zeros((), state.E.dtype))
    res = rollout(step, carry0, K, observe=observe, inputs=(obs, keys),
                  unroll=unroll)
    ma, mf, sa, sf, ens = res.saved
    return AssimilationResult(res.final[0], ma, mf, sa, sf, ens)

