"""dpmd-dft: DFT-MD through the MD engine (host callback), the on-disk label cache, the
molecular Deep Potential energy, the bond-length histogram distance and the quick record."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md
from jaxhybrid.dp import DeepPot, System, cast, dft_force_fn, dft_md, molecule_energy_fn, one_thread, pack
from jaxhybrid.examples import dpmd_dft as ex


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


class HarmonicWater:
    """Stand-in labeller: harmonic O–H and H–H springs (eV, Å), counting its calls."""

    name, xc, basis, grid_level, conv_tol = "harmonic", "none", "none", 0, 0.0
    type_map = ("O", "H")
    pairs = ((0, 1, 0.97, 45.0), (0, 2, 0.97, 45.0), (1, 2, 1.55, 10.0))

    def __init__(self):
        self.calls = 0

    def energy_forces(self, symbols, R):
        self.calls += 1
        R = np.asarray(R, np.float64)
        e, f = -10.0, np.zeros_like(R)
        for i, j, r0, k in self.pairs:
            d = R[j] - R[i]
            r = np.linalg.norm(d)
            e += 0.5 * k * (r - r0) ** 2
            f[i] += k * (r - r0) * d / r
            f[j] -= k * (r - r0) * d / r
        return e, f

    def jax_energy(self, R):
        e = -10.0
        for i, j, r0, k in self.pairs:
            e = e + 0.5 * k * (jnp.linalg.norm(R[j] - R[i]) - r0) ** 2
        return e


def test_dft_md_is_cached_on_disk_and_not_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    lab = HarmonicWater()
    water = (lab, ex.SYMBOLS, ex.WATER, ex.MASSES)
    a = dft_md(*water, 300.0, 12, seed=3, name="t")
    first = lab.calls
    assert first >= 12 + 1 and a.n_frames == 12 and not a.pbc
    assert list(a.types) == [0, 1, 1] and a.type_map == ("O", "H")
    b = dft_md(*water, 300.0, 12, seed=3, name="t")
    assert lab.calls == first  # second call read the labels from disk
    for k in ("coord", "energy", "force"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert len(list((tmp_path / "dp").glob("t-*/done.json"))) == 1
    dft_md(*water, 600.0, 12, seed=3, name="t")  # other arguments: a new trajectory
    assert lab.calls > first and len(list((tmp_path / "dp").glob("t-*/done.json"))) == 2
    n = lab.calls
    dft_md(lab, ex.SYMBOLS, ex.WATER * 1.02, ex.MASSES, 300.0, 12, seed=3, name="t")  # another start geometry
    assert lab.calls > n and len(list((tmp_path / "dp").glob("t-*/done.json"))) == 3
    with pytest.raises(ValueError, match="n_steps"):
        dft_md(*water, 300.0, 0, name="t")
    with pytest.raises(ValueError, match="one per symbol"):
        dft_md(lab, ex.SYMBOLS, ex.WATER[:2], ex.MASSES, 300.0, 5, name="t")


def test_callback_dynamics_equal_native_dynamics_and_labels_match_positions(tmp_path, monkeypatch):
    """The host-callback force function runs the same integrator as a jitted JAX force: same
    trajectory; every stored label equals the labeller at the stored positions."""
    lab = HarmonicWater()
    R0 = ex.WATER
    e_ref = lab.energy_forces(ex.SYMBOLS, R0)[0]
    kw = dict(dt=0.5e-3, gamma=20.0, mass=ex.MASSES, seed=1)
    Rc, Ec, Fc = md.langevin_trajectory(dft_force_fn(lab, ex.SYMBOLS, e_ref), R0, 600.0, 30, **kw)
    native = md.energy_force_fn(lambda R: lab.jax_energy(R) - e_ref)
    Rn, En, Fn = md.langevin_trajectory(native, R0, 600.0, 30, **kw)
    np.testing.assert_allclose(Rc, Rn, atol=2e-5)
    np.testing.assert_allclose(Fc, Fn, atol=2e-3)
    assert float(np.max(np.abs(Rc[-1] - R0))) > 1e-2  # it moved
    for k in (0, 17, 29):
        e, f = lab.energy_forces(ex.SYMBOLS, Rc[k])
        np.testing.assert_allclose(Ec[k] + e_ref, e, atol=1e-5)
        np.testing.assert_allclose(Fc[k], f, atol=1e-4)


def test_pyscf_forces_are_minus_energy_gradient_in_eV_per_A():
    """Units of the DFT labels: forces (eV/Å) = −dE/dR (eV, Å) by central differences, and the
    callback force function returns the same numbers as a direct call. PySCF's analytic
    gradient leaves out the response of the XC quadrature grid, so the two agree to the grid
    error: 9 meV/Å at grid level 1, 0.26 meV/Å at level 3 (0.24 meV/Å for 6-31G at level 2,
    the full run's setting); a unit slip (Hartree/Bohr) would be a factor 51."""
    from jaxhybrid.dp import PySCFLabeller

    lab = PySCFLabeller(("O", "H"), xc="PBE", basis="sto-3g", grid_level=3)
    R = ex.WATER + np.array([[0.0, 0.0, 0.0], [0.0, 0.05, 0.02], [0.0, 0.0, 0.0]])
    with one_thread():
        e, f = lab.energy_forces(ex.SYMBOLS, R)
        h = 2e-3
        for atom, axis in ((1, 1), (0, 2)):
            dR = np.zeros_like(R)
            dR[atom, axis] = h
            fd = -(lab.energy_forces(ex.SYMBOLS, R + dR)[0] - lab.energy_forces(ex.SYMBOLS, R - dR)[0]) / (2 * h)
            assert abs(fd - f[atom, axis]) < 2e-3, (atom, axis, fd, f[atom, axis])
    assert np.abs(f).max() > 0.3  # a distorted geometry: non-trivial forces
    ec, fc, _ = dft_force_fn(lab, ex.SYMBOLS, e)(jnp.asarray(R, jnp.float32))
    np.testing.assert_allclose(np.asarray(fc), f, atol=2e-3)
    assert abs(float(ec)) < 1e-2


def _model():
    m = DeepPot(ex.TYPE_MAP, rcut=4.0, rcut_smth=3.0, sel=2, embedding=(4, 8), fitting=(8, 8), axis=3, key=jax.random.PRNGKey(0))
    leaves, tdef = jax.tree_util.tree_flatten(m.fittings)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    leaves = [a + 0.3 * jax.random.normal(k, a.shape, a.dtype) for a, k in zip(leaves, keys)]
    return eqx.tree_at(lambda t: t.fittings, m, jax.tree_util.tree_unflatten(tdef, leaves))


def test_molecule_energy_matches_training_path_and_is_invariant(x64):
    model = cast(_model(), jnp.float64)
    types = [ex.TYPE_MAP.index(s) for s in ex.SYMBOLS]
    ef = jax.jit(jax.value_and_grad(molecule_energy_fn(model, types)))  # one compilation for every call below
    energy = lambda r: ef(r)[0]  # noqa: E731
    rng = np.random.default_rng(0)
    R = np.stack([ex.WATER + 0.08 * rng.normal(size=(3, 3)) for _ in range(4)])
    # the training path: neighbour tables of jaxhybrid.dp.pack (non-periodic frames)
    sysm = System(ex.TYPE_MAP, np.array(types), R, np.broadcast_to(np.eye(3) * 100, (4, 3, 3)).copy(), np.zeros(4),
                  np.zeros((4, 3, 3)), None, False)
    p = pack([sysm], 4.0)
    ef_pack = jax.jit(jax.value_and_grad(lambda r, c, t, i, sh: model.energy_from_pairs(r, c, t, i, sh)))
    out = [ef_pack(*(jnp.asarray(a[k]) for a in (p.coord, p.cell, p.types, p.idx, p.shifts))) for k in range(4)]
    e_pack, f_pack = np.array([float(e) for e, _ in out]), np.stack([-np.asarray(g) for _, g in out])
    e_mol = np.array([float(energy(jnp.asarray(r))) for r in R])
    f_mol = np.stack([-np.asarray(ef(jnp.asarray(r))[1]) for r in R])
    np.testing.assert_allclose(e_mol, e_pack, atol=1e-10)
    np.testing.assert_allclose(f_mol, f_pack, atol=1e-10)
    assert np.std(e_mol) > 1e-4
    Q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))
    Q = Q if np.linalg.det(Q) > 0 else -Q
    r = jnp.asarray(R[1])
    moved = r @ jnp.asarray(Q).T + jnp.asarray([1.0, -2.0, 0.5])
    np.testing.assert_allclose(float(energy(moved)), float(energy(r)), atol=1e-10)
    np.testing.assert_allclose(float(energy(r[jnp.array([0, 2, 1])])), float(energy(r)), atol=1e-10)  # swap the H atoms


def test_hist_l1_known_cases_and_bond_lengths():
    edges = np.linspace(0.0, 4.0, 5)
    a = np.array([0.5, 1.5, 2.5, 3.5])
    assert md.histogram_l1(a, a[::-1], edges) == 0.0
    assert md.histogram_l1(np.array([0.5, 0.6]), np.array([3.5, 3.6]), edges) == pytest.approx(2.0)
    assert md.histogram_l1(np.array([0.5, 1.5]), np.array([0.5, 3.5]), edges) == pytest.approx(1.0)
    assert md.histogram_l1(np.array([0.5, 9.0]), np.array([0.5, 0.5]), edges) == pytest.approx(1.0)  # out of range: disjoint
    e = md.histogram_edges(np.array([1.0, 2.0]), np.array([3.0]), n_bins=4, pad=0.5)
    np.testing.assert_allclose(e, np.linspace(0.0, 4.0, 5))
    R = np.stack([ex.WATER, ex.WATER * 2])
    np.testing.assert_allclose(md.bond_lengths(R, ex.OH_PAIRS).ravel(), [0.95778, 0.95778, 1.91555, 1.91555], atol=1e-4)
    with pytest.raises(ValueError, match="pairs"):
        md.bond_lengths(R, [(0, 3)])


def test_quick_path_loads_the_shipped_full_networks(tmp_path, monkeypatch):
    """seed 0: the quick run evaluates the full run's Deep Potential and both data-only MLPs
    (shipped), trains nothing; another seed has no stored weights."""
    from jaxhybrid import pretrained

    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    names = [("dpmd-dft-dp", ex.train_config(False, 0))] + [
        (f"dpmd-dft-mlp-{kind}", ex.data_only_config(False, 0, kind)) for _, kind, _ in ex.KINDS]
    for name, cfg in names:
        hit = pretrained.find(name, cfg)
        assert hit is not None and hit[1] == "shipped", f"{name}: no shipped weights for the full configuration"
    nets, tier = ex.networks(quick=True, seed=0)
    got, mlps = nets["dp"], {key: nets[key] for key, _, _ in ex.KINDS}
    assert got.source == "shipped" and tier == "full" and {m.source for m in mlps.values()} == {"shipped"}
    assert got.config == ex.train_config(False, 0) and got.meta["n_train_frames"] == 600
    assert {m.model.kind for m in mlps.values()} == {"coordinates", "distances"}
    assert pretrained.find("dpmd-dft-dp", ex.train_config(False, 1)) is None


def test_shipped_held_out_labels_are_the_full_runs_dft_md():
    """The shipped held-out set: keyed by its configuration, the full run's 3 x 200 PBE/6-31G
    DFT-MD frames; a stored label equals a fresh PySCF calculation at the stored positions."""
    from jaxhybrid.cache import config_hash
    from jaxhybrid.dp import PySCFLabeller

    key = ex.test_label_config(False, 0)
    systems, path = ex.test_data(False, 0)
    assert path is not None and path.name == f"dpmd-dft-test-{config_hash(key)}.npz" and path.stat().st_size < 2**20
    assert [s.n_frames for s in systems] == [200, 200, 200] and all(not s.pbc for s in systems)
    s = systems[1]  # 600 K
    lab = PySCFLabeller(ex.TYPE_MAP, xc=key["xc"], basis=key["basis"], grid_level=key["grid_level"])
    with one_thread():
        e, f = lab.energy_forces(list(ex.SYMBOLS), s.coord[57])
    assert abs(e - s.energy[57]) < 1e-4 and np.abs(f - s.force[57]).max() < 1e-4
    r = md.bond_lengths(s.coord, ex.OH_PAIRS)
    assert 0.85 < r.min() and r.max() < 1.2  # a water molecule throughout


@pytest.mark.example
def test_dpmd_dft_quick_record(quick_record):
    rec = quick_record("dpmd-dft")
    m, b = rec["metrics"], rec["baselines"]
    assert rec["name"] == "dpmd-dft" and rec["paradigm"] == 1
    assert {"force_rmse_meV_per_A", "speedup_vs_reference", "energy_rmse_meV_per_atom", "oh_bond_hist_l1"} <= set(m)
    assert {"mechanism_only", "data_only", "data_only_distances"} <= set(b)
    # the full run's networks and held-out labels (shipped): PBE/6-31G, 600 held-out frames
    assert {w["source"] for w in rec["weights"].values()} == {"shipped"} and rec["test_labels"].endswith(".npz")
    assert rec["headline"] == "force_rmse_meV_per_A" and rec["references"] == ["mechanism_only"]
    assert m["n_train_frames"] == 600 and m["n_test_frames"] == 600 and "6-31g" in rec["reference"]
    # the full run's direction: the Deep Potential beats both MLPs on held-out forces (new orientations)
    assert set(b) - {"mechanism_only"} == {"data_only", "data_only_distances"}
    assert m["speedup_vs_reference"] > 1000.0
    assert 0.9 < m["oh_bond_mean_A_dp_300K"] < 1.2


@pytest.mark.slow
def test_quick_retrain_trains_the_quick_configuration_on_sto3g(tmp_path, monkeypatch):
    """``--retrain`` (and any seed without stored networks) trains the quick configuration on
    STO-3G DFT-MD labels and evaluates against STO-3G labels: the level follows the networks."""
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path / "cache"))
    rec = ex.run(quick=True, seed=0, out=tmp_path, retrain=True)
    assert {w["source"] for w in rec["weights"].values()} == {"trained"}
    assert {w["level"] for w in rec["weights"].values()} == {"quick"}
    assert rec["training"]["dp"] == ex.train_config(True, 0) and "sto-3g" in rec["reference"]
    assert rec["metrics"]["n_train_frames"] == 48 and rec["test_labels"] == "DFT-MD (label cache)"
