import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.ensemble import ensemble


def member(key, scale):
    x = jax.random.normal(key, (16,))
    return {"mean": jnp.mean(scale * x), "max": jnp.max(x)}


def test_single_device_equals_loop():
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    out = ensemble(member, in_axes=(0, None))(keys, 2.0)
    for i, k in enumerate(keys):
        ref = member(k, 2.0)
        np.testing.assert_allclose(out["mean"][i], ref["mean"], rtol=1e-6)


def test_bad_in_axes():
    with pytest.raises(ValueError, match="in_axes"):
        ensemble(member, in_axes=1)


SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp
    from jaxhybrid.ensemble import ensemble
    from jaxhybrid.rollout import rollout

    def member(key, scale):
        # a small stochastic simulation per member: a random walk through the shared rollout
        noise = jax.random.normal(key, (50, 3))
        res = rollout(lambda s, x: 0.95 * s + scale * x, jnp.zeros(3), 50, inputs=noise, save_every=10)
        return res.saved

    keys = jax.random.split(jax.random.PRNGKey(0), int(sys.argv[1]))
    sharded = ensemble(member, in_axes=(0, None))(keys, 0.5)
    plain = ensemble(member, in_axes=(0, None), shard=False)(keys, 0.5)
    print(json.dumps({"n_devices": jax.device_count(),
                      "max_abs_diff": float(jnp.max(jnp.abs(sharded - plain))),
                      "shape": list(sharded.shape),
                      "n_shards": len(sharded.sharding.device_set) if hasattr(sharded, "sharding") else 1}))
    """
)


def on_four_devices(script: str, *args: str) -> dict:
    """Run ``script`` in a subprocess with 4 forced CPU devices; its last stdout line is JSON."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("batch", [8, 7])  # divisible and non-divisible by 4 devices
def test_sharded_over_four_cpu_devices_equals_unsharded(batch):
    res = on_four_devices(SCRIPT, str(batch))
    assert res["n_devices"] == 4
    assert res["shape"] == [batch, 5, 3]
    assert res["max_abs_diff"] == 0.0
    if batch % 4 == 0:
        assert res["n_shards"] == 4


CHAINS = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np
    from jaxhybrid import sampling

    algo = sampling.mala(lambda x: -0.5 * jnp.sum(x**2 / jnp.arange(1.0, 4.0)), 0.4)
    x0 = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
    sharded = sampling.run_chains(algo, jax.random.PRNGKey(1), x0, 200, burn_in=50, progress=False)
    plain = sampling.chains_summary(algo, jax.random.PRNGKey(1), x0, 200, burn_in=50)
    shards = len(sharded.final.position.sharding.device_set)
    print(json.dumps({"n_devices": jax.device_count(), "shards": shards,
                      "diff": float(max(np.max(np.abs(np.asarray(a) - np.asarray(b)))
                                        for a, b in [(sharded.chain_mean, plain.chain_mean),
                                                     (sharded.chain_accept, plain.chain_accept),
                                                     (sharded.mean, plain.mean)]))}))
    """
)


@pytest.mark.slow  # a subprocess with 4 forced devices; the generic path is checked above in make test
def test_langevin_chains_sharded_over_four_cpu_devices_equal_the_unsharded_run():
    res = on_four_devices(CHAINS)
    assert res["n_devices"] == 4 and res["shards"] == 4
    assert res["diff"] < 1e-5


REPLICAS = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np
    from jaxhybrid import md

    R0 = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.1, 0.2]])
    i, j = np.triu_indices(3, 1)
    force = md.energy_force_fn(lambda R: 2.0 * jnp.sum((jnp.linalg.norm(R[j] - R[i], axis=-1) - 1.0) ** 2))
    kw = dict(dt=5e-4, gamma=20.0, mass=(16.0, 1.0, 1.0))
    temps, seeds = [300.0, 600.0, 900.0, 1200.0], [1, 2, 3, 4]
    prog = md.langevin_program(force, R0, temps, 30, seeds=seeds, batched=True, **kw)
    R = prog()[0]
    single = [md.langevin_trajectory(force, R0, T, 30, seed=s, **kw)[0] for T, s in zip(temps, seeds)]
    print(json.dumps({"n_devices": jax.device_count(), "shards": len(R.sharding.device_set),
                      "diff": float(np.max(np.abs(np.asarray(R) - np.stack(single))))}))
    """
)


@pytest.mark.slow  # a subprocess with 4 forced devices; the generic path is checked above in make test
def test_md_replicas_sharded_over_four_cpu_devices_equal_the_single_runs():
    res = on_four_devices(REPLICAS)
    assert res["n_devices"] == 4 and res["shards"] == 4
    assert res["diff"] < 1e-5
