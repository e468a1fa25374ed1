"""Fault injection: ``fit`` killed with SIGKILL at random instants, then resumed, ends bit-identical
to the uninterrupted run, in both loop modes, and its metrics log holds every step once.

Each chain starts the training script in a subprocess, kills it (``kill -9``: no handler runs)
after a random delay once training has begun, and starts it again, until a run finishes by
itself; the final parameters are compared with a run that was never interrupted. With
``log_every = checkpoint_every = 1`` a checkpoint is written after every step, so the kills land
inside checkpoint writes as well as inside compiled chunks.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, json
    import jax, jax.numpy as jnp, numpy as np, optax
    from jaxhybrid.train import fit

    ck, loop, out = sys.argv[1], sys.argv[2], sys.argv[3]
    x = jnp.linspace(-2.0, 2.0, 64)[:, None]
    data = (x, jnp.sin(2 * x[:, 0]))
    w = {"a": jax.random.normal(jax.random.PRNGKey(0), (1, 16)), "b": jnp.zeros(16),
         "c": jax.random.normal(jax.random.PRNGKey(1), (16,)) / 4}
    loss = lambda w, b: jnp.mean((jnp.tanh(b[0] @ w["a"] + w["b"]) @ w["c"] - b[1]) ** 2)
    print("training", flush=True)
    res = fit(loss, w, data, optax.adam(1e-2), steps=STEPS, batch_size=16, key=jax.random.PRNGKey(2), log_every=1,
              checkpoint_dir=ck if ck != "-" else None, metrics_path=ck + "/m.jsonl" if ck != "-" else None,
              progress=False, loop=loop)
    np.savez(out, **{k: np.asarray(v) for k, v in res.params.items()})
    print("done", res.step, flush=True)
    """
)
STEPS = 150


def _start(args, env):
    p = subprocess.Popen([sys.executable, "-c", SCRIPT.replace("STEPS", str(STEPS)), *args], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()  # blocks until training begins (imports and set-up done)
    return p, line


@pytest.mark.slow
def test_sigkill_at_random_instants_then_resume_is_bit_identical(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu", TQDM_DISABLE="1",
               JAX_COMPILATION_CACHE_DIR=str(tmp_path / "xla"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    rng = np.random.default_rng(0)
    kills, report = 0, {}
    for loop in ("scan", "host"):
        ref_out = tmp_path / f"ref-{loop}.npz"
        p, _ = _start(["-", loop, str(ref_out)], env)
        t0 = time.perf_counter()
        assert p.wait(timeout=600) == 0, p.stderr.read()[-3000:]
        run_s = time.perf_counter() - t0  # training time of an uninterrupted run (after start-up)
        ref = dict(np.load(ref_out))
        loop_kills, chains = 0, 0
        while loop_kills < 25:
            chains += 1
            ck, out = tmp_path / f"ck-{loop}-{chains}", tmp_path / f"out-{loop}-{chains}.npz"
            for attempt in range(12):  # kill up to 6 times, then let the run finish
                p, line = _start([str(ck), loop, str(out)], env)
                assert line.strip() == "training", p.stderr.read()[-3000:]
                if attempt < 6:
                    time.sleep(rng.uniform(0.0, run_s))
                    if p.poll() is None:
                        os.kill(p.pid, signal.SIGKILL)
                        p.wait()
                        loop_kills += 1
                        continue
                assert p.wait(timeout=600) == 0, p.stderr.read()[-3000:]
                break
            got = dict(np.load(out))
            for k in ref:
                np.testing.assert_array_equal(got[k], ref[k], err_msg=f"{loop} chain {chains}: {k}")
            steps = [json.loads(line)["step"] for line in (ck / "m.jsonl").read_text().splitlines()]
            assert steps == list(range(1, STEPS + 1)), f"{loop} chain {chains}: metrics log {steps}"
        report[loop] = {"kills": loop_kills, "chains": chains, "run_s": round(run_s, 2)}
        kills += loop_kills
    print(json.dumps(report))
    assert kills >= 50
