r"""Trajectories of one ODE from many initial states, one compiled program per vector field.

Evaluating a learned model (a closure inside a mechanism, a neural ODE) means solving
``y' = f(t, y, θ)`` from a batch of initial states ``y₀⁽ⁱ⁾``, often for several parameter sets
``θ`` (the trained model, a baseline, the model with the closure switched off) and time grids.
:func:`solve_batch` is :func:`~jaxhybrid.pde.ode_solve` under ``vmap`` over the initial states,
compiled once per vector field and solver setting: ``θ`` (``args``), the initial states and the
save times are arguments of the compiled program, not constants baked into it, so a new
parameter set or a longer time grid of the same length reuses the compilation.

With a fixed step ``dt`` (``diffrax.ConstantStepSize``) the step buffer is sized from the time
span, ``⌈(t_end − t₀)/dt⌉ + 8`` steps; with adaptive steps (``dt=None``; PID controller with
``rtol``, ``atol``) a tight tolerance and a high-order solver (e.g. ``diffrax.Dopri8()``) give
the reference trajectories a learned model is measured against.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Union

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from .mol import ode_solve

__all__ = ["solve_batch"]


@functools.lru_cache(maxsize=32)
def _batched(field, t0, solver, dt, rtol, atol, dt0, max_steps):
    def sol(y0, ts, args):
        return ode_solve(field, y0, ts, t0=t0, solver=solver, dt=dt, rtol=rtol, atol=atol, dt0=dt0,
                         max_steps=max_steps, args=args)[0]

    return jax.jit(jax.vmap(sol, in_axes=(0, None, None)))


def solve_batch(field: Callable, y0s, ts, args: Any = None, *, t0: Optional[float] = None,
                solver: Union[str, diffrax.AbstractSolver] = "nonstiff", dt: Optional[float] = None,
                rtol: float = 1e-6, atol: float = 1e-8, dt0: Optional[float] = None,
                max_steps: Optional[int] = None) -> np.ndarray:
    """Solve ``y' = field(t, y, args)`` from each initial state of ``y0s`` ``(n, ...)`` and save at
    ``ts`` (module docstring); returns ``(n, len(ts), ...)`` as a NumPy array.

    Args:
        field, args: the vector field ``field(t, y, args)`` and its parameters (shared by all states).
        t0: start time (default ``ts[0]``); ``ts`` increasing save times.
        solver, dt, rtol, atol, dt0: as in :func:`~jaxhybrid.pde.ode_solve` (``dt`` a fixed step).
        max_steps: step budget (default: ``⌈(ts[-1] − t0)/dt⌉ + 8`` with a fixed step, else 100,000).
    """
    ts = np.asarray(ts)
    if ts.ndim != 1 or ts.size < (2 if t0 is None else 1):
        raise ValueError(f"solve_batch: ts must be a 1D array of save times, got shape {ts.shape}.")
    if np.ndim(y0s) < 1 or np.shape(y0s)[0] < 1:
        raise ValueError(f"solve_batch: y0s must be a batch of initial states (n, ...), got shape {np.shape(y0s)}.")
    if max_steps is None:
        span = float(ts[-1]) - (float(ts[0]) if t0 is None else float(t0))
        max_steps = 100_000 if dt is None else int(np.ceil(span / dt)) + 8
    run = _batched(field, t0, solver, dt, rtol, atol, dt0, max_steps)
    return np.asarray(run(jnp.asarray(y0s), jnp.asarray(ts), args))
