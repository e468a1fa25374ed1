"""The DP-GEN loop (jaxhybrid.dp.concurrent): selection within the trust levels, and the loop's
invariants on a tiny Cu system with the EMT labeller (2 rounds, a few frames per round)."""

import jax
import numpy as np
import pytest
from ase.build import bulk

from jaxhybrid.dp import (EMTLabeller, Explorer, TrustLevels, concurrent_learning, explore, label_frames, make_ensemble,
                          model_deviation, pack, select, train)


def test_select_draws_only_candidates_within_trust_levels():
    dev = np.array([0.01, 0.2, 0.3, 0.6, 0.05, 0.49, 0.5, 0.1])
    inside = {1, 2, 5, 7}  # 0.1 <= dev < 0.5
    rng = np.random.default_rng(0)
    for n in (0, 1, 3, 10):
        pick = select(dev, TrustLevels(0.1, 0.5), n, rng)
        assert len(pick) == min(n, len(inside)) and len(set(pick.tolist())) == len(pick)
        assert set(pick.tolist()) <= inside
    assert len(select(dev, (0.7, 0.9), 5, rng)) == 0
    with pytest.raises(ValueError, match="lo < hi"):
        select(dev, TrustLevels(0.5, 0.1), 1, rng)


def test_concurrent_learning_loop_invariants_on_tiny_cu(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    lab = EMTLabeller(("Cu",))
    rng = np.random.default_rng(1)
    starts = np.asarray(atoms.get_positions())[None] + 0.05 * rng.normal(size=(3, len(atoms), 3))
    seed_set = [label_frames(lab, starts, atoms)]
    assert seed_set[0].n_frames == 3 and seed_set[0].virial is not None
    kw = dict(type_map=("Cu",), rcut=4.0, rcut_smth=3.0, sel=48, embedding=(4, 8), fitting=(8,), axis=2)

    def fit(ens, systems, steps, seed):
        return train(ens, pack(systems, 4.0, k_max=48), steps=steps, lr_start=1e-3, lr_end=1e-4,
                     key=jax.random.PRNGKey(seed), log_every=steps, ensemble=True)[0]

    ens0 = fit(make_ensemble(2, jax.random.PRNGKey(0), **kw), seed_set, 10, 0)
    explorer = Explorer((600.0,), n_steps=20, every=5, mass=63.546)
    # the trust levels from a dry run of round 0 (same model and seed: the same frames), so that
    # round 0 has frames below lo, candidates, and a frame at hi (not a candidate)
    frames0 = explore(ens0, atoms, explorer, seed=3)
    dev0 = model_deviation(ens0, frames0, atoms.get_cell(), np.zeros(len(atoms), int), k_max=48)
    assert frames0.shape == (4, len(atoms), 3) and len(set(dev0.tolist())) == 4
    trust = TrustLevels(float(np.sort(dev0)[1]), float(dev0.max()))
    calls = []

    def retrain(ens, systems, r):
        calls.append((r, len(systems), sum(s.n_frames for s in systems)))
        return fit(ens, systems, 5, 10 + r)

    res = concurrent_learning(ens0, seed_set, atoms, labeller=lab, retrain=retrain, explorer=explorer, trust=trust,
                              n_label=1, rounds=2, rng=np.random.default_rng(0), seed=3, accurate_fraction=1.0)
    assert res.rounds == 2 and not res.converged and len(res.history) == 2
    np.testing.assert_array_equal(res.explored[0], frames0)
    np.testing.assert_allclose(res.deviations[0], dev0, rtol=1e-6)
    for rec, dev, pick in zip(res.history, res.deviations, res.picked):
        assert np.all((dev[pick] >= trust.lo) & (dev[pick] < trust.hi))  # chosen within [lo, hi)
        assert rec["candidates"] == np.sum((dev >= trust.lo) & (dev < trust.hi)) and rec["failed"] == np.sum(dev >= trust.hi)
        assert rec["labelled"] == len(pick) == min(1, rec["candidates"])
        assert rec["accurate_frac"] == pytest.approx(np.mean(dev < trust.lo))
    h0 = res.history[0]
    assert h0["labelled"] == 1 and h0["failed"] >= 1 and h0["accurate_frac"] > 0
    # labels grow by the picked frames, labelled at their own positions, and each labelling round retrains
    n_rounds_labelled = sum(len(p) > 0 for p in res.picked)
    assert len(res.systems) == 1 + n_rounds_labelled
    assert sum(s.n_frames for s in res.systems) == 3 + sum(len(p) for p in res.picked)
    np.testing.assert_allclose(res.systems[1].coord[0], res.explored[0][res.picked[0][0]], atol=1e-5)
    assert [c[0] for c in calls] == [r for r, p in enumerate(res.picked) if len(p)] and calls[0][1:] == (2, 4)
    moved = jax.tree_util.tree_map(lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)))),
                                   res.model.fittings, ens0.fittings)
    assert max(jax.tree_util.tree_leaves(moved)) > 0  # retrained
