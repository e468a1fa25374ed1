"""Networks: an MLP, a Fourier-feature embedding, and the Flax adapter.

All networks are Equinox modules (pytrees of arrays), so they can be passed into mechanism
code, differentiated, ``vmap``-ed and trained by :func:`jaxhybrid.train.fit`.

* :class:`MLP` — ``x ↦ W_L σ(… σ(W_1 x + b_1) …) + b_L`` with LeCun-normal weights
  (Glorot for ``tanh``-like activations would differ only by a constant; we keep one rule).
* :class:`FourierFeatures` — ``x ↦ [cos(2π B x), sin(2π B x)]`` with fixed Gaussian
  ``B ~ N(0, σ²)`` (Tancik et al., 2020, *Fourier features let networks learn high frequency
  functions in low dimensional domains*). ``B`` is not trained (``stop_gradient``).
* :class:`FlaxModel` / :func:`from_flax` — wraps a Flax **Linen** module with its variables, or
  a Flax **NNX** module, as an Equinox module ``model(x)`` whose parameters are ordinary pytree
  leaves. :func:`pure` goes the other way for any module: ``(apply, params)`` with
  ``apply(params, x) == model(x)``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["MLP", "FourierFeatures", "FlaxModel", "from_flax", "pure"]


class MLP(eqx.Module):
    """Multilayer perceptron acting on one sample (``vmap`` for batches).

    ``in_size``/``out_size`` may be ``"scalar"`` for 0-d input/output.
    """

    layers: tuple[eqx.nn.Linear, ...]
    activation: Callable = eqx.field(static=True)
    final_activation: Callable = eqx.field(static=True)
    scalar_in: bool = eqx.field(static=True)
    scalar_out: bool = eqx.field(static=True)

    def __init__(
        self,
        in_size: int | str,
        out_size: int | str,
        width: int = 64,
        depth: int = 2,
        activation: Callable = jnp.tanh,
        final_activation: Callable = lambda x: x,
        *,
        widths: Optional[Sequence[int]] = None,
        key: PRNGKeyArray,
    ):
        if widths is None:
            if depth < 0 or width < 1:
                raise ValueError(f"MLP: need depth >= 0 and width >= 1, got {depth}, {width}.")
            widths = [width] * depth
        self.scalar_in, self.scalar_out = in_size == "scalar", out_size == "scalar"
        sizes = [1 if self.scalar_in else int(in_size), *map(int, widths), 1 if self.scalar_out else int(out_size)]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys))
        self.activation, self.final_activation = activation, final_activation

    def __call__(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        h = jnp.reshape(x, (1,)) if self.scalar_in else x
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        h = self.final_activation(self.layers[-1](h))
        return h[0] if self.scalar_out else h


class FourierFeatures(eqx.Module):
    """Random Fourier-feature embedding ``γ(x) = [cos 2πBx, sin 2πBx]`` (output ``2m``)."""

    B: Float[Array, "m d"]

    def __init__(self, in_size: int, n_features: int, sigma: float = 1.0, *, key: PRNGKeyArray):
        if n_features < 1 or sigma <= 0:
            raise ValueError(f"FourierFeatures: need n_features >= 1 and sigma > 0, got {n_features}, {sigma}.")
        self.B = sigma * jax.random.normal(key, (n_features, in_size))

    @property
    def out_size(self) -> int:
        return 2 * self.B.shape[0]

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " 2m"]:
        z = 2 * jnp.pi * jax.lax.stop_gradient(self.B) @ jnp.atleast_1d(x)
        return jnp.concatenate([jnp.cos(z), jnp.sin(z)])


class FlaxModel(eqx.Module):
    """A Flax network seen as an Equinox module: ``params`` is a pytree leaf set, ``apply`` is a
    static pure function with ``apply(params, *args) -> output``."""

    params: Any
    apply: Callable = eqx.field(static=True)

    def __call__(self, *args, **kwargs):
        return self.apply(self.params, *args, **kwargs)


def from_flax(module: Any, *example_args: Any, key: Optional[PRNGKeyArray] = None, variables: Any = None) -> FlaxModel:
    """Adapt a Flax network.

    * Linen (``flax.linen.Module``): pass ``example_args`` and ``key`` to initialise, or
      ``variables`` from an earlier ``module.init``. All collections are kept as parameters.
    * NNX (``flax.nnx.Module``, already initialised): split into graph definition (static) and
      state (parameters). Models with mutable non-parameter state (batch-norm statistics) are
      evaluated in inference form: state changes during a call are not carried back.
    """
    from flax import linen, nnx

    if isinstance(module, nnx.Module):
        graphdef, state = nnx.split(module)

        def apply_nnx(state, *args, **kwargs):
            return nnx.merge(graphdef, state)(*args, **kwargs)

        return FlaxModel(state, apply_nnx)
    if isinstance(module, linen.Module):
        if variables is None:
            if key is None or not example_args:
                raise ValueError("from_flax: a Linen module needs `variables`, or example inputs and `key` to initialise.")
            variables = module.init(key, *example_args)
        return FlaxModel(variables, module.apply)
    raise TypeError(f"from_flax: expected a flax.linen.Module or flax.nnx.Module, got {type(module).__name__}.")


def pure(model: eqx.Module) -> tuple[Callable, Any]:
    """Split any Equinox module (including :class:`FlaxModel`) into ``(apply, params)`` with
    ``apply(params, *args) == model(*args)``; ``params`` holds the array leaves only."""
    params, static = eqx.partition(model, eqx.is_array)

    def apply(params, *args, **kwargs):
        return eqx.combine(params, static)(*args, **kwargs)

    return apply, params
