"""Library pieces of the Deep Potential examples: label files, element-specific crystals,
training from a configuration, concurrent learning against its equal-cost baselines, DP-MD
checks of a crystal and of a molecule, and the shared plot panels."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import dp, md
from jaxhybrid.dp import System


def _system(F=3, n=3, seed=0, virial=False, pbc=False):
    rng = np.random.default_rng(seed)
    return System(("O", "H"), np.array([0, 1, 1][:n]), rng.normal(size=(F, n, 3)), np.tile(np.eye(3) * 20.0, (F, 1, 1)),
                  rng.normal(size=F), rng.normal(size=(F, n, 3)), rng.normal(size=(F, 3, 3)) if virial else None, pbc)


# --- label files -------------------------------------------------------------------------------------------------

def test_label_file_round_trip_is_exact(tmp_path):
    systems = [_system(F=4, seed=1), _system(F=2, n=2, seed=2, virial=True, pbc=True)]
    header = {"xc": "PBE", "seed": 3, "temperatures": [300.0, 600.0]}
    path = dp.write_label_file(tmp_path / "sub" / "labels.npz", systems, header)
    assert path.is_file() and not list(tmp_path.glob("sub/*.tmp*"))
    back = dp.read_label_file(path, dict(header))
    assert len(back) == 2
    for a, b in zip(systems, back):
        assert b.type_map == a.type_map and b.pbc == a.pbc
        for k in ("types", "coord", "box", "energy", "force"):
            np.testing.assert_array_equal(getattr(b, k), getattr(a, k))
    assert back[0].virial is None
    np.testing.assert_array_equal(back[1].virial, systems[1].virial)


def test_label_file_refuses_another_header_and_names_the_file(tmp_path):
    path = dp.write_label_file(tmp_path / "l.npz", [_system()], {"seed": 0})
    with pytest.raises(ValueError, match="l.npz: its header does not match"):
        dp.read_label_file(path, {"seed": 1})
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        dp.read_label_file(tmp_path / "nothere.npz", {"seed": 0})
    with pytest.raises(ValueError, match="no systems"):
        dp.write_label_file(tmp_path / "e.npz", [], {})
    other = _system()._replace(type_map=("C", "H"))
    with pytest.raises(ValueError, match="type maps"):
        dp.write_label_file(tmp_path / "m.npz", [_system(), other], {})


def test_label_file_of_the_first_format_takes_the_missing_fields_from_arguments(tmp_path):
    s = _system(F=2)
    key = {"seed": 5}
    path = tmp_path / "old.npz"
    np.savez_compressed(path, header=np.array(json.dumps(key, sort_keys=True)), coord_0=s.coord, energy_0=s.energy,
                        force_0=s.force)
    with pytest.raises(ValueError, match="old.npz: system 0 lacks"):
        dp.read_label_file(path, key)
    (back,) = dp.read_label_file(path, key, type_map=("O", "H"), types=[0, 1, 1], box=np.eye(3) * 20.0, pbc=False)
    for k in ("types", "coord", "box", "energy", "force"):
        np.testing.assert_array_equal(getattr(back, k), getattr(s, k))
    assert back.type_map == ("O", "H") and not back.pbc


def test_stored_labels_reads_the_keyed_file_else_makes_the_labels(tmp_path):
    from jaxhybrid.cache import config_hash

    key = {"basis": "sto-3g", "seed": 1}
    path = dp.keyed_label_file(tmp_path, "water-test", key)
    assert path == tmp_path / f"water-test-{config_hash(key)}.npz"
    made = []
    systems, where = dp.stored_labels(tmp_path, "water-test", key, lambda: made.append(1) or [_system()])
    assert where is None and made == [1] and not path.exists()  # nothing is written
    dp.write_label_file(path, [_system(seed=4)], key)
    systems, where = dp.stored_labels(tmp_path, "water-test", key, lambda: pytest.fail("must read the file"))
    assert where == path
    np.testing.assert_array_equal(systems[0].coord, _system(seed=4).coord)
    with pytest.raises(ValueError, match="file-name stem"):
        dp.keyed_label_file(tmp_path, "a/b", key)


# --- element-specific crystals -------------------------------------------------------------------------------------

def test_crystal_set_up_comes_from_the_element():
    assert dp.lattice_constant("Cu") == 3.61 and dp.atomic_mass("Cu") == 63.546
    assert dp.lattice_constant("Al") == 4.05 and dp.atomic_mass("Al") == pytest.approx(26.98, abs=0.01)
    atoms = dp.crystal("Ni", (2, 2, 3))
    assert len(atoms) == 4 * 12 and set(atoms.get_chemical_symbols()) == {"Ni"}
    np.testing.assert_allclose(np.diag(atoms.get_cell()), np.array([2, 2, 3]) * dp.lattice_constant("Ni"))
    assert len(dp.crystal("Fe", (1, 1, 1))) == 2  # bcc
    with pytest.raises(ValueError, match="not a cubic crystal"):
        dp.lattice_constant("O")
    with pytest.raises(ValueError, match="unknown element"):
        dp.atomic_mass("Xx")
    with pytest.raises(ValueError, match="three positive"):
        dp.crystal("Cu", (2, 2))


def test_crystal_positions_are_the_md_lattice_and_rattle_reproducibly():
    R, box = dp.crystal_positions("Cu", 2)
    R0, box0 = md.fcc_lattice(2, 3.61)
    np.testing.assert_array_equal(np.asarray(R), np.asarray(R0))
    np.testing.assert_array_equal(np.asarray(box.matrix), np.asarray(box0.matrix))
    Rr, _ = dp.crystal_positions("Cu", 2, rattle=0.05, key=jax.random.PRNGKey(0))
    rattled = R0 + 0.05 * jax.random.normal(jax.random.PRNGKey(0), R0.shape)
    np.testing.assert_array_equal(np.asarray(Rr), np.asarray(rattled))
    Rb, boxb = dp.crystal_positions("Fe", 2)  # bcc through ASE
    assert Rb.shape == (16, 3) and float(boxb.matrix[0, 0]) == pytest.approx(2 * dp.lattice_constant("Fe"), rel=1e-6)
    with pytest.raises(ValueError, match="key"):
        dp.crystal_positions("Cu", 2, rattle=0.1)


def test_crystal_data_labels_every_size_and_condition(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    out = dp.crystal_data(dp.EMTLabeller(("Cu",)), "Cu", [(1, 1, 2), (1, 2, 2)], [[300, 0.0], [600, 0.02]], n_frames=2,
                          every=2, equilibrate=0, seed=0, name="t")
    assert [s.n_atoms for s in out] == [8, 8, 16, 16] and all(s.n_frames == 2 for s in out)
    # the strained cell: 2 % larger
    np.testing.assert_allclose(out[1].box[0], out[0].box[0] * 1.02, rtol=1e-9)


# --- training from a configuration --------------------------------------------------------------------------------

TINY = dict(rcut=4.0, rcut_smth=3.0, embedding=[4], fitting=[8], axis=2, steps=4, batch_size=2, lr_start=1e-3,
            lr_end=1e-4, seed=0)


def test_loss_from_config_pairs_and_defaults():
    assert dp.loss_from_config({}) == dp.LossConfig()
    got = dp.loss_from_config({"pref_e": [0.1, 10.0], "pref_v": [0.02, 1.0]})
    assert got == dp.LossConfig(0.1, 10.0, 1000.0, 1.0, 0.02, 1.0)
    with pytest.raises(ValueError, match="pair"):
        dp.loss_from_config({"pref_f": [1.0]})


def test_deep_pot_from_config_and_its_template():
    m = dp.deep_pot_from_config(("O", "H"), TINY, jax.random.PRNGKey(3), sel=2)
    ref = dp.DeepPot(("O", "H"), rcut=4.0, rcut_smth=3.0, sel=2, embedding=[4], fitting=[8], axis=2,
                     key=jax.random.PRNGKey(3))
    for a, b in zip(jax.tree_util.tree_leaves(m), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    t = dp.template_from_config(("O", "H"), TINY, {"sel": 2})
    assert jax.tree_util.tree_structure(t) == jax.tree_util.tree_structure(m)
    assert [x.shape for x in jax.tree_util.tree_leaves(t)] == [x.shape for x in jax.tree_util.tree_leaves(m)]
    ens = dp.template_from_config(("Cu",), dict(TINY, sel=8, n_models=3))
    assert ens.e_bias.shape[0] == 3
    mlp = dp.template_from_config(("O", "H"), {"kind": "distances", "widths": [5]}, n_atoms=3)
    assert mlp.n_atoms == 3 and mlp.mu.shape == (3,)
    with pytest.raises(ValueError, match="lacks"):
        dp.deep_pot_from_config(("O", "H"), {"rcut": 4.0}, jax.random.PRNGKey(0), sel=2)
    with pytest.raises(ValueError, match="atom count"):
        dp.template_from_config(("O", "H"), {"kind": "distances", "widths": [5]})


def test_fit_from_config_builds_trains_and_summarises_both_networks(monkeypatch):
    """The Deep Potential path with :func:`jaxhybrid.dp.train` recorded (its training is tested in
    test_dp_data): the model of the configuration with ``sel`` from the data, initialisation key
    ``seed``, minibatch key ``seed + 1``, the configuration's loss; the MLP path trains for real."""
    from jaxhybrid.dp import configured

    calls = []

    def fake_train(model, data, **kw):
        calls.append((model, data, kw))
        return model, [{"step": np.int64(2), "rmse_f": np.float32(0.5)}]

    monkeypatch.setattr(configured, "train", fake_train)
    systems = [_system(F=4, seed=s) for s in range(2)]
    cfg = dict(TINY, pref_f=[100.0, 2.0], refit_bias=True)
    model, meta = dp.fit_from_config(("O", "H"), systems, cfg, log_every=2)
    (m, data, kw), = calls
    assert m.sel == 2 and data.idx.shape == (8, 3, 2) and model is m
    assert kw["key"].tolist() == jax.random.PRNGKey(1).tolist() and kw["log_every"] == 2 and kw["refit_bias"]
    assert kw["loss"] == dp.LossConfig(start_pref_f=100.0, limit_pref_f=2.0) and kw["steps"] == 4
    assert kw["batch_size"] == 2 and (kw["lr_start"], kw["lr_end"]) == (1e-3, 1e-4) and not kw["ensemble"]
    want = dp.deep_pot_from_config(("O", "H"), cfg, jax.random.PRNGKey(0), sel=2)
    for a, b in zip(jax.tree_util.tree_leaves(m), jax.tree_util.tree_leaves(want)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert meta == {"sel": 2, "n_train_frames": 8, "history": [{"step": 2.0, "rmse_f": 0.5}]}
    json.dumps(meta)  # JSON-ready
    like = dp.template_from_config(("O", "H"), cfg, meta)
    assert jax.tree_util.tree_structure(like) == jax.tree_util.tree_structure(model)
    dp.train_from_config(model, data, cfg, seed=9, steps=300)
    assert calls[-1][2]["log_every"] == 100 and calls[-1][2]["steps"] == 300  # default: gcd(steps, 100)
    mlp_cfg = {"kind": "coordinates", "widths": [4], "steps": 2, "seed": 1, "batch_size": 4}
    mlp, meta = dp.fit_from_config(("O", "H"), systems, mlp_cfg)
    assert meta == {"n_atoms": 3, "n_train_frames": 8}
    assert [x.shape for x in jax.tree_util.tree_leaves(dp.template_from_config(("O", "H"), mlp_cfg, meta))] == \
        [x.shape for x in jax.tree_util.tree_leaves(mlp)]


# --- concurrent learning against its baselines --------------------------------------------------------------------

def test_concurrent_vs_baselines_spends_the_same_labels_and_steps(monkeypatch):
    """With the loop replaced by a record of what it did, the comparison's bookkeeping: the seed
    arm is the seed-set fit, the random arm labels as many frames as the loop, drawn from all it
    explored, and trains as many steps as the loop retrained, from the seed-set ensemble."""
    from jaxhybrid.dp import concurrent_baselines as cb

    explored = [np.full((5, 2, 3), 1.0), np.full((4, 2, 3), 2.0), np.full((3, 2, 3), 3.0)]
    history = [{"labelled": 3, "accurate_frac": np.float64(0.2), "round": np.int64(0)},
               {"labelled": 0, "accurate_frac": 0.5, "round": 1}, {"labelled": 2, "accurate_frac": 0.9, "round": 2}]
    loop_calls = {}

    def fake_loop(ens, systems, atoms, **kw):
        loop_calls.update(kw, ens=ens)
        kw["rng"].random()  # the loop draws from the shared generator first
        return dp.ConcurrentResult("loop-model", [], history, explored, [], [], None, 3, True)

    monkeypatch.setattr(cb, "concurrent_learning", fake_loop)
    labelled = []
    monkeypatch.setattr(cb, "label_frames", lambda lab, frames, atoms: labelled.append(frames) or "labels")
    fits = []

    def fit(ens, systems, steps, seed):
        fits.append((ens, list(systems), steps, seed))
        return f"fit{len(fits)}"

    arms, meta = dp.concurrent_vs_baselines("init", ["seed-set"], "atoms", labeller="lab", fit=fit, init_steps=10,
                                            round_steps=7, explorer=None, trust=None, n_label=3, rounds=3, seed=4)
    assert set(arms) == set(dp.CONCURRENT_ARMS)
    assert arms == {"seed_only": "fit1", "concurrent_learning": "loop-model", "random_selection": "fit2"}
    assert fits[0] == ("init", ["seed-set"], 10, 4) and loop_calls["ens"] == "fit1" and loop_calls["seed"] == 4
    assert fits[1] == ("fit1", ["seed-set", "labels"], 7 * 2, 5)  # 2 rounds labelled; seed + 1
    rng = np.random.default_rng(4)
    rng.random()
    want = np.concatenate(explored)[rng.choice(12, size=5, replace=False)]
    np.testing.assert_array_equal(labelled[0], want)
    assert meta == {"history": [{"labelled": 3, "accurate_frac": 0.2, "round": 0}, history[1], history[2]],
                    "labelled_frames": 5, "rounds": 3, "converged": True, "random_selection_steps": 14}
    assert type(meta["history"][0]["accurate_frac"]) is float and type(meta["history"][0]["round"]) is int
    # the loop's retrain is fit with round_steps and seed + r + 1
    loop_calls["retrain"]("e", ["s"], 2)
    assert fits[-1] == ("e", ["s"], 7, 7)
    with pytest.raises(ValueError, match="init_steps"):
        dp.concurrent_vs_baselines("init", [], "atoms", labeller="lab", fit=fit, init_steps=0, round_steps=7,
                                   explorer=None, trust=None, n_label=3, rounds=3, seed=4)


def test_ensemble_errors_are_member_zeros_and_the_deviation_of_identical_members_is_zero():
    from ase.build import bulk

    lab = dp.EMTLabeller(("Cu",))
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    rng = np.random.default_rng(0)
    test = dp.label_frames(lab, atoms.get_positions()[None] + 0.05 * rng.normal(size=(2, 4, 3)), atoms)
    one = dp.DeepPot(("Cu",), rcut=3.0, rcut_smth=2.0, sel=24, embedding=[4], fitting=[4], axis=2,
                     key=jax.random.PRNGKey(0))
    same = jax.tree_util.tree_map(lambda a: jnp.stack([a, a]) if isinstance(a, jax.Array) else a, one)
    errs = dp.ensemble_errors(same, test)
    want = dp.rmse(one, dp.pack([test], 3.0, k_max=24))
    assert {k: errs[k] for k in want} == want and errs["max_model_deviation_meV_per_A"] == 0.0


# --- DP-MD checks ---------------------------------------------------------------------------------------------------

def test_crystal_md_check_runs_both_with_the_same_thermostat_and_compares_g_of_r(monkeypatch):
    """Both dynamics recorded (they are md.simulate's and ASE's, tested there): the same
    temperature, time step, friction, steps and seed; the g(r) of the last ``n_steps // every``
    frames of each, compared by the rectangle rule."""
    from types import SimpleNamespace

    from jaxhybrid.dp import crystal_md

    R0, box = md.fcc_lattice(2, 3.61)
    frames = np.asarray(R0)[None] + 0.08 * np.random.default_rng(0).normal(size=(5,) + R0.shape)
    seen = {}

    def fake_simulate(energy_fn, R, box_, **kw):
        seen["dp"] = dict(kw, R=np.asarray(R), energy_fn=energy_fn)
        return SimpleNamespace(trajectory=frames, thermo={"temperature": np.arange(5.0)})

    def fake_reference(labeller, atoms, **kw):
        seen["ref"] = dict(kw, n_atoms=len(atoms), cell=np.asarray(atoms.get_cell()) * 1.01)
        return frames[:2] * 1.01, seen["ref"]["cell"], 0.25

    monkeypatch.setattr(md, "simulate", fake_simulate)
    monkeypatch.setattr(crystal_md, "timed_reference_md", fake_reference)
    check = dp.crystal_md_check("energy", "labeller", "Cu", 2, temperature=600.0, n_steps=20, equilibrate=30,
                                dt_ps=0.002, every=10, gamma_per_ps=10.0, seed=3, n_bins=30)
    dp_kw, ref = seen["dp"], seen["ref"]
    assert dp_kw["energy_fn"] == "energy" and dp_kw["n_steps"] == 50 and dp_kw["ensemble"] == "langevin"
    assert (dp_kw["temperature"], dp_kw["dt"], dp_kw["gamma"], dp_kw["masses"]) == (600.0, 0.002, 10.0, 63.546)
    assert (ref["temperature"], ref["n_steps"], ref["every"], ref["equilibrate"]) == (600.0, 20, 10, 30)
    assert ref["dt_fs"] == 2.0 and ref["friction_per_fs"] == 0.01 and ref["seed"] == 3 and ref["n_atoms"] == 32
    np.testing.assert_array_equal(dp_kw["R"], np.asarray(R0))  # from the perfect lattice
    assert check.n_atoms == 32 and check.reference_step_s == 0.25
    np.testing.assert_array_equal(check.temperature, [3.0, 4.0])
    want = md.compare_rdf(frames[-2:], box, frames[:2] * 1.01, ref["cell"], r_max=0.5 * float(box.matrix[0, 0]),
                          n_bins=30)
    for a, b in zip(check.rdf, want):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="every"):
        dp.crystal_md_check("energy", "labeller", "Cu", 2, temperature=300.0, n_steps=5, equilibrate=0, dt_ps=0.002,
                            every=10)


def test_crystal_md_cost_times_rattled_crystals_of_every_size(monkeypatch):
    seen = {}

    def fake_cost(energy_fn, configurations, **kw):
        seen.update(kw, configurations=configurations)
        return [1e-6 * len(R) for R, _ in configurations]

    monkeypatch.setattr(md, "cost_per_atom_step", fake_cost)
    costs = dp.crystal_md_cost("energy", "Cu", [2, 3], n_steps=4, dt_ps=0.002, temperature=300.0, seed=5)
    assert costs == [32e-6, 108e-6]
    for n, (R, box) in zip((2, 3), seen["configurations"]):
        np.testing.assert_array_equal(np.asarray(R), np.asarray(
            dp.crystal_positions("Cu", n, rattle=0.05, key=jax.random.PRNGKey(5))[0]))
    assert seen["mass"] == 63.546 and seen["key"].tolist() == jax.random.PRNGKey(6).tolist()
    assert (seen["n_steps"], seen["dt"], seen["temperature"]) == (4, 0.002, 300.0)


class _SpringWater:
    """Stand-in for a DFT labeller: harmonic O–H springs (eV, Å)."""

    type_map = ("O", "H")

    def energy_forces(self, symbols, R):
        R = np.asarray(R, np.float64)
        e, f = 0.0, np.zeros_like(R)
        for j in (1, 2):
            d = R[j] - R[0]
            r = np.linalg.norm(d)
            e += 20.0 * (r - 0.97) ** 2
            f[0] += 40.0 * (r - 0.97) * d / r
            f[j] -= 40.0 * (r - 0.97) * d / r
        return e, f


class _SpringModel:
    """Stand-in for a molecular Deep Potential (what molecule_energy_fn calls): the same springs."""

    type_map = ("O", "H")

    def energy_from_pairs(self, R, cell, types, idx, shifts):
        r = jnp.linalg.norm(R[1:] - R[0], axis=-1)
        return 20.0 * jnp.sum((r - 0.97) ** 2)


def test_molecule_md_check_times_both_and_compares_each_reference():
    water = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])
    refs = [np.stack([water] * 12) + 0.01 * np.random.default_rng(k).normal(size=(12, 3, 3)) for k in range(2)]

    def oh(frames):
        return md.bond_lengths(frames, [(0, 1), (0, 2)])

    check = dp.molecule_md_check(_SpringModel(), _SpringWater(), ("O", "H", "H"), water, (15.999, 1.008, 1.008), refs,
                                 [300.0, 600.0], oh, dt_fs=0.5, gamma_per_ps=20.0, n_steps=20, n_segments=2, discard=2,
                                 timing_steps=(3, 5), seed=1)
    assert check.reference_step_s > 0 and check.step_s > 0 and len(check.distributions) == 2
    for ref, c in zip(refs, check.distributions):
        np.testing.assert_allclose(c.reference, oh(ref[2:]).ravel())
        assert c.sample.shape == (2 * 18,) and c.floors.shape == (2,)
        assert 0.85 < c.sample.mean() < 1.1  # the stand-in's springs hold the molecule together
    with pytest.raises(ValueError, match="pairs"):
        dp.molecule_md_check(_SpringModel(), _SpringWater(), ("O", "H", "H"), water, (15.999, 1.008, 1.008), refs,
                             [300.0, 600.0], oh, dt_fs=0.5, gamma_per_ps=20.0, n_steps=20, n_segments=2, discard=2,
                             timing_steps=(3,))


# --- plot panels ------------------------------------------------------------------------------------------------------

def test_plot_panels_draw_what_they_compare():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxhybrid.dp.plots import concurrent_history, distribution_comparison, rdf_comparison

    fig, ax = plt.subplots(1, 3)
    r = np.linspace(0.1, 3.0, 10)
    rdf_comparison(ax[0], md.RDFComparison(r, r**2, r, 0.5), "EMT-MD", "DP-MD", "Cu")
    assert [ln.get_label() for ln in ax[0].lines] == ["EMT-MD", "DP-MD"] and ax[0].get_title() == "Cu"
    np.testing.assert_array_equal(ax[0].lines[0].get_ydata(), r)
    c = md.compare_distributions([1.0, 1.1, 1.2], [1.0, 1.2], [[1.0, 1.1]], n_bins=4)
    distribution_comparison(ax[1], {"300K": c, "600K": c}, xlabel="x (Å)", reference="DFT-MD", sample="DP-MD")
    assert len(ax[1].lines) == 4 and ax[1].lines[1].get_label().startswith("DP-MD 300K (L1 ")
    w = np.diff(c.edges)
    np.testing.assert_allclose(np.sum(ax[1].lines[0].get_ydata() * w), 1.0)  # a density
    concurrent_history(ax[2], [{"labelled": 2, "candidates": 5, "accurate_frac": 0.5}])
    assert [p.get_height() for p in ax[2].patches] == [2, 5]
    plt.close(fig)
