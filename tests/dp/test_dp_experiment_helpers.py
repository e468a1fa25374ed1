"""Library helpers the Deep Potential examples call: training-data selection from a configuration,
the networks of one tier and their record entry, a molecule's DFT-MD sets and their key, and the
record figures of the crystal and molecule DP-MD checks and of concurrent learning."""

import importlib
from pathlib import Path

import numpy as np
import pytest

from jaxhybrid import dp, md
from jaxhybrid.cache import config_hash
from jaxhybrid.md.analysis import DistributionComparison
from jaxhybrid.pretrained import Obtained

WATER = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])


def test_crystal_data_from_config_selects_sizes_times_conditions(monkeypatch):
    calls = []

    def fake_reference_md(labeller, atoms, **kw):
        calls.append((len(atoms), kw))
        return [f"system{len(calls)}"]

    monkeypatch.setattr("jaxhybrid.dp.labellers.reference_md", fake_reference_md)
    cfg = dict(sizes=[[1, 1, 2], [1, 2, 2]], temperatures=[300, 900], strains=[-0.03, 0.03], frames_per_traj=3,
               every=10, equilibrate=60, seed=4, a0=3.6)
    out = dp.crystal_data_from_config("lab", "Cu", cfg, name="t")
    assert out == [f"system{k}" for k in range(1, 9)]
    assert [n for n, _ in calls] == [8] * 4 + [16] * 4  # sizes outer
    assert [(kw["temperatures"], kw["strains"]) for _, kw in calls[:4]] == [([300], [-0.03]), ([300], [0.03]),
                                                                             ([900], [-0.03]), ([900], [0.03])]
    assert all((kw["n_frames"], kw["every"], kw["equilibrate"], kw["seed"], kw["name"]) == (3, 10, 60, 4, "t")
               for _, kw in calls)
    with pytest.raises(ValueError, match="strains"):
        dp.crystal_data_from_config("lab", "Cu", {k: v for k, v in cfg.items() if k != "strains"}, name="t")


class _Fake:
    def __init__(self, meta):
        self.meta = meta


def test_obtain_networks_takes_one_tier_and_times_the_training(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    seen = []

    def fake_fit(type_map, systems, config, *, sel, log_every):
        seen.append((type_map, systems, config["steps"], sel, log_every))
        return {"w": np.full(2, float(config["steps"]))}, {"n_train_frames": len(systems)}

    monkeypatch.setattr("jaxhybrid.dp.networks.fit_from_config", fake_fit)
    monkeypatch.setattr("jaxhybrid.dp.networks.template_from_config",
                        lambda type_map, config, meta=None, sel=None, n_atoms=None: {"w": np.zeros(2)})
    tiers = lambda q: {"a": ("helper-test-a", {"steps": 2 if q else 20, "seed": 0})}  # noqa: E731
    got, tier = dp.obtain_networks(("Cu",), tiers, lambda c: ["frame"] * c["steps"], quick=True, sel=7,
                                   log_every=lambda c: c["steps"] // 2)
    assert tier == "quick" and got["a"].source == "trained" and got["a"].config["steps"] == 2
    assert seen == [(("Cu",), ["frame"] * 2, 2, 7, 1)] and got["a"].meta["train_s"] >= 0.0
    summary = dp.weights_summary(got, tier)
    assert summary["a"]["level"] == "quick" and summary["a"]["train_s"] == got["a"].meta["train_s"]
    assert summary["a"]["config_hash"] == config_hash({"steps": 2, "seed": 0})
    # stored now: the next quick call reads it back, training nothing
    got2, _ = dp.obtain_networks(("Cu",), tiers, lambda c: pytest.fail("must not train"), quick=True)
    assert got2["a"].source == "cache"


def test_weights_summary_is_the_record_entry():
    got = {"dp": Obtained(None, {"train_s": 1.5}, {"x": 1}, "shipped", Path("/w/dp-abc.eqx"))}
    assert dp.weights_summary(got, "full") == {"dp": {"source": "shipped", "file": "dp-abc.eqx",
                                                      "config_hash": config_hash({"x": 1}), "level": "full",
                                                      "train_s": 1.5}}


def test_molecule_dft_md_sets_keys_and_splits(monkeypatch):
    level = dict(xc="PBE", basis="sto-3g", grid_level=0, dt_fs=0.5, gamma_per_ps=20.0, temperatures=[300.0, 900.0],
                 train_steps=24, test_steps=16)
    sets = dp.MoleculeDFTMD(("O", "H"), ("O", "H", "H"), WATER, (15.999, 1.008, 1.008), name="w",
                            labels=Path("/nowhere/w-test"))
    key = sets.test_key(level, 2)
    assert key == dict({k: level[k] for k in dp.LEVEL_KEYS}, test_steps=16, seed=1002, symbols=["O", "H", "H"],
                       masses=[15.999, 1.008, 1.008], start=WATER.round(6).tolist())
    calls = []
    # (the package's name dft_md is the function: patch the module's)
    monkeypatch.setattr(importlib.import_module("jaxhybrid.dp.dft_md"), "dft_md",
                        lambda lab, symbols, R, masses, T, n, **kw: calls.append((lab.basis, T, n, kw)) or T)
    assert sets.trajectories(level, 2, "train") == [300.0, 900.0]
    assert sets.trajectories(level, 2, "test") == [300.0, 900.0]
    assert [(c[2], c[3]["seed"], c[3]["name"]) for c in calls] == [(24, 2, "w-train")] * 2 + [(16, 1002, "w-test")] * 2
    assert calls[0][0] == "sto-3g" and calls[0][3]["dt_fs"] == 0.5 and calls[0][3]["gamma_per_ps"] == 20.0
    # no stored file: the held-out set is made (here: the stand-in trajectories)
    systems, path = sets.held_out(level, 2)
    assert path is None and systems == [300.0, 900.0]
    with pytest.raises(ValueError, match="split"):
        sets.trajectories(level, 2, "valid")


def test_molecule_md_metrics_flattens_the_check():
    def comp(l1, floor):
        return DistributionComparison(np.linspace(0.8, 1.2, 5), np.full(4, 1.0), np.full(4, 1.1), l1, floor, 2 * floor,
                                      np.array([floor]))

    check = dp.MoleculeMDCheck(0.2, 1e-4, [comp(0.3, 0.4), comp(0.5, 0.2)])
    m = dp.molecule_md_metrics(check, ["300K", "900K"], "oh", unit="A", sides=("dp", "dft"))
    assert m["speedup_vs_reference"] == pytest.approx(2000.0)
    assert (m["dft_md_s_per_step"], m["dp_md_s_per_step"]) == (0.2, 1e-4)
    assert m["oh_hist_l1"] == pytest.approx(0.4) and m["oh_hist_l1_sampling_floor"] == pytest.approx(0.3)
    assert m["oh_hist_l1_900K"] == 0.5 and m["oh_mean_A_dft_300K"] == pytest.approx(1.1)
    with pytest.raises(ValueError, match="tag"):
        dp.molecule_md_metrics(check, ["300K"], "oh", unit="A")


def test_crystal_md_scaling_figures(monkeypatch):
    monkeypatch.setattr(md, "cost_per_atom_step", lambda energy_fn, starts, **kw: [1e-6 * len(R) for R, _ in starts])
    check = dp.CrystalMDCheck(None, np.zeros(1), 0.0032, 32)  # 100 µs per atom-step
    f = dp.crystal_md_scaling("energy", "Cu", [2, 3], check, 2, n_steps=3, dt_ps=0.002, temperature=300.0,
                              reference="ref")
    assert (f["n_atoms_small"], f["n_atoms_large"]) == (32, 108)
    assert f["us_per_atom_step_small"] == pytest.approx(32.0) and f["us_per_atom_step_large"] == pytest.approx(108.0)
    assert f["cost_ratio_large_vs_small"] == pytest.approx(108 / 32)
    assert f["speed_vs_ref_md"] == pytest.approx(100.0 / 32.0)
    f4 = dp.crystal_md_scaling("energy", "Cu", [2, 3], check, 1, n_steps=3, dt_ps=0.002, temperature=300.0)
    assert f4["speed_vs_reference_md"] == pytest.approx(100.0 / 4.0)  # the check's size timed too
    with pytest.raises(ValueError, match="small, large"):
        dp.crystal_md_scaling("energy", "Cu", [2], check, 2, n_steps=3, dt_ps=0.002, temperature=300.0)


def test_concurrent_figures_of_the_three_arms():
    errs = {a: {k: float(i + j) for j, k in enumerate(dp.ARM_FIGURES + ("energy_rmse_meV_per_atom",))}
            for i, a in enumerate(dp.CONCURRENT_ARMS)}
    meta = {"history": [{"labelled": 3, "accurate_frac": 0.1}, {"labelled": 2, "accurate_frac": 0.5}],
            "labelled_frames": 5, "rounds": 2, "converged": False, "random_selection_steps": 40}
    hybrid, base = dp.concurrent_figures(errs, meta)
    assert hybrid == {"max_force_error_meV_per_A": 0.0, "force_rmse_meV_per_A": 1.0,
                      "max_model_deviation_meV_per_A": 2.0, "labelled_frames": 5, "labels_per_iteration": [3, 2],
                      "accurate_fraction_per_iteration": [0.1, 0.5], "rounds": 2, "converged": False}
    assert base["random_selection"] == {"max_force_error_meV_per_A": 1.0, "force_rmse_meV_per_A": 2.0,
                                        "max_model_deviation_meV_per_A": 3.0, "labelled_frames": 5,
                                        "training_steps_after_seed_set": 40}
    assert base["seed_only"]["labelled_frames"] == 0 and base["seed_only"]["force_rmse_meV_per_A"] == 3.0
    with pytest.raises(ValueError, match="seed_only"):
        dp.concurrent_figures({a: errs[a] for a in dp.CONCURRENT_ARMS[:2]}, meta)
