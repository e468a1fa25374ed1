"""simulate(): overflow recovery (same answer as a large list), blow-up guard, I/O, errors."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md
from jaxhybrid.rollout import DivergenceError


def test_forced_overflow_is_recovered_with_the_same_trajectory(tmp_path):
    R, box = md.lj_liquid_box(256, 0.8442)
    lj = md.lennard_jones(cutoff=2.5)
    kw = dict(n_steps=400, dt=0.005, temperature=1.0, thermo_every=20, chunk_size=100, progress=False,
              compute_pressure=False, key=jax.random.PRNGKey(3))
    small = md.simulate(lj, R, box, max_neighbors=6, **kw)  # far too small: must re-allocate
    assert small.n_reallocations >= 1
    grown = small.state.aux.max_neighbors
    assert grown > 6 and not bool(small.state.aux.overflow)
    # the reference: a list of the grown capacity from the start (same compiled list build), which
    # never overflows
    ref = md.simulate(lj, R, box, max_neighbors=grown, **kw)
    assert ref.n_reallocations == 0 and not bool(ref.state.aux.overflow)
    np.testing.assert_allclose(small.thermo["total"], ref.thermo["total"], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(small.state.positions), np.asarray(ref.state.positions), atol=1e-3)
    # forces at the end equal those on a fresh, complete list
    nb = md.neighbor_list(2.5, 0.3).allocate(small.state.positions, box, max_neighbors=grown)
    assert not bool(nb.overflow)
    _, F = jax.jit(lambda r, nb: lj.energy_and_forces(r, nb, box))(small.state.positions, nb)
    np.testing.assert_allclose(np.asarray(small.state.forces), np.asarray(F), atol=1e-3 * float(jnp.abs(F).max()))


def test_blowup_stops_with_step_and_last_good_state():
    R, box = md.lj_liquid_box(256, 0.8442)
    lj = md.lennard_jones(cutoff=2.5)
    with pytest.raises(DivergenceError) as err:
        md.simulate(lj, R, box, n_steps=400, dt=0.05, temperature=3.0, thermo_every=20, chunk_size=100,
                    progress=False, compute_pressure=False, key=jax.random.PRNGKey(0))
    e = err.value
    assert 1 <= e.step <= 400
    assert "step" in str(e)
    assert bool(jnp.all(jnp.isfinite(e.state.positions))) and bool(jnp.isfinite(e.state.energy))


def test_trajectory_written_as_extxyz(tmp_path):
    R, box = md.lj_liquid_box(32, 0.8)
    lj = md.lennard_jones(cutoff=1.5)
    path = tmp_path / "traj.xyz"
    out = md.simulate(lj, R, box, n_steps=200, dt=0.005, temperature=1.0, thermo_every=50, save_every=100,
                      trajectory_path=path, symbols="Ar", progress=False, key=jax.random.PRNGKey(0))
    frames = md.read_extxyz(path)
    assert len(frames) == 2 and out.trajectory.shape == (2, 32, 3)
    H = np.asarray(box.matrix)
    np.testing.assert_allclose(frames[-1]["lattice"], H, rtol=1e-8)
    s = frames[-1]["positions"] @ np.linalg.inv(H)
    assert np.all((s >= -1e-6) & (s < 1 + 1e-6))  # wrapped into the cell
    # the same atoms as the unwrapped trajectory, modulo the lattice
    d = (frames[-1]["positions"] - out.trajectory[-1]) @ np.linalg.inv(H)
    np.testing.assert_allclose(d, np.round(d), atol=1e-4)
    assert frames[0]["symbols"][0] == "Ar"
    text = path.read_text().splitlines()[1]
    assert 'Lattice="' in text and "Properties=species:S:1:pos:R:3" in text and 'pbc="T T T"' in text


def test_simulate_validates_inputs():
    R, box = md.lj_liquid_box(32, 0.8)
    lj = md.lennard_jones(cutoff=1.5)
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match="dt"):
        md.simulate(lj, R, box, n_steps=10, dt=-1.0, temperature=1.0, key=key)
    with pytest.raises(ValueError, match="temperature"):
        md.simulate(lj, R, box, n_steps=10, dt=0.01, ensemble="langevin", momenta=jnp.zeros_like(R), key=key)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        md.simulate(lj, R[:, :2], box, n_steps=10, dt=0.01, temperature=1.0, key=key)
    with pytest.raises(ValueError, match="multiple"):
        md.simulate(lj, R, box, n_steps=15, dt=0.01, temperature=1.0, thermo_every=10, key=key)
    with pytest.raises(ValueError, match="cutoff"):
        md.simulate(lambda r, nb, b, s: jnp.sum(r), R, box, n_steps=10, dt=0.01, temperature=1.0, thermo_every=10,
                    key=key)
    with pytest.raises(ValueError, match="key"):  # momenta are drawn: a key is needed
        md.simulate(lj, R, box, n_steps=10, dt=0.01, temperature=1.0, thermo_every=10)
    with pytest.raises(ValueError, match="key"):  # Langevin noise needs a key even with given momenta
        md.simulate(lj, R, box, n_steps=10, dt=0.01, temperature=1.0, ensemble="langevin", momenta=jnp.zeros_like(R),
                    thermo_every=10)
    with pytest.raises(ValueError, match="not both"):
        md.simulate(lj, R, box, n_steps=10, dt=0.01, temperature=1.0, thermo_every=10, key=key, ensemble="nve",
                    integrator=lambda f: md.nve(f, 0.01))
    with pytest.raises(ValueError, match="ensemble"):
        md.simulate(lj, R, box, n_steps=10, dt=0.01, temperature=1.0, thermo_every=10, key=key, ensemble="npt")
    with pytest.raises(ValueError, match="Algorithm"):
        md.simulate(lj, R, box, n_steps=10, dt=0.01, temperature=1.0, thermo_every=10, key=key,
                    integrator=lambda f: (lambda s: s))


def test_langevin_runs_the_same_in_any_chunking_and_integrator_object_equals_ensemble_name():
    """Step ``n`` draws its noise from ``fold_in(key, n)``: a Langevin run split into chunks of
    50 equals one chunk of 200, and ``integrator=lambda f: md.langevin(...)`` equals
    ``ensemble="langevin"`` (same key: the same numbers)."""
    R, box = md.lj_liquid_box(256, 0.8442)  # a minimum-image box: cheap list builds
    lj = md.lennard_jones(cutoff=2.5)
    kw = dict(n_steps=200, dt=0.005, temperature=1.0, thermo_every=50, progress=False, compute_pressure=False)
    one = md.simulate(lj, R, box, ensemble="langevin", gamma=2.0, chunk_size=200, key=jax.random.PRNGKey(4), **kw)
    four = md.simulate(lj, R, box, ensemble="langevin", gamma=2.0, chunk_size=50, key=jax.random.PRNGKey(4), **kw)
    obj = md.simulate(lj, R, box, integrator=lambda f: md.langevin(f, 0.005, 1.0, 2.0), chunk_size=200,
                      key=jax.random.PRNGKey(4), **kw)
    np.testing.assert_allclose(four.thermo["total"], one.thermo["total"], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(four.state.positions), np.asarray(one.state.positions), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(obj.state.positions), np.asarray(one.state.positions))


def test_user_built_integrator_runs_through_simulate():
    """A user's own Algorithm (position Verlet, drift–kick–drift, written here from scratch)
    runs through simulate with the neighbour-list recovery: it conserves energy and agrees with
    velocity Verlet over a short stretch (both are second order)."""
    from jaxhybrid.algorithm import Algorithm

    def position_verlet(force_fn, dt):
        def init(positions, momenta=None, mass=1.0, aux=None):
            e, f, aux = force_fn(positions, aux)
            m = jnp.broadcast_to(jnp.asarray(mass, positions.dtype), (positions.shape[0], 1))
            return md.MDState(positions, momenta, f, e, m, aux)

        def step(s, key):
            r = s.positions + 0.5 * dt * s.momenta / s.mass
            _, f, aux = force_fn(r, s.aux)
            p = s.momenta + dt * f
            r = r + 0.5 * dt * p / s.mass
            e, f, aux = force_fn(r, aux)
            return md.MDState(r, p, f, e, s.mass, aux), {}

        return Algorithm(init, step)

    with jax.enable_x64(True):
        R, box = md.lj_liquid_box(256, 0.8442)  # a minimum-image box: cheap list builds
        lj = md.lennard_jones(cutoff=2.5, cutoff_mode="smooth", r_onset=2.0)
        P = md.maxwell_boltzmann(jax.random.PRNGKey(0), 1.0, 0.5, R.shape[0], R.dtype)
        kw = dict(n_steps=200, dt=0.002, momenta=P, thermo_every=20, progress=False, compute_pressure=False,
                  max_neighbors=8)  # too small: the recover hook must re-allocate for the user's integrator too
        mine = md.simulate(lj, R, box, integrator=lambda f: position_verlet(f, 0.002), **kw)
        ref = md.simulate(lj, R, box, **kw)
    E = mine.thermo["total"]
    assert np.max(np.abs(E - E[0])) / abs(E[0]) < 1e-4
    assert mine.n_reallocations >= 1
    np.testing.assert_allclose(E, ref.thermo["total"], rtol=1e-4)
    np.testing.assert_allclose(np.asarray(mine.state.positions), np.asarray(ref.state.positions), atol=1e-4)
    assert not np.array_equal(np.asarray(mine.state.positions), np.asarray(ref.state.positions))


def test_metal_units_eam_runs_and_thermostats():
    """EAM in metal units (eV, Å, ps, amu) under Langevin reaches the target temperature."""
    R, box = md.fcc_lattice(4, 3.5)  # near the energy minimum of this model's fcc lattice
    eam = md.eam_analytic(A=1.0, beta=2.0, D=0.5, alpha=1.5, r0=2.86, cutoff=5.5)
    out = md.simulate(eam, R, box, n_steps=600, dt=0.002, temperature=300.0, units=md.METAL, masses=26.98,
                      ensemble="langevin", gamma=10.0, thermo_every=20, progress=False, compute_pressure=True,
                      key=jax.random.PRNGKey(0))
    T = out.thermo["temperature"][10:].mean()
    assert 240 < T < 360, T
    assert np.all(np.isfinite(out.thermo["pressure"]))


@pytest.mark.example
def test_lj_md_quick_run_conserves_energy_and_matches_the_liquid_structure(quick_record, record_store):
    # the mechanism engine alone: no competing baseline, the literature g(r) as reference
    rec = quick_record("lj-md", verdicts={})
    m, ref = rec["metrics"], rec["baselines"]["reference_literature"]
    assert (Path(record_store) / "lj-md.xyz").exists()
    assert m["energy_drift_rel"] < 5e-4
    assert abs(m["gr_first_peak_r_sigma"] - ref["gr_first_peak_r_sigma"]) < 0.03
    assert abs(m["gr_first_peak_height"] - ref["gr_first_peak_height"]) < 0.25
    assert abs(m["temperature_reduced"] - 0.72) < 0.05
