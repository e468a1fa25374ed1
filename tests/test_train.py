import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhybrid.nn import MLP
from jaxhybrid.rollout import DivergenceError
from jaxhybrid import store
from jaxhybrid.train import fit, load_checkpoint


def _problem():
    x = jax.random.uniform(jax.random.PRNGKey(0), (96, 1), minval=-2, maxval=2)
    y = jnp.sin(2 * x[:, 0])
    net = MLP(1, "scalar", 16, 2, key=jax.random.PRNGKey(1))
    loss = lambda m, b: jnp.mean((jax.vmap(m)(b[0]) - b[1]) ** 2)
    return net, (x, y), loss


def test_linear_regression_converges_to_least_squares():
    x = jax.random.normal(jax.random.PRNGKey(0), (200, 3))
    w_true = jnp.asarray([1.0, -2.0, 0.5])
    y = x @ w_true + 0.01 * jax.random.normal(jax.random.PRNGKey(1), (200,))
    loss = lambda w, b: jnp.mean((b[0] @ w - b[1]) ** 2)
    res = fit(loss, jnp.zeros(3), (x, y), optax.adam(5e-2), steps=600, log_every=100, progress=False)
    w_ls = jnp.linalg.lstsq(x, y)[0]
    np.testing.assert_allclose(res.params, w_ls, atol=1e-3)
    assert res.step == 600 and len(res.history) == 6


def test_float64_training_matches_least_squares_to_high_precision():
    """Under ``jax.enable_x64`` the compiled loop keeps float64 parameters (and its int32 step
    counters) and reaches the least-squares solution far below float32 resolution."""
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.PRNGKey(0), (64, 3), dtype=jnp.float64)
        y = x @ jnp.asarray([1.0, -2.0, 0.5]) + 0.1 * jnp.sin(jnp.arange(64.0))
        loss = lambda w, b: jnp.mean((b[0] @ w - b[1]) ** 2)
        res = fit(loss, jnp.zeros(3), (x, y), optax.sgd(0.3), steps=400, batch_size=64,
                  key=jax.random.PRNGKey(2), log_every=200, progress=False)
        assert res.params.dtype == jnp.float64
        np.testing.assert_allclose(res.params, jnp.linalg.lstsq(x, y)[0], rtol=0, atol=1e-11)


@pytest.mark.parametrize("loop", ["scan", "host"])
def test_minibatches_cover_each_epoch_exactly_once(loop):
    seen = []
    data = jnp.arange(12.0)

    def loss(w, b):
        jax.debug.callback(lambda v: seen.append(np.asarray(v)), b)
        return jnp.sum(w * b)

    fit(loss, jnp.ones(()), data, optax.sgd(0.0), steps=8, batch_size=3, log_every=8, progress=False, loop=loop)
    first, second = np.concatenate(seen[:4]), np.concatenate(seen[4:8])
    assert sorted(first) == list(range(12)) and sorted(second) == list(range(12))
    assert not np.array_equal(first, second)  # new permutation each epoch


@pytest.mark.parametrize("loop", ["scan", "host"])
def test_resume_after_interrupt_is_bit_identical(tmp_path, loop):
    net, data, loss = _problem()
    opt = optax.adam(1e-2)
    kw = dict(steps=120, batch_size=32, key=jax.random.PRNGKey(7), log_every=20, progress=False, loop=loop)
    straight = fit(loss, net, data, opt, **kw)

    def interrupt(step, params, record):
        if step == 60:
            raise KeyboardInterrupt

    ck = tmp_path / "ck"
    with pytest.raises(KeyboardInterrupt):
        fit(loss, net, data, opt, checkpoint_dir=ck, checkpoint_every=40, callback=interrupt,
            metrics_path=tmp_path / "m.jsonl", **kw)
    assert store.read_header(ck / "ckpt.eqx")["step"] == 60  # saved on interrupt
    assert store.read_header(ck / "ckpt.prev.eqx")["step"] == 40  # the previous one kept
    resumed = fit(loss, net, data, opt, checkpoint_dir=ck, checkpoint_every=40,
                  metrics_path=tmp_path / "m.jsonl", **kw)
    assert resumed.step == 120
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(straight.params, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(resumed.params, eqx.is_array))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    lines = [json.loads(l) for l in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [20, 40, 60, 80, 100, 120]
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    # a finished run resumes as a no-op
    again = fit(loss, net, data, opt, checkpoint_dir=ck, **kw)
    assert again.step == 120


@pytest.mark.parametrize("loop", ["scan", "host"])
def test_nan_guard_stops_with_step_and_keeps_last_good(tmp_path, loop):
    # L(w) = log(3 − w): descent w ← w + lr/(3 − w) creeps up to 3 and jumps past it, where the
    # loss is NaN. Replay in float32 to find the first step whose loss is non-finite.
    lr = np.float32(0.3)
    loss = lambda w, b: jnp.log(3.0 - w)
    w, ws = np.float32(0.0), []
    for step in range(1, 100):
        if not w < 3:
            break
        ws.append(w)
        w = np.float32(w + lr / (np.float32(3.0) - w))
    assert step > 5  # the failure falls inside a later chunk (log_every=4)
    with pytest.raises(DivergenceError) as e:
        fit(loss, jnp.asarray(0.0), None, optax.sgd(0.3), steps=50, log_every=4,
            checkpoint_dir=tmp_path / "ck", progress=False, loop=loop)
    err = e.value
    assert err.step == step
    # kept: the last parameters with a finite loss, i.e. before the update that broke them
    np.testing.assert_allclose(float(err.state), ws[-1], rtol=1e-5)
    assert np.isfinite(float(loss(err.state, None)))
    assert f"step {step}" in str(err)
    saved = load_checkpoint(tmp_path / "ck", jnp.asarray(0.0), optax.sgd(0.3).init(jnp.asarray(0.0)))
    assert saved[2]["step"] == step - 2 and float(saved[0]) == float(err.state)


@pytest.mark.parametrize("kw, msg", [
    (dict(steps=-1), "steps"),
    (dict(steps=10, batch_size=0), "batch_size"),
    (dict(steps=10, log_every=0), "log_every"),
    (dict(steps=10, log_every=4, checkpoint_every=6), "multiple"),
    (dict(steps=10, loop="python"), "loop"),
])
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        fit(lambda w, b: jnp.sum(w), jnp.ones(2), jnp.ones((4, 2)), optax.sgd(0.1), progress=False, **kw)


def test_bad_data():
    with pytest.raises(ValueError, match="disagree"):
        fit(lambda w, b: jnp.sum(w), jnp.ones(2), (jnp.ones(4), jnp.ones(5)), optax.sgd(0.1), steps=1, progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit(lambda w, b: jnp.sum(w), jnp.ones(2), jnp.ones((0, 2)), optax.sgd(0.1), steps=1, progress=False)


@pytest.mark.parametrize("loop", ["scan", "host"])
def test_second_fit_reuses_the_compiled_chunk_and_reads_new_data(loop):
    """The chunk is compiled once per (loss, optimiser, shapes, length): a second ``fit`` on new
    data of the same shape compiles nothing, and its result depends on that data (the data is a
    traced argument, not a constant of the first program)."""
    compiles = []

    def listener(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    def loss(w, batch):
        x, y = batch
        return jnp.mean((x @ w - y) ** 2)

    opt = optax.adam(1e-1)
    x = jax.random.normal(jax.random.PRNGKey(0), (64, 3))
    w1, w2 = jnp.array([1.0, -2.0, 0.5]), jnp.array([-1.0, 0.0, 3.0])
    kw = dict(steps=300, batch_size=16, log_every=100, progress=False, loop=loop)
    r1 = fit(loss, jnp.zeros(3), (x, x @ w1), opt, **kw)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        r2 = fit(loss, jnp.zeros(3), (x, x @ w2), opt, **kw)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []
    np.testing.assert_allclose(r1.params, w1, atol=1e-2)
    np.testing.assert_allclose(r2.params, w2, atol=1e-2)


def test_host_loop_takes_the_same_steps_as_the_scan():
    """``loop="host"`` runs the scan's steps one compiled step at a time: same minibatches, keys
    (a stochastic loss) and updates, so parameters and logged losses agree to rounding."""
    net, data, loss = _problem()
    noisy = lambda m, b, k: loss(m, b) + 1e-3 * jax.random.normal(k, ())
    kw = dict(steps=90, batch_size=32, key=jax.random.PRNGKey(3), log_every=30, progress=False, stochastic=True)
    opt = optax.adam(1e-2)
    a = fit(noisy, net, data, opt, loop="scan", **kw)
    b = fit(noisy, net, data, opt, loop="host", **kw)
    for x, y in zip(jax.tree_util.tree_leaves(eqx.filter(a.params, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(b.params, eqx.is_array))):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose([r["loss"] for r in a.history], [r["loss"] for r in b.history], rtol=1e-4)
    assert b.step == 90 and [r["step"] for r in b.history] == [30, 60, 90]


def test_host_loop_compiles_once_with_list_and_integer_array_static_parts():
    """The host loop's compiled step is keyed on the static parts' structure; unhashable
    containers (a dict, a list) and integer arrays (traced, as under ``eqx.filter_jit``) must not
    force a compilation per chunk or per ``fit``."""
    compiles = []

    def listener(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    def loss(p, batch):
        x, y = batch
        return jnp.mean((x[:, p["idx"]] @ p["w"] * p["scale"][0] - y) ** 2)

    x = jax.random.normal(jax.random.PRNGKey(0), (64, 3))
    params = {"w": jnp.zeros(3), "idx": jnp.asarray([2, 0, 1]), "scale": [1.0]}
    opt = optax.adam(1e-1)
    kw = dict(steps=200, batch_size=16, log_every=50, progress=False, loop="host")
    fit(loss, params, (x, x @ jnp.array([1.0, -2.0, 0.5])), opt, **kw)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        r = fit(loss, {**params, "idx": jnp.asarray([0, 1, 2])}, (x, x @ jnp.array([1.0, -2.0, 0.5])), opt, **kw)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []
    np.testing.assert_allclose(r.params["w"], [1.0, -2.0, 0.5], atol=2e-2)  # the new idx was used


def _quick_problem():
    x = jnp.linspace(-1.0, 1.0, 16)[:, None]
    return jnp.zeros(2), (x, 3.0 * x[:, 0] + 1.0), lambda w, b: jnp.mean((w[0] * b[0][:, 0] + w[1] - b[1]) ** 2)


def test_a_folder_of_another_run_or_fewer_steps_is_refused(tmp_path):
    """Resume only continues the same run: other data, initial parameters, key, batch size or
    ``config`` (the learning rate) are refused with the differing field named; asking for fewer
    steps than the checkpoint holds is refused too; ``resume=False`` starts over."""
    w0, data, loss = _quick_problem()
    kw = dict(steps=20, log_every=10, progress=False, checkpoint_dir=tmp_path, config={"lr": 0.1})
    done = fit(loss, w0, data, optax.sgd(0.1), **kw)
    assert fit(loss, w0, data, optax.sgd(0.1), **kw).step == 20  # the same run: nothing left to do
    other = (data[0], data[1] + 1.0)
    for change, field in [(dict(data=other), "data"), (dict(w0=w0 + 1), "init"),
                          (dict(config={"lr": 0.01}), "config"), (dict(key=jax.random.PRNGKey(3)), "key"),
                          (dict(batch_size=8), "batch_size")]:
        args = dict(kw, **{k: v for k, v in change.items() if k not in ("data", "w0")})
        with pytest.raises(ValueError, match=f"ckpt.eqx: written by another run .*{field}.*resume=False"):
            fit(loss, change.get("w0", w0), change.get("data", data), optax.sgd(0.1), **args)
    with pytest.raises(ValueError, match="at step 20, beyond steps=10"):
        fit(loss, w0, data, optax.sgd(0.1), **dict(kw, steps=10))
    fresh = fit(loss, w0, other, optax.sgd(0.1), resume=False, **kw)
    assert fresh.step == 20 and not np.array_equal(fresh.params, done.params)


def test_metrics_log_resumes_without_repeating_steps_and_damage_names_the_file(tmp_path):
    """A crash after the metrics log got records past the last checkpoint (here an exception that
    bypasses the save on interrupt) — the resumed log has every step once; a damaged checkpoint
    names itself and the previous one it can fall back to."""
    w0, data, loss = _quick_problem()
    ck, log = tmp_path / "ck", tmp_path / "m.jsonl"
    kw = dict(steps=60, log_every=10, checkpoint_every=20, progress=False, checkpoint_dir=ck, metrics_path=log)

    def crash(step, params, record):
        if step == 50:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        fit(loss, w0, data, optax.sgd(0.1), callback=crash, **kw)
    assert store.read_header(ck / "ckpt.eqx")["step"] == 40
    with open(log, "a") as f:
        f.write('{"step": 6')  # and a half-written last line
    straight = fit(loss, w0, data, optax.sgd(0.1), **dict(kw, checkpoint_dir=None, metrics_path=None))
    resumed = fit(loss, w0, data, optax.sgd(0.1), **kw)
    assert np.array_equal(resumed.params, straight.params)
    assert [json.loads(l)["step"] for l in log.read_text().splitlines()] == [10, 20, 30, 40, 50, 60]
    assert [r["step"] for r in resumed.history] == [10, 20, 30, 40, 50, 60]
    good = (ck / "ckpt.eqx").read_bytes()
    for bad, what in [(good[:-20], "damaged"), (good[100:], "not a jaxhybrid model file")]:
        (ck / "ckpt.eqx").write_bytes(bad)
        with pytest.raises(ValueError, match=rf"ckpt.eqx: .*{what}.*Deleting only ckpt.eqx resumes from ckpt.prev.eqx"):
            fit(loss, w0, data, optax.sgd(0.1), **kw)
    (ck / "ckpt.eqx").unlink()
    assert fit(loss, w0, data, optax.sgd(0.1), **kw).step == 60  # resumed from ckpt.prev.eqx (step 40)
    (ck / "ckpt.eqx").unlink(), (ck / "ckpt.prev.eqx").unlink()
    (ck / "ckpt.json").write_text("{}")  # a checkpoint of the old two-file layout
    with pytest.raises(ValueError, match="older jaxhybrid"):
        fit(loss, w0, data, optax.sgd(0.1), **kw)
