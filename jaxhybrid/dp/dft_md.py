"""A first-principles reference as an MD force function, and cached DFT-MD trajectories.

:func:`dft_force_fn` turns a labeller with ``energy_forces(symbols, R) -> (E eV, F eV/Å)`` (e.g.
:class:`~jaxhybrid.dp.labellers.PySCFLabeller`, Kohn–Sham DFT) into the MD engine's
``force_fn(R, aux) -> (E, F, aux)``, called on the host through ``jax.pure_callback``. The
reference therefore runs inside the *same* compiled integrator and
:func:`~jaxhybrid.rollout.evolve` loop as a learned potential
(:func:`jaxhybrid.md.langevin_program`), so the two costs per step compare identical dynamics.

:func:`dft_md` runs Langevin DFT-MD of a molecule from a randomly rotated start (an isolated
molecule has no preferred orientation) and keeps every step as a labelled frame, cached as a
DeePMD-kit system directory under ``jaxhybrid.cache.cache_dir("dp")``
(:func:`~jaxhybrid.dp.labellers.cached_system`), so a second call reads the labels back.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .data import System
from .labellers import cached_system

__all__ = ["one_thread", "dft_force_fn", "dft_md", "VACUUM_CELL"]

#: side (Å) of the nominal cubic cell written with non-periodic frames
VACUUM_CELL = 100.0


@contextlib.contextmanager
def one_thread():
    """Run PySCF's OpenMP kernels on one thread (restored afterwards). For a molecule this small
    the threads only add synchronisation; on a shared 2-core machine two spinning OpenMP threads
    made a water SCF 7× slower (1.27 s vs 0.18 s). Without PySCF installed it does nothing."""
    try:
        from pyscf import lib
    except ImportError:
        yield
        return
    n = lib.num_threads()
    lib.num_threads(1)
    try:
        yield
    finally:
        lib.num_threads(n)


def dft_force_fn(labeller, symbols: Sequence[str], e_ref: float = 0.0) -> Callable:
    """``force_fn(R, aux) -> (E − e_ref, F, aux)`` of :mod:`jaxhybrid.md` whose energy (eV) and
    forces (eV/Å) come from ``labeller.energy_forces(symbols, R)`` (R in Å) on the host, through
    ``jax.pure_callback``. The dynamics run in the default float32, so the energy is returned
    relative to ``e_ref`` (e.g. the energy of the starting geometry): a total energy of −2,076 eV
    would keep only ~0.1 meV in float32."""
    import jax
    import jax.numpy as jnp

    symbols = list(symbols)

    def force_fn(R, aux=None):
        dtype = np.dtype(R.dtype)

        def host(x):
            with one_thread():
                e, f = labeller.energy_forces(symbols, np.asarray(x, np.float64))
            return np.asarray(e - e_ref, dtype), np.asarray(f, dtype)

        shapes = (jax.ShapeDtypeStruct((), R.dtype), jax.ShapeDtypeStruct(R.shape, R.dtype))
        e, f = jax.pure_callback(host, shapes, R)
        return jnp.asarray(e), jnp.asarray(f), aux

    return force_fn


def _haar_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniform (Haar) random rotation: QR of a Gaussian matrix with the sign fix, det = +1."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def dft_md(labeller, symbols: Sequence[str], positions, masses: Sequence[float], T: float, n_steps: int, *,
           dt_fs: float = 0.5, gamma_per_ps: float = 20.0, seed: int = 0, name: str, cache: Optional[Path] = None,
           log: Optional[Callable[[str], None]] = None) -> System:
    """Labelled Langevin DFT-MD trajectory (every step a frame) of the molecule ``symbols`` at
    ``positions`` (Å; centred, then rotated by a Haar rotation drawn from
    ``default_rng(1009 seed + int(T))``) with ``masses`` (amu) at ``T`` (K): BAOAB with
    ``dt_fs`` and ``gamma_per_ps``, the momenta and noise from ``seed``
    (:func:`jaxhybrid.md.langevin_trajectory`). Returns a non-periodic
    :class:`~jaxhybrid.dp.data.System` of ``labeller.type_map``, cached under
    ``<cache>/<name>-<hash of the arguments and the labeller's settings>``."""
    from jaxhybrid import md

    symbols = list(symbols)
    start = np.asarray(positions, np.float64)
    if n_steps < 1 or T <= 0 or dt_fs <= 0 or gamma_per_ps <= 0:
        raise ValueError(f"dft_md: need n_steps >= 1, T > 0, dt_fs > 0 and gamma_per_ps > 0; got {n_steps}, {T}, {dt_fs}, "
                         f"{gamma_per_ps}.")
    if start.shape != (len(symbols), 3) or len(masses) != len(symbols):
        raise ValueError(f"dft_md: positions must be ({len(symbols)}, 3) and masses {len(symbols)} long, one per symbol; "
                         f"got {start.shape} and {len(masses)}.")
    type_map = tuple(labeller.type_map)
    spec = dict(kind="dft-md-langevin", labeller=labeller.name, xc=getattr(labeller, "xc", None),
                basis=getattr(labeller, "basis", None), grid_level=getattr(labeller, "grid_level", None),
                conv_tol=getattr(labeller, "conv_tol", None), symbols=symbols, start=start.round(6).tolist(),
                masses=[float(m) for m in masses], T=float(T), n_steps=int(n_steps), dt_fs=float(dt_fs),
                gamma_per_ps=float(gamma_per_ps), seed=int(seed), noise="fold_in")

    def make():
        t0 = time.perf_counter()
        rng = np.random.default_rng(seed * 1009 + int(T))
        R0 = (start - start.mean(0)) @ _haar_rotation(rng).T
        R0 = np.asarray(R0, np.float32).astype(np.float64)
        with one_thread():
            e_ref = float(labeller.energy_forces(symbols, R0)[0])
        R, E, F = md.langevin_trajectory(dft_force_fn(labeller, symbols, e_ref), R0, T, n_steps, dt=dt_fs * 1e-3,
                                         gamma=gamma_per_ps, mass=masses, seed=seed)
        sysm = System(type_map, np.array([type_map.index(s) for s in symbols]), R.astype(np.float64),
                      np.broadcast_to(np.eye(3) * VACUUM_CELL, (n_steps, 3, 3)).copy(), E.astype(np.float64) + e_ref,
                      F.astype(np.float64), None, False).validate()
        if log:
            log(f"dft_md {name}: T={T} {n_steps} steps in {time.perf_counter() - t0:.1f}s")
        return sysm

    return cached_system(name, spec, make, cache)
