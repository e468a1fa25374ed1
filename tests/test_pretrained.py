"""Shipped-weights store of the examples: round trip, lookup order, retrain, bad files."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import pretrained


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pretrained, "SHIPPED", tmp_path / "shipped")
    return tmp_path


def _like(cfg, meta):
    return eqx.nn.MLP(meta["d_in"], 1, cfg["width"], 1, key=jax.random.PRNGKey(0))


def _trainer(calls):
    def train(cfg):
        calls.append(cfg)
        return eqx.nn.MLP(3, 1, cfg["width"], 1, key=jax.random.PRNGKey(len(calls))), {"d_in": 3, "loss": 0.5}
    return train


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(eqx.filter(a, eqx.is_array)),
                                                   jax.tree_util.tree_leaves(eqx.filter(b, eqx.is_array))))


def test_trains_once_then_reads_the_cache_exactly(store):
    calls = []
    full, quick = {"width": 8, "steps": 100}, {"width": 4, "steps": 10}
    a = pretrained.obtain("toy", [full, quick], _trainer(calls), _like)
    assert a.source == "trained" and a.config == quick and len(calls) == 1  # nothing stored: the last config
    b = pretrained.obtain("toy", [full, quick], _trainer(calls), _like)
    assert b.source == "cache" and len(calls) == 1 and _same(a.model, b.model) and b.meta["loss"] == 0.5
    x = jnp.ones(3)
    assert jnp.array_equal(a.model(x), b.model(x))


def test_first_stored_config_wins_and_shipped_before_cache(store):
    calls = []
    full, quick = {"width": 8}, {"width": 4}
    pretrained.obtain("toy", [full], _trainer(calls), _like)  # full weights now in the cache
    got = pretrained.obtain("toy", [full, quick], _trainer(calls), _like)
    assert got.config == full and got.source == "cache" and len(calls) == 1
    shipped = pretrained.ship(["toy"])
    assert [p.parent for p in shipped] == [pretrained.SHIPPED]
    assert pretrained.obtain("toy", [full, quick], _trainer(calls), _like).source == "shipped"
    assert got.summary()["file"] == shipped[0].name


def test_retrain_ignores_stored_weights(store):
    calls = []
    cfg = {"width": 4}
    first = pretrained.obtain("toy", [cfg], _trainer(calls), _like)
    again = pretrained.obtain("toy", [cfg], _trainer(calls), _like, retrain=True)
    assert again.source == "trained" and len(calls) == 2 and not _same(first.model, again.model)


def test_changed_config_is_a_different_file(store):
    calls = []
    pretrained.obtain("toy", [{"width": 4}], _trainer(calls), _like)
    assert pretrained.find("toy", {"width": 4, "lr": 1e-3}) is None


def test_bad_files_name_themselves(store):
    calls = []
    got = pretrained.obtain("toy", [{"width": 4}], _trainer(calls), _like)
    path = got.path
    path.write_bytes(path.read_bytes()[:-40])  # truncated arrays
    with pytest.raises(ValueError, match=str(path.name)):
        pretrained.obtain("toy", [{"width": 4}], _trainer(calls), _like)
    path.write_bytes(b"not a header\n")
    with pytest.raises(ValueError, match="not a jaxhybrid model file"):
        pretrained.read_header(path)
    with pytest.raises(ValueError, match="plain file-name"):
        pretrained.file_name("a/b", {})


def test_shipped_weights_are_readable_and_declared_as_package_data():
    import tomllib
    from pathlib import Path

    root = Path(pretrained.__file__).parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "weights/*.eqx" in data["jaxhybrid"]
    for p in sorted(pretrained.SHIPPED.glob("*.eqx")):
        h = pretrained.read_header(p)
        assert p.name == pretrained.file_name(h["name"], h["config"])  # key = hash of the training config
        assert p.stat().st_size < 2 * 1024 * 1024, f"{p.name}: shipped weights must stay small"


def test_obtain_tier_gives_one_tier_never_a_mix(store):
    """Quick mode uses the full tier only when every full network is stored; ``retrain``, a missing
    network or another seed's configuration train the small tier; full mode always the full."""
    calls = []
    full = {"a": ("toy-a", {"width": 8, "seed": 0}), "b": ("toy-b", {"width": 6, "seed": 0})}
    small = {"a": ("toy-a", {"width": 4, "seed": 0}), "b": ("toy-b", {"width": 2, "seed": 0})}
    train = lambda key: _trainer(calls)
    got, tier = pretrained.obtain_tier(full, small, train, _like, quick=False, log=None)  # trains the full tier
    assert tier == "full" and [c for c in calls] == [full["a"][1], full["b"][1]]
    assert {k: g.source for k, g in got.items()} == {"a": "trained", "b": "trained"}
    got, tier = pretrained.obtain_tier(full, small, train, _like, quick=True, log=None)  # both stored: loaded
    assert tier == "full" and len(calls) == 2 and all(g.source == "cache" for g in got.values())
    got, tier = pretrained.obtain_tier(full, small, train, _like, quick=True, retrain=True, log=None)
    assert tier == "quick" and calls[2:] == [small["a"][1], small["b"][1]]
    (pretrained.cache_dir("weights") / pretrained.file_name("toy-b", full["b"][1])).unlink()  # one full network gone
    got, tier = pretrained.obtain_tier(full, small, train, _like, quick=True, log=None)
    assert tier == "quick" and all(g.config == small[k][1] and g.source == "cache" for k, g in got.items())
    got, tier = pretrained.obtain_tier(full, small, train, _like, quick=False, retrain=True, log=None)
    assert tier == "full" and calls[4:] == [full["a"][1], full["b"][1]]
