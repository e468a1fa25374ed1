"""prior-deblur: contract of the record, and (slow) its quick run."""

import json

import numpy as np
import pytest

from jaxhybrid.examples import REGISTRY, load


def test_example_registered():
    assert REGISTRY["prior-deblur"][0] == "prior_deblur"


def test_deblur_problem_holds_out_the_test_image():
    ex = load("prior-deblur")
    assert ex.TEST_IMAGE not in ex.TRAIN_IMAGES and len(ex.TRAIN_IMAGES) >= 5


def _check_record(rec, name):
    assert rec["name"] == name and rec["paradigm"] == 1 and rec["quick"] is True
    json.dumps(rec)  # serialisable
    for k in rec["metrics"]:
        assert rec["goal"][k] in ("min", "max")
        assert np.isfinite(rec["metrics"][k])


@pytest.mark.slow
def test_prior_deblur_quick(tmp_path):
    rec = load("prior-deblur").run(quick=True, seed=0, out=tmp_path)
    _check_record(rec, "prior-deblur")
    m, b = rec["metrics"], rec["baselines"]
    assert (tmp_path / "prior-deblur.png").exists()
    assert {"tv", "tikhonov", "data_only"} <= set(b)
    # quick mode (a briefly trained prior, short chains) must still improve on the data and
    # give non-degenerate error bars; the dB margins over TV/Tikhonov are full-mode claims
    assert m["psnr_dB"] > b["observation"]["psnr_dB"] + 1.0
    assert m["inpainting_psnr_dB"] > b["observation"]["inpainting_psnr_dB"] + 10.0
    assert 0.5 < m["coverage_90"] <= 1.0 and 0.5 < m["inpainting_coverage_90"] <= 1.0
