"""Energies: EAM forces vs finite differences (analytic and setfl), setfl round trip, virial
pressure vs -dE/dV, Morse/custom pair fast path vs autodiff, smooth LJ equals JAX-MD's."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md


def _fd_forces(energy, R, idx, h=1e-5):
    out = []
    for i in idx:
        row = []
        for k in range(3):
            e = jnp.zeros_like(R).at[i, k].set(h)
            row.append(-(float(energy(R + e)) - float(energy(R - e))) / (2 * h))
        out.append(row)
    return np.array(out)


def _fcc_jittered(n_cells, a, sigma, seed=0):
    R, box = md.fcc_lattice(n_cells, a)
    R = R + sigma * jax.random.normal(jax.random.PRNGKey(seed), R.shape, R.dtype)
    return R, box


def _list(R, box, cutoff, skin, max_neighbors):
    """A neighbour list of a given, ample capacity (no sizing build), checked complete."""
    nbrs = md.neighbor_list(cutoff, skin).allocate(R, box, max_neighbors=max_neighbors)
    assert not bool(nbrs.overflow) and int(nbrs.needed[0]) < max_neighbors
    return nbrs


def test_eam_analytic_forces_match_finite_differences():
    with jax.enable_x64(True):
        R, box = _fcc_jittered(3, 1.6, 0.08)
        eam = md.eam_analytic(cutoff=2.4)
        nbrs = _list(R, box, eam.cutoff, 0.3, 150)
        # one compiled program: the energy (primal) is finite-differenced, the forces (its gradient) checked
        ef = jax.jit(lambda r: md.energy_and_forces(eam)(r, nbrs, box))
        E, F = ef(R)
        energy = lambda r: ef(r)[0]  # noqa: E731
        idx = [0, 7, 50, 101]
        np.testing.assert_allclose(np.asarray(F)[idx], _fd_forces(energy, R, idx), rtol=1e-6, atol=1e-8)
        assert np.isfinite(float(E)) and float(E) < 0
        np.testing.assert_allclose(np.asarray(jnp.sum(F, 0)), 0.0, atol=1e-10)  # Newton's third law


def _setfl_from_analytic(path, cutoff=2.4, nr=2000, nrho=2000):
    """Tabulate a two-species analytic EAM into a setfl file."""
    r = np.arange(nr) * (cutoff / (nr - 1))
    rho_max = 30.0
    rho = np.arange(nrho) * (rho_max / (nrho - 1))
    beta = np.array([3.0, 2.5])
    A = np.array([1.0, 1.3])
    taper = np.where(r < cutoff, (1 - (r / cutoff) ** 2) ** 3, 0.0)
    dens = np.stack([np.exp(-b * (r - 1.0)) * taper for b in beta])
    emb = np.stack([-a * np.sqrt(rho + 1e-30) for a in A])

    def phi(D, al):
        return D * ((1 - np.exp(-al * (r - 1.0))) ** 2 - 1.0) * taper

    P = {(0, 0): phi(0.3, 1.5), (1, 0): phi(0.25, 1.4), (1, 1): phi(0.2, 1.6)}
    rphi = np.zeros((2, 2, nr))
    for (i, j), v in P.items():
        rphi[i, j] = rphi[j, i] = r * v
    t = md.SetflTables(("A", "B"), np.array([10.0, 20.0]), rho[1], r[1], cutoff, emb, dens, rphi)
    md.write_setfl(path, t, comments=("test", "analytic", "tabulated"))
    return t


def test_setfl_round_trip_and_forces_match_finite_differences(tmp_path):
    with jax.enable_x64(True):
        path = tmp_path / "AB.eam.alloy"
        t = _setfl_from_analytic(path)
        back = md.read_setfl(path)
        assert back.elements == ("A", "B")
        np.testing.assert_allclose(back.rphi, t.rphi, rtol=1e-12)
        np.testing.assert_allclose(back.masses, [10.0, 20.0])
        eam = md.eam_from_setfl(path)
        R, box = _fcc_jittered(3, 1.6, 0.08, seed=1)
        species = jnp.asarray(np.arange(R.shape[0]) % 2, jnp.int32)
        nbrs = _list(R, box, eam.cutoff, 0.3, 150)
        ef = jax.jit(lambda r, sp: md.energy_and_forces(eam)(r, nbrs, box, sp))  # one program, any species
        _, F = ef(R, species)
        idx = [0, 1, 33, 64]
        np.testing.assert_allclose(np.asarray(F)[idx], _fd_forces(lambda r: ef(r, species)[0], R, idx), rtol=1e-5,
                                   atol=1e-7)
        # the table reproduces the analytic single-species model it was made from
        ana = md.eam_analytic(cutoff=2.4)
        e_tab = float(ef(R, jnp.zeros_like(species))[0])
        e_ana = float(jax.jit(lambda r: ana(r, nbrs, box))(R))
        assert abs(e_tab - e_ana) < 1e-5 * abs(e_ana)


@pytest.mark.parametrize("which", ["lj", "eam", "triclinic-lj"])
def test_virial_pressure_matches_volume_derivative(which):
    with jax.enable_x64(True):
        if which == "eam":
            R, box = _fcc_jittered(3, 1.6, 0.05)
            pot = md.eam_analytic(cutoff=2.4)
        else:
            R, box = _fcc_jittered(3, 1.65, 0.05)
            pot = md.lennard_jones(cutoff=2.5, cutoff_mode="smooth", r_onset=2.0)
            if which == "triclinic-lj":
                H = box.matrix @ jnp.asarray([[1.0, 0, 0], [0.2, 1.0, 0], [0.1, -0.15, 1.0]])
                R = R @ jnp.linalg.inv(box.matrix) @ H
                box = md.make_box(H)
        nbrs = _list(R, box, pot.cutoff, 0.5, 200)
        V = float(md.volume(box))
        # configurational pressure (K = 0) and stress tensor, one compiled program
        P, S = jax.jit(lambda r: (md.pressure(pot, r, nbrs, box), md.stress(pot, r, nbrs, box)))(R)
        P = float(P)

        # isotropic scaling of positions and cell, same neighbour list (one compiled program)
        E_s = jax.jit(lambda s: pot(R * s, nbrs, md.Box(box.matrix * s, box.is_orthorhombic)))

        def E_of(scale):
            return float(E_s(jnp.asarray(scale, R.dtype)))

        h = 1e-5
        dE_ds = (E_of(1 + h) - E_of(1 - h)) / (2 * h)
        P_fd = -dE_ds / (3 * V)  # V = s³ V0 → dV/ds = 3V at s = 1
        assert abs(P - P_fd) <= 1e-6 * max(1.0, abs(P_fd))
        assert abs(P - float(jnp.trace(S)) / 3) <= 1e-12 * max(1.0, abs(P))  # P = tr σ / 3
        # the stress tensor of a pair potential (central forces) is symmetric
        if which == "lj":
            assert np.allclose(np.asarray(S), np.asarray(S).T, atol=1e-10)


@eqx.filter_jit
def _fast_autodiff_per_atom(pot, R, nbrs, box, species):
    """A potential's analytic fast path (E, F), autodiff (E, ∂E/∂R) and per-atom energies: one
    compiled program."""
    return (pot.energy_and_forces(R, nbrs, box, species), jax.value_and_grad(pot.energy)(R, nbrs, box, species),
            pot.per_atom(R, nbrs, box, species))


def test_pair_fast_path_matches_autodiff_for_morse_custom_and_species():
    with jax.enable_x64(True):
        R, box = _fcc_jittered(3, 1.5, 0.07)
        nbrs = _list(R, box, 2.5, 0.3, 200)
        species = jnp.asarray(np.arange(R.shape[0]) % 2, jnp.int32)
        pots = [
            (md.morse(D=1.0, alpha=4.0, r0=1.1, cutoff=2.5), None),
            (md.pair_potential(lambda r, a: a * jnp.exp(-r) / r, cutoff=2.5, a=2.0), None),
            (md.lennard_jones(sigma=jnp.asarray([[1.0, 1.1], [1.1, 1.2]]), epsilon=jnp.asarray([[1.0, 0.7], [0.7, 0.5]]),
                              cutoff=2.5, cutoff_mode="smooth"), species),
        ]
        for pot, sp in pots:
            (E, F), (E2, G), ea = _fast_autodiff_per_atom(pot, R, nbrs, box, sp)
            np.testing.assert_allclose(float(E), float(E2), rtol=1e-12)
            np.testing.assert_allclose(np.asarray(F), -np.asarray(G), atol=1e-9 * float(jnp.abs(G).max()))
            np.testing.assert_allclose(float(jnp.sum(ea)), float(E), rtol=1e-12)


def test_smooth_lj_equals_jax_md_energy():
    jm = pytest.importorskip("jax_md")
    R, box = _fcc_jittered(4, 1.65, 0.05)
    L = float(box.matrix[0, 0])
    disp, _ = jm.space.periodic(L)
    nfn, efn = jm.energy.lennard_jones_neighbor_list(disp, L, r_onset=2.0, r_cutoff=2.5, dr_threshold=0.5,
                                                     format=jm.partition.Dense)
    e_peer = float(efn(R, nfn.allocate(R)))
    lj = md.lennard_jones(cutoff=2.5, cutoff_mode="smooth", r_onset=2.0)
    e_ours = float(lj(R, md.neighbor_list(2.5, 0.5).allocate(R, box), box))
    assert abs(e_ours - e_peer) <= 1e-5 * abs(e_peer)
