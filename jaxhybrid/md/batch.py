"""Many Langevin trajectories (seeds, temperatures, starting configurations) as one compiled program.

:func:`langevin_program` builds the BAOAB Langevin run (:func:`~jaxhybrid.md.langevin.langevin`)
of a neighbour-free force function ``force_fn(R, aux) -> (E, F, aux)`` — a molecule, a cluster,
a host-callback reference such as DFT — through :func:`~jaxhybrid.rollout.evolve`, compiled
ahead of time, so that calling it times the dynamics alone. With ``batched=True`` one program
runs every (start, temperature, seed) as a ``vmap`` through :func:`jaxhybrid.ensemble.ensemble`
(the replicas split over all devices when there are several): the temperature is a traced argument, so
runs at several temperatures share one compilation. Seed ``s`` gives
``k1, k2 = split(PRNGKey(s))``: the Maxwell–Boltzmann momenta from ``k1``, step ``n``'s
thermostat noise from ``fold_in(k2, n)``.

:meth:`Program.best_time` is the program's best-of-``repeats`` wall time, the cost of an MD step
of identical dynamics for any two force functions (a learned potential vs its reference).
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.ensemble import ensemble
from jaxhybrid.rollout import evolve

from .configurations import maxwell_boltzmann
from .langevin import langevin
from .units import METAL, Units

__all__ = ["Program", "langevin_program", "langevin_trajectory"]


class Program(NamedTuple):
    """``run(state)``: the compiled rollout, returning the saved observations (leading axes:
    run, if batched, then step); ``state``: its initial state (stacked when batched)."""

    run: Callable[[Any], Any]
    state: Any

    def __call__(self):
        return self.run(self.state)

    def best_time(self, repeats: int = 1) -> float:
        """Best-of-``repeats`` wall seconds of ``run(state)`` (compiled beforehand, so no
        compilation is timed), blocked until ready."""
        if repeats < 1:
            raise ValueError(f"Program.best_time: repeats must be >= 1, got {repeats}.")
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(self())
            best = min(best, time.perf_counter() - t)
        return best


def _default_observe(s):
    return s.positions, s.energy, s.forces


def langevin_program(force_fn: Callable, positions, temperature, n_steps: int, *, dt: float, gamma: float, mass,
                     seeds: Sequence[int], units: Units = METAL, observe: Optional[Callable] = None,
                     batched: bool = False) -> Program:
    """The compiled Langevin run(s) of ``force_fn`` (module docstring).

    Args:
        force_fn: ``force_fn(R, aux) -> (E, F, aux)`` (``aux`` is ``None`` here).
        positions: the start ``(N, 3)``, or with ``batched`` one start per seed ``(S, N, 3)``.
        temperature: in the units' temperature (K for METAL); with ``batched`` a scalar or one
            per seed.
        n_steps: steps; every step's ``observe(state)`` is saved (default positions, energy,
            forces).
        dt, gamma: time step and friction in the units' time (ps and 1/ps for METAL).
        mass: scalar or per-atom ``(N,)`` masses in the units' mass unit (amu for METAL).
        seeds: the runs' seeds (only ``seeds[0]`` unless ``batched``).
    """
    seeds = [int(s) for s in (seeds if batched else list(seeds)[:1])]
    if not seeds or n_steps < 1 or not dt > 0 or not gamma > 0:
        raise ValueError(f"langevin_program: need at least one seed, n_steps >= 1, dt > 0 and gamma > 0; got "
                         f"{len(seeds)} seeds, {n_steps}, {dt}, {gamma}.")
    dtype = jnp.zeros(()).dtype
    Ts = np.broadcast_to(np.asarray(temperature, np.float64), (len(seeds),))
    R0s = np.asarray(positions, dtype)
    if R0s.ndim not in (2, 3) or R0s.shape[-1] != 3:
        raise ValueError(f"langevin_program: positions must be (N, 3) or (S, N, 3), got {R0s.shape}.")
    R0s = np.broadcast_to(R0s, (len(seeds),) + R0s.shape[-2:])
    m = units.mass(jnp.asarray(mass, dtype))
    m = m[:, None] if m.ndim == 1 else m
    observe = _default_observe if observe is None else observe
    states, keys = [], []
    for seed, Ti, Ri in zip(seeds, Ts, R0s):  # initial states on the host (init validates eagerly)
        k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
        kT = units.kT(float(Ti))
        Ri = jnp.asarray(Ri)
        states.append(langevin(force_fn, dt, kT, gamma).init(Ri, maxwell_boltzmann(k1, m, kT, Ri.shape[0], Ri.dtype), m, None))
        keys.append(k2)
    kTs = jnp.asarray([units.kT(float(Ti)) for Ti in Ts], dtype)
    keys = jnp.stack(keys)

    def one(s, kT, key):
        return evolve(langevin(force_fn, dt, kT, gamma), s, n_steps, key=key, observe=observe).saved

    if batched:   # replicas through the one vmap/shard path: split over all devices when there are several
        s0 = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *states)
        batch = ensemble(one)
        if hasattr(batch, "lower"):      # one device: compile ahead, so the program times dynamics only
            batch = batch.lower(s0, kTs, keys).compile()
        else:                            # sharded: compiled by a first (untimed) call
            jax.block_until_ready(batch(s0, kTs, keys))
        return Program(lambda s: batch(s, kTs, keys), s0)
    compiled = jax.jit(one).lower(states[0], kTs[0], keys[0]).compile()
    return Program(lambda s: compiled(s, kTs[0], keys[0]), states[0])


def langevin_trajectory(force_fn: Callable, positions, temperature: float, n_steps: int, *, dt: float, gamma: float,
                        mass, seed: int, units: Units = METAL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(n_steps, N, 3)``, energies ``(n_steps,)`` and forces of every step of one
    Langevin run (:func:`langevin_program`), as NumPy arrays."""
    prog = langevin_program(force_fn, positions, temperature, n_steps, dt=dt, gamma=gamma, mass=mass, seeds=[seed],
                            units=units)
    return tuple(np.asarray(a) for a in prog())
