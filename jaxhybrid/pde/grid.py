"""Periodic Cartesian grids for pseudo-spectral solvers.

A :class:`Grid` is static metadata (point counts and domain extents); it holds no arrays, so it
can sit inside any ``eqx.Module`` and is hashable for ``jit``.

Convention (the same as exponax and most spectral codes): the domain is the box
``[0, L_0) x ... x [0, L_{d-1})``, sampled at ``x_j = j L / N``, ``j = 0 .. N-1`` (left end
included, right end excluded: periodic). Fields have shape ``grid.shape`` (axis 0 is ``x``,
axis 1 is ``y``, axis 2 is ``z``), optionally with leading batch axes. Fourier transforms are
real FFTs over the trailing ``d`` axes (``rfftn``), so the last spectral axis has ``N//2 + 1``
entries. Point counts must be even (so the Nyquist mode is well defined) and at least 4.
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import equinox as eqx
import jax.numpy as jnp
import numpy as np

__all__ = ["Grid"]


class Grid(eqx.Module):
    """A periodic 1D/2D/3D grid.

    Args:
        shape: points per axis (an int for a 1D grid, or a tuple); each even and >= 4.
        extent: domain length per axis (a float is used for every axis); default ``2π``.
    """

    shape: tuple[int, ...] = eqx.field(static=True)
    extent: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, shape: Union[int, Sequence[int]], extent: Union[float, Sequence[float]] = 2 * math.pi):
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(n) for n in shape)
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"Grid: 1, 2 or 3 axes are supported, got shape={shape}.")
        for n in shape:
            if n < 4 or n % 2:
                raise ValueError(
                    f"Grid: every point count must be even and >= 4 (got shape={shape}); "
                    "use e.g. 64, 128 or 256 points per axis."
                )
        extent = (float(extent),) * len(shape) if np.isscalar(extent) else tuple(float(L) for L in extent)
        if len(extent) != len(shape):
            raise ValueError(f"Grid: extent {extent} has {len(extent)} entries, shape {shape} has {len(shape)}.")
        if any(not (L > 0 and math.isfinite(L)) for L in extent):
            raise ValueError(f"Grid: domain extents must be positive and finite, got {extent}.")
        self.shape = shape
        self.extent = extent

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Grid spacing ``L / N`` per axis."""
        return tuple(L / n for L, n in zip(self.extent, self.shape))

    @property
    def rfft_shape(self) -> tuple[int, ...]:
        """Shape of ``rfftn`` of a field on this grid."""
        return self.shape[:-1] + (self.shape[-1] // 2 + 1,)

    def coords(self, dtype=None) -> tuple[jnp.ndarray, ...]:
        """Point coordinates, one array of ``grid.shape`` per axis (``indexing="ij"``)."""
        axes = [jnp.arange(n, dtype=dtype or jnp.result_type(float)) * (L / n) for n, L in zip(self.shape, self.extent)]
        return tuple(jnp.meshgrid(*axes, indexing="ij"))

    def check_field(self, u, what: str = "field") -> None:
        """Raise ``ValueError`` unless the trailing axes of ``u`` match ``grid.shape``."""
        shape = tuple(np.shape(u))
        if shape[len(shape) - self.ndim:] != self.shape or len(shape) < self.ndim:
            raise ValueError(
                f"{what}: trailing axes of shape {shape} do not match the grid {self.shape}; "
                "pass an array of shape (..., " + ", ".join(map(str, self.shape)) + ")."
            )
