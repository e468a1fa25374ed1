"""The Lennard-Jones liquid protocol (melt → Langevin bath → NVE) equals the two simulate calls it
wraps, its NVE summary is exact on a known record, and the liquid's figure panels draw."""

import jax
import numpy as np
import pytest

from jaxhybrid import md
from jaxhybrid.md.lj_liquid import liquid_rdf, lj_liquid_run, nve_summary


def test_lj_liquid_run_equals_the_two_simulations():
    n, kT, dt = 108, 0.72, 0.005
    run = lj_liquid_run(n, 0.8442, kT, dt, 20, 20, key_melt=jax.random.PRNGKey(0), key_bath=jax.random.PRNGKey(1),
                        cutoff=1.5, bath_thermo_every=10, thermo_every=10, save_every=10)
    R, box = md.lj_liquid_box(n, 0.8442)
    lj = md.lennard_jones(cutoff=1.5)
    hot = md.maxwell_boltzmann(jax.random.PRNGKey(0), 1.0, 3.0, n, R.dtype)
    eq = md.simulate(lj, R, box, n_steps=20, dt=dt, temperature=kT, momenta=hot, ensemble="langevin", gamma=2.0,
                     thermo_every=10, key=jax.random.PRNGKey(1), progress=False, compute_pressure=False)
    prod = md.simulate(lj, eq.state.positions, box, n_steps=20, dt=dt, momenta=eq.state.momenta, thermo_every=10,
                       save_every=10, progress=False, compute_pressure=True)
    np.testing.assert_array_equal(run.production.thermo["total"], prod.thermo["total"])
    np.testing.assert_array_equal(run.production.trajectory, prod.trajectory)
    assert run.production_wall_s > 0 and run.production.trajectory.shape == (2, n, 3)
    np.testing.assert_array_equal(run.equilibration.state.positions, eq.state.positions)
    r, g = liquid_rdf(run, n_bins=20, r_max=10.0)  # capped at half the box
    r_ref, g_ref = md.rdf(prod.trajectory, box, r_max=0.5 * float(box.matrix[0, 0]), n_bins=20)
    np.testing.assert_array_equal(r, r_ref)
    np.testing.assert_array_equal(g, g_ref)
    with pytest.raises(ValueError, match="n_equilibrate"):
        lj_liquid_run(n, 0.8442, kT, dt, 0, 20, key_melt=jax.random.PRNGKey(0), key_bath=jax.random.PRNGKey(1))


def test_nve_summary_on_a_known_record():
    th = {"total": np.array([-10.0, -10.1, -9.8]), "temperature": np.array([0.7, 0.74, 0.72]),
          "pressure": np.array([1.0, 2.0, 3.0]), "potential": np.array([-20.0, -22.0, -24.0])}
    s = nve_summary(th, 4)
    assert s == pytest.approx({"energy_drift_rel": 0.02, "temperature_reduced": 0.72, "pressure_reduced": 2.0,
                               "potential_energy_per_atom_reduced": -5.5})
    with pytest.raises(ValueError, match="n_atoms"):
        nve_summary(th, 0)


def test_plot_panels_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxhybrid.md.lj_plots import nve_panel, rdf_panel

    fig, ax = plt.subplots(1, 2)
    r = np.linspace(0.5, 3.0, 50)
    rdf_panel(ax[0], r, 1 + np.exp(-(r - 1.1) ** 2 / 0.01), "g",
              {"gr_first_peak_r_sigma": 1.09, "gr_first_peak_height": 3.0, "gr_first_min_r_sigma": 1.55})
    assert [ln.get_label() for ln in ax[0].lines][1] == "reference first peak ≈ 1.09σ"
    th = {"time": np.arange(3.0), "total": np.ones(3), "potential": np.zeros(3), "temperature": np.ones(3)}
    twin = nve_panel(ax[1], th, 10)
    assert len(ax[1].lines) == 2 and len(twin.lines) == 1
    fig.savefig(tmp_path / "panels.png")
    plt.close(fig)
