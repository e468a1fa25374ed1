"""The one training loop of jaxhybrid: :func:`trainer` (pure) and :func:`fit` (host driver).

Gradient descent with any ``optax.GradientTransformation`` on any pytree of parameters
(an Equinox module, a Flax-adapter module, a dict of arrays, ...)::

    θ_{n+1} = θ_n + optax_update(∇_θ L(θ_n, batch_n))

:func:`trainer` is that step as an :class:`~jaxhybrid.algorithm.Algorithm`
(``state = init(params)``, ``state, info = step(state, key, batch)``, ``info = {"loss",
"finite", <aux>}``), usable inside ``jit`` — a filter's per-cycle score training, 4D-Var's
L-BFGS, an inverse-design loop all run it through :func:`jaxhybrid.rollout.evolve`. Optimisers
with a line search (``optax.lbfgs``) get the value, gradient and ``value_fn`` they need, and
reuse the line search's last evaluation (``optax.value_and_grad_from_state``). The step number
is an ``int32`` array in the state (exact under ``jax.enable_x64``) and is passed to the loss as
``step=`` when ``with_step=True`` (loss-weight schedules such as DeePMD's moving prefactors).
Any object with the same ``init``/``step``/``params`` shape (e.g.
:func:`jaxhybrid.pinn.levenberg_marquardt`) can stand in for it.

:func:`fit` drives a trainer on the host through :func:`jaxhybrid.driver.drive`.

Design choices
--------------
* **Compiled chunks.** Steps run ``log_every`` at a time inside one jit-compiled
  ``lax.scan``; the host only logs, checkpoints and updates the progress bar between chunks.
  Chunk boundaries sit at global multiples of ``log_every``, so a resumed run executes exactly
  the same compiled chunks as an uninterrupted one. The chunk is one module-level compiled
  function: data, key and parameters are its traced arguments (no dataset is baked into the
  program as a constant), and a later ``fit`` with the same loss function, optimiser object,
  shapes and chunk length reuses the compilation.
* **Or a host loop over one compiled step** (``loop="host"``), for steps that XLA's CPU
  backend runs slowly inside a loop body: convolutions and their gradients (jax-ml/jax#12868)
  and the gathers and small batched products of per-atom descriptors. Measured on 2 CPU cores:
  a bias-free DnCNN (6 layers, 24 channels, 16 patches of 32²) 995 ms per step in the scan
  against 108 ms in the host loop; a Deep Potential step (108-atom frames) 63 against 13 ms.
  For small dense networks the scan stays faster (an MLP 2-32-32-1 on 64 samples: 0.07 against
  0.32 ms per step, the host loop's dispatch), hence the default ``"scan"``. Both run the same
  steps, batches and guard; chunk boundaries, logging and checkpoints are the same.
* **Deterministic minibatches.** The batch of step ``n`` is a pure function of ``(key, n)``:
  epoch ``e = n // n_batches`` draws the permutation ``perm(fold_in(key, e))`` and step ``n``
  takes its ``n mod n_batches``-th slice. Hence exact resume needs nothing but the step count.
* **NaN/Inf guard.** A step whose loss or gradient is non-finite is not applied; the chunk stops
  updating and the host raises :class:`~jaxhybrid.rollout.DivergenceError` naming the step,
  with the last good parameters in ``.state`` (and saved to the checkpoint directory).
* **Atomic checkpoints, no pickle.** One file ``ckpt.eqx`` (:mod:`jaxhybrid.store`: a JSON
  header with step, history and the run's fingerprint, then the Equinox leaves of
  ``(params, opt_state)``) replaced atomically, the previous one kept; an interruption (Ctrl-C)
  saves before re-raising. Resume checks the fingerprint and refuses another run's folder.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.cache import config_hash
from jaxhybrid.driver import drive
from jaxhybrid.random import check_key
from jaxhybrid.rollout import RolloutResult, evolve
from jaxhybrid.store import atomic_write, digest, previous, read_header, read_model, write_model

PyTree = Any

__all__ = ["fit", "FitResult", "trainer", "Trainer", "TrainState", "save_checkpoint", "load_checkpoint", "resume_log"]


class FitResult(NamedTuple):
    """``params``: trained parameters; ``opt_state``: optimiser state; ``step``: steps done;
    ``history``: list of logged records ``{"step", "loss", "wall_s", <aux means>}``."""

    params: PyTree
    opt_state: PyTree
    step: int
    history: list


# ---------------------------------------------------------------------------------------------
# checkpoints


CHECKPOINT = "ckpt.eqx"
CHECKPOINT_FORMAT = 2


def save_checkpoint(directory: str | os.PathLike, params: PyTree, opt_state: PyTree, meta: dict) -> Path:
    """Write ``(params, opt_state)`` and ``meta`` (JSON: step, history, fingerprint, ...) as **one**
    model file ``directory/ckpt.eqx`` (:func:`jaxhybrid.store.write_model`: atomic replace), the
    previous checkpoint kept as ``ckpt.prev.eqx``. A kill at any instant leaves a complete
    checkpoint: the step in the header always matches the arrays."""
    return write_model(Path(directory) / CHECKPOINT, {"format": CHECKPOINT_FORMAT, **meta}, (params, opt_state),
                       keep_previous=True)


def load_checkpoint(directory: str | os.PathLike, params_like: PyTree, opt_state_like: PyTree,
                    fingerprint: Optional[dict] = None):
    """Read the checkpoint of ``directory`` (``ckpt.eqx``; ``ckpt.prev.eqx`` if only that one is
    there); ``*_like`` give the structure. Returns ``(params, opt_state, meta)``, or ``None`` when
    the directory holds no checkpoint.

    Raises ``ValueError`` naming the file when it is damaged, written by another version, or —
    with ``fingerprint`` — written by another run (different data, shapes or configuration: the
    differing fields are named)."""
    d = Path(directory)
    path = d / CHECKPOINT
    if not path.exists():
        path = previous(path)
        if not path.exists():
            if (d / "ckpt.json").exists():
                raise ValueError(f"{d}: holds a checkpoint of an older jaxhybrid (ckpt.json); it cannot be resumed. "
                                 "Delete the folder or pass resume=False to start over.")
            return None
    fresh = f"Delete {path} (or the folder), pass resume=False or use another checkpoint_dir to start over."
    older = previous(d / CHECKPOINT)
    if path.name == CHECKPOINT and older.exists():
        fresh += f" Deleting only {path.name} resumes from {older.name}."
    try:
        header = read_header(path)
    except ValueError as e:
        raise ValueError(f"{e} {fresh}") from None
    if header.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: checkpoint format {header.get('format')!r}, this jaxhybrid reads "
                         f"{CHECKPOINT_FORMAT}. {fresh}")
    if fingerprint is not None:
        saved = header.get("fingerprint") or {}
        differ = sorted(k for k in set(fingerprint) | set(saved) if saved.get(k) != fingerprint.get(k))
        if differ:
            raise ValueError(f"{path}: written by another run (it differs in: {', '.join(differ)}); resuming it would "
                             f"continue that run. {fresh}")
    (params, opt_state), meta = read_model(path, (params_like, opt_state_like), hint=fresh)
    return params, opt_state, meta


def _fingerprint(params, opt_state, data, key, batch_size, flags, config) -> dict:
    """What makes a checkpoint belong to a run: the initial parameters, the optimiser state's
    structure, the data (content), the key, the batch size, the loss's calling convention and the
    user's ``config``. ``steps`` is not part of it (a run may be extended)."""
    return {"init": digest(params), "opt_state": digest(opt_state, values=False),
            "data": None if data is None else digest(data), "key": digest(key),
            "batch_size": batch_size, "loss": flags, "config": None if config is None else config_hash(config)}


def resume_log(path: Path, start: int, field: str = "step") -> None:
    """Keep the records of a JSONL metrics log up to ``start`` (a resumed run appends after them)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)[field] <= start:
                keep.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            break  # a partial last line (a kill while appending) and anything after it
    atomic_write(path, "".join(x + "\n" for x in keep))


# ---------------------------------------------------------------------------------------------
# data handling


def _check_finite(name: str, tree: PyTree, fix: str) -> None:
    """Every array leaf of ``tree`` holds real numbers and no NaN/Inf (named by its path and,
    for data, the sample index): a NaN sample would only surface as a diverged loss."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if not eqx.is_array_like(leaf) or isinstance(leaf, (bool, int)):
            continue
        if isinstance(leaf, jax.core.Tracer):
            continue
        if hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            continue
        where = name + jax.tree_util.keystr(path)
        if isinstance(leaf, jax.Array) and any(d.platform != "cpu" for d in leaf.devices()):
            # on an accelerator: one reduction there, no copy to the host unless it is bad
            ok = not jnp.issubdtype(leaf.dtype, jnp.inexact) or bool(jnp.all(jnp.isfinite(leaf)))
        else:
            try:
                a = np.asarray(leaf)
            except Exception:
                a = np.asarray(None, object)
            if a.dtype == object or a.dtype.kind in "USV":
                raise ValueError(f"fit: {where} must hold numbers, got dtype {a.dtype}.")
            ok = not np.issubdtype(a.dtype, np.inexact) or bool(np.all(np.isfinite(a)))
        if not ok:
            bad = ~np.isfinite(np.asarray(leaf))
            if bad.any():
                at = tuple(int(i) for i in np.argwhere(bad)[0])
                pos = f"sample {at[0]}" if name == "data" and at else f"index {at}"
                raise ValueError(f"fit: {where} has NaN/Inf at {pos}; {fix}.")


def _trace_error(e: Exception, batch) -> ValueError:
    """A ``TypeError``/``ValueError`` raised while the first compiled chunk is traced (the loss does
    not accept the data's shapes, or is not a real scalar) as a ``ValueError`` saying what to check
    — no eager trial trace, so a successful ``fit`` pays nothing for it."""
    shapes = jax.tree_util.tree_map(lambda a: (tuple(np.shape(a)), str(getattr(a, "dtype", type(a).__name__))), batch)
    msg = str(e).splitlines()[0] if str(e) else ""
    return ValueError(f"fit: one optimisation step fails on a batch of the data ({shapes}): {type(e).__name__}: {msg}. "
                      "Check that loss_fn(params, batch) returns a real scalar and that the data's shapes and dtypes "
                      "fit the model.")


def _data_size(data: PyTree) -> int:
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError("fit: `data` has no arrays; pass data=None for a data-free loss.")
    sizes = {int(np.shape(x)[0]) if np.ndim(x) else -1 for x in leaves}
    if -1 in sizes:
        raise ValueError("fit: every array in `data` needs a leading (sample) axis.")
    if len(sizes) != 1:
        raise ValueError(f"fit: arrays in `data` disagree on the number of samples: {sorted(sizes)}.")
    n = sizes.pop()
    if n == 0:
        raise ValueError("fit: `data` is empty (0 samples).")
    return n


def _epoch_perm(key: jax.Array, step: jax.Array, n: int, batch_size: int) -> jax.Array:
    """The sample order of the epoch containing ``step``: ``perm(fold_in(key, epoch))``."""
    return jax.random.permutation(jax.random.fold_in(key, step // (n // batch_size)), n)


def _batch(data: PyTree, key: jax.Array, step: jax.Array, perm: jax.Array, n: int, batch_size: int):
    """Minibatch of ``step`` and the (possibly refreshed) epoch permutation; the permutation
    is recomputed only when an epoch starts, so its cost is paid once per epoch."""
    within = step % (n // batch_size)
    perm = jax.lax.cond(within == 0, lambda: _epoch_perm(key, step, n, batch_size), lambda: perm)
    idx = jax.lax.dynamic_slice_in_dim(perm, within * batch_size, batch_size)
    return jax.tree_util.tree_map(lambda x: jnp.take(x, idx, axis=0), data), perm


# ---------------------------------------------------------------------------------------------
# the pure trainer


class TrainState(NamedTuple):
    """``params``: the full parameter pytree; ``opt_state``: the optimiser state (over the
    inexact-array leaves); ``step``: int32 count of steps taken."""

    params: PyTree
    opt_state: PyTree
    step: jax.Array


class Trainer(NamedTuple):
    """An :class:`~jaxhybrid.algorithm.Algorithm` over :class:`TrainState`:
    ``init(params)``, ``step(state, key, batch) -> (state, info)`` with ``info["loss"]`` and
    ``info["finite"]``, and ``params(state)``. Optimisers that are not optax transformations
    (Levenberg–Marquardt) implement this shape and are driven by :func:`fit` alike."""

    init: Callable
    step: Callable
    params: Callable


def _all_finite(tree) -> jax.Array:
    return jax.tree_util.tree_reduce(jnp.logical_and, jax.tree_util.tree_map(lambda x: jnp.all(jnp.isfinite(x)), tree),
                                     jnp.asarray(True))


def _has_linesearch(opt_state) -> bool:
    try:
        return optax.tree_utils.tree_get(opt_state, "info") is not None and \
            optax.tree_utils.tree_get(opt_state, "value") is not None
    except Exception:  # several matches or an unusual state: no reuse
        return False


@functools.lru_cache(maxsize=64)
def trainer(loss_fn: Callable[..., Any], optimizer: optax.GradientTransformation, *, has_aux: bool = False,
            stochastic: bool = False, with_step: bool = False) -> Trainer:
    """One optimisation step as a pure algorithm (module docstring).

    Args:
        loss_fn: ``loss_fn(params, batch[, key][, step=n]) -> loss`` (or ``(loss, aux dict)``
            with ``has_aux``); ``key`` is passed when ``stochastic``, ``step`` (the int32 step
            number) when ``with_step``.
        optimizer: any optax transformation; a zoom line search (``optax.lbfgs``) gets
            ``value``, ``grad`` and ``value_fn`` and reuses its last evaluation.

    Returns:
        :class:`Trainer`. ``step`` always applies the update; ``info["finite"]`` is false when
        the loss or gradient was NaN/Inf — pass ``is_bad=lambda s, i: ~i["finite"]`` to
        :func:`~jaxhybrid.rollout.evolve` to stop there. Built once per argument combination
        (cached), so repeated calls reuse compilations.
    """
    if not callable(loss_fn):
        raise TypeError("trainer: loss_fn must be a function loss_fn(params, batch, ...).")
    extra_args = isinstance(optimizer, optax.GradientTransformationExtraArgs)

    def init(params) -> TrainState:
        # strongly typed leaves: a weakly typed one (``jnp.asarray(1.0)``) would turn strong after
        # the first update and compile every step program a second time
        params = jax.tree_util.tree_map(lambda x: x.astype(x.dtype) if isinstance(x, jax.Array) and x.weak_type
                                        else x, params)
        trainable = eqx.filter(params, eqx.is_inexact_array)
        if not jax.tree_util.tree_leaves(trainable):
            raise ValueError("trainer: `params` has no floating-point arrays to train.")
        return TrainState(params, optimizer.init(trainable), jnp.asarray(0, jnp.int32))

    def step(state: TrainState, key=None, batch=None):
        tr, rest = eqx.partition(state.params, eqx.is_inexact_array)
        kw = {"step": state.step} if with_step else {}

        def objective(t):
            p = eqx.combine(t, rest)
            out = loss_fn(p, batch, key, **kw) if stochastic else loss_fn(p, batch, **kw)
            return out if has_aux else (out, {})

        value_fn = lambda t: objective(t)[0]
        if extra_args and _has_linesearch(state.opt_state):
            value, grad = optax.value_and_grad_from_state(value_fn)(tr, state=state.opt_state)
            aux = {}
        else:
            (value, aux), grad = jax.value_and_grad(objective, has_aux=True)(tr)
        if extra_args:
            updates, ost = optimizer.update(grad, state.opt_state, tr, value=value, grad=grad, value_fn=value_fn)
        else:
            updates, ost = optimizer.update(grad, state.opt_state, tr)
        new = eqx.combine(eqx.apply_updates(tr, updates), rest)
        info = {"loss": value, "finite": jnp.isfinite(value) & _all_finite(grad), **aux}
        return TrainState(new, ost, state.step + 1), info

    return Trainer(init, step, lambda state: state.params)


# ---------------------------------------------------------------------------------------------
# fit: the host driver of a trainer


class _Carry(NamedTuple):
    state: Any     # the trainer's state
    prev: Any      # the state one accepted step earlier (the last good one after a bad step)
    perm: Any      # the current epoch's sample order (None without data)


def _is_bad(carry, info):
    return ~info["finite"]


def _fit_algorithm(tr: Trainer, data, data_key, n, batch_size) -> Algorithm:
    """The trainer with fit's deterministic minibatches: step ``s`` takes slice ``s mod
    n_batches`` of ``perm(fold_in(key, s // n_batches))``."""

    def step(c: _Carry, key):
        s = c.state.step
        batch, perm = (None, None) if n is None else _batch(data, data_key, s, c.perm, n, batch_size)
        new, info = tr.step(c.state, key, batch)
        return _Carry(new, c.state, perm), info

    return Algorithm(lambda c: c, step)


@functools.lru_cache(maxsize=64)
def _scan_chunk(tr: Trainer, n, batch_size, length):
    """``length`` steps in one ``lax.scan`` (:func:`~jaxhybrid.rollout.evolve`), compiled once per
    (trainer, data layout, length); data, keys and parameters are traced arguments."""

    @eqx.filter_jit
    def run(carry, start, data, key):
        algo = _fit_algorithm(tr, data, key, n, batch_size)
        return evolve(algo, carry, length, key=key, start=start, is_bad=_is_bad, observe=lambda c: None)

    return run


@functools.lru_cache(maxsize=64)
def _host_step(tr: Trainer, n, batch_size, static_key):
    """One guarded step compiled with ``jax.jit`` over the carry's arrays (the non-array parts are
    closed over and keyed by ``static_key``): tens of µs of dispatch, where
    ``eqx.filter_jit``'s per-call filtering would add ~1 ms to a small network's step."""
    static = static_key.tree

    @jax.jit
    def one(arrays, ok, data, key):
        # evolve's step for one global step n (the trainer's counter): key fold_in(key, n), the
        # guard rejecting a non-finite step; written out to spare a length-1 scan per call
        carry = eqx.combine(arrays, static)
        algo = _fit_algorithm(tr, data, key, n, batch_size)
        new, info = algo.step(carry, jax.random.fold_in(key, carry.state.step))
        good = ok & ~_is_bad(new, info)
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(good, a, b), eqx.filter(new, eqx.is_array), arrays)
        return new, good, jax.tree_util.tree_map(lambda x: x[None], info)

    return one


class _Unhashed(NamedTuple):
    tree: Any


class _Hashable:
    """A static part compared by structure, so that equal static parts share a compilation."""

    def __init__(self, tree):
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        self.tree, self.key = tree, (treedef, tuple(leaves))
        hash(self.key)

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, _Hashable) and self.key == other.key


def _host_chunk(tr, n, batch_size):
    def run(carry, start, data, key, length):
        arrays, static = eqx.partition(carry, eqx.is_array)
        try:
            one = _host_step(tr, n, batch_size, _Hashable(static))
        except TypeError:   # an unhashable static leaf: compile for this call only
            one = _host_step.__wrapped__(tr, n, batch_size, _Unhashed(static))
        ok, infos, goods = jnp.asarray(True), [], []
        for i in range(length):
            arrays, ok, info = one(arrays, ok, data, key)
            infos.append(info)
            goods.append(ok)
        info = jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs), *infos)
        return RolloutResult(eqx.combine(arrays, static), None, jnp.sum(jnp.stack(goods)), info)

    return run


def _resolve_loop(loop: str) -> str:
    if loop not in ("scan", "host"):
        raise ValueError(f"fit: loop must be 'scan' or 'host', got {loop!r}.")
    return loop


def fit(
    loss_fn: Callable[..., Any],
    params: PyTree,
    data: PyTree,
    optimizer: optax.GradientTransformation | Trainer,
    *,
    steps: int,
    batch_size: Optional[int] = None,
    key: Optional[jax.Array] = None,
    has_aux: bool = False,
    stochastic: bool = False,
    with_step: bool = False,
    log_every: int = 100,
    checkpoint_dir: Optional[str | os.PathLike] = None,
    checkpoint_every: Optional[int] = None,
    resume: bool = True,
    metrics_path: Optional[str | os.PathLike] = None,
    progress: bool = True,
    callback: Optional[Callable[[int, PyTree, dict], None]] = None,
    until: Optional[Callable[[int, PyTree, dict], bool]] = None,
    desc: str = "fit",
    loop: str = "scan",
    config: Optional[dict] = None,
) -> FitResult:
    """Minimise ``loss_fn`` over ``params`` with ``optimizer``.

    Args:
        loss_fn: ``loss_fn(params, batch) -> loss`` (or ``(loss, aux_dict)`` with
            ``has_aux=True``); with ``stochastic=True`` it is called as
            ``loss_fn(params, batch, key)`` with a fresh key each step (collocation resampling,
            dropout); with ``with_step=True`` it also gets ``step=`` (int32, the global step).
            ``batch`` is ``None`` when ``data`` is ``None``.
        params: initial parameters; only inexact-array leaves are trained (Equinox filtering),
            everything else (activation functions, static config) passes through.
        data: pytree of arrays sharing a leading sample axis, or ``None``.
        optimizer: an optax transformation (schedules, ``optax.lbfgs`` included), or a
            :class:`Trainer` built elsewhere (e.g. :func:`jaxhybrid.pinn.levenberg_marquardt`;
            ``loss_fn`` is then unused and may be ``None``).
        steps: total number of optimisation steps (a resumed run continues to this total).
        batch_size: minibatch size (``None``: full batch). Must not exceed the data size.
        key: PRNG key for minibatch order and stochastic losses (default ``PRNGKey(0)``).
        log_every: steps per compiled chunk and per metrics record.
        checkpoint_dir: where to save (and, with ``resume=True``, resume from) checkpoints: one
            file ``ckpt.eqx`` replaced atomically, the previous kept as ``ckpt.prev.eqx``. A
            checkpoint carries a fingerprint of the run (initial parameters, optimiser-state
            structure, data, key, batch size, loss convention and ``config``); resuming from a
            folder written by another run, or asking for fewer ``steps`` than it holds, raises
            ``ValueError`` saying how to start over.
        checkpoint_every: steps between checkpoints; a multiple of ``log_every``
            (default: every chunk). A checkpoint is also written at the end and on Ctrl-C.
        metrics_path: JSONL file receiving one record per chunk (on resume, the records after the
            checkpoint's step are dropped first, so no step appears twice).
        progress: show a progress bar.
        callback: ``callback(step, params, record)`` after each chunk (host side).
        until: ``until(step, params, record) -> bool``: stop after the chunk where it is true
            (convergence, a stalled loss).
        loop: how a chunk's steps run: ``"scan"`` (one compiled ``lax.scan``, the default) or
            ``"host"`` (a Python loop over one step compiled at top level). Same steps,
            batches, keys and guard; see the module docstring for which is faster where.
        config: a JSON-serialisable description of what the arguments above do not show
            (learning rate, loss weights, model settings): part of the checkpoint fingerprint,
            so that a folder reused for a run with another learning rate is refused.

    Returns:
        :class:`FitResult`.

    Raises:
        DivergenceError: a non-finite loss or gradient; ``.step`` is the failing step (1-based)
            and ``.state`` holds the last good parameters.
    """
    def _is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not _is_int(steps) or steps < 0:
        raise ValueError(f"fit: steps must be a non-negative int, got {steps!r}.")
    if not _is_int(log_every) or log_every < 1:
        raise ValueError(f"fit: log_every must be a positive int, got {log_every!r}.")
    if batch_size is not None and not _is_int(batch_size):
        raise ValueError(f"fit: batch_size must be an int (or None for the full batch), got {batch_size!r}.")
    if checkpoint_every is None:
        checkpoint_every = log_every
    if not _is_int(checkpoint_every) or checkpoint_every < 1 or checkpoint_every % log_every:
        raise ValueError(
            f"fit: checkpoint_every={checkpoint_every} must be a positive multiple of "
            f"log_every={log_every} (checkpoints are taken between compiled chunks)."
        )
    key = jax.random.PRNGKey(0) if key is None else key
    check_key(key, "fit")
    loop = _resolve_loop(loop)
    _check_finite("params", params, "initialise the parameters with finite values")

    if data is None:
        n = None
        if batch_size is not None:
            raise ValueError("fit: batch_size given but data is None.")
    else:
        n = _data_size(data)
        if batch_size is None:
            batch_size = n
        if not (1 <= batch_size <= n):
            raise ValueError(f"fit: batch_size={batch_size} must be in [1, {n}] (the data size).")
        _check_finite("data", data, "drop or impute those samples")
        data = jax.tree_util.tree_map(jnp.asarray, data)

    if isinstance(optimizer, Trainer):
        tr = optimizer
    else:
        tr = trainer(loss_fn, optimizer, has_aux=has_aux, stochastic=stochastic, with_step=with_step)
    state = tr.init(params)
    trainable = lambda st: eqx.filter(tr.params(st), eqx.is_inexact_array)
    start, history, fingerprint = 0, [], None
    if checkpoint_dir is not None:
        flags = {"has_aux": has_aux, "stochastic": stochastic, "with_step": with_step, "trainer": isinstance(optimizer, Trainer)}
        fingerprint = _fingerprint(trainable(state), state.opt_state, data, key, batch_size, flags, config)
    if checkpoint_dir is not None and resume:
        loaded = load_checkpoint(checkpoint_dir, trainable(state), state.opt_state, fingerprint)
        if loaded is not None:
            tr_params, opt_state, meta = loaded
            start = int(meta["step"])
            if start > steps:
                raise ValueError(f"fit: the checkpoint in {checkpoint_dir} is at step {start}, beyond steps={steps}; "
                                 f"ask for steps >= {start}, or pass resume=False (or another checkpoint_dir) to "
                                 "start over.")
            history = list(meta.get("history", []))
            full = eqx.combine(tr_params, eqx.filter(tr.params(state), eqx.is_inexact_array, inverse=True))
            state = state._replace(params=full, opt_state=opt_state, step=jnp.asarray(start, state.step.dtype))

    perm = None if n is None else _epoch_perm(key, jnp.asarray(start, jnp.int32), n, batch_size)
    carry = _Carry(state, state, perm)
    run = _scan_chunk(tr, n, batch_size, log_every) if loop == "scan" else _host_chunk(tr, n, batch_size)

    def run_one_chunk(c, first, length):
        if loop == "host":
            return run(c, first, data, key, length)
        if length != log_every:
            return _scan_chunk(tr, n, batch_size, length)(c, jnp.asarray(first, jnp.int32), data, key)
        return run(c, jnp.asarray(first, jnp.int32), data, key)

    traced = [False]

    def run_chunk(c, first, length):
        if traced[0]:
            return run_one_chunk(c, first, length)
        try:  # the first chunk traces the loss: report a loss/data mismatch as a ValueError
            out = run_one_chunk(c, first, length)
        except (TypeError, ValueError) as e:
            raise _trace_error(e, None if data is None else jax.tree_util.tree_map(lambda a: a[:batch_size], data)) from e
        traced[0] = True
        return out

    metrics_file = None
    if metrics_path is not None:
        Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
        if start:
            resume_log(Path(metrics_path), start)
        metrics_file = open(metrics_path, "a" if start else "w")
    t0 = time.perf_counter()
    last = {"loss": history[-1]["loss"] if history else None}

    def save(st, step_done):
        if checkpoint_dir is not None:
            meta = {"step": int(step_done), "loss": last["loss"], "steps": int(steps),
                    "log_every": int(log_every), "history": [h for h in history if h["step"] <= step_done],
                    "fingerprint": fingerprint}
            save_checkpoint(checkpoint_dir, trainable(st), st.opt_state, meta)

    def on_chunk(step, result):
        info = result.info            # one entry per step
        losses = np.asarray(info["loss"])
        last["loss"] = float(losses[-1])
        record = {"step": step, "loss": last["loss"], "loss_mean": float(losses.mean()),
                  "wall_s": round(time.perf_counter() - t0, 4)}
        record.update({k: float(np.mean(np.asarray(v))) for k, v in info.items() if k not in ("loss", "finite")})
        history.append(record)
        if metrics_file is not None:
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()
        st = result.final.state
        if step % checkpoint_every == 0 or step == steps:
            save(st, step)
        if callback is not None:
            callback(step, tr.params(st), record)
        return {"loss": last["loss"]}

    def stop(step, result):
        return until is not None and bool(until(step, tr.params(result.final.state), history[-1]))

    def on_diverge(bad, c):
        save(c.prev, max(bad - 2, start))

    try:
        out = drive(run_chunk, carry, steps, chunk_size=log_every, start=start, what=desc, progress=progress,
                    on_chunk=on_chunk, until=stop, state_of=lambda c: tr.params(c.prev), on_diverge=on_diverge,
                    on_interrupt=lambda c, step: save(c.state, step), keep_outputs=False,
                    hint="lower the learning rate, clip gradients or check the data and the loss")
    finally:
        if metrics_file is not None:
            metrics_file.close()
    final = out.carry.state
    return FitResult(tr.params(final), final.opt_state, out.step, history)

