r"""Multi-stage neural networks (Wang & Lai 2024, *Multi-stage neural networks: function
approximator of machine-precision accuracy*, J. Comput. Phys. 504, 112865).

A single network trained to convergence stalls at a relative error of ~1e-5–1e-7: the remaining
error is small in magnitude and of higher frequency than the network's output. Multi-stage
training fits that remainder with a fresh network whose output is *scaled to unit size* and
whose first layer is tuned to its frequency, then sums the stages:

    u_m(x) = Σ_{k=0}^{m} ε_k v_k(x),     v_k(x) = N_k(sin(κ_k (W_k x + b_k)))  (k ≥ 1).

* regression: the remainder ``e_k = u − u_{k−1}`` is known on the data; ``ε_k = RMS(e_k)`` and
  ``v_k`` is trained on ``e_k / ε_k``;
* PINN (equation ``L u = f`` of order ``n``): the equation residual ``r_k = f − L u_{k−1}`` is
  known; with dominant frequency ``f_d`` the error magnitude is
  ``ε_k ≈ RMS(r_k) / (2π f_d)^n`` and ``v_k`` is trained on ``L(u_{k−1} + ε_k v_k) = f`` (for a
  linear ``L``: ``L v_k = r_k / ε_k``).

The frequency scale ``κ_k = 2π f_d`` comes from :func:`dominant_frequency` — the peak of the
amplitude spectrum of the remainder sampled on a uniform grid (for the first stage ``κ = 1``).
All of this runs in float64 (float32 stops at ~1e-7).
"""

from __future__ import annotations

from typing import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.nn import MLP

__all__ = ["SinMLP", "MultiStage", "dominant_frequency"]


class SinMLP(eqx.Module):
    """``x ↦ MLP_tanh(sin(κ (W x + b)))``: a network whose first layer is a sinusoid of
    frequency scale ``κ`` (``W`` has unit-variance Gaussian entries, ``b`` uniform in [−1, 1])."""

    first: eqx.nn.Linear
    body: MLP
    kappa: float = eqx.field(static=True)
    scalar_in: bool = eqx.field(static=True)

    def __init__(self, in_size, out_size, width: int = 32, depth: int = 3, kappa: float = 1.0, *, key):
        if not kappa > 0 or depth < 1:
            raise ValueError(f"SinMLP: need kappa > 0 and depth >= 1, got {kappa}, {depth}.")
        k1, k2, k3 = jax.random.split(key, 3)
        self.scalar_in = in_size == "scalar"
        d = 1 if self.scalar_in else int(in_size)
        lin = eqx.nn.Linear(d, width, key=k1)
        lin = eqx.tree_at(lambda l: (l.weight, l.bias), lin,
                          (jax.random.normal(k2, (width, d)), jax.random.uniform(k3, (width,), minval=-1.0, maxval=1.0)))
        self.first, self.kappa = lin, float(kappa)
        self.body = MLP(width, out_size, width, depth - 1, key=key)

    def __call__(self, x):
        h = jnp.reshape(x, (1,)) if self.scalar_in else x
        return self.body(jnp.sin(self.kappa * self.first(h)))


class MultiStage(eqx.Module):
    """``u(x) = Σ_k scales[k] · stages[k](x)``."""

    stages: tuple
    scales: tuple

    def __init__(self, stages: Sequence[Callable], scales: Sequence[float]):
        if len(stages) != len(scales) or not stages:
            raise ValueError("MultiStage: need as many scales as stages (at least one).")
        self.stages, self.scales = tuple(stages), tuple(jnp.asarray(s) for s in scales)

    def __call__(self, x):
        return sum(jax.lax.stop_gradient(s) * net(x) for s, net in zip(self.scales, self.stages))

    def add(self, net: Callable, scale: float) -> "MultiStage":
        return MultiStage(self.stages + (net,), self.scales + (scale,))


def dominant_frequency(values, spacing: float) -> float:
    """Frequency (cycles per unit length) of the largest non-constant Fourier amplitude of
    samples on a uniform grid (1D ``(n,)``; for ``(n_1, …, n_d)`` the largest over the axes)."""
    v = np.asarray(values, np.float64)
    if v.size < 4 or not spacing > 0:
        raise ValueError("dominant_frequency: need >= 4 samples and a positive spacing.")
    best_amp, best_f = -1.0, 0.0
    for ax in range(v.ndim):
        spec = np.abs(np.fft.rfft(v - v.mean(axis=ax, keepdims=True), axis=ax))
        spec = np.moveaxis(spec, ax, 0).reshape(spec.shape[ax], -1).sum(1)
        freqs = np.fft.rfftfreq(v.shape[ax], spacing)
        k = int(np.argmax(spec[1:])) + 1
        if spec[k] > best_amp:
            best_amp, best_f = spec[k], freqs[k]
    return float(best_f)
