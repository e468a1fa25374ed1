import json

import numpy as np
import pytest


@pytest.fixture
def check_record():
    """The example-record contract of the learned-prior examples (quick mode, paradigm 1)."""

    def check(rec, name):
        assert rec["name"] == name and rec["paradigm"] == 1 and rec["quick"] is True
        json.dumps(rec)  # serialisable
        for k in rec["metrics"]:
            assert rec["goal"][k] in ("min", "max")
            assert np.isfinite(rec["metrics"][k])

    return check
