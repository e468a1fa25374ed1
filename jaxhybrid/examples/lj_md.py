"""lj-md — a Lennard-Jones liquid near the triple point (ρ = 0.8442, T = 0.72, r_c = 2.5σ) run by the
jaxhybrid MD engine: the mechanism half of deep-potential MD (paradigm 1: later the energy is a network).

Protocol: fcc lattice with T = 3 momenta (melts at once) → Langevin BAOAB bath at T = 0.72 → NVE
production (velocity Verlet, δt = 0.005). Measured: energy drift, temperature, pressure (virial),
potential energy per atom, NVE steps/s and the first shell of g(r), against the reference shape
of the LJ triple-point liquid (``reference_literature``: first peak near 1.09σ with height ≈ 3,
first minimum near 1.55σ; Verlet, Phys. Rev. 165, 201 (1968); Allen & Tildesley fig. 2.3;
approximate literature values). Quick: N = 500, 2,100 steps; full: N = 4,000, 12,000 steps.
"""

from __future__ import annotations

import pathlib
import time

import jax

from jaxhybrid import md
from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.md.lj_liquid import liquid_rdf, lj_liquid_run, nve_summary
from jaxhybrid.md.lj_plots import nve_panel, rdf_panel

NAME = "lj-md"
REFERENCE = {"gr_first_peak_r_sigma": 1.09, "gr_first_peak_height": 3.0, "gr_first_min_r_sigma": 1.55}


def run(quick: bool, seed: int, out: pathlib.Path) -> dict:
    t0, out = time.perf_counter(), pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = 500 if quick else 4000
    n_eq, n_prod = (600, 1500) if quick else (4000, 8000)
    # melt: start the lattice with T = 3 momenta; the Langevin bath (T = 0.72) then cools the liquid
    liquid = lj_liquid_run(n, 0.8442, 0.72, 0.005, n_eq, n_prod, key_melt=jax.random.PRNGKey(seed),
                           key_bath=jax.random.PRNGKey(seed + 1), trajectory_path=out / "lj-md.xyz")
    prod, (r, g) = liquid.production, liquid_rdf(liquid, n_bins=160, r_max=4.0)
    metrics = {
        "n_atoms": n,
        **nve_summary(prod.thermo, n),
        **dict(zip(REFERENCE, md.rdf_peak(r, g))),
        "nve_steps_per_s": n_prod / liquid.production_wall_s,
        "neighbour_reallocations": int(liquid.equilibration.n_reallocations + prod.n_reallocations),
    }
    _plot(r, g, prod.thermo, n, out)
    return record(NAME, 1, quick, t0, metrics, {"energy_drift_rel": "min", "nve_steps_per_s": "max"},
                  {"reference_literature": dict(REFERENCE)}, headline="energy_drift_rel")


def _plot(r, g, th, n, out):
    fig, ax = figure(1, 2, figsize=(10, 4))
    rdf_panel(ax[0], r, g, "jaxhybrid.md (NVE, ρ=0.8442, T≈0.72)", REFERENCE)
    ax[0].set(title=f"Radial distribution function, N = {n}")
    ax[0].legend(fontsize=8)
    nve_panel(ax[1], th, n)
    save_figure(fig, out, NAME)
