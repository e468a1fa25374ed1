import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.rollout import DivergenceError, nonfinite, raise_if_diverged, rollout


def test_saves_every_k_and_matches_python_loop():
    step = lambda s: 0.9 * s + jnp.sin(s)
    s, ref = jnp.asarray([0.3, -1.2]), []
    for _ in range(12):
        s = step(s)
        ref.append(s)
    res = rollout(step, jnp.asarray([0.3, -1.2]), 12, save_every=3, include_initial=True)
    np.testing.assert_allclose(res.saved[1:], np.stack(ref)[2::3], rtol=1e-6)
    np.testing.assert_allclose(res.saved[0], [0.3, -1.2])
    np.testing.assert_allclose(res.final, ref[-1], rtol=1e-6)
    assert int(res.steps_done) == 12


def test_inputs_are_fed_per_step():
    res = rollout(lambda s, x: s + x, 0.0, 6, inputs=jnp.arange(6.0), save_every=2)
    np.testing.assert_allclose(res.saved, [1.0, 6.0, 15.0])


def test_checkpointed_gradient_equals_plain_and_analytic():
    f = lambda a, ck: rollout(lambda s: s * a, 1.0, 64, save_every=8, checkpoint=ck).final
    g_plain, g_ck = jax.grad(f)(1.01, False), jax.grad(f)(1.01, True)
    np.testing.assert_allclose(g_ck, g_plain, rtol=1e-6)
    np.testing.assert_allclose(g_ck, 64 * 1.01**63, rtol=1e-5)


def test_checkpointing_reduces_stored_residuals():
    # memory of the backward pass: temp buffers of the compiled gradient
    x0 = jnp.ones(4096)
    step = lambda s: jnp.tanh(s) * 1.01

    def mem(ck):
        loss = lambda x: jnp.sum(rollout(step, x, 400, save_every=20, checkpoint=ck).final)
        ma = jax.jit(jax.grad(loss)).lower(x0).compile().memory_analysis()
        return ma.temp_size_in_bytes

    assert mem(True) < 0.3 * mem(False)


def test_guard_freezes_last_good_state_and_reports_step():
    step = lambda s: jnp.where(s > 20.0, jnp.nan, 2.0 * s)
    res = rollout(step, jnp.asarray(1.0), 10, is_bad=nonfinite)
    assert int(res.steps_done) == 5 and float(res.final) == 32.0
    with pytest.raises(DivergenceError) as e:
        raise_if_diverged(res, 10)
    assert e.value.step == 6 and float(e.value.state) == 32.0
    assert "step 6" in str(e.value)


def test_guard_under_vmap():
    step = lambda s: jnp.where(s > 20.0, jnp.inf, 2.0 * s)
    res = jax.vmap(lambda s: rollout(step, s, 6, is_bad=nonfinite))(jnp.asarray([1.0, 0.1]))
    np.testing.assert_array_equal(res.steps_done, [5, 6])
    with pytest.raises(DivergenceError, match="1 of 2 batched runs"):
        raise_if_diverged(res, 6)


@pytest.mark.parametrize("kw, msg", [
    (dict(n_steps=10, save_every=3), "multiple of save_every"),
    (dict(n_steps=-1), "non-negative"),
    (dict(n_steps=4, save_every=0), "positive"),
    (dict(n_steps=4, inputs=jnp.zeros(3)), "leading axis"),
])
def test_bad_arguments(kw, msg):
    n = kw.pop("n_steps")
    with pytest.raises(ValueError, match=msg):
        rollout(lambda s, *a: s, 0.0, n, **kw)
