"""simulate(): overflow recovery (same answer as a large list), blow-up guard, I/O, errors."""

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
              compute_pressure=False, seed=3)
    ref = md.simulate(lj, R, box, max_neighbors=200, **kw)
    small = md.simulate(lj, R, box, max_neighbors=6, **kw)  # far too small: must re-allocate
    assert ref.n_reallocations == 0
    assert small.n_reallocations >= 1
    assert small.state.aux.max_neighbors > 6 and not bool(small.state.aux.overflow)
    np.testing.assert_allclose(small.thermo["total"], ref.thermo["total"], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(small.state.positions), np.asarray(ref.state.positions), atol=1e-3)
    # forces at the end equal a fresh, generously sized list
    nb = md.neighbor_list(2.5, 0.3).allocate(small.state.positions, box, max_neighbors=200)
    _, F = lj.energy_and_forces(small.state.positions, nb, box)
    np.testing.assert_allclose(np.asarray(small.state.forces), np.asarray(F), atol=1e-3 * float(jnp.abs(F).max()))


def test_blowup_stops_with_step_and_last_good_state():
    R, box = md.lj_liquid_box(256, 0.8442)
    lj = md.lennard_jones(cutoff=2.5)
    with pytest.raises(DivergenceError) as err:
        md.simulate(lj, R, box, n_steps=400, dt=0.05, temperature=3.0, thermo_every=20, chunk_size=100,
                    progress=False, compute_pressure=False)
    e = err.value
    assert 1 <= e.step <= 400
    assert "step" in str(e)
    assert bool(jnp.all(jnp.isfinite(e.state.positions))) and bool(jnp.isfinite(e.state.energy))


def test_trajectory_written_as_extxyz(tmp_path):
    R, box = md.lj_liquid_box(32, 0.8)
    lj = md.lennard_jones(cutoff=1.5)
    path = tmp_path / "traj.xyz"
    out = md.simulate(lj, R, box, n_steps=200, dt=0.005, temperature=1.0, thermo_every=50, save_every=100,
                      trajectory_path=path, symbols="Ar", progress=False)
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
    with pytest.raises(ValueError, match="dt"):
        md.simulate(lj, R, box, n_steps=10, dt=-1.0, temperature=1.0)
    with pytest.raises(ValueError, match="temperature"):
        md.simulate(lj, R, box, n_steps=10, dt=0.01, ensemble="langevin", momenta=jnp.zeros_like(R))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        md.simulate(lj, R[:, :2], box, n_steps=10, dt=0.01, temperature=1.0)
    with pytest.raises(ValueError, match="multiple"):
        md.simulate(lj, R, box, n_steps=15, dt=0.01, temperature=1.0, thermo_every=10)
    with pytest.raises(ValueError, match="cutoff"):
        md.simulate(lambda r, nb, b, s: jnp.sum(r), R, box, n_steps=10, dt=0.01, temperature=1.0, thermo_every=10)


def test_metal_units_eam_runs_and_thermostats():
    """EAM in metal units (eV, Å, ps, amu) under Langevin reaches the target temperature."""
    R, box = md.fcc_lattice(4, 3.5)  # near the energy minimum of this model's fcc lattice
    eam = md.eam_analytic(A=1.0, beta=2.0, D=0.5, alpha=1.5, r0=2.86, cutoff=5.5)
    out = md.simulate(eam, R, box, n_steps=600, dt=0.002, temperature=300.0, units=md.METAL, masses=26.98,
                      ensemble="langevin", gamma=10.0, thermo_every=20, progress=False, compute_pressure=True)
    T = out.thermo["temperature"][10:].mean()
    assert 240 < T < 360, T
    assert np.all(np.isfinite(out.thermo["pressure"]))
