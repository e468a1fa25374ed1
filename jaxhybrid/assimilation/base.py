"""Filter state, the filter algorithm (one forecast ↔ analysis cycle per step) and its drivers.

Every method of :mod:`jaxhybrid.assimilation` is a :class:`Filter`, an
:class:`~jaxhybrid.algorithm.Algorithm` whose step is one assimilation cycle::

    state       = filt.init(x0, std0, key=key)        # initial ensemble / background
    state, info = filt.step(state, key, y)            # forecast to the time of y, assimilate y

built by :func:`make_filter` from the two halves, which stay accessible::

    state       = filt.forecast(state, key)           # mechanism: the model to the next obs time
    state, info = filt.analysis(state, key, y)        # data: correct with the observation y

``step`` is :func:`jaxhybrid.paradigms.cycle` ``(forecast, analysis)`` (the paradigm-3
alternation as one pure step); the forecast gets ``fold_in(key, 0)``, the analysis
``fold_in(key, 1)``. Its ``info`` holds the per-cycle diagnostics — ``forecast_mean`` and
``forecast_spread`` (of the forecast ensemble, before the analysis) and whatever the analysis
reports (particle filter: ``ess``, ``resampled``; SSLS: ``accept_prob``, ``step_size``; 4D-Var:
``cost``) — never inside the state.

The state is an :class:`EnsembleState`: members ``E`` (N × d; N = 1 for 3D/4D-Var), log-weights
``logw`` (uniform except in the particle filter) and ``aux`` (method state: the 4D-Var window
start, the SSLS step size, the learned score's parameters).

Drivers
-------
:func:`assimilate` runs ``K`` cycles through :func:`jaxhybrid.rollout.evolve` (cycle ``n`` gets
the key ``fold_in(key, n)``, the observation ``obs[n]``) with a divergence guard (a non-finite
ensemble). Called on the host it runs in compiled chunks through :func:`jaxhybrid.driver.drive`
(progress bar; :class:`~jaxhybrid.rollout.DivergenceError` naming the cycle, with the last good
state); called under ``jit``/``vmap`` it is one pure ``lax.scan`` (the same ``evolve``, the same
step), and ``cycles_done`` reports a divergence. :func:`experiments` runs a batch of experiments
(seeds, configurations) through :func:`jaxhybrid.ensemble.ensemble`: ``vmap`` on one device,
sharded over the batch axis on several.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.driver import chunked, drive
from jaxhybrid.ensemble import ensemble
from jaxhybrid.paradigms import cycle
from jaxhybrid.random import check_key
from jaxhybrid.rollout import DivergenceError, evolve, nonfinite

__all__ = ["EnsembleState", "Filter", "make_filter", "AssimilationResult", "assimilate", "experiments",
           "weighted_mean", "weighted_spread", "ensemble_forecast", "init_ensemble", "inflate"]


class EnsembleState(NamedTuple):
    """``E`` (N, d) members; ``logw`` (N,) normalised log-weights (``log 1/N`` for equal
    weights); ``aux`` method state (4D-Var: the window start; SSLS: log step size or the score
    network's parameters; ``None`` otherwise)."""

    E: jax.Array
    logw: jax.Array
    aux: Any = None


class Filter(NamedTuple):
    """A data-assimilation method: an :class:`~jaxhybrid.algorithm.Algorithm` ``(init, step)``
    whose step is one cycle, plus its two halves ``forecast`` and ``analysis`` (module
    docstring). Build one with :func:`make_filter`."""

    init: Callable      # init(x0, std0, *, key) -> EnsembleState
    step: Callable      # step(state, key, y) -> (state, info)
    forecast: Callable  # forecast(state, key) -> state
    analysis: Callable  # analysis(state, key, y) -> (state, info)


def _fold(key, i):
    return None if key is None else jax.random.fold_in(key, i)


def make_filter(init: Callable, forecast: Callable, analysis: Callable) -> Filter:
    """The :class:`Filter` of ``init(x0, std0, *, key)``, ``forecast(state, key) -> state`` and
    ``analysis(state, key, y) -> (state, info)``.

    ``step(state, key, y)`` is ``paradigms.cycle(mechanism, data)`` with the forecast as the
    mechanism (key ``fold_in(key, 0)``) and the analysis as the data step (key
    ``fold_in(key, 1)``); its info is ``{"forecast_mean", "forecast_spread", **analysis info}``
    (weighted mean and :func:`weighted_spread` of the forecast ensemble).
    """
    for name, fn in (("init", init), ("forecast", forecast), ("analysis", analysis)):
        if not callable(fn):
            raise TypeError(f"make_filter: `{name}` must be a function, got {type(fn).__name__}.")

    def mechanism(state, x):
        key, _ = x
        return forecast(state, _fold(key, 0))

    def data(sf, x):
        key, y = x
        sa, info = analysis(sf, _fold(key, 1), y)
        return sa, {"forecast_mean": weighted_mean(sf), "forecast_spread": weighted_spread(sf), **info}

    one_cycle = cycle(mechanism, data)

    def step(state: EnsembleState, key, y):
        return one_cycle(state, (key, y))

    return Filter(init, step, forecast, analysis)


class AssimilationResult(NamedTuple):
    """Output of :func:`assimilate` (per-cycle entries have a leading axis ``K``; a batch from
    :func:`experiments` adds a leading batch axis to every field)."""

    final: EnsembleState
    mean_a: jax.Array     # (K, d) analysis means
    mean_f: jax.Array     # (K, d) forecast means (info["forecast_mean"])
    spread_a: jax.Array   # (K,)  sqrt(mean_i var_i) of the analysis ensemble
    spread_f: jax.Array   # (K,)  same for the forecast ensemble (info["forecast_spread"])
    ensemble: Optional[jax.Array]  # (K, N, d) analysis ensembles when keep_ensemble=True
    info: dict            # every per-cycle entry of the step's info (K leading)
    cycles_done: jax.Array  # cycles accepted by the divergence guard (K unless the ensemble blew up)


def weighted_mean(state: EnsembleState):
    """``Σ_i w_i x_i`` with ``w = exp(logw)``."""
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


def init_ensemble(x0, std0, N: int, *, key) -> EnsembleState:
    """``N`` members ``x0 + std0 · ξ`` with equal weights."""
    if N < 1:
        raise ValueError(f"init_ensemble: need N >= 1 members, got {N}.")
    x0 = jnp.asarray(x0)
    E = x0 + std0 * jax.random.normal(key, (N,) + x0.shape, x0.dtype)
    logw = jnp.full((N,), -jnp.log(N), x0.dtype)
    return EnsembleState(E, logw)


def _init(N: int) -> Callable:
    """``init(x0, std0, *, key)`` of an ``N``-member ensemble filter (:func:`init_ensemble`)."""

    def init(x0, std0, *, key) -> EnsembleState:
        return init_ensemble(x0, std0, N, key=key)

    return init


def ensemble_forecast(model: Callable) -> Callable:
    """``forecast(state, key)`` applying ``model`` (one state to the next obs time) to every member."""

    def forecast(state: EnsembleState, key=None):
        return state._replace(E=jax.vmap(model)(state.E))

    return forecast


def inflate(E, infl):
    """Multiplicative inflation of the anomalies: ``x̄ + λ (E − x̄)``."""
    m = jnp.mean(E, 0)
    return m + infl * (E - m)


# ---------------------------------------------------------------------------------------------
# drivers


def _n_cycles(obs) -> int:
    leaves = jax.tree_util.tree_leaves(obs)
    if not leaves:
        raise ValueError("assimilate: no observations given.")
    if any(jnp.ndim(x) == 0 for x in leaves):
        raise ValueError("assimilate: every leaf of `obs` needs a leading axis of cycles.")
    sizes = {int(jnp.shape(x)[0]) for x in leaves}
    if len(sizes) != 1:
        raise ValueError(f"assimilate: the leaves of `obs` disagree on the number of cycles: {sorted(sizes)}.")
    K = sizes.pop()
    if K < 1:
        raise ValueError("assimilate: `obs` holds 0 cycles.")
    return K


def _traced(*trees) -> bool:
    """True under a ``jit``/``vmap``/``grad`` trace (any traced argument, or a staged context)."""
    if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(trees)):
        return True
    return isinstance(jnp.zeros(()) + 0, jax.core.Tracer)


def _default_chunk(K: int) -> int:
    """About ten chunks, preferring a divisor of ``K`` (one compilation)."""
    if K <= 50:
        return K
    for c in range(K // 10, max(K // 20, 1) - 1, -1):
        if K % c == 0:
            return c
    return math.ceil(K / 10)


def _is_bad(state: EnsembleState, info) -> jax.Array:
    return nonfinite((state.E, state.logw))


def _observe(keep_ensemble: bool):
    def observe(s: EnsembleState):
        return weighted_mean(s), weighted_spread(s), (s.E if keep_ensemble else None)

    return observe


def _result(final, saved, info, done) -> AssimilationResult:
    ma, sa, ens = saved
    return AssimilationResult(final, ma, info["forecast_mean"], sa, info["forecast_spread"], ens, info, done)


def _check_host_inputs(filt: Filter, state, obs, key) -> None:
    """Host-side checks of :func:`assimilate`'s inputs, before anything is compiled: a PRNG key,
    finite numeric observations, a finite ensemble, and a filter step that accepts ``obs[0]``
    and returns a state of the same shapes (checked abstractly with ``jax.eval_shape``)."""
    check_key(key, "assimilate")
    if not isinstance(state, EnsembleState):
        raise ValueError(f"assimilate: state must be an EnsembleState (from filt.init(x0, std0, key=...)), got "
                         f"{type(state).__name__}.")
    for name, a in (("state.E", state.E), ("state.logw", state.logw)):
        try:
            arr = np.asarray(a)
        except Exception:
            arr = np.asarray(None, object)
        if not (np.issubdtype(arr.dtype, np.floating)):
            raise ValueError(f"assimilate: {name} must be a float array, got {arr.dtype}.")
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(f"assimilate: {name} has NaN/Inf (first at index {tuple(int(i) for i in np.argwhere(bad)[0])}); "
                             "start from a finite ensemble (filt.init).")
    E, logw = np.asarray(state.E), np.asarray(state.logw)
    if E.ndim < 2 or logw.shape != E.shape[:1]:
        raise ValueError(f"assimilate: state.E must be (N members, ...) and state.logw (N,); got {E.shape} and {logw.shape}.")
    for path, leaf in jax.tree_util.tree_leaves_with_path(obs):
        try:
            a = np.asarray(leaf)
        except Exception:
            a = np.asarray(None, object)
        where = "obs" + jax.tree_util.keystr(path)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or \
                np.issubdtype(a.dtype, np.complexfloating):
            raise ValueError(f"assimilate: {where} must hold real numbers, got dtype {a.dtype}.")
        if np.issubdtype(a.dtype, np.floating):
            bad = ~np.isfinite(a)
            if bad.any():
                k = int(np.argwhere(bad)[0][0])
                raise ValueError(f"assimilate: {where} has NaN/Inf at cycle {k}; drop or fill the missing observations "
                                 "(a NaN observation would turn the whole ensemble into NaN).")
    obs0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[0], obs)
    try:
        out = jax.eval_shape(lambda s, k, y: filt.step(s, k, y)[0], state, key, obs0)
    except Exception as e:
        shapes = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)), obs0)
        raise ValueError(f"assimilate: the filter's step fails on one cycle's observation (shapes {shapes}) and the "
                         f"ensemble {E.shape}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}. Check "
                         "that obs has shape (K, observation size) for this filter and that the ensemble's state size "
                         "matches the model.") from e
    if getattr(out, "E", None) is None or tuple(out.E.shape) != E.shape:
        raise ValueError(f"assimilate: one cycle turns the ensemble {E.shape} into "
                         f"{None if getattr(out, 'E', None) is None else tuple(out.E.shape)}; the model or the "
                         "observation operator does not match the state's size.")


def assimilate(filt: Filter, state: EnsembleState, obs, key, *, keep_ensemble: bool = False, unroll: int = 1,
               chunk_size: Optional[int] = None, progress: bool = True) -> AssimilationResult:
    """Run ``K = len(obs)`` cycles ``state, info = filt.step(state, fold_in(key, n), obs[n])``.

    ``obs`` is any pytree with leading axis ``K`` (usually the ``(K, p)`` observations; 4D-Var
    takes :func:`~jaxhybrid.assimilation.obs_windows`). One :func:`jaxhybrid.rollout.evolve`
    of the filter with the guard "non-finite ensemble" (module docstring).

    Args:
        keep_ensemble: also return the analysis ensembles ``(K, N, d)``.
        unroll: unroll factor of the cycle scan.
        chunk_size: cycles per compiled chunk on the host (default: about a tenth of ``K``,
            a divisor of ``K`` where one is close); ignored under a trace.
        progress: show a progress bar on the host.

    Returns:
        :class:`AssimilationResult`; the means/spreads come from ``observe`` (analysis) and the
        step's ``info`` (forecast).

    Raises:
        DivergenceError: on the host, when the ensemble became non-finite; ``.step`` is the
            failing cycle (1-based), ``.state`` the last good :class:`EnsembleState`. Under a
            trace nothing is raised: the state freezes at the last good one and
            ``cycles_done < K``.
    """
    if not isinstance(filt, Filter):
        raise TypeError(f"assimilate: expected a Filter (init, step, forecast, analysis), got {type(filt).__name__}.")
    K = _n_cycles(obs)
    observe = _observe(keep_ensemble)
    if _traced(state, obs, key):
        res = evolve(filt, state, K, key=key, inputs=obs, observe=observe, is_bad=_is_bad, unroll=unroll)
        return _result(res.final, res.saved, res.info, res.steps_done)
    chunk = _default_chunk(K) if chunk_size is None else chunk_size
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"assimilate: chunk_size must be a positive int, got {chunk_size!r}.")
    if isinstance(unroll, bool) or not isinstance(unroll, (int, np.integer)) or unroll < 1:
        raise ValueError(f"assimilate: unroll must be a positive int, got {unroll!r}.")
    _check_host_inputs(filt, state, obs, key)
    run_chunk = chunked(filt, key=key, observe=observe, is_bad=_is_bad,
                        inputs=lambda n0, L: jax.tree_util.tree_map(lambda a: a[n0:n0 + L], obs))
    try:
        out = drive(run_chunk, state, K, chunk_size=chunk, what="assimilate", unit="cycle", progress=progress,
                    hint="raise the inflation or the ensemble size, or check the observations")
    except DivergenceError as e:
        raise DivergenceError(
            f"assimilate: the ensemble became non-finite (NaN/Inf) at cycle {e.step} of {K}. The last good "
            f"state (after cycle {e.step - 1}) is in `.state`; raise the inflation or the ensemble size, "
            "or check the model and the observations.", step=e.step, state=e.state) from None
    cat = lambda *xs: jnp.asarray(np.concatenate(xs))
    saved = jax.tree_util.tree_map(cat, *out.outputs)
    info = jax.tree_util.tree_map(cat, *out.infos)
    return _result(out.carry, saved, info, jnp.asarray(K, jnp.int32))


def experiments(filt: Filter | Callable[[Any], Filter], x0, std0, *, batched_obs: bool = False,
                keep_ensemble: bool = False, devices=None, shard: bool = True) -> Callable:
    """A batch of independent assimilation experiments as one call through
    :func:`jaxhybrid.ensemble.ensemble` (``vmap``; sharded over all devices when there are
    several; the answer is the same either way).

    Experiment ``b`` splits ``keys[b]`` into ``(k_init, k_run)``, builds its filter
    (``filt(configs[b])`` when ``filt`` is a function of a configuration, e.g. an inflation;
    else ``filt``), draws ``state = f.init(x0, std0, key=k_init)`` and runs
    :func:`assimilate` ``(f, state, obs_b, k_run)`` — the pure path, one ``lax.scan``.

    Args:
        filt: a :class:`Filter`, or ``config -> Filter``.
        x0, std0: the initial law shared by all experiments.
        batched_obs: ``obs`` has a leading batch axis (one truth per experiment); else all
            experiments assimilate the same observations.
        keep_ensemble: also return the analysis ensembles.
        devices, shard: as for :func:`~jaxhybrid.ensemble.ensemble`.

    Returns:
        ``run(keys, obs)`` (with a filter) or ``run(keys, obs, configs)`` (with ``config ->
        Filter``; ``configs`` a pytree with leading batch axis), returning an
        :class:`AssimilationResult` with a leading batch axis. Build it once and call it
        repeatedly to reuse the compilation.
    """
    configured = not isinstance(filt, Filter)
    if configured and not callable(filt):
        raise TypeError(f"experiments: `filt` must be a Filter or a function config -> Filter, got "
                        f"{type(filt).__name__}.")

    def member(key, obs, config=None):
        f = filt(config) if configured else filt
        if not isinstance(f, Filter):
            raise TypeError(f"experiments: filt(config) returned {type(f).__name__}, not a Filter.")
        k_init, k_run = jax.random.split(key)
        s = f.init(x0, std0, key=k_init)
        return assimilate(f, s, obs, k_run, keep_ensemble=keep_ensemble)

    o_ax = 0 if batched_obs else None
    batched = ensemble(member, (0, o_ax, 0) if configured else (0, o_ax), devices=devices, shard=shard)

    def run(keys, obs, configs=None):
        keys = jnp.asarray(keys)
        if keys.ndim < 1 or keys.shape[0] < 1:
            raise ValueError(f"experiments: `keys` needs a leading batch axis, got shape {keys.shape}.")
        if configured and configs is None:
            raise ValueError("experiments: `filt` is a function of a configuration; pass `configs` (batch axis first).")
        if not configured and configs is not None:
            raise ValueError("experiments: `configs` given but `filt` is a Filter; pass a function config -> Filter.")
        return batched(keys, obs, configs) if configured else batched(keys, obs)

    return run
