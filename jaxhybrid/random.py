"""Fused counter-based random numbers: Threefry-2x32 as one elementwise kernel.

Samplers spend most of a step drawing Gaussian increments (MALA at d = 10⁶, ULA, underdamped
Langevin). JAX's generator is the Threefry-2x32 block cipher used as a counter-based PRNG
(Salmon, Moraes, Dror & Shaw 2011, *Parallel random numbers: as easy as 1, 2, 3*): output block
``i`` is the 20-round Threefry-2x32 encryption of the counter pair ``(c₀, c₁)`` under the key
``(k₀, k₁)``. Each round is ``x₀ ← x₀ + x₁; x₁ ← rotl(x₁, R) ⊕ x₀`` with the rotation constants
``R = (13, 15, 26, 6), (17, 29, 16, 24)`` alternating by groups of four rounds, and a key
injection ``x₀ += k_{(s+1) mod 3}, x₁ += k_{(s+2) mod 3} + s + 1`` after group ``s``, where
``k₂ = k₀ ⊕ k₁ ⊕ 0x1BD11BDA``.

This module computes exactly that cipher with the counter layout of JAX's default
(partitionable) Threefry stream: word ``i`` of a draw of ``n < 2³²`` words is ``y₀ ⊕ y₁`` with
``(y₀, y₁) = Threefry(k, (0, i))`` (64-bit words: ``y₀·2³² + y₁``), ``i`` the row-major flat
index. Hence :func:`bits`, :func:`uniform` (on [0, 1)) and :func:`normal` are **bit-identical**
to ``jax.random.bits/uniform/normal`` with the same key, shape and dtype under JAX's default
``jax_threefry_partitionable=True`` (tested): switching to them changes no random stream, only
the speed. Uniforms on other intervals agree up to the rounding of the affine map (one ulp
where XLA fuses it into a multiply-add on one side only).

Why a second implementation: on CPU, XLA lowers JAX's Threefry primitive to a rolled loop of
five iterations, each a pass over whole arrays. Here the 20 rounds are unrolled plain integer
ops that XLA fuses with the counters and with the consumer (float conversion, erf⁻¹, the
proposal), so nothing is written to memory in between. Measured on the 2-core CPU (CPU time,
same process): a 10⁶-entry ``x + 0.1·normal`` 3.5× faster than with ``jax.random.normal``, and a
whole MALA step on a d = 10⁶ Gaussian 1.75× faster.

Keys: raw ``uint32[2]`` keys (``jax.random.PRNGKey``) or typed Threefry keys
(``jax.random.key``). Other key implementations fall back to ``jax.random``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["bits", "uniform", "normal", "threefry2x32", "check_key"]



def check_key(key, what: str) -> None:
    """``ValueError`` from ``what`` unless ``key`` is one PRNG key: a typed key
    (``jax.random.key``, shape ``()``) or a raw ``jax.random.PRNGKey`` (``uint32[2]``)."""
    try:
        k = jnp.asarray(key)
    except (TypeError, ValueError):
        k = None
    if k is not None and ((jax.dtypes.issubdtype(k.dtype, jax.dtypes.prng_key) and k.shape == ())
                          or (k.dtype == jnp.uint32 and k.shape == jax.random.PRNGKey(0).shape)):
        return
    got = type(key).__name__ if k is None else f"{k.dtype} array of shape {k.shape}"
    raise ValueError(f"{what}: key must be one PRNG key, e.g. jax.random.PRNGKey(0) or jax.random.key(0); got {got}.")


_ROT = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotl(v, r):
    return (v << np.uint32(r)) | (v >> np.uint32(32 - r))


def threefry2x32(k0, k1, x0, x1):
    """The 20-round Threefry-2x32 cipher of counters ``(x0, x1)`` (uint32 arrays, broadcast)
    under key ``(k0, k1)``; returns the two output words. Unrolled elementwise integer ops."""
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for s in range(5):
        for r in _ROT[s % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(s + 1) % 3]
        x1 = x1 + ks[(s + 2) % 3] + np.uint32(s + 1)
    return x0, x1


def _key_words(key):
    """``(k0, k1)`` uint32 scalars of a Threefry key, or ``None`` for other implementations."""
    key = jnp.asarray(key) if not hasattr(key, "dtype") else key
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if "threefry" not in str(jax.random.key_impl(key)):
            return None
        key = jax.random.key_data(key)
    if key.shape != (2,) or key.dtype != jnp.uint32:
        return None
    return key[0], key[1]


def _pair(kw, n):
    """The cipher outputs ``(y₀, y₁)`` of counters ``(0, i)``, ``i = 0 … n−1``."""
    if n >= 1 << 32:
        raise ValueError(f"jaxhybrid.random: {n} numbers exceed the 2**32 counter range; draw in blocks.")
    c = jax.lax.iota(jnp.uint32, n)
    return threefry2x32(kw[0], kw[1], jnp.zeros_like(c), c)


def bits(key, shape=(), dtype=jnp.uint32):
    """Random unsigned words (uint32, or uint64 from word pairs ``hi·2³² + lo``) of ``shape``."""
    shape = tuple(shape)
    dtype = jnp.dtype(dtype)
    kw = _key_words(key)
    if kw is None:
        return jax.random.bits(key, shape, dtype)
    size = int(np.prod(shape, dtype=np.int64))
    y0, y1 = _pair(kw, size)
    if dtype == jnp.uint32:
        return (y0 ^ y1).reshape(shape)
    if dtype == jnp.uint64:
        return ((y0.astype(jnp.uint64) << np.uint64(32)) | y1.astype(jnp.uint64)).reshape(shape)
    raise ValueError(f"jaxhybrid.random.bits: dtype must be uint32 or uint64, got {dtype}.")


def uniform(key, shape=(), dtype=jnp.float32, minval=0.0, maxval=1.0):
    """Uniform floats on ``[minval, maxval)``: the mantissa of a word, as ``jax.random.uniform``."""
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise ValueError(f"jaxhybrid.random.uniform: dtype must be float32 or float64, got {dtype}.")
    if _key_words(key) is None:
        return jax.random.uniform(key, shape, dtype, minval, maxval)
    nbits, nmant, udt = (32, 23, jnp.uint32) if dtype == jnp.float32 else (64, 52, jnp.uint64)
    w = bits(key, shape, udt)
    one = np.array(1.0, dtype).view(udt)
    f = jax.lax.bitcast_convert_type((w >> np.array(nbits - nmant, udt)) | one, dtype) - np.array(1.0, dtype)
    lo, hi = jnp.asarray(minval, dtype), jnp.asarray(maxval, dtype)
    return jnp.maximum(lo, f * (hi - lo) + lo)


def normal(key, shape=(), dtype=jnp.float32):
    """Standard normal floats: ``√2 erf⁻¹(u)``, ``u`` uniform on ``(−1, 1)`` (inverse CDF), as
    ``jax.random.normal``."""
    dtype = jnp.dtype(dtype)
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = uniform(key, shape, dtype, lo, 1.0)
    return np.array(np.sqrt(2.0), dtype) * jax.lax.erf_inv(u)
