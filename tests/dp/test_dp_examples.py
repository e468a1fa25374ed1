"""Deep Potential examples: records and the concurrent-learning deviation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md
from jaxhybrid.dp import ensemble_forces, force_deviation, make_ensemble, member


def test_force_deviation_formula_and_identical_members_give_zero():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(4, 5, 3))
    want = np.max(np.sqrt(np.mean(np.sum((F - F.mean(0)) ** 2, -1), 0)))
    np.testing.assert_allclose(float(force_deviation(jnp.asarray(F))), want, rtol=1e-6)
    kw = dict(type_map=("Cu",), rcut=4.0, rcut_smth=3.0, sel=40, embedding=(4, 8), fitting=(8,), axis=2)
    ens = make_ensemble(4, jax.random.PRNGKey(0), **kw)
    R, box = md.fcc_lattice(3, 3.61)
    R = R + 0.1 * jax.random.normal(jax.random.PRNGKey(1), R.shape)
    nbrs = md.neighbor_list(4.0, 0.0).allocate(R, box)
    # untrained fitting nets start at zero output: give the members different final layers
    leaves, tdef = jax.tree_util.tree_flatten(ens)
    keys = jax.random.split(jax.random.PRNGKey(5), len(leaves))
    leaves = [a + 0.3 * jax.random.normal(k, a.shape) if isinstance(a, jax.Array) and a.dtype == jnp.float32 else a
              for a, k in zip(leaves, keys)]
    ens = jax.tree_util.tree_unflatten(tdef, leaves)
    Fk = ensemble_forces(ens, R, nbrs, box)
    assert Fk.shape == (4, R.shape[0], 3) and float(jnp.max(jnp.abs(Fk))) > 1e-3
    assert float(force_deviation(Fk)) > 1e-4
    m2 = member(ens, 2)
    F2 = -jax.jit(jax.grad(lambda x: m2(x, nbrs, box)))(R)
    np.testing.assert_allclose(np.asarray(Fk[2]), np.asarray(F2), atol=1e-6)
    same = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a[:1], a.shape) if isinstance(a, jax.Array) else a, ens)
    assert float(force_deviation(ensemble_forces(same, R, nbrs, box))) == 0.0


def test_dpmd_quick_path_loads_the_shipped_full_networks(tmp_path, monkeypatch):
    """seed 0: the quick run evaluates the full run's Deep Potential and data-only MLP (shipped),
    trains nothing; another seed has no stored weights (it would train the quick configuration)."""
    from jaxhybrid import pretrained
    from jaxhybrid.examples import dpmd

    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    for name, cfg in (("dpmd-dp", dpmd.train_config(False, 0)), ("dpmd-mlp", dpmd.data_only_config(False, 0))):
        hit = pretrained.find(name, cfg)
        assert hit is not None and hit[1] == "shipped", f"{name}: no shipped weights for the full configuration"
    nets, tier = dpmd.networks(quick=True, seed=0)
    got, got_mlp = nets["dp"], nets["data_only"]
    assert (got.source, got_mlp.source, tier) == ("shipped", "shipped", "full")
    assert got.config == dpmd.train_config(False, 0) and got.meta["n_train_frames"] == 432
    assert got_mlp.model.n_atoms == 108 and got_mlp.meta["n_train_frames"] == 108
    assert float(jnp.abs(got.model.fittings[0].weights[-1]).max()) > 0  # trained (the last layer starts at zero)
    assert pretrained.find("dpmd-dp", dpmd.train_config(False, 1)) is None


def test_dpgen_quick_path_loads_the_shipped_full_ensembles(tmp_path, monkeypatch):
    from jaxhybrid import pretrained
    from jaxhybrid.examples import dpgen

    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    hit = pretrained.find("dpgen", dpgen.train_config(False, 0))
    assert hit is not None and hit[1] == "shipped"
    got = pretrained.obtain("dpgen", [dpgen.train_config(False, 0), dpgen.train_config(True, 0)],
                            lambda t: pytest.fail("must not train"), dpgen.template)
    assert got.source == "shipped" and set(got.model) == set(dpgen.ARMS)
    assert all(got.model[a].e_bias.shape == (4, 1) for a in dpgen.ARMS)
    m = got.meta
    assert m["rounds"] == len(m["history"]) == 4 and m["labelled_frames"] == sum(h["labelled"] for h in m["history"]) == 48
    # the three arms are different networks (seed only < random selection, concurrent learning: trained further)
    w = {a: np.asarray(got.model[a].fittings[0].weights[-1]) for a in dpgen.ARMS}
    assert not np.allclose(w["seed_only"], w["random_selection"]) and not np.allclose(w["random_selection"],
                                                                                     w["concurrent_learning"])


@pytest.mark.example
def test_dpmd_quick_record(quick_record):
    rec = quick_record("dpmd")
    m, b = rec["metrics"], rec["baselines"]
    assert {"energy_rmse_meV_per_atom", "force_rmse_meV_per_A"} <= set(m) and {"mechanism_only", "data_only"} <= set(b)
    assert rec["headline"] == "force_rmse_meV_per_A" and rec["references"] == ["mechanism_only"]
    # the full run's networks (shipped), each with its full budget
    assert {w["source"] for w in rec["weights"].values()} == {"shipped"}
    assert {w["level"] for w in rec["weights"].values()} == {"full"} and m["n_train_frames"] == 432
    # the full run's direction: the Deep Potential beats the data-only MLP on held-out forces (same 108-atom frames)
    assert m["force_rmse_meV_per_A_108_atoms"] < b["data_only"]["force_rmse_meV_per_A"]
    # ... and DP-MD holds 600 K in the fcc crystal of EMT-MD (the quick-trained model's g(r) differed by 2.3)
    assert abs(m["dp_md_temperature_K"] - 600.0) < 100.0 and m["gr_l1_difference_vs_emt"] < 0.5


@pytest.mark.example
def test_dpgen_quick_record(quick_record):
    rec = quick_record("dpgen")
    m, b = rec["metrics"], rec["baselines"]
    assert rec["paradigm"] == 3
    assert {"random_selection", "seed_only"} <= set(b) and set(rec["goal"]) <= set(m)
    assert m["rounds"] == len(rec["history"]) == len(m["labels_per_iteration"]) >= 1
    assert m["labelled_frames"] == sum(m["labels_per_iteration"]) == b["random_selection"]["labelled_frames"]
    assert all(0.0 <= f <= 1.0 for f in m["accurate_fraction_per_iteration"])
    # the full run's three final ensembles (shipped): 4 rounds, 48 labels per arm, evaluated afresh
    assert rec["weights"]["dpgen"]["source"] == "shipped" and m["labelled_frames"] == 48
    assert rec["headline"] == "max_force_error_meV_per_A" and rec["history_source"].startswith("the stored full run")
    # the full run's comparison: concurrent learning < random selection < seed only (max force error)
    assert b["random_selection"]["max_force_error_meV_per_A"] < b["seed_only"]["max_force_error_meV_per_A"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dpmd", "dpgen"])
def test_quick_retrain_trains_the_quick_configuration(name, tmp_path, monkeypatch):
    """``--retrain`` (and any seed without stored weights) trains the small quick configuration,
    stores it in the user cache, and the next run reads it back."""
    from jaxhybrid.examples import load

    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path / "cache"))
    ex = load(name)
    rec = ex.run(quick=True, seed=0, out=tmp_path, retrain=True)
    assert {w["source"] for w in rec["weights"].values()} == {"trained"}
    assert {w["level"] for w in rec["weights"].values()} == {"quick"}
    want = {"dp": ex.train_config(True, 0), "data_only": ex.data_only_config(True, 0)} if name == "dpmd" else \
        ex.train_config(True, 0)
    assert rec["training"] == want and np.isfinite(rec["metrics"][rec["headline"]])
    assert len(list((tmp_path / "cache" / "weights").glob(f"{name}-*.eqx"))) == len(rec["weights"])
