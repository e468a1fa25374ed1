"""High-level MD driver: ``simulate(...)`` runs N steps in jit-compiled chunks through the
shared :func:`jaxhybrid.rollout.rollout`, manages the neighbour list (allocation, overflow →
re-allocation and re-run of the chunk), records thermodynamics, writes extended XYZ, shows a
progress bar and stops a blow-up with the step number while keeping the last good state.

Chunk protocol (why the user never sees a truncated neighbour list): every chunk starts from
a state whose list did not overflow. The list is refreshed inside the force function at each
step; if any refresh in the chunk overflowed, the sticky flag is set, the chunk's result is
discarded, the list is re-allocated with more room at the chunk's starting positions and the
chunk is run again from its starting state. Results therefore equal those of an
infinitely large list.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..rollout import DivergenceError, nonfinite, rollout
from .configurations import maxwell_boltzmann
from .fire import fire
from .forces import neighbor_force_fn
from .io import write_extxyz
from .langevin import langevin
from .neighbours import NeighborListFn, neighbor_list
from .nose_hoover import NHCState, conserved_energy, nose_hoover_chain
from .nve import nve
from .pair import stress
from .space import make_box, volume
from .units import LJ, Units

__all__ = ["simulate", "SimulationResult", "minimize", "run_chunks"]


class SimulationResult(NamedTuple):
    """``state``: final integrator state (positions unwrapped; ``state.aux`` the neighbour
    list). ``thermo``: dict of NumPy arrays sampled every ``thermo_every`` steps (``step``,
    ``time``, ``potential``, ``kinetic``, ``total``, ``temperature``, ``pressure``,
    ``conserved``), energies extensive. ``trajectory``: saved positions (F, N, 3) or None.
    ``n_reallocations``: neighbour-list re-allocations; ``n_rebuilds``: list builds."""

    state: Any
    thermo: dict
    trajectory: Optional[np.ndarray]
    n_reallocations: int
    n_rebuilds: int
    wall_s: float


def _cutoff_of(energy_fn, cutoff):
    if cutoff is not None:
        return float(cutoff)
    c = getattr(energy_fn, "cutoff", None)
    if c is None:
        raise ValueError("simulate: pass cutoff= (the energy function has no .cutoff attribute).")
    return float(c)


def run_chunks(step, state, n_steps, *, chunk_size, observe, every, neighbor_fn: Optional[NeighborListFn] = None, box=None,
               is_bad=None, reference=None, progress=False, on_chunk=None, what="simulate"):
    """Generic chunked driver used by :func:`simulate` and :func:`minimize`: runs ``step``
    through :func:`rollout` in jit-compiled chunks of ``chunk_size`` steps (a multiple of
    ``every``), re-allocates an overflowed neighbour list (``state.aux``) and re-runs the
    chunk, and raises :class:`DivergenceError` (global step, last good state) when
    ``is_bad(state, ref)`` fires, ``ref = reference(chunk start state)`` (e.g. its energy).
    Returns ``(state, [observations per chunk], n_reallocations)``."""
    if chunk_size % every:
        raise ValueError(f"chunk_size={chunk_size} must be a multiple of the sampling interval {every}.")
    if n_steps % every:
        raise ValueError(f"n_steps={n_steps} must be a multiple of the sampling interval {every}.")
    cache = {}

    reference = reference or (lambda s: None)

    def runner(length):
        if length not in cache:

            def run(s, ref):
                bad = None if is_bad is None else (lambda x: is_bad(x, ref))
                return rollout(step, s, length, save_every=every, observe=observe, is_bad=bad)

            cache[length] = jax.jit(run)
        return cache[length]

    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_steps, desc=what, unit="step", leave=False)
        except ImportError:  # pragma: no cover
            bar = None
    done = 0
    observations = []
    n_realloc = 0
    try:
        while done < n_steps:
            length = min(chunk_size, n_steps - done)
            res = runner(length)(state, reference(state))
            nbrs = getattr(res.final, "aux", None)
            if neighbor_fn is not None and nbrs is not None and bool(nbrs.overflow):
                grown = neighbor_fn.reallocate(state.positions, box, nbrs)
                state = state._replace(aux=grown)
                n_realloc += 1
                if n_realloc > 50:
                    raise RuntimeError(f"{what}: neighbour list kept overflowing after 50 re-allocations.")
                continue  # recompute the affected chunk from its (good) starting state
            steps_done = int(res.steps_done)
            if steps_done < length:
                raise DivergenceError(
                    f"{what}: the simulation blew up (NaN/Inf or energy explosion) at step {done + steps_done + 1} "
                    f"of {n_steps}; the last good state (after step {done + steps_done}) is in `.state`. "
                    "Reduce dt, check the initial configuration (overlaps) or the potential.",
                    step=done + steps_done + 1,
                    state=res.final,
                )
            state = res.final
            observations.append(jax.tree_util.tree_map(np.asarray, res.saved))
            done += length
            if on_chunk is not None:
                on_chunk(done, observations[-1])
            if bar is not None:
                bar.update(length)
    finally:
        if bar is not None:
            bar.close()
    return state, observations, n_realloc


def simulate(
    energy_fn: Callable,
    positions,
    box,
    *,
    n_steps: int,
    dt: float,
    ensemble: str = "nve",
    temperature: Optional[float] = None,
    momenta=None,
    masses=1.0,
    species=None,
    units: Units = LJ,
    gamma: float = 1.0,
    tau: Optional[float] = None,
    cutoff: Optional[float] = None,
    skin: float = 0.3,
    neighbor_format: str = "dense",
    max_neighbors: Optional[int] = None,
    chunk_size: int = 1000,
    thermo_every: int = 100,
    save_every: Optional[int] = None,
    trajectory_path=None,
    symbols="X",
    seed: int = 0,
    progress: bool = True,
    compute_pressure: bool = True,
    blowup_energy_per_atom: float = 10.0,
) -> SimulationResult:
    """Run molecular dynamics.

    Args:
        energy_fn: ``E(positions, neighbours, box, species)`` — a pair potential
            (:func:`~jaxhybrid.md.pair.lennard_jones`, analytic forces), an
            :class:`~jaxhybrid.md.eam.EAM`, or any function (a network) with ``cutoff=``.
        positions: (N, 3); box: scalar, (3,) or (3, 3) (rows = lattice vectors).
        n_steps, dt: number of steps and time step (time units of ``units``).
        ensemble: ``"nve"`` (velocity Verlet), ``"langevin"`` (BAOAB, friction ``gamma``) or
            ``"nhc"`` (Nosé–Hoover chain, period ``tau``, default ``100 dt``).
        temperature: target / initial temperature (K for metal units); initial momenta are
            Maxwell–Boltzmann at this temperature unless ``momenta`` is given.
        masses: scalar, per-species (with ``species``) or per-atom, in the unit's mass unit.
        cutoff, skin, neighbor_format, max_neighbors: neighbour-list settings.
        chunk_size: steps per jit-compiled chunk (re-run unit after an overflow).
        thermo_every: thermodynamics sampling interval; ``save_every``: positions sampling
            interval (multiple of ``thermo_every``; written to ``trajectory_path`` as extended
            XYZ when given).
        blowup_energy_per_atom: stop when ``|E_total − E_total(chunk start)| / N`` exceeds this
            (energy units), or on any NaN/Inf.

    Returns:
        :class:`SimulationResult`. Raises :class:`~jaxhybrid.rollout.DivergenceError` on a
        blow-up (``.step``, ``.state`` = last good state).
    """
    t0 = time.perf_counter()
    positions = jnp.asarray(positions)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"simulate: positions must have shape (N, 3), got {positions.shape}.")
    n = positions.shape[0]
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"simulate: n_steps must be a non-negative int, got {n_steps!r}.")
    if not float(dt) > 0:
        raise ValueError(f"simulate: dt must be positive, got {dt}.")
    if ensemble not in ("nve", "langevin", "nhc"):
        raise ValueError(f"simulate: ensemble must be 'nve', 'langevin' or 'nhc', got {ensemble!r}.")
    if ensemble != "nve" and temperature is None:
        raise ValueError(f"simulate: ensemble={ensemble!r} needs temperature=.")
    if momenta is None and temperature is None:
        raise ValueError("simulate: give momenta= or temperature= (for Maxwell–Boltzmann momenta).")
    save_every = save_every or 0
    if save_every and save_every % thermo_every:
        raise ValueError("simulate: save_every must be a multiple of thermo_every.")
    if n_steps % thermo_every:
        raise ValueError(f"simulate: n_steps={n_steps} must be a multiple of thermo_every={thermo_every}.")
    chunk_size = max(thermo_every, (min(chunk_size, max(n_steps, thermo_every)) // thermo_every) * thermo_every)
    if save_every:
        chunk_size = max(save_every, (chunk_size // save_every) * save_every)
    box = make_box(box)
    dtype = positions.dtype
    species_arr = None if species is None else jnp.asarray(species, jnp.int32)
    if species_arr is not None and species_arr.shape != (n,):
        raise ValueError(f"simulate: species must have shape ({n},), got {species_arr.shape}.")

    m = jnp.asarray(masses, dtype)
    if m.ndim == 1 and species_arr is not None and m.shape[0] != n:
        m = m[species_arr]
    mass = units.mass(m).astype(dtype)
    kT = None if temperature is None else units.kT(float(temperature))

    rc = _cutoff_of(energy_fn, cutoff)
    nl = neighbor_list(rc, skin, neighbor_format)
    nbrs = nl.allocate(positions, box, max_neighbors=max_neighbors)
    n_realloc_init = 0
    if bool(nbrs.overflow):  # a requested capacity that is too small is grown, never used truncated
        nbrs = nl.reallocate(positions, box, nbrs)
        n_realloc_init = 1
    force_fn = neighbor_force_fn(energy_fn, nl, box, species_arr)
    key = jax.random.PRNGKey(seed)
    k_mom, k_dyn = jax.random.split(key)
    if momenta is None:
        momenta = maxwell_boltzmann(k_mom, mass, kT, n, dtype)

    if ensemble == "nve":
        integ = nve(force_fn, dt)
        state = integ.init(positions, momenta, mass, nbrs)
    elif ensemble == "langevin":
        integ = langevin(force_fn, dt, kT, gamma)
        state = integ.init(positions, momenta, mass, nbrs, key=k_dyn)
    else:
        integ = nose_hoover_chain(force_fn, dt, kT, tau if tau is not None else 100 * dt)
        state = integ.init(positions, momenta, mass, nbrs)
    n_dof = 3 * n - 3
    vol = volume(box)

    def observe(s):
        K = 0.5 * jnp.sum(s.momenta * s.momenta / s.mass)
        out = {"potential": s.energy, "kinetic": K}
        out["conserved"] = conserved_energy(s) if isinstance(s, NHCState) else s.energy + K
        if compute_pressure:
            W = jnp.trace(stress(energy_fn, s.positions, s.aux, box, species_arr)) * vol  # = -tr ∂E/∂ε
            out["pressure"] = (2.0 * K + W) / (3.0 * vol)
        if save_every:
            out["positions"] = s.positions
        return out

    def total_energy(s):
        return s.energy + 0.5 * jnp.sum(s.momenta * s.momenta / s.mass)

    def is_bad(s, e_ref):
        bad = nonfinite((s.positions, s.momenta, s.energy))
        return bad | (jnp.abs(total_energy(s) - e_ref) > blowup_energy_per_atom * n)

    frames = []
    traj_path = Path(trajectory_path) if trajectory_path else None
    if traj_path is not None and traj_path.exists():
        traj_path.unlink()
    thermo_rows = []

    def on_chunk(done, obs):
        thermo_rows.append(obs)
        if save_every:
            every_k = save_every // thermo_every
            sel = obs["positions"][every_k - 1 :: every_k]
            frames.append(sel)
            if traj_path is not None:
                write_extxyz(traj_path, sel, box, symbols, append=True)
        if progress:
            _progress(done, n_steps, t0)

    state, _, n_realloc_total = run_chunks(
        integ.step, state, n_steps, chunk_size=chunk_size, observe=observe, every=thermo_every, neighbor_fn=nl, box=box,
        is_bad=is_bad, reference=total_energy, progress=False, on_chunk=on_chunk, what="simulate")
    if progress:
        print()

    thermo = {}
    if thermo_rows:
        keys = [k for k in thermo_rows[0] if k != "positions"]
        for k in keys:
            thermo[k] = np.concatenate([np.asarray(r[k]) for r in thermo_rows])
        steps = np.arange(1, len(thermo["potential"]) + 1) * thermo_every
        thermo["step"] = steps
        thermo["time"] = steps * float(dt)
        thermo["total"] = thermo["potential"] + thermo["kinetic"]
        thermo["temperature"] = 2.0 * thermo["kinetic"] / (n_dof * units.kB)
    traj = np.concatenate(frames) if frames else None
    return SimulationResult(state, thermo, traj, n_realloc_total + n_realloc_init, int(state.aux.n_builds),
                            time.perf_counter() - t0)


def _progress(done, total, t0):
    frac = done / max(total, 1)
    bar = "#" * int(30 * frac)
    rate = done / max(time.perf_counter() - t0, 1e-9)
    print(f"\r[{bar:<30}] {done}/{total} steps  {rate:,.0f} steps/s", end="", flush=True)


def minimize(energy_fn: Callable, positions, box, *, species=None, cutoff=None, skin: float = 0.3, max_steps: int = 5000,
             force_tol: float = 1e-4, dt_start: float = 0.01, dt_max: float = 0.1, chunk_size: int = 200, mass=1.0):
    """FIRE minimisation until ``max |F_i| < force_tol`` or ``max_steps``; returns the final
    :class:`~jaxhybrid.md.fire.FIREState` (``.positions``, ``.energy``, ``.forces``)."""
    positions = jnp.asarray(positions)
    box = make_box(box)
    rc = _cutoff_of(energy_fn, cutoff)
    nl = neighbor_list(rc, skin, "dense")
    nbrs = nl.allocate(positions, box)
    species_arr = None if species is None else jnp.asarray(species, jnp.int32)
    integ = fire(neighbor_force_fn(energy_fn, nl, box, species_arr), dt_start, dt_max)
    state = integ.init(positions, None, mass, nbrs)
    done = 0
    while done < max_steps:
        if float(jnp.max(jnp.linalg.norm(state.forces, axis=-1))) < force_tol:
            break
        length = min(chunk_size, max_steps - done)
        state, _, _ = run_chunks(integ.step, state, length, chunk_size=length, observe=lambda s: s.energy, every=length,
                                 neighbor_fn=nl, box=box, is_bad=lambda s, ref: nonfinite((s.positions, s.energy)),
                                 what="minimize")
        done += length
    return state
