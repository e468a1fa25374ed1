"""DeePMD-kit format round trip and rejection of malformed sets; ASE in/out; neighbour tables
against brute force; EMT labels; DeePMD loss schedule inside train.fit."""

import jax
import numpy as np
import pytest

from jaxhybrid.dp import (DeepPot, EMTLabeller, System, from_ase, neighbour_table, pack, predict, read_deepmd, to_ase, train,
                          write_deepmd)


def make_system(F=5, n=4, seed=0, virial=True):
    rng = np.random.default_rng(seed)
    return System(("O", "H"), np.array([0, 1, 1, 0][:n]), rng.normal(size=(F, n, 3)), np.tile(np.eye(3) * 9.0, (F, 1, 1)),
                  rng.normal(size=F), rng.normal(size=(F, n, 3)), rng.normal(size=(F, 3, 3)) if virial else None)


def test_deepmd_round_trip_several_sets(tmp_path):
    s = make_system(F=7)
    write_deepmd(tmp_path / "sys", s, set_size=3)
    assert sorted(p.name for p in (tmp_path / "sys").glob("set.*")) == ["set.000", "set.001", "set.002"]
    assert np.load(tmp_path / "sys" / "set.000" / "coord.npy").shape == (3, 12)
    r = read_deepmd(tmp_path / "sys")
    assert r.type_map == s.type_map and np.array_equal(r.types, s.types)
    for k in ("coord", "box", "energy", "force", "virial"):
        np.testing.assert_array_equal(getattr(r, k), getattr(s, k))
    s2 = make_system(F=2, virial=False)
    write_deepmd(tmp_path / "nv", s2)
    assert read_deepmd(tmp_path / "nv").virial is None


@pytest.mark.parametrize("breakage,message", [
    ("coord_cols", "coord.npy must have shape"),
    ("frames", "disagree on the number of frames"),
    ("missing_force", "missing"),
    ("no_type", "no type.raw"),
    ("nan", "NaN"),
    ("bad_type", "types must lie"),
    ("no_sets", "no set.*"),
])
def test_malformed_sets_are_rejected(tmp_path, breakage, message):
    d = write_deepmd(tmp_path / "sys", make_system())
    s0 = d / "set.000"
    if breakage == "coord_cols":
        np.save(s0 / "coord.npy", np.zeros((5, 11)))
    elif breakage == "frames":
        np.save(s0 / "energy.npy", np.zeros(4))
    elif breakage == "missing_force":
        (s0 / "force.npy").unlink()
    elif breakage == "no_type":
        (d / "type.raw").unlink()
    elif breakage == "nan":
        e = np.load(s0 / "energy.npy")
        e[2] = np.nan
        np.save(s0 / "energy.npy", e)
    elif breakage == "bad_type":
        (d / "type.raw").write_text("0\n1\n5\n0\n")
    elif breakage == "no_sets":
        for f in s0.iterdir():
            f.unlink()
        s0.rmdir()
    with pytest.raises(ValueError, match=message):
        read_deepmd(d)


def test_ase_round_trip_and_emt_labels():
    from ase.build import bulk

    a = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    a.rattle(0.05, seed=1)
    s = EMTLabeller(("Cu",)).label([a])
    assert s.n_atoms == 32 and abs(s.force.sum(1)).max() < 1e-8  # EMT forces sum to zero
    frames = to_ase(s)
    back = from_ase(frames, ("Cu",))
    np.testing.assert_allclose(back.force, s.force)
    np.testing.assert_allclose(back.virial, s.virial, atol=1e-12)
    # virial = −∂E/∂ε: finite difference of the EMT energy under a small shear
    from ase.calculators.emt import EMT

    h = 1e-5
    E = []
    for sgn in (1, -1):
        b = a.copy()
        eps = np.zeros((3, 3))
        eps[0, 1] = sgn * h
        b.set_cell(np.asarray(a.cell) @ (np.eye(3) + eps), scale_atoms=True)
        b.calc = EMT()
        E.append(b.get_potential_energy())
    np.testing.assert_allclose(s.virial[0, 0, 1], -(E[0] - E[1]) / (2 * h), rtol=1e-4, atol=1e-6)


def test_neighbour_table_matches_brute_force_small_box():
    rng = np.random.default_rng(0)
    cell = np.array([[5.0, 0, 0], [0.8, 5.5, 0], [0.3, 0.2, 6.0]])
    R = rng.uniform(0, 1, (6, 3)) @ cell
    rc = 4.0
    idx, sh = neighbour_table(R, cell, rc)
    got = sorted(np.round(np.linalg.norm(R[j] - R[i] + s @ cell), 9) for i in range(6) for j, s in zip(idx[i], sh[i]) if j < 6)
    want = []
    for i in range(6):
        for j in range(6):
            for n in np.ndindex(5, 5, 5):
                v = R[j] - R[i] + (np.array(n) - 2) @ cell
                r = np.linalg.norm(v)
                if 0 < r < rc:
                    want.append(np.round(r, 9))
    assert got == sorted(want)


def test_training_reduces_error_and_prefactors_follow_the_learning_rate():
    from ase.build import bulk

    frames = []
    for k in range(3):
        a = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
        a.rattle(0.1, seed=k)
        frames.append(a)
    data = pack([EMTLabeller(("Cu",)).label(frames)], rcut=4.0)
    model = DeepPot(("Cu",), rcut=4.0, rcut_smth=3.0, sel=48, embedding=(4, 8), fitting=(16,), axis=2, key=jax.random.PRNGKey(0))
    before = np.sqrt(np.mean((predict(model, data)[1] - data.force) ** 2))
    steps, lr0, lr1 = 80, 1e-2, 1e-3
    trained, hist = train(model, data, steps=steps, batch_size=1, lr_start=lr0, lr_end=lr1, log_every=40)
    after = np.sqrt(np.mean((predict(trained, data)[1] - data.force) ** 2))
    assert after < 0.85 * before
    # p_f(t) = 1 (1 − r) + 1000 r with r = lr(t)/lr0 = (lr1/lr0)^(t/T): mean over the last chunk (t = 40..79)
    r = (lr1 / lr0) ** (np.arange(40, 80) / steps)
    np.testing.assert_allclose(hist[-1]["pref_f"], np.mean(1 - r + 1000 * r), rtol=1e-4)
    np.testing.assert_allclose(hist[0]["pref_e"], np.mean(1 - (r0 := (lr1 / lr0) ** (np.arange(40) / steps)) + 0.02 * r0), rtol=1e-4)


def test_reference_md_cache_is_atomic_reused_and_safe_under_concurrency(tmp_path, monkeypatch):
    """Labels are published by rename of a complete temporary directory: while a set is being
    written no reader-visible directory is incomplete; concurrent writers of the same
    trajectory leave one complete set and no temporaries; a stale incomplete directory (no
    done.json) is replaced; a second call reads instead of relabelling."""
    from concurrent.futures import ThreadPoolExecutor

    from ase.build import bulk

    from jaxhybrid.dp import labellers, reference_md

    def visible_incomplete():
        return [p.name for p in tmp_path.iterdir() if not p.name.startswith(".") and not (p / "done.json").exists()]

    real_write = labellers.write_deepmd

    def checked_write(directory, system, *a, **k):
        out = real_write(directory, system, *a, **k)  # the set is now on disk, done.json not yet
        assert visible_incomplete() == [], "a half-written set is visible to readers"
        return out

    monkeypatch.setattr(labellers, "write_deepmd", checked_write)
    calls = []

    class Counting(EMTLabeller):
        def label(self, frames):
            calls.append(len(frames))
            return super().label(frames)

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    kw = dict(temperatures=[300.0], n_frames=2, every=2, equilibrate=2, seed=3, name="t", cache=tmp_path)
    lab = Counting(("Cu",))
    with ThreadPoolExecutor(2) as pool:
        a, b = [f.result()[0] for f in [pool.submit(reference_md, lab, atoms, **kw) for _ in range(2)]]
    entries = sorted(p.name for p in tmp_path.iterdir())
    assert len(entries) == 1 and entries[0].startswith("t-"), entries  # no temporary directories left
    d = tmp_path / entries[0]
    assert (d / "done.json").exists()
    np.testing.assert_array_equal(read_deepmd(d).force, a.force)
    np.testing.assert_array_equal(a.force, b.force)  # same seed: same labels from both writers
    n = len(calls)
    c = reference_md(lab, atoms, **kw)[0]
    assert len(calls) == n and np.array_equal(c.coord, a.coord)  # read from the cache
    # a stale, half-written directory (older writer, crash) is recomputed and replaced
    monkeypatch.undo()
    (d / "done.json").unlink()
    (d / "set.000" / "force.npy").unlink()
    e = reference_md(lab, atoms, **kw)[0]
    assert len(calls) == n + 1 and (d / "done.json").exists()
    np.testing.assert_array_equal(read_deepmd(d).force, e.force)
    assert sorted(p.name for p in tmp_path.iterdir()) == entries
