"""pinn-adaptive: quick mode evaluates the full run's shipped networks; adaptive collocation beats
uniform at equal points and iterations (RAR does better than both: see the quick-run test)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.examples import pinn_adaptive as ex
from jaxhybrid import pretrained
from jaxhybrid.pinn import manufactured_peak as pk
from jaxhybrid.pinn.manufactured_peak import grid_error


def _no_training(cfg):
    raise AssertionError(f"quick mode trained {cfg} instead of loading the shipped network")


def test_peak_problem_residual_vanishes_at_truth_and_network_vanishes_on_the_boundary():
    # uniform points and points around the peak (where f* is large; uniform points rarely fall there)
    peak = jnp.asarray(pk.CENTER) + pk.S * jax.random.normal(jax.random.PRNGKey(3), (100, 2))
    pts = jnp.concatenate([pk.DOMAIN.sample_interior(jax.random.PRNGKey(0), 200), peak])
    assert float(pk.loss(pk.u_true, pts)) < 1e-8 and grid_error(pk.u_true, n=51) == 0.0
    assert float(pk.loss(lambda x: 0.9 * pk.u_true(x), pts)) > 1e-4  # the loss sees a wrong field
    net = pk.make_net(jax.random.PRNGKey(1), 8)
    xb = pk.DOMAIN.sample_boundary(jax.random.PRNGKey(2), 50)
    assert float(np.max(np.abs(jax.vmap(net)(xb)))) < 1e-6 and grid_error(net, n=21) > 0.1


@pytest.mark.example
def test_pinn_adaptive_quick_run(quick_record):
    rec = quick_record("pinn-adaptive", allow=("rar",))
    # RAR excused: the full run of seed 0 (the shipped networks) measures RAR below the Gaussian
    # mixture, rel. L2 0.0257 vs 0.0611 (the README's earlier full run: 0.0234 vs 0.0262); no
    # hyperparameter was changed to reverse that
    assert rec["improvement_vs_uniform"] > 1.5
    # seed 0's quick run evaluates the full run's three networks, shipped with the package
    assert {n: w["source"] for n, w in rec["weights"].items()} == {n: "shipped" for n in ex.STRATEGIES}
    assert rec["config"]["networks"] == "full" and rec["headline"] == "rel_l2"


def test_quick_path_loads_the_shipped_full_networks(empty_cache, monkeypatch):
    """Seed 0's quick mode loads the full run's three networks and their collocation points."""
    full, quick = ex.network_configs(False, 0), ex.network_configs(True, 0)
    assert json.loads(json.dumps(full)) == full and full != quick
    for n in ex.STRATEGIES:  # fail fast (no training) if a file is missing
        hit = pretrained.find(f"{ex.NAME}-{n}", full[n])
        assert hit is not None and hit[1] == "shipped", f"{ex.NAME}-{n}: {hit}"
    monkeypatch.setattr(ex, "_train", _no_training)
    got, tier = ex.obtain_networks(quick=True, seed=0)
    assert tier == "full"
    assert all(g.source == "shipped" and g.config == full[n] for n, g in got.items())
    assert all(g.summary()["source"] == "shipped" for g in got.values())
    for g in got.values():
        pts = np.asarray(g.model["points"])
        assert pts.shape == (full["adaptive"]["n_col"], 2) and np.all(np.abs(pts) < 1)
    fresh = jax.tree_util.tree_leaves(ex._like(full["adaptive"], got["adaptive"].meta)["net"])
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(got["adaptive"].model["net"]), fresh))
    # the fully trained networks on a coarser grid than the run's 201² (full run: 0.0611, 0.154, 0.0257)
    err = {n: grid_error(g.model["net"], n=101) for n, g in got.items()}
    assert err["adaptive"] * 2 < err["uniform"], err
    assert err == pytest.approx({"adaptive": 0.0611, "uniform": 0.154, "rar": 0.0257}, rel=0.02)
