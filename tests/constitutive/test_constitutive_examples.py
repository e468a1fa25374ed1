"""The constitutive examples in quick mode: the structured network beats the plain MLP; quick mode
evaluates the full run's shipped networks instead of training."""

import pytest

from jaxhybrid import pretrained
from jaxhybrid.examples import constitutive_dpk, constitutive_spd

EXAMPLES = [constitutive_spd, constitutive_dpk]


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _full_configs(mod, seed):
    if mod is constitutive_spd:
        return {w: mod.network_config(False, seed, w) for w in mod.NETWORKS}
    return {(w, n): mod.network_config(False, seed, w, n) for w in mod.NETWORKS for n in mod.config(False)["sizes"]}


@pytest.mark.parametrize("mod", EXAMPLES, ids=lambda m: m.NAME)
def test_quick_mode_loads_the_shipped_full_networks(mod, empty_cache, monkeypatch):
    """Seed 0, nothing cached: every network is read from the package (the full run's training
    configuration), none is trained; the files are small and their headers match their keys."""
    def no_training(cfg):
        raise AssertionError(f"quick mode trained {cfg} instead of loading the shipped network")

    monkeypatch.setattr(mod, "_train", no_training)
    (got, tier), full = mod.obtain_networks(True, 0), _full_configs(mod, 0)
    assert tier == "full"
    assert set(got) == set(full)
    for k, g in got.items():
        assert g.source == "shipped" and g.config == full[k], k
        assert g.path.parent == pretrained.SHIPPED and g.path.stat().st_size < 2 * 2**20
        assert pretrained.read_header(g.path)["config"] == full[k]


@pytest.mark.parametrize("mod", EXAMPLES, ids=lambda m: m.NAME)
def test_other_seeds_train_the_quick_configuration(mod, empty_cache, monkeypatch):
    """The seed is part of the key: seed 1 finds no stored network and trains the small quick
    configuration (intercepted here), not seed 0's networks."""
    asked = []

    def record_and_stop(cfg):
        asked.append(cfg)
        raise RuntimeError("stop")

    monkeypatch.setattr(mod, "_train", record_and_stop)
    with pytest.raises(RuntimeError, match="stop"):
        mod.obtain_networks(True, 1)
    assert asked[0]["seed"] == 1 and asked[0]["steps"] == mod.config(True)["steps"]


@pytest.mark.example
def test_constitutive_spd_quick_run(quick_record):
    rec = quick_record("constitutive-spd")  # rollout error over 1,000 increments on unseen loading paths
    assert rec["headline"] == "rollout_rel_error"
    assert rec["config"]["spd_min_tangent_eigenvalue_on_test_paths"] > 0  # SPD by construction
    assert rec["metrics"]["rollout_rel_error"] < 0.6 * rec["baselines"]["data_only"]["rollout_rel_error"]


@pytest.mark.example
def test_constitutive_dpk_quick_run(quick_record):
    rec = quick_record("constitutive-dpk")  # held-out stress error
    m = rec["metrics"]
    assert rec["headline"] == "test_rel_error"
    # exact symmetry by construction (float32 rounding), the MLP has none
    assert m["frame_violation"] < 1e-4 and m["material_violation"] < 1e-4
    assert m["material_violation"] < 0.01 * rec["baselines"]["data_only"]["material_violation"]
    assert m["fe_converged"] == 1.0
