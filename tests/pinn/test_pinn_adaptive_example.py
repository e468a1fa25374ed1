"""pinn-adaptive in quick mode: adaptive collocation beats uniform and RAR at equal points and iterations."""

import pytest


@pytest.mark.example
def test_pinn_adaptive_quick_run(quick_record, assert_hybrid_wins):
    rec, folder = quick_record("pinn-adaptive")
    assert (folder / "pinn-adaptive.png").exists()
    assert_hybrid_wins(rec)
    assert rec["improvement_vs_uniform"] > 1.5
