"""The data-only baseline of an inverse problem: a network that maps observations straight to the
unknown, trained on simulated pairs (no forward model at inference, no prior, no error bar):

    θ* = argmin_θ  E_{x, z} ‖ predict(θ, F(x) + σ z) − x ‖²      (mean per entry),

with fresh observation noise ``z ~ N(0, I)`` in every minibatch (so the network sees the noise
law, not one draw of it), trained by :func:`jaxhybrid.train.fit`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import optax

from jaxhybrid.train import FitResult, fit

__all__ = ["train_regressor"]


def train_regressor(predict: Callable[[Any, jax.Array], jax.Array], net, data, noise: float,
                    optimizer: optax.GradientTransformation, *, steps: int, batch_size: int, key,
                    forward: Optional[Callable] = None, **fit_kw) -> FitResult:
    """Fit ``predict(net, y) ≈ x`` on noisy simulated observations (module docstring).

    Args:
        predict: ``predict(net, y) -> x̂`` for one observation.
        net: the initial network (any pytree :func:`~jaxhybrid.train.fit` trains).
        data: the unknowns ``x`` ``(n, ...)`` when ``forward`` is given (it is applied to each
            minibatch), else pairs ``(F(x), x)`` of precomputed clean observations and targets.
        noise: observation noise std σ (``>= 0``).
        optimizer, steps, batch_size, key, fit_kw: passed to :func:`~jaxhybrid.train.fit`
            (``stochastic=True``: the minibatch key draws the noise).
    """
    if not noise >= 0:
        raise ValueError(f"train_regressor: noise must be a std >= 0, got {noise}.")
    if forward is None and not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError("train_regressor: without forward, data must be a pair (clean observations, targets).")

    def loss(m, batch, k):
        u, x = (jax.vmap(forward)(batch), batch) if forward is not None else batch
        y = u + noise * jax.random.normal(k, u.shape)
        return jnp.mean((jax.vmap(lambda a: predict(m, a))(y) - x) ** 2)

    return fit(loss, net, data, optimizer, steps=steps, batch_size=batch_size, key=key, stochastic=True, **fit_kw)
