"""Public boundaries under malformed input (property-based, hypothesis): the load-case CSV
reader, ``md.simulate``, ``train.fit``, ``sampling.run_chains`` and ``assimilation.assimilate``.
Every input either works or raises a ValueError that names the function and says what to fix —
never a wrong answer, never a raw error from inside JAX.

Each test replaces one argument of a small valid call with a value drawn from a pool of bad and
borderline values. Sizes and shapes are fixed so that JAX caches hit. Examples per test: small
by default, and a ``@pytest.mark.slow`` twin with 10× the examples; deterministic unless
``HYPOTHESIS_PROFILE=explore`` (tests/conftest.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import strategies as st

def _one_of(values: dict):
    """(argument name, bad value) pairs."""
    return st.sampled_from(sorted(values)).flatmap(lambda k: st.tuples(st.just(k), values[k]))


#: values that are wrong for almost any argument
JUNK = [None, "abc", "", True, -1, 0, 1.5, float("nan"), float("inf"), -float("inf"), 1 + 2j, [], [1, "a"], {"a": 1},
        object()]


def _works_or_value_error(fn, what: str):
    """Call ``fn``; a ValueError must name ``what``. Returns the result or None."""
    try:
        return fn()
    except ValueError as e:
        assert what in str(e), f"the ValueError does not name {what}: {e}"
        return None


# ------------------------------------------------------------------------------------------
# load-case CSV


def _csv_text():
    valid = "case,stretch,nominal_stress\nuniaxial,1.1,0.05\nequibiaxial,1.2,0.1\npure_shear,1.3,0.2\n"
    cell = st.one_of(st.sampled_from(["uniaxial", "pure_shear", "shear", "", " ", "1.5", "-1", "0", "nan", "inf", "x",
                                      '"', "1e400", "\x00"]),
                     st.text(max_size=6))
    row = st.lists(cell, min_size=0, max_size=4).map(",".join)
    return st.one_of(
        st.lists(row, max_size=5).map(lambda rows: "case,stretch,nominal_stress\n" + "\n".join(rows)),
        st.lists(row, max_size=5).map("\n".join),
        st.tuples(st.just(valid), st.integers(0, len(valid))).map(lambda t: t[0][: t[1]]),
        st.binary(max_size=60),
    )


def _check_csv(content):
    from jaxhybrid.constitutive.loadcases import CASES, read_csv

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "cases.csv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        try:
            out = read_csv(path)
        except ValueError as e:
            assert "read_csv" in str(e) and str(path) in str(e), str(e)
            return
        assert out and set(out) <= set(CASES)
        for lam, P in out.values():
            assert lam.shape == P.shape and lam.size >= 1
            assert np.all(np.isfinite(lam)) and np.all(lam > 0) and np.all(np.isfinite(P))


def test_read_csv_malformed_files(fuzz):
    fuzz(_check_csv, 60, _csv_text())


def test_read_csv_names_the_line():
    from jaxhybrid.constitutive.loadcases import read_csv

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.csv"
        path.write_text("case,stretch,nominal_stress\nuniaxial,1.1,0.1\nuniaxial,abc,0.2\n")
        with pytest.raises(ValueError, match="line 3"):
            read_csv(path)
        path.write_text("case,stretch,nominal_stress\nuniaxial,1.1\n")   # used to be a TypeError
        with pytest.raises(ValueError, match="line 2"):
            read_csv(path)
        path.write_text("case,stretch,nominal_stress\n")                 # used to return {}
        with pytest.raises(ValueError, match="no data rows"):
            read_csv(path)


# ------------------------------------------------------------------------------------------
# md.simulate (n_steps = 0 unless the mutation is n_steps itself: validation without compiling a run)

_MD: dict = {}


def _md_base():
    from jaxhybrid import md

    if not _MD:
        R, box = md.lj_liquid_box(32, 0.8)
        _MD.update(R=R, box=box, lj=md.lennard_jones(cutoff=1.5), P=0.1 * jnp.ones_like(R))
    return _MD


def _bad_array(shape):
    a = np.zeros(shape)
    nan = a.copy()
    nan.flat[5] = np.nan
    inf = a.copy()
    inf.flat[-1] = np.inf
    return st.sampled_from([nan, inf, np.zeros(shape[:-1] + (2,)), np.zeros((0,) + shape[1:]), np.zeros(shape, complex),
                            np.full(shape, "x"), np.zeros(shape, bool)] + JUNK)


_SIM_VALUES = {
    "positions": _bad_array((32, 3)),
    "box": st.sampled_from([0.0, -3.0, np.nan, np.inf, np.ones(2), np.diag([3.4, 3.4, -3.4]), 3.4 + 1j, "box", None]),
    "dt": st.sampled_from(JUNK),
    "n_steps": st.sampled_from([-1, 1.5, "10", None, True, 7, 1 + 2j]),
    "thermo_every": st.sampled_from(JUNK),
    "chunk_size": st.sampled_from(JUNK),
    "masses": st.sampled_from([0.0, -1.0, np.nan, np.inf, np.ones(2), np.ones((32, 2)), "m", None, np.zeros(32), 1 + 1j]),
    "temperature": st.sampled_from([-1.0, np.nan, np.inf, "hot", 1j]),
    "momenta": _bad_array((32, 3)),
    "species": st.sampled_from([np.zeros(31, int), -np.ones(32, int), np.full(32, 0.5), np.zeros((32, 1), int), "s",
                                np.zeros(32, int)]),
    "cutoff": st.sampled_from([0.0, -1.0, np.nan, "c", 1j]),
    "skin": st.sampled_from([-0.1, np.nan, "s"]),
    "max_neighbors": st.sampled_from([0, -3, 2.5, "m", True]),
    "key": st.sampled_from(["k", 3, np.zeros(3), np.zeros(2, np.float32), np.zeros((2, 2), np.uint32)]),
    "ensemble": st.sampled_from(["npt", 3, ""]),
    "save_every": st.sampled_from([-1, 3, 2.5, "s"]),
    "symbols": st.sampled_from([["Ar"] * 31, 3, "A r", ["Ar"] * 31 + [""]]),
    "gamma": st.sampled_from([0.0, -1.0, np.nan]),
    "blowup_energy_per_atom": st.sampled_from([0.0, np.nan, "x"]),
}


def test_simulate_rejects_malformed_arguments(fuzz):
    fuzz(_simulate_case, 40, _one_of(_SIM_VALUES))


def _simulate_case(arg):
    from jaxhybrid import md

    b = _md_base()
    name, value = arg
    kw = dict(n_steps=0, dt=0.005, momenta=b["P"], thermo_every=10, progress=False, compute_pressure=False)
    pos, box = b["R"], b["box"]
    if name == "positions":
        pos = value
    elif name == "box":
        box = value
    elif name == "symbols":
        kw.update(symbols=value, save_every=10, trajectory_path=Path(tempfile.gettempdir()) / "never-written.xyz")
    else:
        kw[name] = value
    out = _works_or_value_error(lambda: md.simulate(b["lj"], pos, box, **kw), "simulate")
    if out is not None:
        assert np.all(np.isfinite(np.asarray(out.state.positions)))
        assert np.isfinite(float(out.state.energy))


# ------------------------------------------------------------------------------------------
# train.fit

def _loss(p, batch):
    return jnp.mean((batch["x"] @ p["w"] - batch["y"]) ** 2)


_FIT_BASE = dict(params={"w": np.zeros(3, np.float32)},
                 data={"x": np.ones((8, 3), np.float32), "y": np.ones(8, np.float32)})


def _bad_data():
    x, y = _FIT_BASE["data"]["x"], _FIT_BASE["data"]["y"]
    xn = x.copy()
    xn[5, 1] = np.nan
    yi = y.copy()
    yi[2] = np.inf
    return st.sampled_from([{"x": xn, "y": y}, {"x": x, "y": yi}, {"x": x, "y": y[:7]}, {"x": x[:0], "y": y[:0]},
                            {"x": np.full((8, 3), "a"), "y": y}, {"x": 1.0, "y": y}, {}, {"x": x, "y": "abc"},
                            {"x": x.astype(complex), "y": y}])


_FIT_VALUES = {
    "steps": st.sampled_from([-1, 2.5, "3", None, True]),
    "batch_size": st.sampled_from([0, 9, 2.5, "4", -1, True]),
    "log_every": st.sampled_from([0, 1.5, None, "2"]),
    "checkpoint_every": st.sampled_from([3, 0, 2.5, "2"]),
    "key": st.sampled_from(["k", 3, np.zeros(5, np.uint32), np.zeros(2, np.float32), [1, 2]]),
    "data": _bad_data(),
    "params": st.sampled_from([{"w": np.array([0.0, np.nan, 0.0], np.float32)}, {"w": np.array(["a", "b", "c"])},
                               {"w": np.array([np.inf, 0, 0], np.float32)}]),
    "loop": st.sampled_from(["python", 3]),
}


def test_fit_rejects_malformed_arguments(fuzz):
    fuzz(_fit_case, 25, _one_of(_FIT_VALUES))


def _fit_case(arg):
    from jaxhybrid.train import fit

    name, value = arg
    kw = dict(params=_FIT_BASE["params"], data=_FIT_BASE["data"], steps=2, log_every=2, progress=False)
    kw[name] = value
    params, data = kw.pop("params"), kw.pop("data")
    out = _works_or_value_error(lambda: fit(_loss, params, data, optax.sgd(0.01), **kw), "fit")
    if out is not None:
        assert np.all(np.isfinite(np.asarray(out.params["w"])))


# ------------------------------------------------------------------------------------------
# sampling.run_chains

_RC_VALUES = {
    "positions": _bad_array((4, 2)),
    "n_samples": st.sampled_from([0, -1, 1.5, None, True, "2"]),
    "burn_in": st.sampled_from([-1, 0.5, None, "0"]),
    "thin": st.sampled_from([0, 1.5, -2, None]),
    "chunk_size": st.sampled_from([0, -2, 1.5, "1", True]),
    "key": st.sampled_from(["k", 3, np.zeros(3, np.uint32), np.zeros(2, np.float32), None]),
}


def test_run_chains_rejects_malformed_arguments(fuzz):
    fuzz(_run_chains_case, 25, _one_of(_RC_VALUES))


def _run_chains_case(arg):
    from jaxhybrid.sampling import run_chains, ula

    algo = ula(lambda x: -0.5 * jnp.sum(x * x), 0.1)
    name, value = arg
    kw = dict(key=jax.random.PRNGKey(0), positions=np.zeros((4, 2), np.float32), n_samples=2, progress=False)
    kw[name] = value
    out = _works_or_value_error(lambda: run_chains(algo, kw.pop("key"), kw.pop("positions"), kw.pop("n_samples"),
                                                   **kw), "run_chains")
    if out is not None:
        assert np.all(np.isfinite(np.asarray(out.mean)))


# ------------------------------------------------------------------------------------------
# assimilation.assimilate

_DA: dict = {}


def _da_base():
    from jaxhybrid import assimilation as da

    if not _DA:
        f = da.etkf(lambda x: 0.9 * x, da.full(3, 1.0), 4)
        _DA.update(f=f, s=f.init(jnp.zeros(3), 0.5, key=jax.random.PRNGKey(0)))
    return _DA


def _bad_states():
    from jaxhybrid.assimilation import EnsembleState

    E = np.zeros((4, 3), np.float32)
    En = E.copy()
    En[2, 1] = np.nan
    logw = np.full(4, -np.log(4), np.float32)
    return st.sampled_from([EnsembleState(En, logw), EnsembleState(E, logw[:3]), EnsembleState(np.zeros((4, 2)), logw),
                            EnsembleState(E, np.full(4, np.nan, np.float32)), EnsembleState(np.zeros(3), logw[:1]),
                            EnsembleState(E.astype(int), logw), (E, logw), None])


def _bad_obs():
    y = np.zeros((5, 3), np.float32)
    yn = y.copy()
    yn[2, 0] = np.nan
    return st.sampled_from([yn, np.zeros((5, 2)), np.zeros((0, 3)), np.zeros(()), np.full((5, 3), "y"),
                            np.zeros((5, 3), complex), {}, {"a": y, "b": y[:4]}, np.zeros((5, 3, 2))])


_DA_VALUES = {
    "state": _bad_states(),
    "obs": _bad_obs(),
    "key": st.sampled_from(["k", 3, np.zeros(3, np.uint32), np.zeros(2, np.float32)]),
    "chunk_size": st.sampled_from([0, -1, 2.5, True, "1"]),
    "unroll": st.sampled_from([0, -1, 1.5, "2"]),
}


def test_assimilate_rejects_malformed_arguments(fuzz):
    fuzz(_assimilate_case, 25, _one_of(_DA_VALUES))


def _assimilate_case(arg):
    from jaxhybrid import assimilation as da

    b = _da_base()
    name, value = arg
    kw = dict(state=b["s"], obs=np.zeros((5, 3), np.float32), key=jax.random.PRNGKey(1), progress=False)
    kw[name] = value
    out = _works_or_value_error(lambda: da.assimilate(b["f"], kw.pop("state"), kw.pop("obs"), kw.pop("key"), **kw),
                                "assimilate")
    if out is not None:
        assert np.all(np.isfinite(np.asarray(out.mean_a)))
