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


@pytest.mark.slow
def test_dpmd_quick_record(tmp_path):
    from jaxhybrid.examples import dpmd

    rec = dpmd.run(quick=True, seed=0, out=tmp_path)
    m, b = rec["metrics"], rec["baselines"]
    assert (tmp_path / "dpmd.png").exists()
    assert {"energy_rmse_meV_per_atom", "force_rmse_meV_per_A"} <= set(m) and {"mechanism_only", "data_only"} <= set(b)
    # even the quick model beats the MLP on raw coordinates on forces, and DP-MD holds 600 K
    assert m["force_rmse_meV_per_A"] < b["data_only"]["force_rmse_meV_per_A"]
    assert abs(m["dp_md_temperature_K"] - 600.0) < 100.0


@pytest.mark.slow
def test_dpgen_quick_record(tmp_path):
    from jaxhybrid.examples import dpgen

    rec = dpgen.run(quick=True, seed=0, out=tmp_path)
    m, b = rec["metrics"], rec["baselines"]
    assert (tmp_path / "dpgen.png").exists() and rec["paradigm"] == 3
    assert {"random_selection", "seed_only"} <= set(b) and set(rec["goal"]) <= set(m)
    assert m["rounds"] == len(rec["history"]) == len(m["labels_per_iteration"]) >= 1
    assert m["labelled_frames"] == sum(m["labels_per_iteration"]) == b["random_selection"]["labelled_frames"]
    assert all(0.0 <= f <= 1.0 for f in m["accurate_fraction_per_iteration"])
