"""prior-poisson-source: contract of the record, and (slow) its quick run."""

import json

import numpy as np
import pytest

from jaxhybrid.examples import REGISTRY, load


def test_example_registered():
    assert REGISTRY["prior-poisson-source"][0] == "prior_poisson_source"


def _check_record(rec, name):
    assert rec["name"] == name and rec["paradigm"] == 1 and rec["quick"] is True
    json.dumps(rec)  # serialisable
    for k in rec["metrics"]:
        assert rec["goal"][k] in ("min", "max")
        assert np.isfinite(rec["metrics"][k])


@pytest.mark.slow
def test_prior_poisson_source_quick(tmp_path):
    rec = load("prior-poisson-source").run(quick=True, seed=0, out=tmp_path)
    _check_record(rec, "prior-poisson-source")
    m, b = rec["metrics"], rec["baselines"]
    assert (tmp_path / "prior-poisson-source.png").exists()
    assert m["f_rel_l2"] < 0.9  # better than the zero estimate (rel. error 1)
    assert 0.6 < m["coverage_90"] <= 1.0
