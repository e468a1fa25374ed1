"""Integrators: NVE energy conservation, Langevin temperature, Nosé–Hoover conserved
quantity, FIRE minimisation; the plug-in (generic energy) path."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md


@pytest.fixture(scope="module")
def lj_liquid64():
    """A 256-atom LJ liquid (ρ = 0.8442, shifted LJ, r_c = 2.5) equilibrated by 400 Langevin
    steps at kT = 0.72, in float64: the start of the NVE and Nosé–Hoover runs."""
    with jax.enable_x64(True):
        R, box = md.lj_liquid_box(256, 0.8442)
        eq = md.simulate(md.lennard_jones(cutoff=2.5), R, box, n_steps=400, dt=0.005, temperature=0.72,
                         ensemble="langevin", gamma=5.0, thermo_every=100, progress=False, compute_pressure=False,
                         key=jax.random.PRNGKey(0))
        assert eq.state.positions.dtype == jnp.float64
        return eq.state.positions, eq.state.momenta, box


def test_nve_conserves_energy_float64_small(lj_liquid64):
    R, P, box = lj_liquid64
    with jax.enable_x64(True):
        lj = md.lennard_jones(cutoff=2.5)
        out = md.simulate(lj, R, box, n_steps=2000, dt=0.005, momenta=P, thermo_every=20, progress=False,
                          compute_pressure=False, chunk_size=2000)
        E = out.thermo["total"]
        drift = np.max(np.abs(E - E[0])) / abs(E[0])
        assert drift < 1e-4, drift
        assert out.thermo["temperature"].mean() > 0.3  # it actually moved


def test_langevin_mean_temperature_within_2_percent():
    R, box = md.lj_liquid_box(256, 0.8442)
    lj = md.lennard_jones(cutoff=2.5)
    kT = 0.72
    # one run (one compiled chunk): 500 steps of equilibration from the lattice, then 3000
    # steps sampled every 10
    out = md.simulate(lj, R, box, n_steps=3500, dt=0.005, temperature=kT, ensemble="langevin", gamma=2.0,
                      thermo_every=10, chunk_size=3500, progress=False, compute_pressure=False,
                      key=jax.random.PRNGKey(2))
    T = out.thermo["temperature"][50:].mean()
    assert abs(T - kT) / kT < 0.02, T


def test_nose_hoover_chain_conserved_quantity_and_temperature(lj_liquid64):
    R, P, box = lj_liquid64
    with jax.enable_x64(True):
        lj = md.lennard_jones(cutoff=2.5, cutoff_mode="smooth", r_onset=2.0)
        # the liquid equilibrated at kT = 0.72 started ~20% hot for kT = 1 so the thermostat has
        # work to do; δt = 0.0025, τ = 0.5
        out = md.simulate(lj, R, box, n_steps=3000, dt=0.0025, temperature=1.0, ensemble="nhc", tau=0.5,
                          momenta=1.1 * np.sqrt(1.0 / 0.72) * P, thermo_every=20, chunk_size=3000, progress=False,
                          compute_pressure=False)
        H = out.thermo["conserved"]
        drift = np.max(np.abs(H - H[0])) / abs(H[0])
        assert drift < 1e-4, drift
        # the thermostat works: the second half averages near the target, and K + U is NOT conserved
        T = out.thermo["temperature"][len(H) // 2 :].mean()
        assert abs(T - 1.0) < 0.08, T
        Etot = out.thermo["total"]
        assert np.max(np.abs(Etot - Etot[0])) / abs(Etot[0]) > 10 * drift


def test_fire_minimises_to_a_force_free_state():
    with jax.enable_x64(True):
        R, box = md.fcc_lattice(3, 1.6)
        R = R + 0.1 * jax.random.normal(jax.random.PRNGKey(0), R.shape, R.dtype)
        lj = md.lennard_jones(cutoff=2.5, cutoff_mode="smooth", r_onset=2.0)
        nbrs = md.neighbor_list(2.5, 0.3).allocate(R, box)  # the list minimize() allocates: same compiled build
        e0 = float(eqx.filter_jit(lj)(R, nbrs, box))
        st = md.minimize(lj, R, box, force_tol=1e-6, max_steps=3000)
        assert float(jnp.max(jnp.linalg.norm(st.forces, axis=-1))) < 1e-6
        assert float(st.energy) < e0


def test_integrators_take_any_energy_function():
    """A plain energy function (here a harmonic well, standing in for a network) drives the
    same (init, step) integrators; the analytic period is reproduced."""
    with jax.enable_x64(True):
        k = 4.0
        ff = md.energy_force_fn(lambda r: 0.5 * k * jnp.sum(r * r))
        integ = md.nve(ff, 0.001)
        st = integ.init(jnp.ones((1, 3)), jnp.zeros((1, 3)), 1.0)
        from jaxhybrid.rollout import evolve

        period = 2 * np.pi / np.sqrt(k)
        n = int(round(period / 0.001))
        res = evolve(integ, st, n)  # deterministic: no key
        np.testing.assert_allclose(np.asarray(res.final.positions), 1.0, atol=1e-3)
        with pytest.raises(ValueError, match="dt"):
            md.nve(ff, -0.1)
        with pytest.raises(ValueError, match="gamma"):
            md.langevin(ff, 0.01, 1.0, 0.0)
        with pytest.raises(ValueError, match="mass"):
            integ.init(jnp.ones((2, 3)), None, jnp.ones(3))


def test_langevin_temperature_may_be_traced_and_vmapped():
    """``kT`` as a jit argument gives the same trajectory as the constant, one program
    ``vmap``-ed over temperatures equals the runs at each temperature, and a concrete negative
    ``kT`` is still rejected."""
    from jaxhybrid.rollout import evolve

    force = md.energy_force_fn(lambda R: 0.5 * jnp.sum(R**2))
    R0 = jnp.asarray([[0.3, -0.2, 0.1], [0.0, 0.4, -0.5]])

    def run(kT):
        integ = md.langevin(force, 0.05, kT, 1.0)
        s = integ.init(R0, jnp.zeros_like(R0), 1.0)
        return evolve(integ, s, 50, key=jax.random.PRNGKey(3)).final.positions

    const = [np.asarray(run(kT)) for kT in (0.5, 2.0)]
    traced = np.asarray(jax.jit(run)(0.5))
    batched = np.asarray(jax.jit(jax.vmap(run))(jnp.asarray([0.5, 2.0])))
    np.testing.assert_allclose(traced, const[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched, np.stack(const), rtol=1e-5, atol=1e-6)
    assert not np.allclose(const[0], const[1])  # the temperature does enter the dynamics
    with pytest.raises(ValueError, match="kT"):
        md.langevin(force, 0.05, -1.0, 1.0)


def test_integrators_are_algorithms_with_key_second_and_overflow_info():
    """Every integrator is an Algorithm: ``step(state, key) -> (state, info)``; the deterministic
    ones ignore the key, Langevin draws its noise from it (same key, same step; another key,
    another step) and needs one; ``info`` carries the neighbour list's overflow flag."""
    from jaxhybrid.algorithm import Algorithm

    R, box = md.lj_liquid_box(32, 0.8)
    R = R + 0.05 * jax.random.normal(jax.random.PRNGKey(3), R.shape, R.dtype)  # off the lattice: forces act
    lj = md.lennard_jones(cutoff=1.5)
    nl = md.neighbor_list(1.5, 0.3)
    nbrs = nl.allocate(R, box)
    ff = jax.jit(md.neighbor_force_fn(lj, nl, box))  # one compiled force call, shared by every integrator
    P = md.maxwell_boltzmann(jax.random.PRNGKey(0), 1.0, 1.0, R.shape[0])
    for integ in (md.nve(ff, 0.005), md.langevin(ff, 0.005, 1.0, 1.0), md.nose_hoover_chain(ff, 0.005, 1.0, 0.5),
                  md.fire(ff)):
        assert isinstance(integ, Algorithm)
        s = integ.init(R, P, 1.0, nbrs)
        assert not hasattr(s, "key")
        new, info = integ.step(s, jax.random.PRNGKey(1))
        assert set(info) == {"overflow"} and not bool(info["overflow"])
        assert new.positions.shape == R.shape and not np.allclose(new.positions, R)
    lang = md.langevin(ff, 0.005, 1.0, 1.0)
    s = lang.init(R, P, 1.0, nbrs)
    a, _ = lang.step(s, jax.random.PRNGKey(1))
    b, _ = lang.step(s, jax.random.PRNGKey(1))
    c, _ = lang.step(s, jax.random.PRNGKey(2))
    np.testing.assert_array_equal(np.asarray(a.momenta), np.asarray(b.momenta))
    assert not np.allclose(np.asarray(a.momenta), np.asarray(c.momenta))
    nv = md.nve(ff, 0.005)
    np.testing.assert_array_equal(np.asarray(nv.step(nv.init(R, P, 1.0, nbrs), None)[0].positions),
                                  np.asarray(nv.step(nv.init(R, P, 1.0, nbrs), jax.random.PRNGKey(7))[0].positions))
    with pytest.raises(ValueError, match="key"):
        lang.step(s, None)
    # no neighbour list in aux: empty info
    harm = md.nve(md.energy_force_fn(lambda r: 0.5 * jnp.sum(r * r)), 0.01)
    assert harm.step(harm.init(jnp.ones((2, 3))), None)[1] == {}
