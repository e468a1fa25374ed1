"""Fourier pseudo-spectral operators on a periodic :class:`~jaxhybrid.pde.grid.Grid`.

Real FFTs (``rfftn``) over the trailing axes, derivative symbols ``ik``, and de-aliasing.

De-aliasing by truncation
-------------------------
Orszag's 2/3 rule (Orszag 1971) zeroes every mode with ``|k_d| > K_d`` on some axis before and
after a quadratic product, which removes all aliasing errors from the retained modes. We use
the cut-off convention of exponax, ``K_d = floor(f (N_d // 2) - 1)`` with ``f = 2/3`` (a box,
per axis), so that results agree with it to rounding.

Because the truncated modes never feed the nonlinearity, a :class:`SpectralSpace` with
de-aliasing stores spectral fields **only on the retained modes** (the "compact" layout): on
non-last axes the indices ``[0..K] ∪ [N-K..N-1]`` (``2K+1`` entries), on the last (rfft) axis
``[0..K]``. Every elementwise spectral operation then touches ``(2/3)^d`` of the array, and the
padding back to the full rfft layout happens only right before an inverse FFT. Modes beyond the
cut are projected out when a physical field enters (:meth:`SpectralSpace.forward`); under a
2/3-de-aliased ETDRK scheme they would evolve uncoupled and purely linearly, so for band-limited
initial data (anything resolved) this is exact. With ``dealias=None`` the full spectrum is kept.

:func:`fourier_basis` is the real trigonometric basis of a band-limited 1-D field (a few Fourier
coefficients as the unknowns of an inverse or design problem).
"""

from __future__ import annotations

import math
from typing import Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .grid import Grid

__all__ = ["SpectralSpace", "dealias_cutoff", "fourier_basis"]


def fourier_basis(kmax: int, x) -> tuple:
    """``(B, k)``: the real Fourier basis on 1-D points ``x``, rows ``[1, cos x, sin x, …, cos kx,
    sin kx]`` (``(2 kmax + 1, N)``), and each row's wavenumber ``[0, 1, 1, …, kmax, kmax]``.

    A band-limited field is ``u = c @ B``; on a uniform periodic grid the rows are orthogonal
    (``B Bᵀ = N diag(1, ½, ½, …)`` for ``kmax < N/2``), and ``Σ k² c²`` is its H¹ seminorm up to that scale.
    """
    if not isinstance(kmax, (int, np.integer)) or kmax < 0:
        raise ValueError(f"fourier_basis: kmax must be an int >= 0, got {kmax!r}.")
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"fourier_basis: x must be 1-D grid points, got shape {x.shape}.")
    rows = [jnp.ones_like(x)]
    for k in range(1, kmax + 1):
        rows += [jnp.cos(k * x), jnp.sin(k * x)]
    return jnp.stack(rows), jnp.asarray([0.0] + [float(k) for k in range(1, kmax + 1) for _ in range(2)])


def dealias_cutoff(n: int, fraction: float) -> int:
    """Largest retained integer wavenumber ``K = floor(fraction * (n // 2) - 1)`` (exponax's)."""
    return int(math.floor(fraction * (n // 2) - 1 + 1e-9))


def _dft_matrices(n: int, K: int):
    """Dense real DFT matrices between the retained modes ``0..K`` and the ``n`` grid points.

    inverse: ``u_j = Σ_k (w_k/n)(a_k cos θ_kj − b_k sin θ_kj)``, ``θ_kj = 2πkj/n``,
    ``w_0 = 1``, ``w_k = 2`` (``K < n/2``); forward: ``F_k = Σ_j u_j (cos θ_kj − i sin θ_kj)``.
    For short 1D transforms of large ensembles on GPUs, two small GEMMs beat batched FFT calls.
    """
    k = np.arange(K + 1)
    th = 2 * np.pi * np.outer(k, np.arange(n)) / n
    w = np.where(k == 0, 1.0, 2.0)[:, None] / n
    inv = np.concatenate([w * np.cos(th), -w * np.sin(th)], axis=0)  # (2(K+1), n)
    fwd = np.concatenate([np.cos(th).T, -np.sin(th).T], axis=1)  # (n, 2(K+1))
    dt = jnp.result_type(float)
    return jnp.asarray(inv, dt), jnp.asarray(fwd, dt)


class SpectralSpace(eqx.Module):
    """Spectral representation of fields on ``grid`` (compact if ``dealias`` is set).

    Args:
        grid: the periodic grid.
        dealias: fraction of modes kept for de-aliasing (``2/3``: Orszag's rule; ``1/2`` for
            cubic nonlinearities) or ``None`` to keep every mode (linear problems).
        transform: ``"fft"`` (real FFTs), ``"matmul"`` (1D de-aliased only: dense real DFT
            matrices between the retained modes and the grid, two GEMMs per transform) or
            ``"auto"`` (matmul for 1D grids with ``N <= 256`` on GPU, FFT otherwise). Both give
            the same numbers up to rounding.

    Attributes:
        k: tuple of real wavenumber arrays ``2π m / L`` (one per axis) in the spectral layout,
            broadcastable against a spectral field.
    """

    grid: Grid
    dealias: Optional[float] = eqx.field(static=True)
    cut: Optional[tuple[int, ...]] = eqx.field(static=True)
    k: tuple
    dft: Optional[tuple]

    def __init__(self, grid: Grid, dealias: Optional[float] = 2 / 3, transform: str = "auto"):
        if not isinstance(grid, Grid):
            raise ValueError(f"SpectralSpace: expected a jaxhybrid.pde.Grid, got {type(grid).__name__}.")
        self.grid = grid
        self.dealias = dealias
        if dealias is None:
            self.cut = None
        else:
            if not 0 < dealias <= 1:
                raise ValueError(f"SpectralSpace: dealias must be in (0, 1] or None, got {dealias}.")
            cut = tuple(dealias_cutoff(n, dealias) for n in grid.shape)
            if min(cut) < 1:
                raise ValueError(
                    f"SpectralSpace: grid {grid.shape} is too coarse for dealias={dealias:.3g} "
                    "(no mode survives); use more points."
                )
            self.cut = cut
        d = grid.ndim
        ks = []
        for ax, (n, L) in enumerate(zip(grid.shape, grid.extent)):
            m = np.fft.rfftfreq(n, 1.0 / n) if ax == d - 1 else np.fft.fftfreq(n, 1.0 / n)
            if self.cut is not None:
                K = self.cut[ax]
                m = m[: K + 1] if ax == d - 1 else np.concatenate([m[: K + 1], m[n - K:]])
            shape = [1] * d
            shape[ax] = m.size
            ks.append(jnp.asarray((2 * np.pi / L) * m.reshape(shape), dtype=jnp.result_type(float)))
        self.k = tuple(ks)
        if transform not in ("auto", "fft", "matmul"):
            raise ValueError(f"SpectralSpace: transform must be 'auto', 'fft' or 'matmul', got {transform!r}.")
        use_mm = d == 1 and self.cut is not None and (
            transform == "matmul" or (transform == "auto" and grid.shape[0] <= 256 and jax.default_backend() == "gpu"))
        self.dft = _dft_matrices(grid.shape[0], self.cut[0]) if use_mm else None

    # ------------------------------------------------------------------ layout
    @property
    def ndim(self) -> int:
        return self.grid.ndim

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of a spectral field (compact layout if de-aliased)."""
        return tuple(int(np.size(k)) for k in self.k)

    def _axes(self):
        return tuple(range(-self.ndim, 0))

    def truncate(self, uh):
        """Full rfft layout -> this space's layout (drops the de-aliased modes)."""
        if self.cut is None:
            return uh
        d = self.ndim
        for i, (n, K) in enumerate(zip(self.grid.shape, self.cut)):
            ax = i - d
            if i == d - 1:
                uh = uh[..., : K + 1]
            else:
                lo = uh[(Ellipsis, slice(0, K + 1)) + (slice(None),) * (d - 1 - i)]
                hi = uh[(Ellipsis, slice(n - K, n)) + (slice(None),) * (d - 1 - i)]
                uh = jnp.concatenate([lo, hi], axis=ax)
        return uh

    def pad(self, c, last: bool = True):
        """This space's layout -> full rfft layout (zeros in the de-aliased modes). With
        ``last=False`` the last axis is left short (``irfftn`` pads it itself)."""
        if self.cut is None:
            return c
        d = self.ndim
        for i, (n, K) in enumerate(zip(self.grid.shape, self.cut)):
            ax = i - d
            if i == d - 1:
                if last:
                    widths = [(0, 0)] * c.ndim
                    widths[-1] = (0, n // 2 - K)
                    c = jnp.pad(c, widths)
            else:
                lo = c[(Ellipsis, slice(0, K + 1)) + (slice(None),) * (d - 1 - i)]
                hi = c[(Ellipsis, slice(K + 1, 2 * K + 1)) + (slice(None),) * (d - 1 - i)]
                zshape = list(c.shape)
                zshape[ax] = n - 2 * K - 1
                c = jnp.concatenate([lo, jnp.zeros(zshape, c.dtype), hi], axis=ax)
        return c

    # ------------------------------------------------------------------ transforms
    def forward(self, u):
        """Physical field(s) ``(..., *grid.shape)`` -> spectral ``(..., *self.shape)``."""
        if self.dft is not None:
            _, fwd = self.dft
            y = jnp.matmul(u, fwd.astype(u.dtype), precision=jax.lax.Precision.HIGHEST)
            K1 = self.shape[0]
            return jax.lax.complex(y[..., :K1], y[..., K1:])
        return self.truncate(jnp.fft.rfftn(u, axes=self._axes()))

    def inverse(self, c):
        """Spectral field(s) -> physical field(s) on the grid (``irfftn`` after zero padding)."""
        if self.dft is not None:
            inv, _ = self.dft
            x = jnp.concatenate([c.real, c.imag], axis=-1)
            return jnp.matmul(x, inv.astype(x.dtype), precision=jax.lax.Precision.HIGHEST)
        return jnp.fft.irfftn(self.pad(c, last=False), s=self.grid.shape, axes=self._axes())

    # ------------------------------------------------------------------ operators
    def ik(self, axis: int):
        """Symbol of ``∂/∂x_axis``: ``i k_axis``."""
        return 1j * self.k[axis]

    @property
    def k2(self):
        """``|k|^2`` (so the Laplacian symbol is ``-k2``)."""
        out = 0.0
        for k in self.k:
            out = out + k * k
        return out

    def derivative(self, u, axis: int = 0, order: int = 1):
        """Spectral derivative ``∂^order u / ∂x_axis^order`` of a physical field (convenience)."""
        return self.inverse((1j * self.k[axis]) ** order * self.forward(u))
