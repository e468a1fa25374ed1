"""The protocol's drivers: evolve (pure) and drive (host chunks)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.algorithm import Algorithm, deterministic
from jaxhybrid.driver import chunked, drive
from jaxhybrid.rollout import DivergenceError, evolve, rollout


def _random_walk():
    """x ← x + ξ with an acceptance-like info (ξ > 0)."""

    def step(x, key):
        xi = jax.random.normal(key, x.shape)
        return x + xi, {"up": xi[0] > 0, "xi": xi[0]}

    return Algorithm(lambda x: jnp.asarray(x, jnp.float32), step)


def test_evolve_keys_are_fold_in_of_the_global_step_so_chunks_equal_one_run():
    algo, key = _random_walk(), jax.random.PRNGKey(3)
    x0 = algo.init(jnp.zeros(2))
    one = evolve(algo, x0, 12, key=key)
    a = evolve(algo, x0, 5, key=key)
    b = evolve(algo, a.final, 7, key=key, start=5)
    np.testing.assert_array_equal(one.final, b.final)
    # the numbers drawn are fold_in(key, n), n = 0..11
    xs = [jax.random.normal(jax.random.fold_in(key, n), (2,)) for n in range(12)]
    np.testing.assert_allclose(one.final, np.sum(xs, 0), rtol=1e-6)


def test_evolve_averages_info_per_block():
    algo, key = _random_walk(), jax.random.PRNGKey(0)
    res = evolve(algo, algo.init(jnp.zeros(1)), 40, key=key, save_every=10)
    per_step = evolve(algo, algo.init(jnp.zeros(1)), 40, key=key).info
    assert res.info["up"].shape == (4,) and res.info["up"].dtype == jnp.float32
    np.testing.assert_allclose(res.info["up"], np.asarray(per_step["up"], np.float32).reshape(4, 10).mean(1), rtol=1e-6)
    np.testing.assert_allclose(res.info["xi"], np.asarray(per_step["xi"]).reshape(4, 10).mean(1), rtol=1e-5)


def test_evolve_guard_sees_info_and_freezes_the_last_good_state():
    algo = deterministic(lambda x: 2.0 * x)
    res = evolve(algo, jnp.asarray(1.0), 10, is_bad=lambda s, i: s > 40.0)
    assert int(res.steps_done) == 5 and float(res.final) == 32.0


def test_deterministic_algorithm_ignores_the_key_and_takes_inputs():
    algo = deterministic(lambda x, u: x + u)
    res = evolve(algo, 0.0, 4, inputs=jnp.arange(4.0), key=jax.random.PRNGKey(0))
    assert float(res.final) == 6.0 and res.info == {}


def test_rollout_carries_non_array_leaves_unchanged():
    state = {"x": jnp.ones(2), "fn": jnp.tanh, "n": 3}   # a function and a Python int pass through
    res = rollout(lambda s: {**s, "x": s["fn"](s["x"]) * s["n"]}, state, 3)
    assert res.final["fn"] is jnp.tanh and res.final["n"] == 3
    x = np.ones(2)
    for _ in range(3):
        x = np.tanh(x) * 3
    np.testing.assert_allclose(res.final["x"], x, rtol=1e-6)


def test_drive_chunks_equal_one_run_and_report_progress():
    algo, key = _random_walk(), jax.random.PRNGKey(1)
    x0 = algo.init(jnp.zeros(3))
    seen = []
    out = drive(chunked(algo, key=key, save_every=5, observe=lambda s: s[0]), x0, 30, chunk_size=10,
                progress=False, on_chunk=lambda step, r: seen.append(step))
    assert seen == [10, 20, 30] and out.step == 30
    np.testing.assert_array_equal(out.carry, evolve(algo, x0, 30, key=key).final)
    assert np.concatenate(out.outputs).shape == (6,)
    assert np.concatenate([i["up"] for i in out.infos]).shape == (6,)


def test_drive_raises_with_global_step_and_last_good_state():
    algo = deterministic(lambda x: 2.0 * x)
    kept = {}
    with pytest.raises(DivergenceError, match="step 16 of 40") as e:
        drive(chunked(algo, is_bad=lambda s, i: ~jnp.isfinite(s) | (s > 4e4)), jnp.asarray(1.0), 40, chunk_size=10,
              progress=False, on_diverge=lambda step, c: kept.update(step=step, c=float(c)))
    assert e.value.step == 16 and float(e.value.state) == 2.0**15 and kept == {"step": 16, "c": 2.0**15}


def test_drive_recover_reruns_the_chunk_from_the_returned_carry():
    """A chunk flagged invalid by ``recover`` is run again from the carry it returns (the MD
    neighbour-list overflow protocol): here the first attempt of every chunk is refused."""
    calls = []

    def run_chunk(c, start, length):
        calls.append(start)
        return evolve(deterministic(lambda x: x + 1.0), c, length)

    refused = set()

    def recover(c, result):
        if float(c) not in refused:
            refused.add(float(c))
            return c
        return None

    out = drive(run_chunk, jnp.asarray(0.0), 6, chunk_size=3, progress=False, recover=recover)
    assert float(out.carry) == 6.0 and calls == [0, 0, 3, 3] and out.n_recoveries == 2


def test_drive_until_stops_early_and_interrupt_hook_runs():
    out = drive(chunked(deterministic(lambda x: x + 1.0)), jnp.asarray(0.0), 100, chunk_size=10, progress=False,
                until=lambda step, r: float(r.final) >= 30)
    assert out.step == 30
    saved = []

    def boom(step, r):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        drive(chunked(deterministic(lambda x: x + 1.0)), jnp.asarray(0.0), 100, chunk_size=10, progress=False,
              on_chunk=boom, on_interrupt=lambda c, step: saved.append((float(c), step)))
    assert saved == [(10.0, 10)]


@pytest.mark.parametrize("kw, msg", [(dict(n_steps=-1), "n_steps"), (dict(chunk_size=0), "chunk_size"),
                                     (dict(start=-2), "start")])
def test_drive_bad_arguments(kw, msg):
    args = dict(n_steps=10, chunk_size=5)
    args.update(kw)
    with pytest.raises(ValueError, match=msg):
        drive(chunked(deterministic(lambda x: x)), jnp.asarray(0.0), args.pop("n_steps"), progress=False, **args)
