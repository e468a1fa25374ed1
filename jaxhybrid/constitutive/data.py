"""Synthetic data sets for learning constitutive laws.

* :func:`strain_paths` — smooth random loading paths in Mandel strain space (loading,
  unloading, reversal, multiaxial), ``ε(t) = A Σ_k a_k sin(2π f_k t + φ_k)`` per component on
  ``t ∈ [0, 1]`` with ``T`` increments, ``f_k ∈ {1..k_max}``, scaled so that ``max_t ‖ε(t)‖``
  equals a drawn amplitude in ``[½A, A]``; ``ε(0)`` is shifted to zero (start unstrained).
* :func:`stress_paths` — the reference incremental law rolled out along those paths.
* :func:`path_windows` — cut paths into consecutive windows of ``length`` increments (each
  window keeps its own starting stress, so a rollout from ``σ`` at the window start is exact).
* :func:`sample_F` — deformation gradients ``F = I + δ``, ``δ_ij ~ U(−s, s)`` with a per-sample
  scale ``s ~ U(0, s_max)`` (so small and large strains are both represented), ``det F > 0``.
* :func:`sample_rotations` — rotations uniform on SO(3) (Haar measure): the QR factor of a
  Gaussian matrix with the signs of ``diag R`` moved into ``Q`` (Mezzadri 2007, Notices AMS 54,
  592), then ``det Q = +1`` by flipping the first column where needed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .spd import rollout_stress

__all__ = ["strain_paths", "stress_paths", "path_windows", "sample_F", "sample_rotations"]


def strain_paths(seed: int, n_paths: int, n_steps: int, amplitude: float = 0.02, dim: int = 6, k_max: int = 3) -> np.ndarray:
    """``(n_paths, n_steps + 1, dim)`` smooth random strain paths (see module docstring)."""
    if n_paths < 1 or n_steps < 1 or not amplitude > 0:
        raise ValueError("strain_paths: need n_paths >= 1, n_steps >= 1 and amplitude > 0.")
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n_steps + 1)
    f = rng.integers(1, k_max + 1, (n_paths, dim, k_max))
    a = rng.standard_normal((n_paths, dim, k_max))
    ph = rng.uniform(0, 2 * np.pi, (n_paths, dim, k_max))
    e = np.sum(a[..., None] * np.sin(2 * np.pi * f[..., None] * t + ph[..., None]), axis=2)  # (P, dim, T+1)
    e = np.swapaxes(e, 1, 2)
    e = e - e[:, :1]
    amp = rng.uniform(0.5, 1.0, n_paths) * amplitude
    e = e * (amp / np.linalg.norm(e, axis=2).max(axis=1))[:, None, None]
    return e.astype(np.float32)


def stress_paths(law, eps: np.ndarray) -> np.ndarray:
    """Stresses of the incremental ``law`` (``law.step(σ, ε_old, ε_new)``) along ``eps`` (P, T+1, m)."""
    return np.asarray(jax.jit(jax.vmap(lambda p: rollout_stress(law.step, p)))(jnp.asarray(eps)))


def path_windows(eps: np.ndarray, sig: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut paths ``(P, T+1, m)`` into ``P·⌊T/length⌋`` windows ``(·, length+1, m)``; window ``j``
    of a path holds points ``j·length .. (j+1)·length`` (neighbouring windows share an end point).
    Many short windows from many paths give minibatches that cover strain space widely at the
    increment size of the full paths."""
    eps, sig = np.asarray(eps), np.asarray(sig)
    if eps.ndim != 3 or eps.shape != sig.shape:
        raise ValueError(f"path_windows: eps and sig must both be (P, T+1, m); got {eps.shape}, {sig.shape}.")
    if not 1 <= length <= eps.shape[1] - 1:
        raise ValueError(f"path_windows: length must be in [1, T={eps.shape[1] - 1}], got {length}.")
    n = (eps.shape[1] - 1) // length
    idx = np.arange(n)[:, None] * length + np.arange(length + 1)  # (n, length+1)
    cut = lambda a: a[:, idx].reshape(-1, length + 1, a.shape[-1])
    return cut(eps), cut(sig)


def sample_F(seed: int, n: int, s_max: float = 0.12) -> np.ndarray:
    """``(n, 3, 3)`` deformation gradients (see module docstring)."""
    if n < 1 or not 0 < s_max < 0.3:
        raise ValueError("sample_F: need n >= 1 and 0 < s_max < 0.3 (det F stays positive).")
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.0, s_max, (n, 1, 1))
    return (np.eye(3) + s * rng.uniform(-1.0, 1.0, (n, 3, 3))).astype(np.float32)


def sample_rotations(seed: int, n: int) -> np.ndarray:
    """``(n, 3, 3)`` float64 rotation matrices, uniform on SO(3) (see module docstring)."""
    if n < 1:
        raise ValueError(f"sample_rotations: need n >= 1, got {n}.")
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[:, :, 0] *= np.linalg.det(q)[:, None]
    return q
