"""The Poisson inverse-source problem, set up for a prior learned from samples of a field generator.

Forward model: ``−Δu = f`` on the unit square with ``u = 0`` on the boundary (finite differences on
an ``N × N`` interior grid, fast sine-transform solver, :func:`~jaxhybrid.inverse.poisson_source`),
observed at ``n_obs`` distinct grid nodes drawn at random (:func:`random_nodes`):

    y = (u_j)_{j ∈ obs} + η,   η ~ N(0, σ² I).

Severely ill-posed: ``(−Δ)⁻¹`` damps the Fourier mode ``k`` by ``1/|k|²``, so the data say little
about the fine scales of ``f`` and the prior decides them. The unknowns are the fields of
:func:`~jaxhybrid.inverse.random_source_fields` divided by ``f_scale`` (the fields are
``O(f_scale)``; priors and networks work on ``O(1)`` values).

:func:`source_problem` returns everything that fixes the training data of a learned prior and of a
data-only regressor (:class:`SourceProblem`): the operator ``A``, ``n_train`` normalised
generator fields ``f_i``, the Gaussian ``N(μ̂, Ĉ)`` fitted to them
(:meth:`~jaxhybrid.sampling.GaussianScore.from_samples`: the Gaussian-prior baseline and the
base of a residual prior, :mod:`~jaxhybrid.inverse.residual_prior`), the RMS clean observation over
the first ``n_rms`` fields,

    u_rms = ( mean_{i ≤ n_rms, j} (A f_i)_j² )^½,

and the noise level ``σ = noise_rel · u_rms`` (a "10% noise" problem for ``noise_rel = 0.1``).
:meth:`SourceProblem.draw` draws test or validation instances ``(f, y)`` like the training fields.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.sampling import GaussianScore

from .data import random_source_fields
from .likelihood import noisy_observations
from .operators import LinearOperator, poisson_source

__all__ = ["SourceProblem", "source_problem", "random_nodes"]


class SourceProblem(NamedTuple):
    """The operator ``op``, the normalised training fields ``train_f`` ``(n_train, N, N)``, the Gaussian
    ``gauss`` fitted to them, the RMS clean observation ``u_scale``, the noise std ``noise``, the grid
    ``shape`` and ``f_scale`` (module docstring)."""

    op: LinearOperator
    train_f: jax.Array
    gauss: GaussianScore
    u_scale: float
    noise: float
    shape: Tuple[int, int]
    f_scale: float

    def fields(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` fresh normalised generator fields ``random_source_fields(key, n, shape) / f_scale``
        (test, validation or held-out fields, drawn like the training set)."""
        return random_source_fields(key, n, self.shape) / self.f_scale

    def draw(self, key_fields: jax.Array, key_noise: jax.Array, n: int) -> Tuple[jax.Array, jax.Array]:
        """``(f, y)``: ``n`` fresh fields (:meth:`fields`, from ``key_fields``) and their observations ``y = A f
        + noise · η`` (:func:`~jaxhybrid.inverse.noisy_observations`, from ``key_noise``), one row per field."""
        f = self.fields(key_fields, n)
        return f, noisy_observations(self.op, f, self.noise, key_noise)


def random_nodes(shape: Sequence[int], n: int, seed: int) -> tuple:
    """``n`` distinct nodes of a grid of ``shape``, uniformly at random (``numpy.random.default_rng(seed)``):
    one index array per axis (the ``obs_index`` of :func:`~jaxhybrid.inverse.poisson_source`)."""
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(shape))
    if not 1 <= n <= size:
        raise ValueError(f"random_nodes: need 1 <= n <= {size} (the grid's nodes), got {n}.")
    return np.unravel_index(np.random.default_rng(seed).choice(size, n, replace=False), shape)


def source_problem(key: jax.Array, *, grid: int, n_obs: int, n_train: int, f_scale: float, noise_rel: float,
                   sensor_seed: int, n_rms: int = 500) -> SourceProblem:
    """The problem of the module docstring on a ``grid × grid`` interior grid of the unit square:
    sensors ``random_nodes((grid, grid), n_obs, sensor_seed)``, ``n_train`` training fields drawn with
    ``key``, the fitted Gaussian, ``u_scale`` over the first ``n_rms`` fields and ``noise = noise_rel ·
    u_scale``."""
    if n_train < 2 or not 1 <= n_rms:
        raise ValueError(f"source_problem: need n_train >= 2 (a fitted Gaussian) and n_rms >= 1, got {n_train}, "
                         f"{n_rms}.")
    if not noise_rel > 0:
        raise ValueError(f"source_problem: noise_rel must be > 0, got {noise_rel}.")
    shape = (grid, grid)
    op = poisson_source(shape, (1.0, 1.0), random_nodes(shape, n_obs, sensor_seed))
    train_f = random_source_fields(key, n_train, shape) / f_scale
    u_scale = float(jnp.sqrt(jnp.mean(jax.vmap(op.apply)(train_f[:n_rms]) ** 2)))
    return SourceProblem(op, train_f, GaussianScore.from_samples(train_f), u_scale, noise_rel * u_scale, shape,
                         f_scale)
