"""Shipped-weights store of the examples: round trip, lookup order, retrain, bad files."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.examples import pretrained


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
    with pytest.raises(ValueError, match="not a jaxhybrid weights file"):
        pretrained.read_header(path)
    with pytest.raises(ValueError, match="plain file-name"):
        pretrained.file_name("a/b", {})


def test_shipped_weights_are_readable_and_declared_as_package_data():
    import tomllib
    from pathlib import Path

    root = Path(pretrained.__file__).parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "weights/*.eqx" in data["jaxhybrid.examples"]
    for p in sorted(pretrained.SHIPPED.glob("*.eqx")):
        h = pretrained.read_header(p)
        assert p.name == pretrained.file_name(h["name"], h["config"])  # key = hash of the training config
        assert p.stat().st_size < 2 * 1024 * 1024, f"{p.name}: shipped weights must stay small"
