"""Replay buffer: a fixed-capacity ring of training positions (host-side arrays, a pytree).

New valid samples overwrite the oldest ones (first in, first out); ``size`` counts the filled
slots and ``ptr`` is the next slot to write. Being a NamedTuple of arrays, the buffer is
checkpointed with the network (Equinox leaf serialisation, no pickle).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxhybrid.alphazero.selfplay import Samples

__all__ = ["Replay", "replay_init", "replay_add"]


class Replay(NamedTuple):
    obs: np.ndarray
    policy: np.ndarray
    value: np.ndarray
    size: np.ndarray
    ptr: np.ndarray


def replay_init(capacity: int, obs_shape: tuple, num_actions: int) -> Replay:
    if capacity < 1:
        raise ValueError(f"replay_init: capacity must be >= 1, got {capacity}.")
    return Replay(np.zeros((capacity,) + tuple(obs_shape), np.float32), np.zeros((capacity, num_actions), np.float32),
                  np.zeros(capacity, np.float32), np.asarray(0, np.int32), np.asarray(0, np.int32))


def replay_add(buf: Replay, samples: Samples) -> Replay:
    """Append the valid samples (oldest overwritten when full); returns a new buffer."""
    valid = np.asarray(samples.valid, bool)
    new = [np.asarray(x)[valid] for x in (samples.obs, samples.policy, samples.value)]
    cap, m = buf.value.shape[0], int(valid.sum())
    if m > cap:  # keep the newest `cap`
        new = [x[-cap:] for x in new]
        m = cap
    idx = (int(buf.ptr) + np.arange(m)) % cap
    arrays = [np.array(b) for b in (buf.obs, buf.policy, buf.value)]
    for a, x in zip(arrays, new):
        a[idx] = x
    return Replay(*arrays, np.asarray(min(int(buf.size) + m, cap), np.int32), np.asarray((int(buf.ptr) + m) % cap, np.int32))
