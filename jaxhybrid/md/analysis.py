"""Structure of an MD run against a reference run: is the learned potential's ensemble the reference's?

A learned potential is judged not only by its force error but by the distributions its MD
samples. Two comparisons, both returning the curves they compare so that a caller can plot them:

* :func:`compare_rdf` — the radial distribution functions of two trajectories (crystal or
  liquid, periodic) on common bins and their L1 distance ``∫|g_a(r) − g_b(r)| dr``
  (rectangle rule on the bin centres).
* :func:`compare_distributions` — the histogram densities of a scalar observable (bond lengths,
  angles, …) of a long run and of a reference run on common edges
  (:func:`~jaxhybrid.md.observables.histogram_edges`), their L1 distance ``∫|p − p_ref| dx``
  (:func:`~jaxhybrid.md.observables.histogram_l1`, in [0, 2]), and its **sampling floor**: a
  reference run is short (a DFT-MD trajectory of a few hundred steps), so even a perfect
  potential would not reproduce its histogram exactly. The floor is the L1 distance between the
  long run's histogram and those of independent segments *as long as the reference*, drawn from
  the same potential: their median (and 90th percentile) is the L1 that finite sampling alone
  gives. An L1 at the floor means the reference cannot tell the two ensembles apart.
* :func:`distributions_vs_reference` runs what the second needs: for every reference
  trajectory, one Langevin program (:func:`~jaxhybrid.md.batch.langevin_program`, batched: one
  compilation for every temperature) of the long run and the segments, each started from the
  reference's first frame, then :func:`compare_distributions` of ``observable``;
  :func:`distribution_metrics` flattens such comparisons into the figures of a record.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple, Sequence

import jax.numpy as jnp
import numpy as np

from .batch import langevin_program
from .observables import histogram_edges, histogram_l1, rdf
from .space import Box, make_box

__all__ = ["RDFComparison", "compare_rdf", "DistributionComparison", "compare_distributions",
           "distributions_vs_reference", "distribution_metrics"]


def _box32(box) -> Box:
    return box if isinstance(box, Box) else make_box(jnp.asarray(np.asarray(box), jnp.float32))


class RDFComparison(NamedTuple):
    """``r`` (bin centres), ``g`` and ``g_ref`` on them, and ``l1 = Σ |g − g_ref| δr``."""

    r: np.ndarray
    g: np.ndarray
    g_ref: np.ndarray
    l1: float


def compare_rdf(trajectory, box, ref_trajectory, ref_box, *, r_max: float, n_bins: int = 120) -> RDFComparison:
    """``g(r)`` of ``trajectory`` (T, N, 3) in ``box`` and of ``ref_trajectory`` in ``ref_box``
    (each a :class:`~jaxhybrid.md.space.Box` or a cell for :func:`~jaxhybrid.md.space.make_box`;
    :func:`~jaxhybrid.md.observables.rdf` in float32, the same ``n_bins`` bins on ``[0, r_max]``)
    and the L1 distance ``∫|g − g_ref| dr ≈ Σ_bins |g − g_ref| δr``."""
    r, g = rdf(jnp.asarray(np.asarray(trajectory), jnp.float32), _box32(box), r_max=r_max, n_bins=n_bins)
    _, g_ref = rdf(jnp.asarray(np.asarray(ref_trajectory), jnp.float32), _box32(ref_box), r_max=r_max, n_bins=n_bins)
    return RDFComparison(r, g, g_ref, float(np.sum(np.abs(g - g_ref)) * (r[1] - r[0])))


class DistributionComparison(NamedTuple):
    """``edges`` (common bins), the pooled samples ``sample`` (the long run) and ``reference``,
    ``l1`` between their histogram densities and the sampling floor: ``floor`` (median) and
    ``floor_p90`` (90th percentile) of the segments' L1 to ``sample``; ``floors``: each segment's."""

    edges: np.ndarray
    sample: np.ndarray
    reference: np.ndarray
    l1: float
    floor: float
    floor_p90: float
    floors: np.ndarray


def compare_distributions(sample, reference, segments: Sequence, *, n_bins: int = 24) -> DistributionComparison:
    """Histogram L1 of ``sample`` against ``reference`` with its sampling floor (module
    docstring): ``edges = histogram_edges(reference, sample, n_bins)``, ``l1 =
    histogram_l1(sample, reference, edges)`` and the median and 90th percentile of
    ``histogram_l1(segment, sample, edges)`` over ``segments`` (samples of the same potential as
    ``sample``, each as long as ``reference``). Arrays are flattened."""
    sample, reference = np.ravel(sample), np.ravel(reference)
    if not len(segments):
        raise ValueError("compare_distributions: need at least one segment for the sampling floor.")
    edges = histogram_edges(reference, sample, n_bins=n_bins)
    floors = np.array([histogram_l1(s, sample, edges) for s in segments])
    return DistributionComparison(edges, sample, reference, histogram_l1(sample, reference, edges),
                                  float(np.median(floors)), float(np.percentile(floors, 90)), floors)


def distributions_vs_reference(force_fn: Callable, references: Sequence, temperatures: Sequence[float],
                               observable: Callable, *, n_steps: int, n_segments: int, discard: int, dt: float,
                               gamma: float, mass, seed: int, n_bins: int = 24,
                               **program_kw) -> list[DistributionComparison]:
    """For each reference trajectory ``references[i]`` (F_i, N, 3) at ``temperatures[i]``:
    Langevin MD of ``force_fn`` (``force_fn(R, aux) -> (E, F, aux)``, neighbour-free) from the
    reference's first frame, ``n_segments + 1`` runs of ``n_steps`` steps with seeds ``seed,
    seed + 1, …`` (the same seeds at every temperature), all in one batched program; run 0 is the
    long run, the first ``F_i`` steps of runs 1… are the segments. The first ``discard`` frames
    of every trajectory are equilibration and dropped. Returns one
    :func:`compare_distributions` of ``observable(frames)`` per reference. ``dt``, ``gamma``,
    ``mass`` and ``program_kw`` (e.g. ``units``) are :func:`~jaxhybrid.md.batch.langevin_program`'s."""
    refs = [np.asarray(r) for r in references]
    if len(refs) != len(temperatures) or not refs or n_segments < 1:
        raise ValueError(f"distributions_vs_reference: need one temperature per reference trajectory and "
                         f"n_segments >= 1; got {len(refs)} references, {len(temperatures)} temperatures, "
                         f"n_segments={n_segments}.")
    if any(not discard < len(r) <= n_steps for r in refs):
        raise ValueError(f"distributions_vs_reference: every reference needs more than discard={discard} frames and at "
                         f"most n_steps={n_steps}; got lengths {[len(r) for r in refs]}.")
    n_runs = n_segments + 1
    runs = np.asarray(langevin_program(force_fn, np.repeat([r[0] for r in refs], n_runs, axis=0),
                                       np.repeat(temperatures, n_runs), n_steps, dt=dt, gamma=gamma, mass=mass,
                                       seeds=[seed + k for k in range(n_runs)] * len(refs), batched=True,
                                       observe=lambda s: s.positions, **program_kw)())
    runs = runs.reshape((len(refs), n_runs) + runs.shape[1:])
    return [compare_distributions(observable(rs[0, discard:]), observable(ref[discard:]),
                                  [observable(g) for g in rs[1:, discard:len(ref)]], n_bins=n_bins)
            for ref, rs in zip(refs, runs)]


def distribution_metrics(comparisons: Mapping[str, DistributionComparison], name: str, *, unit: str,
                         sides: Sequence[str] = ("sample", "reference")) -> dict[str, float]:
    """Flat, JSON-ready figures of ``comparisons`` keyed by a tag (e.g. ``"300K"``), for a record:
    per tag ``{name}_hist_l1_{tag}``, ``{name}_hist_l1_sampling_floor_{tag}`` (median) and
    ``{name}_hist_l1_sampling_floor_p90_{tag}``, then for the sample and the reference (named
    ``sides``) the mean and standard deviation of the pooled observable,
    ``{name}_mean_{unit}_{side}_{tag}`` and ``{name}_std_{unit}_{side}_{tag}``."""
    if len(sides) != 2:
        raise ValueError(f"distribution_metrics: sides names the sample and the reference, got {sides}.")
    out = {}
    for tag, v in comparisons.items():
        out.update({f"{name}_hist_l1_{tag}": v.l1, f"{name}_hist_l1_sampling_floor_{tag}": v.floor,
                    f"{name}_hist_l1_sampling_floor_p90_{tag}": v.floor_p90})
        for side, b in zip(sides, (v.sample, v.reference)):
            out.update({f"{name}_mean_{unit}_{side}_{tag}": float(b.mean()),
                        f"{name}_std_{unit}_{side}_{tag}": float(b.std())})
    return out
