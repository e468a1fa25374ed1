"""Concurrent learning of a Deep Potential (DP-GEN), paradigm 3 on :func:`jaxhybrid.paradigms.alternate`.

DP-GEN (Zhang, Lin, Wang, Car & E, Phys. Rev. Mater. 3, 023804 (2019)): an ensemble of Deep
Potentials (:func:`~jaxhybrid.dp.deviation.make_ensemble`) improves in rounds of

1. *explore* (the mechanism) — DP-MD with member 0 (:func:`explore`: Langevin through
   :func:`jaxhybrid.md.simulate` at each of the explorer's temperatures, frames saved along the
   way; a run that blows up keeps its last good frame);
2. *deviate* — the model deviation ``ε_f = max_i std_k F_i^(k)`` of every explored frame
   (:func:`~jaxhybrid.dp.deviation.model_deviation`);
3. *select* — frames with ``lo ≤ ε_f < hi`` (:class:`TrustLevels`) are candidates (below ``lo``
   the ensemble agrees: nothing to learn; from ``hi`` up the frame is likely unphysical);
   up to ``n_label`` of them, drawn at random, are kept (:func:`select`);
4. *label and retrain* (the data step) — the labeller labels them, they join the training
   systems and the caller's ``retrain`` continues training the ensemble.

The loop stops when at least ``accurate_fraction`` of the explored frames are below ``lo``
(converged) or after ``rounds`` rounds. Nothing in it names an element or a system: the
labeller, the starting configuration, the explorer settings and the trust levels are arguments.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

from .data import System
from .deviation import member, model_deviation
from .model import DeepPot

__all__ = ["Explorer", "TrustLevels", "ConcurrentResult", "explore", "select", "label_frames", "concurrent_learning"]


class Explorer(NamedTuple):
    """DP-MD exploration settings (METAL units): Langevin at each of ``temperatures`` (K),
    ``n_steps`` steps of ``dt`` (ps) with friction ``gamma`` (1/ps), a frame saved every
    ``every`` steps; ``mass`` in amu (scalar or per atom; default the atoms' masses); Verlet
    skin ``skin`` (Å)."""

    temperatures: Sequence[float]
    n_steps: int
    every: int
    dt: float = 0.002
    gamma: float = 10.0
    mass: Optional[float] = None
    skin: float = 0.5


class TrustLevels(NamedTuple):
    """``lo ≤ ε_f < hi`` (eV/Å): the frames worth labelling."""

    lo: float
    hi: float

    def check(self) -> "TrustLevels":
        if not 0 <= self.lo < self.hi:
            raise ValueError(f"TrustLevels: need 0 <= lo < hi, got lo={self.lo}, hi={self.hi}.")
        return self


class ConcurrentResult(NamedTuple):
    """``model``: the final ensemble; ``systems``: the training systems (the initial ones, then
    one labelled system per round that selected frames); ``history``: one record per round
    (``explored``, ``accurate_frac``, ``candidates``, ``failed``, ``labelled``, ``max_dev``,
    ``round``, ``wall_s``); ``explored``, ``deviations``, ``picked``: per round, the explored
    frames (F, N, 3), their ``ε_f`` and the indices selected; ``cell``: the frames' cell;
    ``rounds``, ``converged``: as :class:`~jaxhybrid.paradigms.AlternateResult`."""

    model: DeepPot
    systems: list
    history: list
    explored: list
    deviations: list
    picked: list
    cell: np.ndarray
    rounds: int
    converged: bool


def _species(atoms, type_map) -> np.ndarray:
    symbols = atoms.get_chemical_symbols()
    unknown = sorted(set(symbols) - set(type_map))
    if unknown:
        raise ValueError(f"concurrent learning: elements {unknown} are not in the model's type_map {tuple(type_map)}.")
    return np.array([list(type_map).index(s) for s in symbols])


def explore(ens: DeepPot, atoms, explorer: Explorer, seed: int) -> np.ndarray:
    """Frames (F, N, 3) of DP-MD with member 0 from the ASE ``atoms`` (periodic cell) at each of
    the explorer's temperatures; temperature ``k`` runs with ``PRNGKey(seed + 17 k)``. A run
    that diverges (an immature model) contributes its last good frame."""
    import jax
    import jax.numpy as jnp

    from jaxhybrid import md
    from jaxhybrid.rollout import DivergenceError

    m0 = member(ens, 0)
    R0 = jnp.asarray(atoms.get_positions(), jnp.float32)
    box = md.make_box(jnp.asarray(np.asarray(atoms.get_cell()), jnp.float32))
    species = _species(atoms, ens.type_map)
    mass = atoms.get_masses() if explorer.mass is None else explorer.mass
    frames = []
    for k, T in enumerate(explorer.temperatures):
        try:
            res = md.simulate(m0, R0, box, n_steps=explorer.n_steps, dt=explorer.dt, ensemble="langevin", temperature=T,
                              gamma=explorer.gamma, masses=mass, species=species if m0.ntypes > 1 else None, units=md.METAL,
                              thermo_every=explorer.every, save_every=explorer.every, key=jax.random.PRNGKey(seed + 17 * k),
                              progress=False, compute_pressure=False, skin=explorer.skin)
            frames.append(res.trajectory)
        except DivergenceError as e:
            frames.append(np.asarray(e.state.positions)[None])
    return np.concatenate(frames)


def select(deviation, trust: TrustLevels, n_max: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of up to ``n_max`` frames drawn without replacement from the candidates
    ``trust.lo ≤ ε_f < trust.hi`` (all of them when fewer)."""
    trust = TrustLevels(*trust).check()
    dev = np.asarray(deviation)
    cand = np.flatnonzero((dev >= trust.lo) & (dev < trust.hi))
    if n_max < 0:
        raise ValueError(f"select: n_max must be >= 0, got {n_max}.")
    return rng.choice(cand, size=min(n_max, len(cand)), replace=False) if len(cand) else np.array([], int)


def label_frames(labeller, frames, atoms) -> System:
    """``labeller.label`` of the configurations ``frames`` (F, N, 3) of the atoms and periodic
    cell of the ASE ``atoms``."""
    from ase import Atoms

    cell, symbols = np.asarray(atoms.get_cell()), atoms.get_chemical_symbols()
    return labeller.label([Atoms(symbols, positions=R, cell=cell, pbc=True) for R in np.asarray(frames)])


def concurrent_learning(ens: DeepPot, systems: Sequence[System], atoms, *, labeller,
                        retrain: Callable[[DeepPot, list, int], DeepPot], explorer: Explorer, trust: TrustLevels,
                        n_label: int, rounds: int, rng: np.random.Generator, seed: int = 0, k_max: Optional[int] = None,
                        accurate_fraction: float = 0.9) -> ConcurrentResult:
    """Run the DP-GEN loop (module docstring) from the ensemble ``ens`` trained on ``systems``.

    Args:
        atoms: ASE ``Atoms``, the periodic starting configuration of every exploration.
        labeller: ``labeller.label(list of Atoms) -> System`` (e.g.
            :class:`~jaxhybrid.dp.labellers.EMTLabeller`).
        retrain: ``retrain(ens, systems, round) -> ens``, called after a round that labelled
            frames, with all training systems so far.
        explorer, trust: :class:`Explorer` and :class:`TrustLevels`; round ``r`` explores with
            seed ``seed + 100 r``.
        n_label: frames labelled per round at most; ``rng`` draws them.
        k_max: neighbour slots of the deviation's tables (default the model's ``sel``).
    """
    from jaxhybrid.paradigms import alternate

    trust = TrustLevels(*trust).check()
    if n_label < 1 or not 0 < accurate_fraction <= 1:
        raise ValueError(f"concurrent_learning: need n_label >= 1 and 0 < accurate_fraction <= 1, got {n_label}, "
                         f"{accurate_fraction}.")
    cell = np.asarray(atoms.get_cell())
    types = _species(atoms, ens.type_map)
    k_max = ens.sel if k_max is None else k_max

    def mechanism(state, r):
        model, train, log = state
        frames = explore(model, atoms, explorer, seed + 100 * r)
        return model, train, log, frames, model_deviation(model, frames, cell, types, k_max=k_max)

    def data(x, r):
        model, train, log, frames, dev = x
        pick = select(dev, trust, n_label, rng)
        rec = {"explored": int(len(dev)), "accurate_frac": float(np.mean(dev < trust.lo)),
               "candidates": int(np.sum((dev >= trust.lo) & (dev < trust.hi))), "failed": int(np.sum(dev >= trust.hi)),
               "labelled": int(len(pick)), "max_dev": float(dev.max())}
        if len(pick):
            train = train + [label_frames(labeller, frames[pick], atoms)]
            model = retrain(model, train, r)
        return model, train, log + [(rec, frames, dev, pick)]

    res = alternate(mechanism, data, (ens, list(systems), []), rounds=rounds,
                    until=lambda s: s[2][-1][0]["accurate_frac"] >= accurate_fraction, monitor=lambda s: dict(s[2][-1][0]))
    model, train, log = res.state
    return ConcurrentResult(model, train, res.history, [x[1] for x in log], [x[2] for x in log], [x[3] for x in log], cell,
                            res.rounds, res.converged)
