"""Shared pieces of the Langevin samplers: input checks and the score of a log-density.

Every sampler in :mod:`jaxhybrid.sampling` is a :class:`jaxhybrid.algorithm.Algorithm` — a pair
of pure functions ``state = init(position)`` and ``state, info = step(state, key)`` acting on
*one* chain (``vmap`` them for many chains; :func:`jaxhybrid.sampling.run_chains` does that and
runs the chain loop through :func:`jaxhybrid.rollout.evolve`). Diagnostics (MALA's acceptance
probability) are in ``info``, never in the state. Samplers take a log-density *function* or a
score *function* ``s(x) = ∇ log π(x)``, so a network (a learned prior) slots in by being passed
in.
"""

from __future__ import annotations

import numbers
from typing import Callable, Optional

import jax
import numpy as np

__all__ = ["check_positive", "score_of"]


def check_positive(name: str, what: str, value) -> None:
    """Raise a ValueError when a Python/NumPy number ``value`` is not > 0 (traced values pass)."""
    if isinstance(value, jax.core.Tracer):
        return
    if isinstance(value, numbers.Number) or hasattr(value, "shape"):
        v = np.asarray(value)
        if v.size and not bool(np.all(v > 0)):
            raise ValueError(f"{name}: {what} must be positive, got {value!r}; pass a value > 0.")


def score_of(name: str, logdensity_fn: Optional[Callable], score_fn: Optional[Callable]) -> Callable:
    """The score ``∇ log π`` from either a log-density (by autodiff) or a given score function."""
    if (logdensity_fn is None) == (score_fn is None):
        raise ValueError(f"{name}: pass exactly one of `logdensity_fn` (log π, differentiated by JAX) "
                         "or `score_fn` (∇ log π).")
    for f, n in ((logdensity_fn, "logdensity_fn"), (score_fn, "score_fn")):
        if f is not None and not callable(f):
            raise ValueError(f"{name}: `{n}` must be a function of the position, got {type(f).__name__}.")
    return score_fn if score_fn is not None else jax.grad(logdensity_fn)
