"""DP-MD of a molecule against DFT-MD: one compiled Langevin program, costs and structure compared.

For a molecule or cluster the reference is a first-principles labeller (e.g.
:class:`~.labellers.PySCFLabeller`) turned into an MD force function by a host callback
(:func:`~.dft_md.dft_force_fn`), so DFT-MD and DP-MD run the *same* compiled BAOAB program of
the MD engine (:func:`jaxhybrid.md.langevin_program`) and differ only in the force function.
:func:`molecule_md_check` measures

* the cost per MD step of each (:func:`jaxhybrid.md.langevin_step_cost`; the reference's energy
  at the start geometry, its first SCF and the PySCF import are taken outside the timing, and the
  reference's energy is returned relative to it, as float32 dynamics need), from the start
  geometry at ``timing_temperature``;
* the distribution of a structural observable (bond lengths, angles) of DP-MD against each
  reference trajectory, with its sampling floor (:func:`jaxhybrid.md.distributions_vs_reference`:
  DP-MD from the reference's first frame at the reference's temperature, one long run and
  segments as long as the reference, all in one batched program).

:func:`molecule_md_metrics` turns the result into a record's flat figures.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from jaxhybrid.md.analysis import DistributionComparison, distribution_metrics

from .dft_md import dft_force_fn, one_thread
from .model import DeepPot, molecule_energy_fn

__all__ = ["MoleculeMDCheck", "molecule_md_check", "molecule_md_metrics"]


class MoleculeMDCheck(NamedTuple):
    """``reference_step_s``, ``step_s``: wall seconds per MD step of the reference and of DP-MD;
    ``distributions``: one :class:`jaxhybrid.md.DistributionComparison` per reference trajectory
    (``sample``: DP-MD, ``reference``: the reference trajectory)."""

    reference_step_s: float
    step_s: float
    distributions: list[DistributionComparison]


def molecule_md_check(model: DeepPot, labeller, symbols: Sequence[str], positions, masses: Sequence[float],
                      references: Sequence, temperatures: Sequence[float], observable: Callable, *, dt_fs: float,
                      gamma_per_ps: float, n_steps: int, n_segments: int, discard: int, timing_steps: Sequence[int],
                      timing_repeats: Sequence[int] = (1, 3), timing_temperature: float = 300.0, timing_seed: int = 7,
                      seed: int = 0) -> MoleculeMDCheck:
    """DP-MD of ``model`` (a molecule of ``symbols``, ``masses`` amu, start ``positions`` Å)
    against the reference ``labeller`` (module docstring).

    Args:
        references, temperatures: the reference trajectories (F_i, N, 3) and their temperatures
            (K); ``observable(frames) -> array`` the structural quantity compared.
        dt_fs, gamma_per_ps: the Langevin time step (fs) and friction (1/ps) of every run.
        n_steps, n_segments, discard, seed: :func:`jaxhybrid.md.distributions_vs_reference`'s.
        timing_steps, timing_repeats: ``(reference, DP-MD)`` steps and best-of repeats of the
            cost runs (seed ``timing_seed``).
    """
    from jaxhybrid import md

    if len(timing_steps) != 2 or len(timing_repeats) != 2:
        raise ValueError(f"molecule_md_check: timing_steps and timing_repeats are (reference, DP-MD) pairs, got "
                         f"{timing_steps}, {timing_repeats}.")
    dp_force = md.energy_force_fn(molecule_energy_fn(model, [list(model.type_map).index(s) for s in symbols]))
    kw = dict(dt=dt_fs * 1e-3, gamma=gamma_per_ps, mass=masses)
    with one_thread():
        e_ref = float(labeller.energy_forces(list(symbols), positions)[0])  # PySCF import and first SCF, untimed
    costs = [md.langevin_step_cost(f, positions, timing_temperature, n, seed=timing_seed, repeats=r, **kw)
             for f, n, r in zip((dft_force_fn(labeller, symbols, e_ref), dp_force), timing_steps, timing_repeats)]
    dists = md.distributions_vs_reference(dp_force, references, temperatures, observable, n_steps=n_steps,
                                          n_segments=n_segments, discard=discard, seed=seed, **kw)
    return MoleculeMDCheck(costs[0], costs[1], dists)


def molecule_md_metrics(check: MoleculeMDCheck, tags: Sequence[str], name: str, *, unit: str,
                        sides: Sequence[str] = ("dp", "reference")) -> dict[str, float]:
    """Flat, JSON-ready figures of ``check`` for a record, its reference trajectories tagged
    ``tags`` (e.g. ``"300K"``): ``speedup_vs_reference`` (the reference's seconds per MD step over
    DP-MD's), ``{side}_md_s_per_step`` of DP-MD and the reference (named ``sides``),
    ``{name}_hist_l1`` and ``{name}_hist_l1_sampling_floor`` (their means over the trajectories),
    then per tag :func:`jaxhybrid.md.distribution_metrics` (``name``, ``unit``, ``sides``)."""
    if len(tags) != len(check.distributions) or len(sides) != 2:
        raise ValueError(f"molecule_md_metrics: need one tag per reference trajectory ({len(check.distributions)}) "
                         f"and two sides; got {list(tags)}, {list(sides)}.")
    comps = dict(zip(tags, check.distributions))
    return {"speedup_vs_reference": check.reference_step_s / check.step_s,
            f"{sides[1]}_md_s_per_step": check.reference_step_s, f"{sides[0]}_md_s_per_step": check.step_s,
            f"{name}_hist_l1": float(np.mean([v.l1 for v in comps.values()])),
            f"{name}_hist_l1_sampling_floor": float(np.mean([v.floor for v in comps.values()])),
            **distribution_metrics(comps, name, unit=unit, sides=sides)}
