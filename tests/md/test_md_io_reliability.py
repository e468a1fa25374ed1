"""Reliability of the MD files and boundaries: extended XYZ written atomically after validating
everything, velocities ASE can read, per-frame values made explicit, readers that name the file
and frame; setfl reader errors; ``random_positions(min_distance=...)``; NaN energies on an
overflowed list or a NaN position; ``simulate`` rejecting non-finite inputs up front.

Property-based tests (hypothesis) feed malformed files to the readers and malformed arguments to
the writer: every input either works or raises a ValueError naming the file. Examples per test:
small by default, and a ``@pytest.mark.slow`` twin with 10× the examples; deterministic unless
``HYPOTHESIS_PROFILE=explore`` (tests/conftest.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import strategies as st

from jaxhybrid import md

def _frames(T=2, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 4.0, (T, n, 3)), rng.normal(size=(T, n, 3))


# ------------------------------------------------------------------------------------------
# write_extxyz


def test_failed_write_leaves_the_existing_trajectory_untouched(tmp_path):
    """A bad argument used to truncate the file before failing (0 bytes left)."""
    path = tmp_path / "t.xyz"
    R, _ = _frames()
    md.write_extxyz(path, R, 4.0, "Ar")
    before = path.read_bytes()
    for bad in (dict(comment={"a": 1}), dict(frame_info={"energy": [1.0, 2.0, 3.0]}),
                dict(velocities=np.ones((2, 3, 3)), masses=39.9)):  # no unit for the velocities
        with pytest.raises(ValueError):
            md.write_extxyz(path, R, 4.0, "Ar", append=True, **bad)
        with pytest.raises(ValueError):
            md.write_extxyz(path, R, 4.0, "Ar", **bad)
        assert path.read_bytes() == before
    R_nan = R.copy()
    R_nan[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="frame 1, atom 2"):
        md.write_extxyz(path, R_nan, 4.0, "Ar")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.xyz"]  # no temporary left behind


@pytest.mark.parametrize("ch", ["\x1e", "\x85", "\u2028", "\t", "\x00"])
def test_control_characters_in_string_info_are_refused(tmp_path, ch):
    """Found by the property test: '\\x1e' is a line break for ``str.splitlines``, so a string
    value holding it used to write a file whose comment line no reader could parse."""
    path = tmp_path / "t.xyz"
    with pytest.raises(ValueError, match="control characters"):
        md.write_extxyz(path, np.zeros((2, 3)), 4.0, "Ar", tag="a" + ch + "b")
    assert not path.exists()


def test_reader_breaks_lines_at_newline_only(tmp_path):
    path = tmp_path / "t.xyz"
    path.write_text('1\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3 note="a\x1eb"\nAr 0 0 0\n')
    (frame,) = md.read_extxyz(path)
    assert frame["info"]["note"] == "a\x1eb" and frame["positions"].shape == (1, 3)


def test_append_adds_frames_and_string_info_round_trips(tmp_path):
    import ase.io

    path = tmp_path / "t.xyz"
    R, _ = _frames(T=2)
    md.write_extxyz(path, R, 4.0, "Ar", label="run a", step=3)   # a string value used to fail
    md.write_extxyz(path, R[:1] + 1.0, 4.0, "Ar", append=True, label="run b")
    frames = md.read_extxyz(path)
    assert len(frames) == 3 and [f["label"] for f in frames] == ["run a", "run a", "run b"]
    np.testing.assert_allclose(frames[2]["positions"], (R[0] + 1.0) % 4.0, atol=1e-9)
    atoms = ase.io.read(path, ":")
    assert len(atoms) == 3 and atoms[0].info["label"] == "run a" and atoms[0].info["step"] == 3


def test_velocities_are_written_as_ase_momenta_and_masses(tmp_path):
    """ASE reads ``momenta`` and ``masses``, not a ``vel`` column: the velocities must come back
    from ``ase.io.read(...).get_velocities()`` (ASE units → Å/ps: × 1000 fs)."""
    import ase.io
    import ase.units

    path = tmp_path / "v.xyz"
    R, V = _frames(T=2, n=4)
    m = np.array([1.008, 15.999, 39.948, 12.011])
    md.write_extxyz(path, R, 4.0, ["H", "O", "Ar", "C"], velocities=V, masses=m, units=md.METAL)
    atoms = ase.io.read(path, ":")
    for t in range(2):
        np.testing.assert_allclose(atoms[t].get_masses(), m)
        np.testing.assert_allclose(atoms[t].get_velocities() * 1000 * ase.units.fs, V[t], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(atoms[t].get_positions(), R[t], atol=1e-9)
        np.testing.assert_allclose(atoms[t].cell.array, 4.0 * np.eye(3))
    ours = md.read_extxyz(path)
    np.testing.assert_allclose(ours[1]["velocities"], V[1], rtol=1e-9, atol=1e-10)
    # reduced LJ units: no conversion unless the user says what a velocity unit is in Å/ps
    with pytest.raises(ValueError, match="velocity_scale"):
        md.write_extxyz(path, R, 4.0, "Ar", velocities=V, masses=39.948, units=md.LJ)
    sigma_over_tau = 3.405 / 2.156
    md.write_extxyz(path, R, 4.0, "Ar", velocities=V, masses=39.948, velocity_scale=sigma_over_tau)
    back = ase.io.read(path, ":")[0].get_velocities() * 1000 * ase.units.fs
    np.testing.assert_allclose(back, V[0] * sigma_over_tau, rtol=1e-6, atol=1e-9)


def test_per_frame_values_are_explicit(tmp_path):
    """A 3-vector in ``info`` used to be split across 3 frames; now ``info`` values apply to every
    frame and per-frame values go in ``frame_info`` with one entry per frame."""
    path = tmp_path / "f.xyz"
    R, _ = _frames(T=3)
    md.write_extxyz(path, R, 4.0, "Ar", dipole=[1.0, 2.0, 3.0], frame_info={"energy": [-1.0, -2.0, -3.0]})
    frames = md.read_extxyz(path)
    for t, f in enumerate(frames):
        np.testing.assert_array_equal(f["dipole"], [1.0, 2.0, 3.0])
        assert f["energy"] == -(t + 1)
    with pytest.raises(ValueError, match="one per frame"):
        md.write_extxyz(path, R, 4.0, "Ar", frame_info={"energy": [1.0, 2.0]})
    with pytest.raises(ValueError, match="both"):
        md.write_extxyz(path, R, 4.0, "Ar", energy=1.0, frame_info={"energy": [1.0, 2.0, 3.0]})


@pytest.mark.parametrize("text,message", [
    ("3\ncomment\nAr 0 0 0\nAr 1 1 1\nAr 2 2 2\nthree\n", r"frame 1 \(line 6\).*atom count"),
    ("2\nc\nAr 0 0 0\nAr 1 1 1\n2\n", r"frame 1 .*ends after the atom count"),
    ("2\nc\nAr 0 0 0\nAr 1 1 1\n2\nc\nAr 0 0 0\n", r"frame 1 .*partial"),
    ("2\nc\nAr 0 0 0\nAr 1 1\n", r"frame 0, atom 1 \(line 4\)"),
    ('1\nLattice="1 2 3"\nAr 0 0 0\n', r"frame 0 .*Lattice"),
    ('1\nProperties=species:S:1:pos:R:3 x="unclosed\nAr 0 0 0\n', r"frame 0 .*comment line"),
    ("1\nc\nAr 0 zero 0\n", r"frame 0, atom 0 .*'pos'"),
])
def test_read_extxyz_names_file_and_frame(tmp_path, text, message):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        md.read_extxyz(path)
    assert str(path) in str(err.value)


def _mutations():
    """Edits of a valid file's lines: drop / duplicate / replace a line, truncate the text,
    replace one token by a random one."""
    junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
    return st.one_of(
        st.tuples(st.just("drop"), st.integers(0, 40)),
        st.tuples(st.just("dup"), st.integers(0, 40)),
        st.tuples(st.just("replace_line"), st.integers(0, 40), junk),
        st.tuples(st.just("truncate"), st.integers(0, 2000)),
        st.tuples(st.just("token"), st.integers(0, 40), st.integers(0, 12), junk),
    )


def _mutate(text: str, ops) -> str:
    for op in ops:
        lines = text.split("\n")
        k = op[1] % max(len(lines), 1)
        if op[0] == "drop":
            del lines[k]
        elif op[0] == "dup":
            lines.insert(k, lines[k])
        elif op[0] == "replace_line":
            lines[k] = op[2]
        elif op[0] == "truncate":
            text = text[: op[1] % (len(text) + 1)]
            continue
        elif op[0] == "token":
            toks = lines[k].split(" ")
            toks[op[2] % len(toks)] = op[3]
            lines[k] = " ".join(toks)
        text = "\n".join(lines)
    return text


def _check_extxyz_frames(frames):
    """A successful read is self-consistent: symbols and finite positions for every atom."""
    for f in frames:
        n = len(f["positions"])
        assert f["positions"].shape == (n, 3) and np.all(np.isfinite(f["positions"]))
        assert "symbols" not in f or len(f["symbols"]) == n
        if "lattice" in f:
            assert f["lattice"].shape == (3, 3)


def _fuzz_extxyz(ops):
    R, V = _frames(T=2, n=3)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.xyz"
        md.write_extxyz(path, R, 4.0, "Ar", velocities=V, masses=39.948, units=md.METAL, step=1,
                        frame_info={"energy": [1.0, 2.0]})
        path.write_text(_mutate(path.read_text(), ops))
        try:
            frames = md.read_extxyz(path)
        except ValueError as e:
            assert str(path) in str(e)
            return
        _check_extxyz_frames(frames)


def test_read_extxyz_malformed_files_raise_value_errors(fuzz):
    fuzz(_fuzz_extxyz, 40, st.lists(_mutations(), min_size=1, max_size=3))


def _arg_values():
    return st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=6), st.lists(st.floats(-5, 5), max_size=4),
                     st.sampled_from([np.nan, np.inf, "Ar", ["Ar"], {"a": 1}, object(), np.ones((2, 3, 3)),
                                      np.ones((3, 3)), np.ones((2, 2)), [[1.0, 2.0], [3.0]], 1 + 2j]))


_WHICH = st.sampled_from(["positions", "box", "symbols", "velocities", "masses", "velocity_scale", "info", "frame_info",
                          "info_key"])


def test_write_extxyz_bad_arguments_raise_value_errors_and_keep_the_file(fuzz):
    """Any argument replaced by junk: the call either writes a file that both readers read back
    with the given positions, or raises ValueError and leaves the old file byte for byte."""
    fuzz(_write_case, 40, which=_WHICH, value=_arg_values())


def _write_case(which, value):
    import ase.io

    R, V = _frames(T=2, n=3)
    kw = dict(positions=R, box=4.0, symbols="Ar", velocities=V, masses=39.948, units=md.METAL)
    extra = {}
    if which == "info":
        extra = {"tag": value}
    elif which == "frame_info":
        extra = {"frame_info": {"e": value}}
    elif which == "info_key":
        extra = {str(value) if value is not None else "": 1.0}
    elif which == "velocity_scale":
        kw.update(units=None, velocity_scale=value)
    else:
        kw[which] = value
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.xyz"
        md.write_extxyz(path, R[:1], 4.0, "Ar")
        before = path.read_bytes()
        try:
            md.write_extxyz(path, append=True, **kw, **extra)
        except ValueError:
            assert path.read_bytes() == before
            assert sorted(p.name for p in Path(d).iterdir()) == ["t.xyz"]
            return
        frames = md.read_extxyz(path)
        _check_extxyz_frames(frames)
        T = np.asarray(kw["positions"]).reshape(-1, np.asarray(kw["positions"]).shape[-2], 3).shape[0]
        assert len(frames) == 1 + T
        assert len(ase.io.read(path, ":")) == 1 + T


# ------------------------------------------------------------------------------------------
# setfl


def _small_setfl(path):
    r = np.linspace(0, 4, 8)
    t = md.SetflTables(("Al",), np.array([26.98]), 0.1, 0.5, 3.5, -np.sqrt(np.arange(6.0))[None],
                       np.exp(-r)[None], (np.exp(-2 * r) * r)[None, None])
    md.write_setfl(path, t, comments=("a", "b", "c"))
    return t


@pytest.mark.parametrize("edit,message", [
    (lambda L: L[:3] + ["x Al"] + L[4:], "line 4"),
    (lambda L: L[:4] + ["6 0.1 8 -0.5 3.5"] + L[5:], "line 5"),
    (lambda L: L[:4] + ["6 0.1 8 0.5"] + L[5:], "line 5"),
    (lambda L: L[:-1], "ended early"),
    (lambda L: L + ["1.0"], "left over"),
    (lambda L: L[:6] + [L[6].replace(L[6].split()[0], "abc", 1)] + L[7:], "not a number"),
    (lambda L: L[:5] + ["13 -1.0 0 fcc"] + L[6:], "mass"),
])
def test_read_setfl_names_what_is_wrong(tmp_path, edit, message):
    path = tmp_path / "Al.eam.alloy"
    _small_setfl(path)
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(ValueError, match=message) as err:
        md.read_setfl(path)
    assert str(path) in str(err.value)


def test_read_setfl_malformed_files_raise_value_errors(fuzz):
    fuzz(_fuzz_setfl, 40, st.lists(_mutations(), min_size=1, max_size=3))


def _fuzz_setfl(ops):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "Al.eam.alloy"
        _small_setfl(path)
        path.write_text(_mutate(path.read_text(), ops))
        try:
            t = md.read_setfl(path)
        except ValueError as e:
            assert str(path) in str(e)
            return
        S = len(t.elements)
        assert t.embed.shape[0] == S and t.density.shape[0] == S and t.rphi.shape[:2] == (S, S)
        assert t.drho > 0 and t.dr > 0 and t.cutoff > 0 and np.all(t.masses > 0)
        assert all(np.all(np.isfinite(a)) for a in (t.embed, t.density, t.rphi))


# ------------------------------------------------------------------------------------------
# random_positions(min_distance=...)


def _min_pair_distance(R, H):
    R = np.asarray(R, np.float64)
    s = R @ np.linalg.inv(H)
    ds = s[:, None] - s[None]
    ds -= np.round(ds)
    imgs = np.array(np.meshgrid(*[[-1, 0, 1]] * 3)).reshape(3, -1).T
    d = (ds[:, :, None, :] + imgs) @ H
    r = np.linalg.norm(d, axis=-1).min(-1)
    r[np.diag_indices(len(R))] = np.inf
    return r.min()


@pytest.mark.parametrize("H", [np.diag([7.0, 7.0, 7.0]), np.array([[7.0, 0, 0], [3.0, 6.5, 0], [1.0, 2.0, 6.0]])])
def test_random_positions_respects_min_distance(H):
    box = md.make_box(jnp.asarray(H))
    R = md.random_positions(jax.random.PRNGKey(0), 120, box, min_distance=1.0)
    assert R.shape == (120, 3)
    assert _min_pair_distance(R, H) >= 1.0 - 1e-6
    s = np.asarray(R, np.float64) @ np.linalg.inv(H)
    assert np.all((s >= -1e-6) & (s <= 1 + 1e-6))
    np.testing.assert_array_equal(np.asarray(md.random_positions(jax.random.PRNGKey(0), 120, box, min_distance=1.0)),
                                  np.asarray(R))  # the key decides


def test_random_positions_too_dense_says_what_to_lower():
    with pytest.raises(ValueError, match="min_distance"):
        md.random_positions(jax.random.PRNGKey(0), 500, 5.0, min_distance=1.0)
    with pytest.raises(ValueError, match="min_distance"):
        md.random_positions(jax.random.PRNGKey(0), 2, 3.0, min_distance=2.0)   # > half the box
    with pytest.raises(ValueError, match="min_distance"):
        md.random_positions(jax.random.PRNGKey(0), 10, 5.0, min_distance=-1.0)


# ------------------------------------------------------------------------------------------
# NaN energies instead of plausible wrong ones


def _lj_box():
    R, box = md.lj_liquid_box(108, 0.8442)
    R = R + 0.05 * jax.random.normal(jax.random.PRNGKey(1), R.shape, R.dtype)
    return R, box, md.lennard_jones(cutoff=1.5), md.neighbor_list(1.5, 0.3)


def test_energy_on_an_overflowed_list_is_nan():
    """A list too small for the configuration used to give a finite (truncated) energy."""
    R, box, lj, nl = _lj_box()
    small = nl.allocate(R, box, max_neighbors=4)
    assert bool(small.overflow)
    assert np.isnan(float(lj.energy(R, small, box)))
    E, F = lj.energy_and_forces(R, small, box)
    assert np.isnan(float(E)) and np.all(np.isnan(np.asarray(F)))
    assert np.isnan(float(jax.jit(lambda r, nb: lj.energy(r, nb, box))(R, small)))
    assert np.all(np.isnan(np.asarray(lj.per_atom(R, small, box))))
    eam = md.eam_analytic(cutoff=1.5)
    assert np.isnan(float(eam.energy(R, small, box)))
    # any energy through the force function the integrators use (a learned one included)
    learned = lambda r, nb, b, s: jnp.sum(md.pair_components(r, nb, b)[0][0] ** 2)  # noqa: E731
    E, F, _ = jax.jit(md.neighbor_force_fn(learned, nl, box))(R, small)
    assert np.isnan(float(E)) and np.all(np.isnan(np.asarray(F)))


def test_a_nan_position_makes_the_energy_nan():
    """The NaN atom used to drop out of every masked pair sum, leaving a plausible energy."""
    R, box, lj, nl = _lj_box()
    nbrs = nl.allocate(R, box)
    Rn = R.at[5, 1].set(jnp.nan)
    assert np.isnan(float(lj.energy(Rn, nbrs, box)))
    assert np.isnan(float(jax.jit(lambda r: lj.energy(r, nl.rebuild(r, nbrs, box), box))(Rn)))
    E, F = md.energy_and_forces(lambda *a: lj.energy(*a))(Rn, nbrs, box)   # autodiff path
    assert np.isnan(float(E)) and np.all(np.isnan(np.asarray(F)))
    # gradients of a valid configuration stay finite through the guard
    g = jax.grad(lambda r: lj.energy(r, nbrs, box))(R)
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.parametrize("field", ["positions", "momenta"])
def test_simulate_rejects_non_finite_inputs_naming_the_atom(field):
    R, box = md.lj_liquid_box(32, 0.8)
    lj = md.lennard_jones(cutoff=1.5)
    P = jnp.zeros_like(R)
    kw = {"positions": R, "momenta": P}
    kw[field] = kw[field].at[7, 2].set(jnp.inf if field == "momenta" else jnp.nan)
    with pytest.raises(ValueError, match="atom 7"):
        md.simulate(lj, kw["positions"], box, momenta=kw["momenta"], n_steps=0, dt=0.005, progress=False)


def test_overflow_inside_a_chunk_is_recovered_although_energies_turn_nan():
    """The list is sized exactly for the lattice, so it overflows mid-chunk once the crystal melts:
    the overflowed steps have NaN energies (above), which the divergence guard must let through
    so that the chunk is re-run with a larger list (that the re-run equals a run with a large list
    is tests/md/test_md_simulate.py::test_forced_overflow_is_recovered_with_the_same_trajectory)."""
    R, box = md.lj_liquid_box(108, 0.8442)
    nl = md.neighbor_list(1.5, 0.3)
    exact = int(nl.allocate(R, box).needed[0])
    lj = md.lennard_jones(cutoff=1.5)
    kw = dict(n_steps=100, dt=0.005, temperature=1.5, thermo_every=20, chunk_size=100, progress=False,
              compute_pressure=False, key=jax.random.PRNGKey(3))
    assert not bool(nl.allocate(R, box, max_neighbors=exact).overflow)  # no re-allocation up front
    tight = md.simulate(lj, R, box, max_neighbors=exact, **kw)
    assert tight.n_reallocations >= 1 and tight.state.aux.max_neighbors > exact
    assert not bool(tight.state.aux.overflow)
    E = tight.thermo["total"]
    assert np.all(np.isfinite(E)) and np.max(np.abs(E - E[0])) / 108 < 0.02  # a valid NVE run


def test_write_extxyz_takes_a_box_object(tmp_path):
    R, _ = _frames(T=1)
    md.write_extxyz(tmp_path / "b.xyz", R, md.orthorhombic(4.0, 5.0, 6.0), "Ar")
    np.testing.assert_allclose(md.read_extxyz(tmp_path / "b.xyz")[0]["lattice"], np.diag([4.0, 5.0, 6.0]))
