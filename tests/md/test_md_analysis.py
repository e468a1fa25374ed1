"""Structure of an MD run against a reference (md.analysis), the per-step cost of a force function
in the Langevin program (md.langevin_step_cost) and the compiled energy wrapper (md.CompiledEnergy)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md


def test_compare_distributions_known_cases_and_floor():
    edges_case = md.compare_distributions([0.5, 1.5, 2.5, 3.5], [3.5, 2.5, 1.5, 0.5], [[0.5, 3.5], [1.5, 2.5]],
                                          n_bins=4)
    # identical samples: zero L1; the edges span both samples, padded by 5 % of the range
    assert edges_case.l1 == 0.0
    np.testing.assert_allclose(edges_case.edges, np.linspace(0.5 - 0.15, 3.5 + 0.15, 5))
    # each two-point segment covers half the bins of the four-point sample: L1 = 2 × (2 × 1/4) = 1 each
    np.testing.assert_allclose(edges_case.floors, [1.0, 1.0])
    assert edges_case.floor == 1.0 and edges_case.floor_p90 == 1.0
    disjoint = md.compare_distributions([0.0, 0.1], [1.0, 1.1], [[0.0], [0.1]], n_bins=10)
    assert disjoint.l1 == pytest.approx(2.0)
    assert disjoint.sample.shape == (2,) and disjoint.reference.shape == (2,)
    with pytest.raises(ValueError, match="segment"):
        md.compare_distributions([0.0], [1.0], [])


def test_distribution_metrics_flattens_every_tag_and_side():
    c = md.compare_distributions(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0]), [np.array([1.0, 2.0])], n_bins=4)
    m = md.distribution_metrics({"300K": c}, "bond", unit="A", sides=("dp", "ref"))
    assert set(m) == {"bond_hist_l1_300K", "bond_hist_l1_sampling_floor_300K", "bond_hist_l1_sampling_floor_p90_300K",
                      "bond_mean_A_dp_300K", "bond_std_A_dp_300K", "bond_mean_A_ref_300K", "bond_std_A_ref_300K"}
    assert m["bond_mean_A_dp_300K"] == 2.0 and m["bond_mean_A_ref_300K"] == 2.0
    assert m["bond_std_A_ref_300K"] == 1.0 and m["bond_hist_l1_300K"] == c.l1
    with pytest.raises(ValueError, match="sides"):
        md.distribution_metrics({"a": c}, "bond", unit="A", sides=("dp",))


def test_compare_rdf_of_a_trajectory_with_itself_is_zero_and_l1_is_the_rectangle_rule():
    R, box = md.fcc_lattice(2, 3.61)
    traj = np.asarray(R)[None] + 0.05 * np.random.default_rng(0).normal(size=(3,) + R.shape)
    same = md.compare_rdf(traj, box, traj, np.asarray(box.matrix), r_max=3.5, n_bins=40)
    assert same.l1 == 0.0 and same.r.shape == same.g.shape == (40,) and same.g.max() > 1.0
    other = md.compare_rdf(traj, box, traj * 1.02, np.asarray(box.matrix) * 1.02, r_max=3.5, n_bins=40)
    np.testing.assert_allclose(other.l1, np.sum(np.abs(other.g - other.g_ref)) * (other.r[1] - other.r[0]))
    assert other.l1 > 0.1  # a 2 % expansion moves the first peak


def _harmonic_dimer():
    # two atoms on a spring (eV, Å): r0 = 1 Å, k = 20 eV/Å², masses 1 amu
    def energy(R):
        return 10.0 * (jnp.linalg.norm(R[1] - R[0]) - 1.0) ** 2
    return md.energy_force_fn(energy), np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


def test_distributions_vs_reference_runs_the_long_run_and_equal_length_segments():
    force_fn, R0 = _harmonic_dimer()
    kw = dict(dt=1e-3, gamma=20.0, mass=(1.0, 1.0))
    refs = [R0 + 0.03 * np.random.default_rng(s).normal(size=(30, 2, 3)) for s in (1, 2)]  # stand-in references

    def bond(frames):
        return md.bond_lengths(frames, [(0, 1)])

    out = md.distributions_vs_reference(force_fn, refs, [300.0, 600.0], bond, n_steps=60, n_segments=3, discard=5,
                                        seed=10, n_bins=8, **kw)
    assert len(out) == 2
    for ref, c in zip(refs, out):
        assert c.sample.shape == (60 - 5,) and c.reference.shape == (30 - 5,) and c.floors.shape == (3,)
        np.testing.assert_allclose(c.reference, bond(ref[5:]).ravel())
        assert 0.0 <= c.floor <= c.floor_p90 <= 2.0 and 0.0 <= c.l1 <= 2.0
        assert 0.8 < c.sample.mean() < 1.2  # the spring holds
    with pytest.raises(ValueError, match="one temperature per reference"):
        md.distributions_vs_reference(force_fn, refs, [300.0], bond, n_steps=60, n_segments=3, discard=5, seed=0, **kw)
    with pytest.raises(ValueError, match="more than discard"):
        md.distributions_vs_reference(force_fn, refs, [300.0, 600.0], bond, n_steps=20, n_segments=3, discard=5, seed=0,
                                      **kw)


def test_langevin_step_cost_is_positive_and_validated():
    force_fn, R0 = _harmonic_dimer()
    s = md.langevin_step_cost(force_fn, R0, 300.0, 5, dt=1e-3, gamma=20.0, mass=(1.0, 1.0), seed=7, repeats=2)
    assert 0.0 < s < 1.0
    with pytest.raises(ValueError, match="repeats"):
        md.langevin_step_cost(force_fn, R0, 300.0, 20, dt=1e-3, gamma=20.0, mass=(1.0, 1.0), seed=7, repeats=0)


def test_compiled_energy_equals_autodiff_and_keeps_the_cutoff():
    lj = md.lennard_jones(cutoff=2.5)

    def energy(R, nbrs, box, species=None):  # a plain function: no analytic path of its own
        return lj(R, nbrs, box, species)

    energy.cutoff = 2.5
    R, box = md.lj_liquid_box(108, density=0.5)
    R = R + 0.05 * jax.random.normal(jax.random.PRNGKey(0), R.shape, R.dtype)
    nbrs = md.neighbor_list(2.5, 0.3).allocate(R, box)
    ce = md.CompiledEnergy(energy)
    assert ce.cutoff == 2.5 and md.energy_and_forces(ce) == ce.energy_and_forces  # the engine's compiled path
    e, f = ce.energy_and_forces(R, nbrs, box)
    e_ref, g = jax.jit(jax.value_and_grad(energy))(R, nbrs, box)
    np.testing.assert_allclose(float(e), float(e_ref), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(f), -np.asarray(g), atol=1e-4)
    assert float(jax.jit(ce)(R, nbrs, box)) == pytest.approx(float(e), rel=1e-6)  # calling it calls the energy
    with pytest.raises(ValueError, match="callable"):
        md.CompiledEnergy(3.0)
