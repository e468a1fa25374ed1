"""SPD-NN training data and training: path windows, window-invariance of the one-step loss,
and one-step training through ``jaxhybrid.train.fit`` on windows with data-scaled inputs."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhybrid import constitutive as C
from jaxhybrid.constitutive.data import path_windows, strain_paths, stress_paths
from jaxhybrid.train import fit


@pytest.fixture(scope="module")
def paths():
    law = C.HardeningHypoelastic()
    eps = strain_paths(1, 6, 120, 0.01)
    return law, eps, stress_paths(law, eps)


def test_path_windows_are_consecutive_segments_and_exact_rollout_starts(paths):
    law, eps, sig = paths
    we, ws = path_windows(eps, sig, 40)
    assert we.shape == ws.shape == (6 * 3, 41, 6)
    # window j of path p is points 40j .. 40j+40; neighbours share their end point
    np.testing.assert_array_equal(we[4], eps[1, 40:81])
    np.testing.assert_array_equal(we[3, -1], we[4, 0])
    # the reference law rolled out from each window's own starting stress reproduces the window
    roll = jax.jit(jax.vmap(lambda e, s0: C.rollout_stress(law.step, e, s0)))(jnp.asarray(we), jnp.asarray(ws[:, 0]))
    np.testing.assert_allclose(roll, ws, rtol=0, atol=1e-6 * np.abs(sig).max())
    with pytest.raises(ValueError):
        path_windows(eps, sig, 121)
    with pytest.raises(ValueError):
        path_windows(eps, sig[:, :-1], 10)


def test_one_step_loss_is_invariant_to_windowing(paths):
    # the windows partition the increments, so the teacher-forced loss (and its normalisation,
    # the mean squared stress increment) is the same on windows as on the whole paths
    _, eps, sig = paths
    model = C.SPDNN(6, 8, key=jax.random.PRNGKey(0), stress_scale=2.0, strain_scale=2e-3)
    loss = eqx.filter_jit(C.one_step_loss)
    full = float(loss(model, (jnp.asarray(eps), jnp.asarray(sig))))
    for length in (1, 30, 120):
        win = float(loss(model, tuple(map(jnp.asarray, path_windows(eps, sig, length)))))
        np.testing.assert_allclose(win, full, rtol=1e-5)
    assert full > 1e-3  # an untrained model: the comparison is not between zeros


def test_spd_one_step_training_on_windows_generalises_to_unseen_paths():
    law = C.HardeningHypoelastic()
    e_tr = strain_paths(0, 32, 200, 0.01)
    e_te = strain_paths(10_000, 4, 200, 0.01)
    s_tr, s_te = stress_paths(law, e_tr), stress_paths(law, e_te)
    e_scale, s_scale = float(np.sqrt(np.mean(e_tr**2))), float(np.sqrt(np.mean(s_tr**2)))
    model = C.SPDNN(6, 16, key=jax.random.PRNGKey(1), stress_scale=s_scale / e_scale, strain_scale=e_scale)
    steps = 300
    windows = path_windows(e_tr, s_tr, 50)
    res = fit(C.one_step_loss, model, windows, optax.adam(optax.cosine_decay_schedule(1e-2, steps, 0.05)),
              steps=steps, batch_size=16, key=jax.random.PRNGKey(2), log_every=100, progress=False)

    def rollout_error(m):
        pred = eqx.filter_jit(jax.vmap(lambda p: C.rollout_stress(m.step, p)))(jnp.asarray(e_te))
        return float(jnp.sqrt(jnp.sum((pred - s_te) ** 2) / jnp.sum(s_te**2)))

    before, after = rollout_error(model), rollout_error(res.params)
    loss = eqx.filter_jit(C.one_step_loss)
    l0, l1 = float(loss(model, windows)), float(loss(res.params, windows))
    # measured: one-step loss 0.66 -> 0.012, rollout error on the unseen paths 0.91 -> 0.32
    assert l1 < 0.05 * l0, (l0, l1)
    assert after < 0.5 * before, (before, after)


def test_rollout_errors_zero_for_the_reference_law_and_scale_with_a_wrong_one(paths):
    law, eps, sig = paths
    e, pred = C.rollout_errors(law, eps, sig)
    assert pred.shape == sig.shape and e["rollout_rel_error"] < 1e-5 and e["one_step_rel_error"] < 1e-4
    assert abs(e["max_stress_ratio"] - 1) < 1e-5

    class Stiffer(eqx.Module):  # every increment 10% too large: the rollout is off by 10%
        def step(self, s, e0, e1):
            return s + 1.1 * (law.step(s, e0, e1) - s)

    w, _ = C.rollout_errors(Stiffer(), eps, sig)
    np.testing.assert_allclose([w["rollout_rel_error"], w["one_step_rel_error"]], [0.1, 0.1], rtol=0.05)
    assert w["max_stress_ratio"] > 1.05

    class Blowup(eqx.Module):  # overflows within the 120 increments
        def step(self, s, e0, e1):
            return 10.0 * s + 1.0

    b, _ = C.rollout_errors(Blowup(), eps, sig)
    assert b["rollout_rel_error"] == b["final_rel_error"] == b["max_stress_ratio"] == float("inf")
    with pytest.raises(ValueError, match="rollout_errors"):
        C.rollout_errors(law, eps, sig[:, :-1])
