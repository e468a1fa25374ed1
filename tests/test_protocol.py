"""One protocol, one driver: an MD integrator, a sampler and a filter run through the same
:func:`jaxhybrid.driver.drive` (chunks of :func:`jaxhybrid.rollout.evolve`), each equal to its
one-call run, each with its diagnostics in ``info`` and no key in its state."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import assimilation as da
from jaxhybrid import md, sampling
from jaxhybrid.driver import chunked, drive
from jaxhybrid.rollout import evolve


def _harmonic_md():
    """Langevin BAOAB on 8 atoms in a harmonic well (no neighbour list)."""
    force_fn = md.energy_force_fn(lambda R: 0.5 * jnp.sum(R**2))
    algo = md.langevin(force_fn, dt=0.05, kT=0.5, gamma=1.0)
    R0 = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
    return algo, algo.init(R0), None


def _gaussian_mala():
    algo = sampling.mala(lambda x: -0.5 * jnp.sum(x**2 / jnp.arange(1.0, 5.0)), step_size=0.3)
    return algo, algo.init(jnp.ones(4)), None


def _l96_etkf():
    model, obs = da.lorenz96(0.05), da.full(40, 1.0)
    filt = da.etkf(model, obs, 16, 1.02, rotate=True)
    ys = jax.random.normal(jax.random.PRNGKey(5), (30, 40)) + 2.0
    return filt, filt.init(jnp.full(40, 2.0), 1.0, key=jax.random.PRNGKey(1)), ys


def _leaves_are_keyless(state):
    for leaf in jax.tree_util.tree_leaves(state):
        assert not jnp.issubdtype(jnp.asarray(leaf).dtype, jax.dtypes.prng_key)
        assert not (getattr(leaf, "dtype", None) == jnp.uint32 and np.shape(leaf) == (2,)), "a raw PRNG key in the state"


@pytest.mark.parametrize("make", [_harmonic_md, _gaussian_mala, _l96_etkf], ids=["md-langevin", "mala", "etkf"])
def test_three_engines_through_one_driver(make):
    algo, state, ys = make()
    key, n = jax.random.PRNGKey(7), 30
    _leaves_are_keyless(state)
    inputs = None if ys is None else (lambda start, length: ys[start:start + length])
    out = drive(chunked(algo, key=key, inputs=inputs), state, n, chunk_size=7, progress=False)
    one = evolve(algo, state, n, key=key, inputs=ys)
    for a, b in zip(jax.tree_util.tree_leaves(out.carry), jax.tree_util.tree_leaves(one.final)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)
    per_step = {k: np.concatenate([i[k] for i in out.infos]) for k in out.infos[0]}
    assert all(v.shape[0] == n for v in per_step.values())
    _leaves_are_keyless(out.carry)
    if "accept_prob" in per_step:       # the sampler reports acceptance beside the state
        assert 0.3 < per_step["accept_prob"].mean() <= 1.0
    if "forecast_mean" in per_step:     # the filter reports its forecast beside the state
        assert per_step["forecast_mean"].shape == (n, 40)
