"""Batched Langevin programs (jaxhybrid.md.batch) and the per-atom-step cost helper (md.timing)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md

R0 = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.1, 0.2]])
MASS = (16.0, 1.0, 1.0)


def _springs(R):  # unit-length springs between every pair (eV, Å)
    i, j = np.triu_indices(3, 1)
    return 2.0 * jnp.sum((jnp.linalg.norm(R[j] - R[i], axis=-1) - 1.0) ** 2)


def test_batched_program_equals_the_single_runs_and_temperature_is_traced():
    force = md.energy_force_fn(_springs)
    kw = dict(dt=5e-4, gamma=20.0, mass=MASS)
    starts = np.stack([R0, R0 * 1.05])
    prog = md.langevin_program(force, starts, [300.0, 900.0], 40, seeds=[1, 2], batched=True, **kw)
    R, E, F = (np.asarray(a) for a in prog())
    assert R.shape == (2, 40, 3, 3) and E.shape == (2, 40)
    for i, (start, T, seed) in enumerate(zip(starts, (300.0, 900.0), (1, 2))):
        Ri, Ei, Fi = md.langevin_trajectory(force, start, T, 40, seed=seed, **kw)
        np.testing.assert_allclose(R[i], Ri, atol=1e-5)
        np.testing.assert_allclose(E[i], Ei, rtol=1e-4, atol=1e-5)
    assert not np.allclose(R[0], R[1], atol=1e-3)  # different seeds, starts and temperatures
    hot = md.langevin_program(force, R0, 3000.0, 400, seeds=[1], **kw)()
    cold = md.langevin_program(force, R0, 30.0, 400, seeds=[1], **kw)()
    assert np.std(np.asarray(hot[1])[100:]) > 3 * np.std(np.asarray(cold[1])[100:])  # the temperature acts
    assert prog.best_time(2) > 0
    with pytest.raises(ValueError, match="positions"):
        md.langevin_program(force, R0[:, :2], 300.0, 5, seeds=[0], **kw)
    with pytest.raises(ValueError, match="n_steps"):
        md.langevin_program(force, R0, 300.0, 0, seeds=[0], **kw)


def test_cost_per_atom_step_needs_a_configuration():
    with pytest.raises(ValueError, match="configuration"):
        md.cost_per_atom_step(md.lennard_jones(cutoff=2.5), [], n_steps=3, dt=0.002, mass=1.0, temperature=1.0,
                              key=jax.random.PRNGKey(0))


@pytest.mark.slow  # ~18 s of compiling one timed program per size; dpmd's quick run times two sizes too
def test_cost_per_atom_step_times_every_size():
    lj = md.lennard_jones(cutoff=2.5)
    confs = [md.lj_liquid_box(n, density=0.8) for n in (32, 108)]
    costs = md.cost_per_atom_step(lj, confs, n_steps=3, dt=0.002, mass=1.0, temperature=1.0, key=jax.random.PRNGKey(0),
                                  units=md.LJ, skin=0.3, repeats=1)
    assert len(costs) == 2 and all(np.isfinite(c) and c > 0 for c in costs)
