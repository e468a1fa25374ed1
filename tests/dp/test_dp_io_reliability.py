"""Reliability of the DeePMD-kit reader and writer: virials all-or-none, errors that name the
file, the set and the frame (NaN labels, a bad cell, a text file saved as .npy, an empty or
non-integer type.raw), numeric set order, and an atomic write_deepmd. A property-based test
(hypothesis) corrupts a valid system directory at random: read_deepmd either returns a valid
System or raises a ValueError naming a file of the directory. Examples: small by default
and a ``@pytest.mark.slow`` twin with 10× the examples; deterministic unless
``HYPOTHESIS_PROFILE=explore`` (tests/conftest.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from jaxhybrid.dp import System, read_deepmd, write_deepmd

def make_system(F=6, n=4, seed=0, virial=True):
    rng = np.random.default_rng(seed)
    return System(("O", "H"), np.array([0, 1, 1, 0][:n]), rng.normal(size=(F, n, 3)), np.tile(np.eye(3) * 9.0, (F, 1, 1)),
                  rng.normal(size=F), rng.normal(size=(F, n, 3)), rng.normal(size=(F, 3, 3)) if virial else None)


def test_virial_missing_from_one_set_is_an_error_naming_it(tmp_path):
    """One set without virial.npy used to drop the virials of every set silently."""
    d = write_deepmd(tmp_path / "sys", make_system(), set_size=2)
    (d / "set.001" / "virial.npy").unlink()
    with pytest.raises(ValueError, match=r"missing from \['set.001'\]"):
        read_deepmd(d)
    for s in d.glob("set.*"):
        (s / "virial.npy").unlink(missing_ok=True)
    assert read_deepmd(d).virial is None  # none has virials: fine


def test_nan_label_names_file_set_frame_and_atom(tmp_path):
    d = write_deepmd(tmp_path / "sys", make_system(), set_size=3)
    f = np.load(d / "set.001" / "force.npy")
    f[2, 4] = np.nan  # frame 2 of set.001, atom 1 (columns 3..5)
    np.save(d / "set.001" / "force.npy", f)
    with pytest.raises(ValueError, match=r"set.001/force.npy .*set set.001, frame 2, atom 1"):
        read_deepmd(d)


@pytest.mark.parametrize("content,message", [
    ("", "type.raw is empty"),
    ("O\nH\nH\nO\n", "not an integer type index"),
    ("0\n1.5\n1\n0\n", "not an integer type index"),
    ("0\n-1\n1\n0\n", "types must lie"),
])
def test_bad_type_raw_is_explained(tmp_path, content, message):
    d = write_deepmd(tmp_path / "sys", make_system())
    (d / "type.raw").write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        read_deepmd(d)
    assert "type.raw" in str(err.value)


def test_text_file_saved_as_npy_is_named(tmp_path):
    d = write_deepmd(tmp_path / "sys", make_system())
    np.savetxt(d / "set.000" / "energy.npy", np.zeros(6))
    with pytest.raises(ValueError, match=r"set.000/energy.npy is not a NumPy .npy file"):
        read_deepmd(d)


@pytest.mark.parametrize("cell,word", [(np.zeros((3, 3)), "zero"), (np.diag([9.0, 9.0, -9.0]), "left-handed"),
                                        (np.array([[9.0, 0, 0], [9.0, 0, 0], [0, 0, 9.0]]), "zero")])
def test_zero_or_left_handed_cell_is_rejected_naming_the_frame(tmp_path, cell, word):
    """A zero or left-handed cell of a periodic system used to be accepted."""
    d = write_deepmd(tmp_path / "sys", make_system(), set_size=3)
    b = np.load(d / "set.001" / "box.npy")
    b[1] = cell.reshape(-1)
    np.save(d / "set.001" / "box.npy", b)
    with pytest.raises(ValueError, match=rf"set.001/box.npy: set set.001, frame 1 .*{word}"):
        read_deepmd(d)
    with pytest.raises(ValueError, match="frame 4"):  # the in-memory check agrees
        s = make_system()
        s.box[4] = cell
        s.validate()


def test_sets_are_read_in_numeric_order(tmp_path):
    """``set.10`` used to be read before ``set.2``."""
    s = make_system(F=12)
    d = write_deepmd(tmp_path / "sys", s, set_size=1)
    for k in range(12):
        (d / f"set.{k:03d}").rename(d / f"set.{k}")
    r = read_deepmd(d)
    np.testing.assert_array_equal(r.energy, s.energy)
    np.testing.assert_array_equal(r.coord, s.coord)


def test_write_deepmd_is_atomic_and_replaces_the_whole_system(tmp_path, monkeypatch):
    """A write that fails half-way leaves the old system complete (the old writer deleted the
    old sets first); a successful one replaces every set and keeps unrelated files."""
    old = make_system(F=6, seed=1)
    d = write_deepmd(tmp_path / "sys", old, set_size=2)
    (d / "done.json").write_text("{}")
    calls = {"n": 0}
    real_save = np.save

    def failing_save(f, a, *args, **kw):
        calls["n"] += 1
        if calls["n"] == 7:
            raise OSError("disk full")
        return real_save(f, a, *args, **kw)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        write_deepmd(d, make_system(F=6, seed=2), set_size=3)
    monkeypatch.setattr(np, "save", real_save)
    back = read_deepmd(d)
    np.testing.assert_array_equal(back.energy, old.energy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sys"]  # no temporary folder left
    new = make_system(F=4, seed=3, virial=False)
    write_deepmd(d, new, set_size=3)
    assert sorted(p.name for p in d.glob("set.*")) == ["set.000", "set.001"]
    assert (d / "done.json").exists()
    back = read_deepmd(d)
    assert back.virial is None
    np.testing.assert_array_equal(back.energy, new.energy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sys"]


def _corruptions():
    files = st.sampled_from(["type.raw", "type_map.raw", "set.000/coord.npy", "set.000/box.npy", "set.000/energy.npy",
                             "set.000/force.npy", "set.000/virial.npy", "set.001/virial.npy", "set.001/force.npy",
                             "set.001/box.npy"])
    arrays = st.sampled_from([np.zeros((3, 12)), np.zeros((3, 11)), np.full((3, 9), np.nan), np.zeros((3, 9)),
                              np.ones(3, bool), np.array(["a", "b"]), np.zeros((3, 12), complex), np.zeros((0,)),
                              np.zeros((3, 3, 3)), np.tile(np.diag([9.0, 9, -9]).ravel(), (3, 1)), np.arange(36.0),
                              np.array([np.inf, 1.0, 2.0])])
    return st.one_of(
        st.tuples(st.just("delete"), files),
        st.tuples(st.just("bytes"), files, st.binary(max_size=40)),
        st.tuples(st.just("text"), files, st.text(max_size=30)),
        st.tuples(st.just("truncate"), files, st.integers(0, 200)),
        st.tuples(st.just("array"), files, arrays),
        st.tuples(st.just("rename_set"), st.sampled_from(["set.000", "set.001"]),
                  st.sampled_from(["set.x", "set.10", "set.-1", "other", "set.1.0"])),
        st.tuples(st.just("nopbc"), st.booleans()),
    )


def _apply(d: Path, c) -> None:
    kind = c[0]
    if kind == "nopbc":
        if c[1]:
            (d / "nopbc").write_text("")
        return
    if kind == "rename_set":
        if (d / c[1]).exists() and not (d / c[2]).exists():
            (d / c[1]).rename(d / c[2])
        return
    p = d / c[1]
    if not p.parent.exists():
        return
    if kind == "delete":
        p.unlink(missing_ok=True)
    elif kind == "bytes":
        p.write_bytes(c[2])
    elif kind == "text":
        p.write_text(c[2])
    elif kind == "truncate" and p.exists():
        p.write_bytes(p.read_bytes()[: c[2]])
    elif kind == "array":
        np.save(p, c[2])


_TEMPLATE: dict = {}


def _template() -> Path:
    """One valid system directory, written once per session and copied for every example."""
    if "dir" not in _TEMPLATE:
        _TEMPLATE["tmp"] = tempfile.TemporaryDirectory()
        _TEMPLATE["dir"] = write_deepmd(Path(_TEMPLATE["tmp"].name) / "sys", make_system(F=6), set_size=3)
    return _TEMPLATE["dir"]


def _fuzz_deepmd(corruptions):
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(shutil.copytree(_template(), Path(tmp) / "sys"))
        for c in corruptions:
            _apply(d, c)
        try:
            s = read_deepmd(d)
        except ValueError as e:
            assert str(d) in str(e)
            return
        s.validate()
        assert s.n_frames >= 1 and s.coord.shape == (s.n_frames, s.n_atoms, 3)
        for a in (s.coord, s.box, s.energy, s.force):
            assert np.all(np.isfinite(a))
        if s.pbc:
            assert np.all(np.linalg.det(s.box) > 0)


def test_corrupted_system_directories_raise_value_errors(fuzz):
    fuzz(_fuzz_deepmd, 50, st.lists(_corruptions(), min_size=1, max_size=3))
