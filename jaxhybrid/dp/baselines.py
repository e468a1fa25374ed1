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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.nn import MLP

from .data import System

__all__ = ["features", "mlp_baseline", "MLPEnergy", "fit_mlp_energy", "evaluate_mlp_energy", "mlp_energy_template"]


def features(kind: str, n_atoms: int) -> Callable:
    """``φ(R)`` for ``R`` (N, 3): ``"coordinates"`` (3N raw coordinates) or ``"distances"``
    (the N(N−1)/2 interatomic distances, non-periodic)."""
    if kind == "coordinates":
        return lambda R: R.ravel()
    if kind == "distances":
        iu = np.triu_indices(n_atoms, 1)
        return lambda R: jnp.sqrt(jnp.sum((R[:, None] - R[None]) ** 2, -1)[iu])
    raise ValueError(f"features: unknown kind {kind!r}; use 'coordinates' or 'distances'.")


class MLPEnergy(eqx.Module):
    """The data-only energy ``E(R)/N = σ_E · MLP((φ(R) − μ)/σ) + μ_E`` (eV per atom) of a fixed atom
    count, with its input and output normalisation (module docstring); forces ``−N ∇_R``."""

    net: MLP
    mu: jax.Array
    sd: jax.Array
    e_mu: jax.Array
    e_sd: jax.Array
    kind: str = eqx.field(static=True)
    n_atoms: int = eqx.field(static=True)

    def __call__(self, R: jax.Array) -> jax.Array:
        return self.net((features(self.kind, self.n_atoms)(R) - self.mu) / self.sd)[0] * self.e_sd + self.e_mu


def mlp_energy_template(kind: str, n_atoms: int, widths: Sequence[int] = (128, 128)) -> MLPEnergy:
    """An :class:`MLPEnergy` of the structure :func:`fit_mlp_energy` returns (values meaningless):
    the template for loading stored weights."""
    d = 3 * n_atoms if kind == "coordinates" else n_atoms * (n_atoms - 1) // 2
    features(kind, n_atoms)  # checks the kind
    net = MLP(d, 1, widths=list(widths), activation=jnp.tanh, key=jax.random.PRNGKey(0))
    z = jnp.zeros((), jnp.float32)
    return MLPEnergy(net, jnp.zeros(d, jnp.float32), jnp.ones(d, jnp.float32), z, z + 1, kind, n_atoms)


def _one_count(systems, what: str) -> int:
    sizes = {s.n_atoms for s in systems}
    if not systems or len(sizes) != 1:
        raise ValueError(f"mlp_baseline: need {what} systems of one atom count, got atom counts {sorted(sizes)}.")
    return sizes.pop()


def fit_mlp_energy(train: Sequence[System], kind: str = "coordinates", *, steps: int, seed: int,
                   widths: Sequence[int] = (128, 128), batch_size: int = 16, log_every: int | None = None):
    """Train the MLP baseline (module docstring) on the frames of ``train`` (one atom count);
    returns ``(MLPEnergy, history)``. Network key ``PRNGKey(seed)``, minibatch key ``PRNGKey(seed + 1)``."""
    from jaxhybrid.train import fit

    n = _one_count(list(train), "training")
    phi = features(kind, n)
    R = np.concatenate([s.coord for s in train]).astype(np.float32)
    E = (np.concatenate([s.energy for s in train]) / n).astype(np.float32)
    F = np.concatenate([s.force for s in train]).astype(np.float32)
    X = np.asarray(jax.vmap(phi)(jnp.asarray(R)))
    mu, sd = X.mean(0), X.std(0) + 1e-6
    e_mu, e_sd = float(E.mean()), float(E.std()) + 1e-9
    net = MLP(X.shape[1], 1, widths=list(widths), activation=jnp.tanh, key=jax.random.PRNGKey(seed))
    model = MLPEnergy(net, jnp.asarray(mu), jnp.asarray(sd), jnp.asarray(e_mu, jnp.float32), jnp.asarray(e_sd, jnp.float32),
                      kind, n)

    def loss(net, b):
        m = eqx.tree_at(lambda m: m.net, model, net)
        e, g = jax.vmap(jax.value_and_grad(m))(b["R"])
        return jnp.mean((e - b["e"]) ** 2) * 100 + jnp.mean((-g * n - b["f"]) ** 2)

    res = fit(loss, net, {"R": R, "e": E, "f": F}, optax.adam(optax.exponential_decay(1e-3, steps, 0.05)), steps=steps,
              batch_size=min(batch_size, len(R)), key=jax.random.PRNGKey(seed + 1),
              log_every=log_every or math.gcd(steps, 500), progress=False)
    return eqx.tree_at(lambda m: m.net, model, res.params), res.history


@eqx.filter_jit
def _energy_grad(model: MLPEnergy, R: jax.Array):
    return jax.vmap(jax.value_and_grad(model))(R)


def evaluate_mlp_energy(model: MLPEnergy, test: Sequence[System]) -> dict:
    """Held-out energy RMSE (meV/atom) and force-component RMSE (meV/Å) of ``model`` on ``test``
    (systems of the model's atom count)."""
    n = _one_count(list(test), "test")
    if n != model.n_atoms:
        raise ValueError(f"mlp_baseline: the model is for {model.n_atoms} atoms, the test systems have {n}.")
    Rt = np.concatenate([s.coord for s in test]).astype(np.float32)
    Et = np.concatenate([s.energy for s in test]) / n
    Ft = np.concatenate([s.force for s in test])
    e, g = _energy_grad(model, jnp.asarray(Rt))
    de = np.asarray(e, np.float64) - Et
    return {"energy_rmse_meV_per_atom": float(np.sqrt(np.mean(de**2)) * 1e3),
            "force_rmse_meV_per_A": float(np.sqrt(np.mean((-np.asarray(g, np.float64) * n - Ft) ** 2)) * 1e3)}


def mlp_baseline(train: Sequence[System], test: Sequence[System], kind: str = "coordinates", *, steps: int, seed: int,
                 widths: Sequence[int] = (128, 128), batch_size: int = 16, log_every: int | None = None) -> dict:
    """Train the MLP baseline (module docstring) on the frames of ``train`` and return its
    held-out energy RMSE (meV/atom) and force-component RMSE (meV/Å) on ``test`` (systems of
    one atom count): :func:`fit_mlp_energy` then :func:`evaluate_mlp_energy`."""
    sizes = {s.n_atoms for s in list(train) + list(test)}
    if not train or not test or len(sizes) != 1:
        raise ValueError(f"mlp_baseline: need training and test systems of one atom count, got atom counts {sorted(sizes)}.")
    model, _ = fit_mlp_energy(train, kind, steps=steps, seed=seed, widths=widths, batch_size=batch_size, log_every=log_every)
    return evaluate_mlp_energy(model, test)
