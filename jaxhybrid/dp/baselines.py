"""The data-only baseline of a Deep Potential: an MLP energy on hand-chosen inputs.

``E(R)/N = σ_E · MLP((φ(R) − μ)/σ) + μ_E`` with forces ``F = −∇_R E``, where ``φ`` is either the
raw Cartesian coordinates (no symmetry, no locality: what a network knows without the physics
built into the descriptor) or the interatomic distances (rotation-, translation-invariant by
construction; for a small molecule they fix the geometry). Trained on the same labels as the
Deep Potential with the loss ``100·mean(ΔE/N)² + mean(ΔF)²`` (eV/atom, eV/Å), Adam with the
learning rate decaying 1e-3 → 5e-5, through :func:`jaxhybrid.train.fit`.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .data import System

__all__ = ["features", "mlp_baseline"]


def features(kind: str, n_atoms: int) -> Callable:
    """``φ(R)`` for ``R`` (N, 3): ``"coordinates"`` (3N raw coordinates) or ``"distances"``
    (the N(N−1)/2 interatomic distances, non-periodic)."""
    import jax.numpy as jnp

    if kind == "coordinates":
        return lambda R: R.ravel()
    if kind == "distances":
        iu = np.triu_indices(n_atoms, 1)
        return lambda R: jnp.sqrt(jnp.sum((R[:, None] - R[None]) ** 2, -1)[iu])
    raise ValueError(f"features: unknown kind {kind!r}; use 'coordinates' or 'distances'.")


def mlp_baseline(train: Sequence[System], test: Sequence[System], kind: str = "coordinates", *, steps: int, seed: int,
                 widths: Sequence[int] = (128, 128), batch_size: int = 16, log_every: int | None = None) -> dict:
    """Train the MLP baseline (module docstring) on the frames of ``train`` and return its
    held-out energy RMSE (meV/atom) and force-component RMSE (meV/Å) on ``test`` (systems of
    one atom count). Network key ``PRNGKey(seed)``, minibatch key ``PRNGKey(seed + 1)``."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    from jaxhybrid.nn import MLP
    from jaxhybrid.train import fit

    sizes = {s.n_atoms for s in list(train) + list(test)}
    if not train or not test or len(sizes) != 1:
        raise ValueError(f"mlp_baseline: need training and test systems of one atom count, got atom counts {sorted(sizes)}.")
    n = sizes.pop()
    phi = features(kind, n)
    R = np.concatenate([s.coord for s in train]).astype(np.float32)
    E = (np.concatenate([s.energy for s in train]) / n).astype(np.float32)
    F = np.concatenate([s.force for s in train]).astype(np.float32)
    X = np.asarray(jax.vmap(phi)(jnp.asarray(R)))
    mu, sd = X.mean(0), X.std(0) + 1e-6
    e_mu, e_sd = float(E.mean()), float(E.std()) + 1e-9
    net = MLP(X.shape[1], 1, widths=list(widths), activation=jnp.tanh, key=jax.random.PRNGKey(seed))

    def energy(net, R):  # eV per atom
        return net((phi(R) - mu) / sd)[0] * e_sd + e_mu

    def loss(net, b):
        e, g = jax.vmap(jax.value_and_grad(lambda r: energy(net, r)))(b["R"])
        return jnp.mean((e - b["e"]) ** 2) * 100 + jnp.mean((-g * n - b["f"]) ** 2)

    res = fit(loss, net, {"R": R, "e": E, "f": F}, optax.adam(optax.exponential_decay(1e-3, steps, 0.05)), steps=steps,
              batch_size=min(batch_size, len(R)), key=jax.random.PRNGKey(seed + 1),
              log_every=log_every or math.gcd(steps, 500), progress=False)
    Rt = np.concatenate([s.coord for s in test]).astype(np.float32)
    Et = np.concatenate([s.energy for s in test]) / n
    Ft = np.concatenate([s.force for s in test])
    e, g = eqx.filter_jit(jax.vmap(jax.value_and_grad(lambda r: energy(res.params, r))))(jnp.asarray(Rt))
    de = np.asarray(e, np.float64) - Et
    return {"energy_rmse_meV_per_atom": float(np.sqrt(np.mean(de**2)) * 1e3),
            "force_rmse_meV_per_A": float(np.sqrt(np.mean((-np.asarray(g, np.float64) * n - Ft) ** 2)) * 1e3)}
