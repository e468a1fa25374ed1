"""Scoring learned stress laws beyond their training loss: on held-out gradients, along a load
line, through their tangent and as the material of a finite-element solve.

* :func:`predict_stress` — ``P(F_b)`` of a law on a batch, one compiled ``vmap``.
* :func:`stress_rel_error` — ``(Σ_b ‖P̂_b − P_b‖² / Σ_b ‖P_b‖²)^{1/2}`` over a held-out batch.
* :func:`learning_curves` — that error for networks trained on ``n`` samples, per model and ``n``.
* :func:`symmetry_scores` — :func:`~jaxhybrid.constitutive.symmetry_violation` of several laws:
  frame indifference ``P(QF) = QP(F)``, material symmetry ``P(FH)Hᵀ = P(F)`` and the symmetry
  of the Cauchy stress, as relative violations.
* :func:`uniaxial_stretch` — ``F(λ) = I + (λ − 1) n ⊗ n``: uniaxial stretch ``λ`` along a unit
  direction ``n`` (any direction, e.g. one absent from the training data).
* :func:`compare_rollouts` — :func:`~jaxhybrid.constitutive.rollout_errors` of several
  incremental laws on the same reference paths (rollouts from ``σ⁰ = 0``).
* :func:`min_tangent_eigenvalue` — the smallest eigenvalue of an incremental law's tangent
  ``H(ε)`` over strain paths (positive for an SPD-NN by construction: every increment does
  positive work, Xu, Huang & Darve 2021).
* :func:`cubic_constants` — ``C₁₁, C₁₂, C₄₄`` (Voigt) of a hyperelastic law with a stress-free
  reference: the elasticity tensor ``C_iJkL = ∂²W/∂F_iJ ∂F_kL`` at ``F = I`` (equal to the
  small-strain tensor when ``P(I) = 0``), by ``jax.hessian`` in float64.
* :func:`fe_errors` — learned laws as the material of one plane-strain FE problem
  (:func:`~jaxhybrid.constitutive.fem.solve`, float64) against the reference law's solution:
  relative displacement error ``‖u − u_ref‖ / ‖u_ref‖`` (``inf`` when a solve fails).
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import fem
from .dpk import symmetry_violation
from .spd import rollout_errors

__all__ = ["ROLLOUT_GOALS", "predict_stress", "stress_rel_error", "learning_curves", "symmetry_scores",
           "uniaxial_stretch", "compare_rollouts", "min_tangent_eigenvalue", "cubic_constants", "FEError", "fe_errors"]

#: the better direction of every figure of :func:`~jaxhybrid.constitutive.rollout_errors` (a record's ``goal``)
ROLLOUT_GOALS = {"rollout_rel_error": "min", "final_rel_error": "min", "max_stress_ratio": "min",
                 "one_step_rel_error": "min"}


@eqx.filter_jit
def _predict(law, F):
    return jax.vmap(law)(F)


def predict_stress(law: Callable, F) -> np.ndarray:
    """``law(F_b)`` for every gradient of the batch ``F`` (B, 3, 3), in ``F``'s dtype (the law is
    a traced argument: one compilation per law structure)."""
    F = jnp.asarray(F)
    if F.ndim != 3 or F.shape[1:] != (3, 3):
        raise ValueError(f"predict_stress: F must be a (B, 3, 3) batch, got shape {F.shape}.")
    return np.asarray(_predict(law, F))


def stress_rel_error(pred, ref) -> float:
    """``(Σ ‖P̂ − P‖² / Σ ‖P‖²)^{1/2}`` over a batch (numpy, in the arrays' dtype)."""
    pred, ref = np.asarray(pred), np.asarray(ref)
    if pred.shape != ref.shape or ref.size == 0:
        raise ValueError(f"stress_rel_error: need two non-empty arrays of one shape, got {pred.shape}, {ref.shape}.")
    return float(np.sqrt(np.sum((pred - ref) ** 2) / np.sum(ref**2)))


def learning_curves(networks: Mapping[tuple, Callable], F, P_ref) -> tuple[dict, dict]:
    """Held-out errors of networks keyed ``(model, n)`` (``n``: training samples):
    ``({model: {n: stress_rel_error}}, {(model, n): P̂ on F})``. ``P_ref`` labels the first
    ``len(P_ref)`` rows of ``F``; rows after them (e.g. a load line for a figure) are predicted in
    the same call (one compilation per network structure) but not scored."""
    m = len(P_ref)
    if m > len(F):
        raise ValueError(f"learning_curves: {m} labels for {len(F)} gradients; P_ref labels the first rows of F.")
    curves, preds = {}, {}
    for (model, n), law in networks.items():
        preds[(model, n)] = predict_stress(law, F)
        curves.setdefault(model, {})[n] = stress_rel_error(preds[(model, n)][:m], P_ref)
    return curves, preds


def symmetry_scores(laws: Mapping[str, Callable], F, group, rotations) -> dict:
    """``{name: {frame_violation, material_violation, cauchy_asymmetry}}``: the relative
    violations of :func:`~jaxhybrid.constitutive.symmetry_violation` of every (jit-compiled) law
    on the batch ``F`` (B, 3, 3) with rotations ``rotations`` (B, 3, 3) and the point ``group``."""
    out = {}
    for name, law in laws.items():
        v = symmetry_violation(eqx.filter_jit(law), F, group, rotations)
        out[name] = {"frame_violation": v["frame"], "material_violation": v["material"],
                     "cauchy_asymmetry": v["cauchy_asym"]}
    return out


def uniaxial_stretch(direction, lam) -> np.ndarray:
    """``(k, 3, 3)`` gradients ``F = I + (λ − 1) n ⊗ n`` for the stretches ``lam`` (k,) along
    ``n = direction`` (normalised here; float64)."""
    n = np.asarray(direction, np.float64)
    if n.shape != (3,) or not np.linalg.norm(n) > 0:
        raise ValueError(f"uniaxial_stretch: direction must be a non-zero 3-vector, got {direction!r}.")
    n = n / np.linalg.norm(n)
    lam = np.atleast_1d(np.asarray(lam, np.float64))
    return np.eye(3)[None] + (lam - 1)[:, None, None] * np.einsum("i,j->ij", n, n)[None]


def compare_rollouts(laws: Mapping[str, object], eps, sig) -> tuple[dict, dict]:
    """``({name: errors}, {name: rollout (P, T+1, m)})``: :func:`~jaxhybrid.constitutive.rollout_errors`
    of every incremental law of ``laws`` on the reference paths ``eps``, ``sig`` (P, T+1, m)."""
    errors, rollouts = {}, {}
    for name, law in laws.items():
        errors[name], rollouts[name] = rollout_errors(law, eps, sig)
    return errors, rollouts


def min_tangent_eigenvalue(model, eps) -> float:
    """``min_{p,n} λ_min(H(εⁿ_p))`` of ``model.tangent`` over strain paths ``eps`` (P, T+1, m)."""
    eps = jnp.asarray(eps)
    if eps.ndim != 3:
        raise ValueError(f"min_tangent_eigenvalue: eps must be (P, T+1, m), got shape {eps.shape}.")
    H = jax.jit(jax.vmap(jax.vmap(model.tangent)))(eps)
    return float(jnp.min(jnp.linalg.eigvalsh(H)))


def cubic_constants(energy_density: Callable) -> list[float]:
    """``[C₁₁, C₁₂, C₄₄] = [C_1111, C_1122, C_1212]`` of ``C = ∂²W/∂F∂F`` at ``F = I`` for an
    energy density ``W(F)`` that accepts float64 (evaluated with x64 enabled); Python floats."""
    with jax.enable_x64(True):
        C = np.asarray(jax.jit(jax.hessian(energy_density))(jnp.eye(3, dtype=jnp.float64)))
    if not np.all(np.isfinite(C)):
        raise ValueError("cubic_constants: the Hessian of the energy density at F = I is not finite.")
    return [float(C[0, 0, 0, 0]), float(C[0, 0, 1, 1]), float(C[0, 1, 0, 1])]


class FEError(NamedTuple):
    """A learned law's FE solution against the reference: relative displacement error (``inf``
    unless converged and finite), convergence flag and the displacements (N, 2)."""

    rel_error: float
    converged: bool
    u: np.ndarray

    def scores(self) -> dict:
        """``{"fe_displacement_rel_error", "fe_converged"}`` (the flag as 1.0 / 0.0)."""
        return {"fe_displacement_rel_error": self.rel_error, "fe_converged": float(self.converged)}


def _to_float64(model):
    return jax.tree_util.tree_map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, model)


def fe_errors(laws: Mapping[str, Callable], reference: Callable, mesh: fem.Mesh, bc: tuple, *, n_load: int = 2,
              tol: float = 1e-10) -> tuple[fem.SolveResult, dict]:
    """Solve one FE problem (``bc = (fixed, prescribed)``, e.g. :func:`~jaxhybrid.constitutive.fem.
    plate_tension_bc`) in float64 with ``reference`` (``pk1(F)``) and with every law of ``laws``
    (name → ``P = law(F)``, its floating arrays cast to float64). Returns ``(reference result,
    {name: FEError})``, ``rel_error = ‖u − u_ref‖ / ‖u_ref‖`` (Frobenius over all nodes)."""
    out = {}
    with jax.enable_x64(True):
        ref = fem.solve(reference, mesh, *bc, n_load=n_load, tol=tol, dtype=jnp.float64)
        for name, law in laws.items():
            m64 = _to_float64(law)
            r = fem.solve(lambda F: m64(F), mesh, *bc, n_load=n_load, tol=tol, dtype=jnp.float64)
            ok = bool(r.converged and np.all(np.isfinite(r.u)))
            err = float(np.linalg.norm(r.u - ref.u) / np.linalg.norm(ref.u)) if ok else float("inf")
            out[name] = FEError(err, ok, r.u)
    return ref, out
