import time

import pytest

from jaxhybrid.record import figure, record, save_figure


def test_record_has_the_contract_keys_and_checks_goals(tmp_path):
    r = record("demo", 2, True, time.perf_counter(), {"err": 0.1}, {"err": "min", "base_only": "max"},
               {"data_only": {"err": 0.3, "base_only": 1.0}}, config={"a": 1})
    assert set(r) == {"name", "paradigm", "quick", "wall_s", "metrics", "goal", "baselines", "config", "headline",
                      "references"}
    assert r["wall_s"] >= 0 and r["baselines"]["data_only"]["err"] == 0.3
    with pytest.raises(ValueError, match="goal key 'typo'"):
        record("demo", 2, True, 0.0, {"err": 0.1}, {"typo": "min"})
    with pytest.raises(ValueError, match="'min' or 'max'"):
        record("demo", 2, True, 0.0, {"err": 0.1}, {"err": "lower"})
    with pytest.raises(ValueError, match="paradigm"):
        record("demo", 4, True, 0.0, {"err": 0.1}, {})
    fig, ax = figure(1, 2)
    ax[0].plot([0, 1])
    assert save_figure(fig, tmp_path, "demo").stat().st_size > 0


def test_verdicts_follow_goal_and_skip_references():
    from jaxhybrid.record import record, verdicts

    rec = record("x", 1, True, 0.0, {"err": 0.1, "speed": 5.0}, {"err": "min", "speed": "max"},
                 {"labeller": {"err": 0.0}, "mlp": {"err": 0.3}, "poly": {"err": 0.1}, "slow": {"speed": 9.0}},
                 references=("labeller",))
    assert rec["headline"] == "err"
    assert verdicts(rec) == {"mlp": "won", "poly": "tie"}  # reference and baselines without the metric left out
    rec2 = record("x", 1, True, 0.0, {"err": 0.1, "speed": 5.0}, {"err": "min", "speed": "max"},
                  {"slow": {"speed": 9.0}}, headline="speed")
    assert verdicts(rec2) == {"slow": "lost"}
    with pytest.raises(ValueError, match="headline"):
        record("x", 1, True, 0.0, {"err": 0.1}, {"err": "min"}, {}, headline="nope")
    with pytest.raises(ValueError, match="reference"):
        record("x", 1, True, 0.0, {"err": 0.1}, {"err": "min"}, {}, references=("ghost",))
