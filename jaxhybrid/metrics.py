"""Error and calibration measures shared by every engine, example and benchmark.

* :func:`rel_l2` — relative L2 error ``‖p − r‖₂ / ‖r‖₂`` (over the whole array, or per sample
  along a leading axis and then averaged, with ``axis=0``).
* :func:`rmse` — root-mean-square error ``(mean (p − r)²)^½`` over all entries, in the units of
  the data.
* :func:`coverage` — the fraction of components whose truth lies in the central interval
  ``mean ± z·std`` (``z = 1.6449``: nominal 90% for a Gaussian posterior). A calibrated
  uncertainty estimate has coverage close to the nominal level (Gneiting & Raftery 2007, JASA
  102, 359–378, on calibration of probabilistic forecasts).
"""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp
import numpy as np

__all__ = ["rel_l2", "rmse", "coverage", "Z90"]

#: the 95% quantile of the standard normal: mean ± Z90·std is the central 90% interval
Z90 = 1.6448536269514722


def _pair(pred, ref, name):
    pred, ref = jnp.asarray(pred), jnp.asarray(ref)
    if pred.shape != ref.shape:
        raise ValueError(f"{name}: shapes differ, {pred.shape} vs {ref.shape}; pass arrays of one shape.")
    if pred.size == 0:
        raise ValueError(f"{name}: empty arrays.")
    return pred, ref


def rel_l2(pred, ref, *, axis: Optional[int] = None):
    """``‖pred − ref‖₂ / ‖ref‖₂``.

    ``axis=None``: over all entries (one number). ``axis=0``: per sample along the leading
    axis (each sample flattened), then the mean over samples. Returns a JAX scalar (``float()``
    it on the host); traceable, so it can be a loss or a metric inside ``jit``.
    """
    pred, ref = _pair(pred, ref, "rel_l2")
    if axis is None:
        return jnp.linalg.norm((pred - ref).ravel()) / jnp.linalg.norm(ref.ravel())
    if axis != 0:
        raise ValueError(f"rel_l2: axis must be None or 0 (per sample on the leading axis), got {axis!r}.")
    n = ref.shape[0]
    num = jnp.linalg.norm((pred - ref).reshape(n, -1), axis=1)
    return jnp.mean(num / jnp.linalg.norm(ref.reshape(n, -1), axis=1))


def rmse(pred, ref) -> jnp.ndarray:
    """``(mean (pred − ref)²)^½`` over all entries: a JAX scalar (``float()`` it on the host), traceable."""
    pred, ref = _pair(pred, ref, "rmse")
    return jnp.sqrt(jnp.mean((pred - ref) ** 2))


def coverage(mean, std, truth, z: float = Z90):
    """Fraction of components with ``|truth − mean| ≤ z·std`` (``z = 1.645``: nominal 90%)."""
    mean, truth = _pair(mean, truth, "coverage")
    std = jnp.asarray(std)
    try:
        np.broadcast_shapes(std.shape, mean.shape)
    except ValueError:
        raise ValueError(f"coverage: std of shape {std.shape} does not broadcast to {mean.shape}.") from None
    if not z > 0:
        raise ValueError(f"coverage: z must be positive, got {z}.")
    return jnp.mean(jnp.abs(truth - mean) <= z * std)
