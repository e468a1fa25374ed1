"""Residual policy/value network in Flax Linen, used through :func:`jaxhybrid.nn.from_flax`.

``f_θ(s) = (p, v)``: from the mover's observation planes ``(R, C, 2)`` to move logits ``p``
(one per action) and a value ``v = tanh(·) ∈ [−1, 1]`` (expected outcome for the player to
move), as in AlphaZero (Silver et al. 2018, *A general reinforcement learning algorithm that
masters chess, shogi, and Go through self-play*, Science 362): a 3 × 3 convolution stem,
``blocks`` residual blocks ``h ← relu(h + conv(relu(conv(h))))``, and two heads. It is kept
small (no batch normalisation, so the adapter's parameters are the whole state) because it is
trained and evaluated on CPUs inside every search step.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxhybrid.nn import FlaxModel, from_flax

__all__ = ["PolicyValueNet", "make_network"]


class PolicyValueNet(nn.Module):
    """``(..., R, C, 2) -> (logits (..., num_actions), value (...))``."""

    num_actions: int
    channels: int = 32
    blocks: int = 2

    @nn.compact
    def __call__(self, x):
        lead = x.shape[:-3]
        h = x.reshape((-1,) + x.shape[-3:])
        h = nn.relu(nn.Conv(self.channels, (3, 3))(h))
        for _ in range(self.blocks):
            y = nn.relu(nn.Conv(self.channels, (3, 3))(h))
            h = nn.relu(h + nn.Conv(self.channels, (3, 3))(y))
        p = nn.relu(nn.Conv(2, (1, 1))(h)).reshape(h.shape[0], -1)
        logits = nn.Dense(self.num_actions)(p)
        v = nn.relu(nn.Conv(1, (1, 1))(h)).reshape(h.shape[0], -1)
        v = nn.relu(nn.Dense(self.channels)(v))
        value = jnp.tanh(nn.Dense(1)(v))[:, 0]
        return logits.reshape(lead + (self.num_actions,)), value.reshape(lead)


def make_network(game, key: jax.Array, channels: int = 32, blocks: int = 2) -> FlaxModel:
    """A :class:`PolicyValueNet` for ``game``, initialised and wrapped as an Equinox module."""
    if channels < 1 or blocks < 0:
        raise ValueError(f"make_network: need channels >= 1 and blocks >= 0, got {channels}, {blocks}.")
    return from_flax(_module(int(game.num_actions), int(channels), int(blocks)), jnp.zeros((1,) + game.obs_shape), key=key)


@functools.lru_cache(maxsize=None)
def _module(num_actions: int, channels: int, blocks: int) -> PolicyValueNet:
    """One module object per architecture. The adapter keeps ``module.apply`` as static data, and
    bound methods compare by the identity of their module: networks built by separate calls (a
    fresh training run, a loaded checkpoint's template) then have the same pytree structure and
    share every compiled program (self-play, training step, matches) instead of recompiling."""
    return PolicyValueNet(num_actions, channels, blocks)
