"""The one algorithm protocol of jaxhybrid.

Every time-stepping algorithm — MD integrator, Langevin sampler, PDE stepper, data-assimilation
filter, optimiser step — is an :class:`Algorithm`, a pair of pure functions::

    state         = algorithm.init(x, ...)                 # algorithm-specific arguments
    state, info   = algorithm.step(state, key)             # or step(state, key, inputs)

* **The key** is always the second argument of ``step``; deterministic algorithms accept it and
  ignore it (``None`` is allowed for them), so one driver advances any algorithm. Nothing
  random lives in the state: a run is reproduced by its key, and a run resumed at step ``n``
  draws the same numbers as an uninterrupted one because drivers derive the key of step ``n``
  as ``fold_in(key, n)`` (:func:`jaxhybrid.rollout.evolve`).
* **Per-step inputs** (an observation, a minibatch, a forcing) come third, when the algorithm
  has them.
* **Diagnostics** (acceptance probability, neighbour-list overflow, effective sample size, loss)
  are returned beside the state in ``info`` — a dict of arrays, ``{}`` when there are none —
  never stored inside it.
* Algorithms take *functions* (a force, a score, a log-density, a right-hand side, a model
  step): a network slots into a mechanism by being passed in.

The design follows ``blackjax.SamplingAlgorithm`` (``step(rng_key, state) -> (state, info)``)
and ``optax.GradientTransformation`` (pure ``init``/``update`` over explicit state), with the
key second so that ``step(state, key)`` reads like ``rollout``'s ``step(state, x)``.

Drivers: :func:`jaxhybrid.rollout.evolve` (pure, inside ``jit``/``vmap``/``grad``) and
:func:`jaxhybrid.driver.drive` (host side: compiled chunks, progress, divergence guard,
checkpoint callbacks).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

__all__ = ["Algorithm", "deterministic"]

PyTree = Any


class Algorithm(NamedTuple):
    """``state = init(...)``; ``state, info = step(state, key[, inputs])`` (module docstring)."""

    init: Callable[..., PyTree]
    step: Callable[..., tuple]


def deterministic(fn: Callable[..., PyTree], init: Callable[..., PyTree] = lambda x: x) -> Algorithm:
    """The :class:`Algorithm` of a plain map ``state -> state`` (or ``(state, inputs) -> state``):
    ``step(state, key[, inputs]) = (fn(state[, inputs]), {})``, the key ignored. Turns a model step
    (``lorenz96``, a closure-corrected ODE step) into something any driver runs."""
    if not callable(fn):
        raise TypeError(f"deterministic: expected a function state -> state, got {type(fn).__name__}.")

    def step(state, key=None, *inputs):
        return fn(state, *inputs), {}

    return Algorithm(init, step)
