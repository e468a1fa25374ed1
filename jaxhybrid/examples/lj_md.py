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
import jax.numpy as jnp

from jaxhybrid import md
from jaxhybrid.examples.record import figure, record, save_figure

NAME = "lj-md"
REFERENCE = {"gr_first_peak_r_sigma": 1.09, "gr_first_peak_height": 3.0, "gr_first_min_r_sigma": 1.55}


def run(quick: bool, seed: int, out: pathlib.Path) -> dict:
    t0, out = time.perf_counter(), pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = 500 if quick else 4000
    n_eq, n_prod = (600, 1500) if quick else (4000, 8000)
    rho, kT, dt = 0.8442, 0.72, 0.005
    R, box = md.lj_liquid_box(n, rho)
    lj = md.lennard_jones(cutoff=2.5)  # shifted at r_c
    # melt: start the lattice with T = 3 momenta; the Langevin bath (T = 0.72) then cools the liquid
    P_hot = md.maxwell_boltzmann(jax.random.PRNGKey(seed), 1.0, 3.0, n, R.dtype)
    eq = md.simulate(lj, R, box, n_steps=n_eq, dt=dt, temperature=kT, momenta=P_hot, ensemble="langevin", gamma=2.0,
                     thermo_every=100, key=jax.random.PRNGKey(seed + 1), progress=False, compute_pressure=False)
    t_prod = time.perf_counter()
    prod = md.simulate(lj, eq.state.positions, box, n_steps=n_prod, dt=dt, momenta=eq.state.momenta, thermo_every=50,
                       save_every=100, progress=False, compute_pressure=True,
                       trajectory_path=out / "lj-md.xyz", symbols="Ar")
    prod_wall, th = time.perf_counter() - t_prod, prod.thermo
    r, g = md.rdf(jnp.asarray(prod.trajectory), box, r_max=min(0.5 * float(box.matrix[0, 0]), 4.0), n_bins=160)
    peak = md.rdf_peak(r, g)
    metrics = {
        "n_atoms": n,
        "energy_drift_rel": float(abs(th["total"] - th["total"][0]).max() / abs(th["total"][0])),
        "temperature_reduced": float(th["temperature"].mean()),
        "pressure_reduced": float(th["pressure"].mean()),
        "potential_energy_per_atom_reduced": float(th["potential"].mean() / n),
        **dict(zip(REFERENCE, peak)),
        "nve_steps_per_s": n_prod / prod_wall,
        "neighbour_reallocations": int(eq.n_reallocations + prod.n_reallocations),
    }
    _plot(r, g, th, n, out)
    return record(NAME, 1, quick, t0, metrics, {"energy_drift_rel": "min", "nve_steps_per_s": "max"},
                  {"reference_literature": dict(REFERENCE)}, headline="energy_drift_rel")


def _plot(r, g, th, n, out):
    fig, ax = figure(1, 2, figsize=(10, 4))
    ax[0].plot(r, g, label="jaxhybrid.md (NVE, ρ=0.8442, T≈0.72)")
    ax[0].axvline(REFERENCE["gr_first_peak_r_sigma"], ls="--", c="k", lw=0.8, label="reference first peak ≈ 1.09σ")
    ax[0].axhline(REFERENCE["gr_first_peak_height"], ls=":", c="k", lw=0.8, label="reference peak height ≈ 3")
    ax[0].axvline(REFERENCE["gr_first_min_r_sigma"], ls="-.", c="gray", lw=0.8, label="reference first minimum ≈ 1.55σ")
    ax[0].axhline(1.0, c="gray", lw=0.5)
    ax[0].set(xlabel="r / σ", ylabel="g(r)", title=f"Radial distribution function, N = {n}")
    ax[0].legend(fontsize=8)
    ax[1].plot(th["time"], th["total"] / n, label="total")
    ax[1].plot(th["time"], th["potential"] / n, label="potential")
    ax[1].set(xlabel="t / τ", ylabel="energy per atom / ε", title="NVE thermodynamics")
    ax[1].legend(loc="center right", fontsize=8)
    ax2 = ax[1].twinx()
    ax2.plot(th["time"], th["temperature"], c="C3", alpha=0.5, label="T")
    ax2.set_ylabel("T")
    save_figure(fig, out, NAME)
