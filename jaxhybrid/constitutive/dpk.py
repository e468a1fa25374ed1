"""Deep Piola–Kirchhoff (DPK) networks: stress laws with exact frame indifference and material
symmetry (Hu, Yang & Yuan, 2024, "Deep learning of constitutive laws with exact symmetry").

Given trainable vectors ``v_1..v_m`` and a point group ``G = {H_1..H_n}``
(:mod:`~jaxhybrid.constitutive.groups`), the structure vectors are the orbit
``W̃ = {H_a v_k}`` (``N = n m`` vectors ``w̃_i``) and

    S(F) = (1/N) Σ_i g(λ_i, z(F); θ) w̃_i ⊗ w̃_i,    λ_i = ‖F w̃_i‖ = (w̃_i·C w̃_i)^{1/2},
    P(F) = F [S(F) − S(I)]                 (the S(I) shift makes the reference stress free).

* **Frame indifference** ``P(QF) = Q P(F)`` for every rotation ``Q``: ``λ_i`` and ``z`` depend
  on ``C = FᵀF`` only, and the outer ``F`` carries the rotation.
* **Material symmetry** ``P(FH) Hᵀ = P(F)`` for every ``H ∈ G``: ``F H w̃_i = F w̃_{π(i)}`` for
  a permutation ``π`` of the orbit, so the sum is only reordered.
* **Symmetric Cauchy stress**: ``σ = J⁻¹ P Fᵀ = J⁻¹ F (S − S(I)) Fᵀ`` with ``S`` symmetric.

``g(λ, z) = k x + MLP(x, z)`` with ``x = (λ − 1)/e`` (``e = strain_scale``, the typical strain): a linear-spring term (trainable ``k``, so the
untrained model is already a stable network of springs along the orbit directions) plus a small
MLP. Beyond the paper's ``g(λ_i)`` (a "pair-potential" form whose linear
response obeys the Cauchy relations) it may see global, group- and frame-invariant features
``z(F) = [|J| − 1, (1/N) Σ_j h(λ_j)]`` with a learned ``h`` (``n_global`` features, the analogue of
the EAM electron density), which lets it represent many-body laws; ``n_global=0`` is the
paper's form. The group matrices are constants (``stop_gradient``), never trained.
"""

from __future__ import annotations

from typing import Optional

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from jaxhybrid.nn import MLP

from .groups import point_group

__all__ = ["DPK", "MLPStress", "symmetry_violation"]


class DPK(eqx.Module):
    """DPK first Piola–Kirchhoff stress ``P(F)`` of one 3×3 ``F`` (``vmap`` for batches)."""

    vectors: Float[Array, "m 3"]
    spring: Float[Array, ""]
    group: Float[Array, "n 3 3"]
    g: MLP
    h: Optional[MLP]
    n_global: int = eqx.field(static=True)
    strain_scale: float = eqx.field(static=True)

    def __init__(self, group="cubic", n_vectors: int = 4, width: int = 32, depth: int = 2,
                 n_global: int = 2, strain_scale: float = 0.1, *, key: PRNGKeyArray):
        G = point_group(group) if isinstance(group, str) else jnp.asarray(group)
        if G.ndim != 3 or G.shape[1:] != (3, 3):
            raise ValueError(f"DPK: group must be a name or an (n, 3, 3) array, got shape {G.shape}.")
        if n_vectors < 1 or n_global < 0:
            raise ValueError("DPK: need n_vectors >= 1 and n_global >= 0.")
        kv, kg, kh = jax.random.split(key, 3)
        v = jax.random.normal(kv, (n_vectors, 3))
        self.vectors = v / jnp.linalg.norm(v, axis=1, keepdims=True)
        self.spring = jnp.ones(())
        self.group = G
        self.n_global = n_global
        if not strain_scale > 0:
            raise ValueError(f"DPK: strain_scale must be positive, got {strain_scale}.")
        self.strain_scale = float(strain_scale)
        self.g = MLP(2 + n_global, "scalar", width, depth, jax.nn.softplus, key=kg)
        self.h = MLP("scalar", n_global, width // 2, 1, jnp.tanh, key=kh) if n_global else None

    def orbit(self) -> Float[Array, "N 3"]:
        """The structure vectors ``w̃ = {H v}`` (group-major)."""
        G = jax.lax.stop_gradient(self.group)
        return jnp.einsum("aij,kj->aki", G, self.vectors).reshape(-1, 3)

    def _g(self, F, w):
        """``g(λ_i, z(F))`` for every structure vector (N,)."""
        Fw = w @ F.T
        lam = jnp.sqrt(jnp.sum(Fw * Fw, axis=1))
        x = (lam - 1.0) / self.strain_scale
        # |det F| (= √det C): invariant under rotations and under improper group elements
        J = jnp.abs(jnp.linalg.det(F))
        glob = [jnp.broadcast_to((J - 1.0) / self.strain_scale, lam.shape)[:, None]]
        if self.h is not None:
            z = jnp.mean(jax.vmap(self.h)(x), axis=0)
            glob.append(jnp.broadcast_to(z, (lam.shape[0], self.n_global)))
        feats = jnp.concatenate([x[:, None]] + glob, axis=1)
        return self.spring * x + jax.vmap(self.g)(feats)

    def pk2_like(self, F):
        """``S(F) − S(I) = (1/N) Σ_i [g_i(F) − g_i(I)] w̃_i ⊗ w̃_i`` (symmetric); ``P = F (S(F) − S(I))``.
        The reference value is subtracted term by term, so that rounding does not grow with
        the size of ``g`` (float32 symmetry errors stay at the 1e-7 level)."""
        w = self.orbit()
        dg = self._g(F, w) - self._g(jnp.eye(3, dtype=F.dtype), w)
        return jnp.einsum("i,ij,ik->jk", dg, w, w) / w.shape[0]

    def __call__(self, F: Float[Array, "3 3"]) -> Float[Array, "3 3"]:
        return F @ self.pk2_like(F)


class MLPStress(eqx.Module):
    """Unconstrained baseline: ``P = MLP((F − I)/e)`` (9 → 9), no symmetry built in."""

    net: MLP
    strain_scale: float = eqx.field(static=True)

    def __init__(self, width: int = 64, depth: int = 2, strain_scale: float = 0.1, *, key: PRNGKeyArray):
        self.net = MLP(9, 9, width, depth, jax.nn.softplus, key=key)
        self.strain_scale = float(strain_scale)

    def __call__(self, F):
        return self.net((F - jnp.eye(3, dtype=F.dtype)).reshape(9) / self.strain_scale).reshape(3, 3)


def symmetry_violation(law, F, group, Q) -> dict:
    """Relative violations of a stress law ``P = law(F)`` on a batch ``F`` (B, 3, 3), each
    normalised by the batch's RMS stress ``P̄ = (mean_b ‖P(F_b)‖²)^{1/2}``:

    * ``frame``: ``max_b ‖P(Q_b F_b) − Q_b P(F_b)‖ / P̄`` for rotations ``Q`` (B, 3, 3),
    * ``material``: ``max_{b,H} ‖P(F_b H) Hᵀ − P(F_b)‖ / P̄`` over the group (n, 3, 3),
    * ``cauchy_asym``: ``max_b ‖σ − σᵀ‖ / σ̄`` with ``σ = J⁻¹ P Fᵀ``.

    (Normalising by the batch scale rather than per sample keeps samples with a nearly
    vanishing stress from turning the input rounding of ``Q F`` into a large ratio.)
    """
    F = jnp.asarray(F)
    if F.ndim != 3 or F.shape[1:] != (3, 3) or Q.shape != F.shape:
        raise ValueError(f"symmetry_violation: F and Q must both be (B, 3, 3); got {F.shape}, {Q.shape}.")
    P = jax.vmap(law)(F)
    scale = jnp.sqrt(jnp.mean(jnp.sum(P * P, axis=(1, 2))))
    PQ = jax.vmap(law)(Q @ F)
    frame = jnp.max(jnp.linalg.norm(PQ - Q @ P, axis=(1, 2))) / scale

    def per_H(H):
        PH = jax.vmap(law)(F @ H) @ H.T
        return jnp.max(jnp.linalg.norm(PH - P, axis=(1, 2)))

    material = jnp.max(jax.lax.map(per_H, group)) / scale
    sig = P @ jnp.swapaxes(F, 1, 2) / jnp.linalg.det(F)[:, None, None]
    asym = jnp.max(jnp.linalg.norm(sig - jnp.swapaxes(sig, 1, 2), axis=(1, 2))) / jnp.sqrt(jnp.mean(jnp.sum(sig * sig, axis=(1, 2))))
    return {"frame": float(frame), "material": float(material), "cauchy_asym": float(asym)}
