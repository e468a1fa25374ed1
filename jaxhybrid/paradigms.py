"""The three hybrid paradigms as higher-order functions.

1. :func:`refine` — *a mechanism model refined by data.* Given a mechanism ``M(θ, inputs)`` in
   which ``θ`` is a learned component (a network closure, a learned potential, unknown
   coefficients), build the loss

       L(θ; inputs, y) = misfit(M(θ, inputs), y) + R(θ)

   whose gradient flows *through* the mechanism (an ODE/PDE solve, an MD rollout). Train it with
   :func:`jaxhybrid.train.fit`.

2. :func:`constrain` and :class:`HardConstraint` — *a data model constrained by physics.*
   Soft: ``L = Σ_k w_k L_k(θ; batch)`` over named terms (data misfit, PDE residual, boundary
   conditions), returning each term as an auxiliary metric. Hard: ``u(x) = g(x) + d(x) N(x)``
   with ``d = 0`` on the constrained set, so ``u = g`` there exactly for any network ``N``
   (Lagaris, Likas & Fotiadis 1998).

3. :func:`alternate` and :func:`cycle` — *mechanism and data improving each other in a loop.*
   ``alternate`` runs ``state ← data(mechanism(state))`` on the host for at most ``rounds``
   rounds and stops early when ``until(state)`` holds (AlphaZero: self-play search ↔ network
   training; concurrent learning: explore ↔ label ↔ retrain). ``cycle`` builds the same
   composition as a pure step function for :func:`jaxhybrid.rollout.rollout`, so that whole
   cycles of e.g. forecast ↔ analysis run inside one ``jit``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, NamedTuple, Optional

import equinox as eqx
import jax
import jax.numpy as jnp

PyTree = Any

__all__ = ["refine", "constrain", "HardConstraint", "alternate", "AlternateResult", "cycle", "mse", "rel_mse"]


def mse(pred: PyTree, target: PyTree) -> jax.Array:
    """Mean squared error summed over pytree leaves."""
    errs = jax.tree_util.tree_map(lambda p, t: jnp.mean((p - t) ** 2), pred, target)
    return sum(jax.tree_util.tree_leaves(errs))


def rel_mse(pred: PyTree, target: PyTree) -> jax.Array:
    """Relative squared error ``Σ‖p − t‖² / Σ‖t‖²`` over pytree leaves."""
    num = sum(jnp.sum((p - t) ** 2) for p, t in zip(jax.tree_util.tree_leaves(pred), jax.tree_util.tree_leaves(target)))
    den = sum(jnp.sum(t**2) for t in jax.tree_util.tree_leaves(target))
    return num / den


# ---------------------------------------------------------------------------------------------
# paradigm 1


def refine(
    mechanism: Callable[[PyTree, PyTree], PyTree],
    misfit: Callable[[PyTree, PyTree], jax.Array] = mse,
    regulariser: Optional[Callable[[PyTree], jax.Array]] = None,
) -> Callable[[PyTree, tuple], jax.Array]:
    """Loss for learning a component *through* a mechanism.

    Args:
        mechanism: ``mechanism(learned, inputs) -> prediction``; typically a solver call in
            which ``learned`` (a network, coefficients) is one term of the model.
        misfit: ``misfit(prediction, target) -> scalar`` (default :func:`mse`).
        regulariser: optional ``R(learned) -> scalar`` added to the misfit.

    Returns:
        ``loss(learned, (inputs, target))``, ready for :func:`jaxhybrid.train.fit`.
    """
    if not callable(mechanism) or not callable(misfit):
        raise TypeError("refine: `mechanism` and `misfit` must be callables.")

    def loss(learned, batch):
        try:
            inputs, target = batch
        except (TypeError, ValueError):
            raise ValueError("refine: the batch must be a pair (inputs, target).") from None
        value = misfit(mechanism(learned, inputs), target)
        if regulariser is not None:
            value = value + regulariser(learned)
        return value

    return loss


# ---------------------------------------------------------------------------------------------
# paradigm 2


def constrain(
    terms: Mapping[str, Callable[[PyTree, PyTree], jax.Array]],
    weights: Optional[Mapping[str, float | jax.Array]] = None,
) -> Callable[[PyTree, PyTree], tuple[jax.Array, dict]]:
    """Composite physics + data loss ``L = Σ_k w_k L_k(params, batch)``.

    Args:
        terms: named loss terms, e.g. ``{"data": ..., "pde": ..., "bc": ...}``; each is
            ``term(params, batch) -> scalar`` and takes what it needs from ``batch``.
        weights: per-term weights (default 1). Unknown names are an error.

    Returns:
        ``loss(params, batch) -> (total, {name: term value})`` (use ``has_aux=True`` in
        :func:`jaxhybrid.train.fit`).
    """
    if not terms:
        raise ValueError("constrain: need at least one loss term.")
    weights = dict(weights or {})
    unknown = set(weights) - set(terms)
    if unknown:
        raise ValueError(f"constrain: weights given for unknown terms {sorted(unknown)}; terms are {sorted(terms)}.")
    names = list(terms)

    def loss(params, batch):
        values = {k: terms[k](params, batch) for k in names}
        total = sum(weights.get(k, 1.0) * v for k, v in values.items())
        return total, values

    return loss


class HardConstraint(eqx.Module):
    """``u(x) = g(x) + d(x) · N(x)``: equals ``g`` exactly wherever ``d(x) = 0``.

    ``network``: the trainable part ``N``; ``particular``: ``g`` (satisfies the constraint);
    ``distance``: ``d`` (zero on the constrained set, non-zero elsewhere).
    """

    network: Callable
    particular: Callable = eqx.field(static=True)
    distance: Callable = eqx.field(static=True)

    def __call__(self, x):
        return self.particular(x) + self.distance(x) * self.network(x)


# ---------------------------------------------------------------------------------------------
# paradigm 3


class AlternateResult(NamedTuple):
    """``state``: final state; ``history``: one ``monitor(state)`` record per round;
    ``rounds``: rounds run; ``converged``: whether ``until`` stopped the loop."""

    state: PyTree
    history: list
    rounds: int
    converged: bool


def alternate(
    mechanism: Callable[[PyTree, int], PyTree],
    data: Callable[[PyTree, int], PyTree],
    state: PyTree,
    *,
    rounds: int,
    until: Optional[Callable[[PyTree], bool]] = None,
    monitor: Optional[Callable[[PyTree], dict]] = None,
    callback: Optional[Callable[[int, PyTree, dict], None]] = None,
) -> AlternateResult:
    """Alternate a mechanism step and a data step until a stopping rule holds.

    Each round ``r`` computes ``state = data(mechanism(state, r), r)``, records
    ``monitor(state)`` (with ``round`` and ``wall_s``), calls ``callback(r, state, record)`` and
    stops when ``until(state)`` is true or after ``rounds`` rounds. Steps may be jit-compiled
    functions or host code (training a network, calling a labeller).
    """
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"alternate: rounds must be a positive int, got {rounds!r}.")
    history, t0 = [], time.perf_counter()
    for r in range(rounds):
        state = data(mechanism(state, r), r)
        record = dict(monitor(state)) if monitor is not None else {}
        record.update(round=r + 1, wall_s=round(time.perf_counter() - t0, 4))
        history.append(record)
        if callback is not None:
            callback(r, state, record)
        if until is not None and bool(until(state)):
            return AlternateResult(state, history, r + 1, True)
    return AlternateResult(state, history, rounds, False)


def cycle(mechanism: Callable[..., PyTree], data: Callable[..., PyTree]) -> Callable[..., PyTree]:
    """Pure alternating step ``step(state, x) = data(mechanism(state, x), x)`` for
    :func:`jaxhybrid.rollout.rollout` with per-cycle inputs ``x`` (observations, keys)."""

    def step(state, x):
        return data(mechanism(state, x), x)

    return step
