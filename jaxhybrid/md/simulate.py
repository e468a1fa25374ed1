"""High-level MD driver: ``simulate(...)`` runs N steps of an integrator (an
:class:`~jaxhybrid.algorithm.Algorithm` built from the force function) in jit-compiled chunks
through :func:`jaxhybrid.rollout.evolve` and the one host driver :func:`jaxhybrid.driver.drive`:
it manages the neighbour list (allocation, overflow → re-allocation and re-run of the chunk),
records thermodynamics, writes extended XYZ, shows a progress bar and stops a blow-up with the
step number while keeping the last good state.

Chunk protocol (why the user never sees a truncated neighbour list): every chunk starts from
a state whose list did not overflow. The list is refreshed inside the force function at each
step; if any refresh in the chunk overflowed, the sticky flag is set, the chunk's result is
discarded (``drive``'s ``recover`` hook), the list is re-allocated with more room at the
chunk's starting positions and the chunk is run again from its starting state with the same
step keys (step ``n`` draws from ``fold_in(key, n)``). Results therefore equal those of an
infinitely large list, thermostat noise included.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..algorithm import Algorithm
from ..driver import chunked, drive
from ..random import check_key
from ..rollout import evolve, nonfinite
from .configurations import maxwell_boltzmann
from .fire import FIREState, fire
from .forces import neighbor_force_fn
from .io import check_symbols, write_extxyz
from .langevin import langevin
from .neighbours import NeighborListFn, neighbor_list
from .nose_hoover import NHCState, conserved_energy, nose_hoover_chain
from .nve import nve
from .pair import stress
from .space import Box, make_box, volume
from .units import LJ, Units

__all__ = ["simulate", "SimulationResult", "minimize"]

#: ``force_fn -> Algorithm``: how :func:`simulate` is told which integrator to run, e.g.
#: ``lambda f: md.langevin(f, dt, kT, gamma)``.
IntegratorFactory = Callable[[Callable], Algorithm]

_STATE_FIELDS = ("positions", "momenta", "energy", "mass", "aux")


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


def _cutoff_of(energy_fn, cutoff, what="simulate"):
    if cutoff is not None:
        return float(cutoff)
    c = getattr(energy_fn, "cutoff", None)
    if c is None:
        raise ValueError(f"{what}: pass cutoff= (the energy function has no .cutoff attribute).")
    return float(c)


def _overflowed(state) -> jax.Array:
    """The sticky overflow flag of the state's neighbour list (False without one). Energies on
    an overflowed list are NaN (:func:`~jaxhybrid.md.neighbours.poison`); the divergence guard
    lets such steps pass so that the flag reaches the end of the chunk, where ``_regrow``
    discards the chunk and re-runs it with a larger list."""
    return jnp.asarray(getattr(getattr(state, "aux", None), "overflow", False))


def _first_nonfinite(a: np.ndarray) -> Optional[tuple]:
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    i = tuple(int(k) for k in np.argwhere(bad)[0])
    return i, a[i]


def _check_real(name: str, x) -> None:
    """``ValueError`` unless ``x`` converts to an array of real numbers."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"simulate: {name} must be a numeric (N, 3) array ({e}).") from None
    if a.dtype.kind not in "iuf":
        raise ValueError(f"simulate: {name} must be real numbers, got dtype {a.dtype}.")


def _check_positive_int(name: str, v, lo: int = 1) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"simulate: {name} must be an int >= {lo}, got {v!r}.")


def _check_number(name: str, v, *, positive: bool = False, nonneg: bool = False) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"simulate: {name} must be a number, got {v!r}.") from None
    if not np.isfinite(x) or (positive and not x > 0) or (nonneg and not x >= 0):
        want = "positive and finite" if positive else ("finite and >= 0" if nonneg else "finite")
        raise ValueError(f"simulate: {name} must be {want}, got {v!r}.")
    return x


def _regrow(nl: NeighborListFn, box: Box) -> Callable:
    """``drive``'s ``recover`` hook: when the chunk's neighbour list overflowed (sticky flag),
    re-allocate it with more room at the chunk's starting positions and re-run the chunk."""

    def recover(start_state, result):
        nbrs = getattr(result.final, "aux", None)
        if nbrs is None or getattr(nbrs, "overflow", None) is None or not bool(nbrs.overflow):
            return None
        grown = nl.reallocate(start_state.positions, box, nbrs)
        if hasattr(start_state, "_replace"):
            return start_state._replace(aux=grown)
        import equinox as eqx

        return eqx.tree_at(lambda s: s.aux, start_state, grown)

    return recover


def _ensemble_integrator(ensemble: str, dt: float, kT: Optional[float] = None, gamma: float = 1.0,
                        tau: Optional[float] = None) -> IntegratorFactory:
    """The integrator factory ``force_fn -> Algorithm`` named by ``ensemble``: ``"nve"``
    (:func:`~jaxhybrid.md.nve.nve`), ``"langevin"`` (:func:`~jaxhybrid.md.langevin.langevin`,
    friction ``gamma``) or ``"nhc"`` (:func:`~jaxhybrid.md.nose_hoover.nose_hoover_chain`,
    period ``tau``, default ``100 dt``)."""
    if ensemble == "nve":
        return lambda f: nve(f, dt)
    if ensemble not in ("langevin", "nhc"):
        raise ValueError(f"simulate: ensemble must be 'nve', 'langevin' or 'nhc', got {ensemble!r} "
                         "(or pass integrator=, a function force_fn -> Algorithm).")
    if kT is None:
        raise ValueError(f"simulate: ensemble={ensemble!r} needs temperature=.")
    if ensemble == "langevin":
        return lambda f: langevin(f, dt, kT, gamma)
    return lambda f: nose_hoover_chain(f, dt, kT, tau if tau is not None else 100 * dt)


def simulate(
    energy_fn: Callable,
    positions,
    box,
    *,
    n_steps: int,
    dt: float,
    integrator: Optional[IntegratorFactory] = None,
    ensemble: Optional[str] = None,
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
    key: Optional[jax.Array] = None,
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
        n_steps, dt: number of steps and time step (time units of ``units``; ``thermo["time"]``
            is ``step · dt``).
        integrator: a factory ``force_fn -> Algorithm`` whose ``init(positions, momenta, mass,
            aux)`` gives a state with ``positions, momenta, energy, mass, aux`` fields and whose
            ``step(state, key) -> (state, info)`` advances it, e.g. ``lambda f: md.langevin(f,
            dt, kT, gamma)`` or a user-built integrator. Exclusive with ``ensemble``.
        ensemble: convenience names for the built-in integrators: ``"nve"`` (velocity Verlet,
            the default), ``"langevin"`` (BAOAB, friction ``gamma``) or ``"nhc"`` (Nosé–Hoover
            chain, period ``tau``, default ``100 dt``), at ``temperature``.
        temperature: target / initial temperature (K for metal units); initial momenta are
            Maxwell–Boltzmann at this temperature unless ``momenta`` is given.
        masses: scalar, per-species (with ``species``) or per-atom, in the unit's mass unit.
        cutoff, skin, neighbor_format, max_neighbors: neighbour-list settings.
        chunk_size: steps per jit-compiled chunk (re-run unit after an overflow).
        thermo_every: thermodynamics sampling interval; ``save_every``: positions sampling
            interval (multiple of ``thermo_every``; written to ``trajectory_path`` as extended
            XYZ when given).
        key: PRNG key; ``split(key)`` gives the Maxwell–Boltzmann momenta key and the dynamics
            key (step ``n`` of the integrator gets ``fold_in(dynamics key, n)``). Required when
            momenta are drawn or the integrator is stochastic.
        blowup_energy_per_atom: stop when ``|E_total − E_total(chunk start)| / N`` exceeds this
            (energy units), or on any NaN/Inf.

    Returns:
        :class:`SimulationResult`. Raises :class:`~jaxhybrid.rollout.DivergenceError` on a
        blow-up (``.step``, ``.state`` = last good state), and ``ValueError`` up front, before
        anything is compiled, for malformed arguments — a NaN/Inf position or momentum names
        the atom. Steps taken on an overflowed neighbour list (NaN energies, see
        :func:`~jaxhybrid.md.neighbours.poison`) are not a divergence: the chunk is re-run with
        a larger list.
    """
    t0 = time.perf_counter()
    _check_real("positions", positions)
    positions = jnp.asarray(positions)
    if positions.ndim != 2 or positions.shape[1] != 3 or positions.shape[0] == 0:
        raise ValueError(f"simulate: positions must have shape (N, 3) with N >= 1, got {positions.shape}.")
    if not jnp.issubdtype(positions.dtype, jnp.floating):
        positions = positions.astype(jnp.zeros(()).dtype)
    n = positions.shape[0]
    bad = _first_nonfinite(np.asarray(positions))
    if bad is not None:
        raise ValueError(f"simulate: the position of atom {bad[0][0]} is {bad[1]} (coordinate {bad[0][1]}); every "
                         "position must be finite — fix or drop that atom.")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"simulate: n_steps must be a non-negative int, got {n_steps!r}.")
    dt = _check_number("dt", dt, positive=True)
    _check_positive_int("thermo_every", thermo_every)
    _check_positive_int("chunk_size", chunk_size)
    if save_every is not None:
        _check_positive_int("save_every", save_every, 0)
    if max_neighbors is not None:
        _check_positive_int("max_neighbors", max_neighbors)
    if temperature is not None:
        temperature = _check_number("temperature", temperature, nonneg=True)
    _check_number("blowup_energy_per_atom", blowup_energy_per_atom, positive=True)
    _check_number("gamma", gamma, positive=True)
    if tau is not None:
        _check_number("tau", tau, positive=True)
    if cutoff is not None:
        cutoff = _check_number("cutoff", cutoff, positive=True)
    _check_number("skin", skin, nonneg=True)
    if key is not None:
        check_key(key, "simulate")
    if not isinstance(units, Units):
        raise ValueError(f"simulate: units must be md.LJ, md.METAL or another md.Units, got {type(units).__name__}.")
    if trajectory_path is not None and not save_every:
        raise ValueError("simulate: trajectory_path needs save_every= (how often a frame is written).")
    if trajectory_path is not None:
        check_symbols(symbols, n, "simulate")  # before the first chunk runs, not when its frames are written
    if momenta is not None:
        _check_real("momenta", momenta)
        momenta = jnp.asarray(momenta, positions.dtype)
        if momenta.shape != positions.shape:
            raise ValueError(f"simulate: momenta must have the shape of positions {positions.shape}, got {momenta.shape}.")
        bad = _first_nonfinite(np.asarray(momenta))
        if bad is not None:
            raise ValueError(f"simulate: the momentum of atom {bad[0][0]} is {bad[1]} (component {bad[0][1]}); every "
                             "momentum must be finite.")
    if integrator is not None and ensemble is not None:
        raise ValueError("simulate: pass either integrator= (a function force_fn -> Algorithm) or ensemble=, not both.")
    if integrator is not None and not callable(integrator):
        raise ValueError(f"simulate: integrator must be a function force_fn -> Algorithm, got {type(integrator).__name__}; "
                         "e.g. integrator=lambda f: md.langevin(f, dt, kT, gamma).")
    if momenta is None and temperature is None:
        raise ValueError("simulate: give momenta= or temperature= (for Maxwell–Boltzmann momenta).")
    kT = None if temperature is None else units.kT(float(temperature))
    if integrator is None:
        ensemble = "nve" if ensemble is None else ensemble
        integrator = _ensemble_integrator(ensemble, dt, kT, gamma, tau)
    if key is None and (momenta is None or ensemble == "langevin"):
        raise ValueError("simulate: pass key=jax.random.PRNGKey(seed): "
                         + ("Maxwell–Boltzmann momenta are drawn." if momenta is None else
                            "the Langevin thermostat draws noise."))
    save_every = save_every or 0
    if save_every and save_every % thermo_every:
        raise ValueError("simulate: save_every must be a multiple of thermo_every.")
    if n_steps % thermo_every:
        raise ValueError(f"simulate: n_steps={n_steps} must be a multiple of thermo_every={thermo_every}.")
    chunk_size = max(thermo_every, (min(chunk_size, max(n_steps, thermo_every)) // thermo_every) * thermo_every)
    if save_every:
        chunk_size = max(save_every, (chunk_size // save_every) * save_every)
    try:
        b = np.asarray(box.matrix if isinstance(box, Box) else box)
        if b.dtype == bool or not (np.issubdtype(b.dtype, np.integer) or np.issubdtype(b.dtype, np.floating)):
            raise ValueError(f"simulate: box must hold real numbers, got dtype {b.dtype}.")
        box = make_box(box)
    except (TypeError, ValueError) as e:
        if str(e).startswith("simulate:"):
            raise
        raise ValueError(f"simulate: invalid box — a number, a (3,) vector of lengths or a (3, 3) matrix with "
                         f"right-handed lattice vectors as rows ({e}).") from None
    if not np.all(np.isfinite(np.asarray(box.matrix))):
        raise ValueError(f"simulate: the box has NaN/Inf entries: {np.asarray(box.matrix).tolist()}.")
    dtype = positions.dtype
    species_arr = None
    if species is not None:
        sp = np.asarray(species)
        if sp.shape != (n,) or not (np.issubdtype(sp.dtype, np.integer) or (sp.size and np.all(np.mod(sp, 1) == 0))):
            raise ValueError(f"simulate: species must be {n} integers (one per atom), got shape {sp.shape}, dtype {sp.dtype}.")
        if sp.size and sp.min() < 0:
            raise ValueError(f"simulate: species must be >= 0, got {int(sp.min())} (atom {int(np.argmin(sp))}).")
        species_arr = jnp.asarray(sp, jnp.int32)

    try:
        m_np = np.asarray(masses)
        if m_np.dtype.kind not in "iuf":
            raise TypeError
        m_np = m_np.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"simulate: masses must be a real number or an array of them, got {masses!r}.") from None
    if m_np.ndim > 1 or (m_np.ndim == 1 and m_np.shape[0] != n and species_arr is None):
        raise ValueError(f"simulate: masses must be a scalar, per atom ({n},) or per species (with species=); got "
                         f"shape {m_np.shape}.")
    if not np.all(np.isfinite(m_np) & (m_np > 0)):
        raise ValueError(f"simulate: masses must be positive and finite, got {m_np.tolist() if m_np.size < 10 else m_np}.")
    m = jnp.asarray(m_np, dtype)
    if m.ndim == 1 and species_arr is not None and m.shape[0] != n:
        if int(jnp.max(species_arr)) >= m.shape[0]:
            raise ValueError(f"simulate: species go up to {int(jnp.max(species_arr))} but masses has {m.shape[0]} "
                             "entries (one per species); give a mass for every species.")
        m = m[species_arr]
    mass = units.mass(m).astype(dtype)

    rc = _cutoff_of(energy_fn, cutoff)
    nl = neighbor_list(rc, skin, neighbor_format)
    nbrs = nl.allocate(positions, box, max_neighbors=max_neighbors)
    n_realloc_init = 0
    if bool(nbrs.overflow):  # a requested capacity that is too small is grown, never used truncated
        nbrs = nl.reallocate(positions, box, nbrs)
        n_realloc_init = 1
    force_fn = neighbor_force_fn(energy_fn, nl, box, species_arr)
    k_mom, k_dyn = (None, None) if key is None else jax.random.split(key)
    if momenta is None:
        momenta = maxwell_boltzmann(k_mom, mass, kT, n, dtype)

    algo = integrator(force_fn)
    if not (callable(getattr(algo, "init", None)) and callable(getattr(algo, "step", None))):
        raise ValueError(f"simulate: integrator(force_fn) must return an Algorithm (init, step), got {type(algo).__name__}.")
    state = algo.init(positions, momenta, mass, nbrs)
    missing = [f for f in _STATE_FIELDS if not hasattr(state, f)]
    if missing:
        raise ValueError(f"simulate: the integrator's state lacks the MD fields {missing}; a state needs "
                         f"{list(_STATE_FIELDS)} (as md.MDState), aux being the neighbour list it was given.")
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

    cache: dict = {}

    def run_chunk(s, start, length):
        """``length`` steps from global step ``start``; the blow-up reference is the total
        energy at the chunk's start."""
        if length not in cache:

            def run(s0, n0):
                e_ref = total_energy(s0)

                def is_bad(x, info):
                    bad = nonfinite((x.positions, x.momenta, x.energy))
                    bad = bad | (jnp.abs(total_energy(x) - e_ref) > blowup_energy_per_atom * n)
                    return bad & ~_overflowed(x)  # overflow: NaN by design, the chunk is re-run

                return evolve(algo, s0, length, key=k_dyn, start=n0, save_every=thermo_every, observe=observe,
                              is_bad=is_bad)

            cache[length] = jax.jit(run)
        return cache[length](s, jnp.asarray(start, jnp.int32))

    frames = []
    traj_path = Path(trajectory_path) if trajectory_path else None

    def on_chunk(done, result):
        obs = result.saved
        if save_every:
            every_k = save_every // thermo_every
            sel = np.asarray(obs["positions"][every_k - 1 :: every_k])
            frames.append(sel)
            if traj_path is not None:
                # the first chunk replaces an old file, later chunks append (each write atomic)
                write_extxyz(traj_path, sel, box, symbols, append=len(frames) > 1)
        if progress:
            return {"T": float(2.0 * obs["kinetic"][-1] / (n_dof * units.kB)),
                    "E/N": float((obs["potential"][-1] + obs["kinetic"][-1]) / n)}
        return None

    run = drive(run_chunk, state, n_steps, chunk_size=chunk_size, what="simulate", progress=progress,
                hint="reduce dt, check the initial configuration (overlaps) or the potential "
                     f"(the guard fires on NaN/Inf or |ΔE_total|/N > {blowup_energy_per_atom} within a chunk)",
                on_chunk=on_chunk, recover=_regrow(nl, box))
    state = run.carry

    thermo = {}
    if run.outputs:
        keys = [k for k in run.outputs[0] if k != "positions"]
        for k in keys:
            thermo[k] = np.concatenate([np.asarray(r[k]) for r in run.outputs])
        steps = np.arange(1, len(thermo["potential"]) + 1) * thermo_every
        thermo["step"] = steps
        thermo["time"] = steps * float(dt)
        thermo["total"] = thermo["potential"] + thermo["kinetic"]
        thermo["temperature"] = 2.0 * thermo["kinetic"] / (n_dof * units.kB)
    traj = np.concatenate(frames) if frames else None
    return SimulationResult(state, thermo, traj, run.n_recoveries + n_realloc_init, int(state.aux.n_builds),
                            time.perf_counter() - t0)


def minimize(energy_fn: Callable, positions, box, *, species=None, cutoff=None, skin: float = 0.3, max_steps: int = 5000,
             force_tol: float = 1e-4, dt_start: float = 0.01, dt_max: float = 0.1, chunk_size: int = 200, mass=1.0,
             progress: bool = False) -> FIREState:
    """FIRE minimisation (:func:`~jaxhybrid.md.fire.fire`) until ``max_i |F_i| < force_tol`` or
    ``max_steps``, in compiled chunks of ``chunk_size`` steps through
    :func:`jaxhybrid.driver.drive` (neighbour-list overflow → re-allocation and re-run; NaN/Inf →
    :class:`~jaxhybrid.rollout.DivergenceError` with the last good state). Returns the final
    :class:`~jaxhybrid.md.fire.FIREState` (``.positions``, ``.energy``, ``.forces``)."""
    positions = jnp.asarray(positions)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"minimize: positions must have shape (N, 3), got {positions.shape}.")
    if not float(force_tol) > 0:
        raise ValueError(f"minimize: force_tol must be positive, got {force_tol}.")
    box = make_box(box)
    rc = _cutoff_of(energy_fn, cutoff, "minimize")
    nl = neighbor_list(rc, skin, "dense")
    nbrs = nl.allocate(positions, box)
    species_arr = None if species is None else jnp.asarray(species, jnp.int32)
    algo = fire(neighbor_force_fn(energy_fn, nl, box, species_arr), dt_start, dt_max)
    state = algo.init(positions, None, mass, nbrs)

    def converged(s) -> bool:
        return float(jnp.max(jnp.linalg.norm(s.forces, axis=-1))) < force_tol

    if converged(state):
        return state
    run_chunk = chunked(algo, observe=lambda s: s.energy,
                        is_bad=lambda s, info: nonfinite((s.positions, s.energy)) & ~_overflowed(s))
    run = drive(run_chunk, state, max_steps, chunk_size=chunk_size, what="minimize", progress=progress,
                hint="reduce dt_start/dt_max or check the initial configuration (overlaps)",
                until=lambda step, result: converged(result.final), recover=_regrow(nl, box), keep_outputs=False)
    return run.carry
