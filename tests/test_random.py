"""jaxhybrid.random: the fused Threefry generator reproduces jax.random bit for bit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import random as jr


@pytest.mark.parametrize("shape", [(), (7,), (1000,), (2, 3, 4)])
def test_bits_uniform_normal_equal_jax_random_bit_for_bit(shape):
    for key in (jax.random.PRNGKey(7), jax.random.key(3)):
        assert (jr.bits(key, shape) == jax.random.bits(key, shape)).all()
        assert (jr.uniform(key, shape) == jax.random.uniform(key, shape)).all()
        # other intervals: the same word, scaled; equal up to the rounding of the affine map
        # (one ulp where XLA contracts it into a fused multiply-add on one side only)
        np.testing.assert_allclose(jr.uniform(key, shape, minval=-2.0, maxval=3.0),
                                   jax.random.uniform(key, shape, minval=-2.0, maxval=3.0),
                                   rtol=0, atol=2 * np.finfo(np.float32).eps * 3.0)
        assert (jr.normal(key, shape) == jax.random.normal(key, shape)).all()


def test_float64_streams_and_vmap_and_jit_agree_with_jax_random():
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    assert (jax.jit(jax.vmap(lambda k: jr.normal(k, (9,))))(keys)
            == jax.vmap(lambda k: jax.random.normal(k, (9,)))(keys)).all()
    with jax.enable_x64(True):
        k = jax.random.PRNGKey(5)
        for n in (1, 6, 7):
            assert (jr.bits(k, (n,), jnp.uint64) == jax.random.bits(k, (n,), jnp.uint64)).all()
            assert (jr.normal(k, (n,), jnp.float64) == jax.random.normal(k, (n,), jnp.float64)).all()


def test_cipher_matches_the_threefry_primitive_on_arbitrary_counters():
    # the raw 20-round cipher against JAX's primitive (known-answer check on random counters)
    from jax.extend.random import threefry2x32_p

    c = jax.random.bits(jax.random.PRNGKey(0), (2, 257))
    k0, k1 = np.uint32(0x13198A2E), np.uint32(0x03707344)
    ours = jr.threefry2x32(jnp.uint32(k0), jnp.uint32(k1), c[0], c[1])
    ref = threefry2x32_p.bind(jnp.uint32(k0), jnp.uint32(k1), c[0], c[1])
    assert all((a == b).all() for a, b in zip(ours, ref))


def test_other_key_implementations_fall_back_to_jax_random():
    key = jax.random.key(0, impl="rbg")
    assert (jr.normal(key, (5,)) == jax.random.normal(key, (5,))).all()


def test_bad_dtypes_are_rejected():
    with pytest.raises(ValueError, match="uint32 or uint64"):
        jr.bits(jax.random.PRNGKey(0), (3,), jnp.int32)
    with pytest.raises(ValueError, match="float32 or float64"):
        jr.uniform(jax.random.PRNGKey(0), (3,), jnp.float16)
