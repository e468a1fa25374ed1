import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.examples import closure_ode as ex
from jaxhybrid import pretrained
from jaxhybrid.pde import pendulum_friction


def _no_training(cfg):
    raise AssertionError(f"quick mode trained {cfg} instead of loading the shipped model")


@pytest.mark.example
def test_quick_run_hybrid_extrapolates_5x_better(quick_record):
    rec = quick_record("closure-ode")
    m, b = rec["metrics"], rec["baselines"]
    assert m["extrapolation_rel_l2"] * 5 <= b["data_only"]["extrapolation_rel_l2"]
    assert m["extrapolation_rel_l2"] * 5 <= b["mechanism_only"]["extrapolation_rel_l2"]
    assert m["friction_rmse_seen_range"] < 0.1
    # seed 0's quick run evaluates the full run's three models, shipped with the package
    assert {n: w["source"] for n, w in rec["weights"].items()} == {n: "shipped" for n in ex.NETWORKS}
    assert rec["config"]["networks"] == "full" and rec["headline"] == "extrapolation_rel_l2"


def test_quick_path_loads_the_shipped_full_models(empty_cache, monkeypatch):
    """Seed 0's quick mode loads the full run's three models (no training, empty user cache)."""
    full, quick = ex.network_configs(False, 0), ex.network_configs(True, 0)
    assert json.loads(json.dumps(full)) == full and full != quick
    for n in ex.NETWORKS:  # fail fast (no training) if a file is missing
        hit = pretrained.find(f"{ex.NAME}-{n}", full[n])
        assert hit is not None and hit[1] == "shipped", f"{ex.NAME}-{n}: {hit}"
    monkeypatch.setattr(ex, "_train", lambda which: _no_training)
    got, tier = ex.obtain_networks(quick=True, seed=0)
    assert tier == "full"
    assert all(g.source == "shipped" and g.config == full[n] for n, g in got.items())
    assert all(g.summary()["source"] == "shipped" for g in got.values())
    # trained models, not fresh initialisations; the friction law is the full run's (README: RMSE 0.0055)
    fresh = jax.tree_util.tree_leaves(ex._like(full["hybrid"], {}))
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(got["hybrid"].model), fresh))
    w = jnp.linspace(-1.0, 1.0, 101)
    rmse = float(jnp.sqrt(jnp.mean((jax.vmap(got["hybrid"].model)(w) - pendulum_friction(w)) ** 2)))
    assert rmse < 0.02
    assert float(got["linear"].model) == pytest.approx(got["linear"].meta["c"])
