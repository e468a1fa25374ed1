import json

import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.cache import cache_dir, cache_root, config_hash
from jaxhybrid.metrics import Z90, coverage, rel_l2


def test_rel_l2_whole_and_per_sample():
    ref = np.array([[3.0, 4.0], [0.0, 1.0]])
    pred = ref + np.array([[0.3, 0.4], [0.0, 0.5]])
    np.testing.assert_allclose(float(rel_l2(pred, ref)), np.sqrt(0.25 + 0.25) / np.sqrt(26.0), rtol=1e-6)
    np.testing.assert_allclose(float(rel_l2(pred, ref, axis=0)), (0.1 + 0.5) / 2, rtol=1e-6)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_l2(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="axis"):
        rel_l2(pred, ref, axis=1)


def test_coverage_of_gaussian_draws_is_nominal():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=200_000)
    cov = float(coverage(np.zeros_like(truth), np.ones_like(truth), truth))
    assert abs(cov - 0.90) < 3 * np.sqrt(0.09 / truth.size)
    assert float(coverage(jnp.zeros(4), 1.0, jnp.asarray([0.0, 1.0, 2.0, -1.7]))) == 0.5
    assert Z90 == pytest.approx(1.6448536, rel=1e-7)
    with pytest.raises(ValueError, match="broadcast"):
        coverage(np.zeros(4), np.ones(3), np.zeros(4))


def test_cache_dir_is_keyed_by_the_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    a = cache_dir("prior", {"width": 32, "steps": 10})
    b = cache_dir("prior", {"steps": 10, "width": 32})   # key order does not matter
    c = cache_dir("prior", {"width": 64, "steps": 10})
    assert a == b != c and a.is_dir() and a.parent == tmp_path
    assert config_hash({"a": 1}) == config_hash(json.loads('{"a": 1}'))
    assert cache_dir("dp") == tmp_path / "dp"
    with pytest.raises(ValueError, match="plain folder"):
        cache_dir("../x")
