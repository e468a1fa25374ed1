"""Observables: g(r) of an ideal gas is 1, MSD of a known displacement, temperature."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md


def test_rdf_of_uniform_random_points_is_one():
    box = md.orthorhombic(10.0)
    R = md.random_positions(jax.random.PRNGKey(0), 2000, box)
    r, g = md.rdf(R, box, r_max=4.0, n_bins=20)
    assert np.all(np.abs(g[5:] - 1.0) < 0.1), g  # shells with enough pairs for a 10% check
    with pytest.raises(ValueError, match="r_max"):
        md.rdf(R, box, r_max=6.0)


def test_msd_and_temperature():
    R0 = jnp.zeros((10, 3))
    traj = jnp.stack([R0, R0 + jnp.asarray([1.0, 2.0, 2.0]), R0 + jnp.asarray([3.0, 0.0, 4.0])])
    np.testing.assert_allclose(np.asarray(md.msd(traj)), [0.0, 9.0, 25.0])
    p = jnp.ones((4, 3))
    # K = 4·3·1/(2·2) = 3; T = 2K / ((3N − 3) k_B) = 6 / 9
    np.testing.assert_allclose(float(md.kinetic_energy(p, 2.0)), 3.0)
    np.testing.assert_allclose(float(md.temperature(p, 2.0)), 6.0 / 9.0, rtol=1e-6)
    m = md.METAL.mass(1.0)
    kT = md.METAL.kT(300.0)
    P = md.maxwell_boltzmann(jax.random.PRNGKey(0), m, kT, 1000)
    np.testing.assert_allclose(float(md.temperature(P, m, kB=md.METAL.kB)), 300.0, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(jnp.sum(P, 0)), 0.0, atol=1e-6)


def test_rdf_peak_finds_the_first_shell():
    r = np.linspace(0.0, 4.0, 161)
    g = np.where(r < 0.9, 0.0, 1 + 2 * np.exp(-((r - 1.1) / 0.08) ** 2) - 0.5 * np.exp(-((r - 1.6) / 0.1) ** 2)
                 + 0.3 * np.exp(-((r - 2.1) / 0.15) ** 2))
    rp, h, rm = md.rdf_peak(r, g)
    assert abs(rp - 1.1) < 0.026 and abs(h - 3.0) < 0.02 and abs(rm - 1.6) < 0.03
    assert md.rdf_peak(r, g, search=5)[2] == r[np.argmax(g) + 4]   # the window limits the search
    with pytest.raises(ValueError, match="rdf_peak"):
        md.rdf_peak(r, g[:-1])
