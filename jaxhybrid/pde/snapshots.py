r"""The solution of a stepper at chosen step counts: what sensors see, differentiable end to end.

Inverse problems and design on a time-dependent PDE compare the solution at a few times with
data or a target. :func:`snapshots` runs a stepper of the algorithm protocol (``init``,
``step``, ``to_physical``; e.g. an :class:`~jaxhybrid.pde.ETDRKStepper`) from a physical field
``u₀`` through :func:`jaxhybrid.rollout.evolve` for ``n_m = max(n_i)`` steps and returns

    u(n_i Δt) = to_physical(S^{n_i}(init(u₀))),          i = 1..m,

saving one state every ``g = gcd(n_1, …, n_m)`` steps (``n_m / g`` states are kept, not
``n_m``). With ``checkpoint=True`` the backward pass recomputes the steps inside each saved
block instead of storing them (:func:`jaxhybrid.rollout.rollout`), so the gradient of a misfit
on the snapshots with respect to ``u₀`` — or to a parameter the stepper closes over, such as a
source added by ``stepper.with_forcing`` — costs one forward and one backward rollout, whatever
the number of parameters (``examples/pde_inverse_design.py``).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp

from jaxhybrid.rollout import evolve

__all__ = ["snapshots"]


def snapshots(stepper: Any, u0: jax.Array, steps: Sequence[int], *, checkpoint: bool = False) -> jax.Array:
    """The physical fields after each of ``steps`` (increasing positive step counts) steps of
    ``stepper`` from the physical field ``u0``, stacked: ``(len(steps), *u0.shape)`` (module
    docstring). Traceable (``jit``, ``grad``, ``vmap`` over ``u0``); ``steps`` must be concrete."""
    try:
        steps = tuple(int(s) for s in steps)
    except TypeError:
        raise ValueError(f"snapshots: steps must be a sequence of step counts, got {steps!r}.") from None
    if not steps or steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"snapshots: steps must be increasing positive step counts, got {steps}.")
    every = functools.reduce(math.gcd, steps)
    run = evolve(stepper, stepper.init(u0), steps[-1], save_every=every, checkpoint=checkpoint,
                 observe=stepper.to_physical)
    return run.saved[jnp.asarray(steps) // every - 1]
