"""The data-only MLP baseline (jaxhybrid.dp.baselines) and the timed reference MD (labellers)."""

import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk

from jaxhybrid.dp import EMTLabeller, System, cache_dir, features, mlp_baseline, timed_reference_md

WATER = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])


def _harmonic(n_frames, seed):
    """Frames of a bent triatomic with harmonic springs (eV, Å): exact energies and forces."""
    rng = np.random.default_rng(seed)
    R = WATER[None] + 0.05 * rng.normal(size=(n_frames, 3, 3))
    E, F = np.zeros(n_frames), np.zeros_like(R)
    for i, j, r0, k in ((0, 1, 0.96, 45.0), (0, 2, 0.96, 45.0), (1, 2, 1.52, 10.0)):
        d = R[:, j] - R[:, i]
        r = np.linalg.norm(d, axis=-1)
        E += 0.5 * k * (r - r0) ** 2
        g = (k * (r - r0) / r)[:, None] * d
        F[:, i] += g
        F[:, j] -= g
    return System(("O", "H"), np.array([0, 1, 1]), R, np.broadcast_to(np.eye(3) * 100, (n_frames, 3, 3)).copy(), E, F,
                  None, False)


def test_distance_features_are_invariant_and_coordinates_are_not():
    R = jnp.asarray(WATER)
    Q = jnp.asarray([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    moved = R @ Q.T + 0.3
    d = features("distances", 3)
    np.testing.assert_allclose(d(moved), d(R), atol=1e-6)
    assert d(R).shape == (3,) and features("coordinates", 3)(R).shape == (9,)
    assert not np.allclose(features("coordinates", 3)(moved), features("coordinates", 3)(R))
    with pytest.raises(ValueError, match="kind"):
        features("angles", 3)


def test_mlp_baseline_learns_and_checks_atom_counts():
    tr, te = [_harmonic(64, 0)], [_harmonic(16, 1)]
    short = mlp_baseline(tr, te, "distances", steps=2, seed=0, widths=(32,))
    long = mlp_baseline(tr, te, "distances", steps=3000, seed=0, widths=(32,))
    assert set(long) == {"energy_rmse_meV_per_atom", "force_rmse_meV_per_A"}
    assert long["force_rmse_meV_per_A"] < 0.7 * short["force_rmse_meV_per_A"]
    big = System(("O", "H"), np.array([0, 1, 1, 1]), np.zeros((1, 4, 3)), np.eye(3)[None] * 100, np.zeros(1),
                 np.zeros((1, 4, 3)), None, False)
    with pytest.raises(ValueError, match="one atom count"):
        mlp_baseline(tr, [big], steps=2, seed=0)


def test_timed_reference_md_and_the_label_store(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXHYBRID_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "dp" and cache_dir().is_dir()
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    kw = dict(temperature=600.0, n_steps=20, every=5, equilibrate=5, seed=4)
    R, cell, s = timed_reference_md(EMTLabeller(("Cu",)), atoms, **kw)
    assert R.shape == (4, 4, 3) and s > 0
    np.testing.assert_allclose(cell, atoms.get_cell())
    np.testing.assert_array_equal(R, timed_reference_md(EMTLabeller(("Cu",)), atoms, **kw)[0])  # seeded
    assert np.abs(R[-1] - atoms.get_positions()).max() > 1e-3  # it moved
    np.testing.assert_array_equal(atoms.get_positions(), bulk("Cu", "fcc", a=3.61, cubic=True).get_positions())  # untouched
    with pytest.raises(ValueError, match="n_steps"):
        timed_reference_md(EMTLabeller(("Cu",)), atoms, temperature=600.0, n_steps=0, every=1)
