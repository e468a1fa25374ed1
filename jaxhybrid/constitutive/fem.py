"""A small finite-element solver for 2D plane-strain finite elasticity in which any stress law —
reference or learned — is the material model.

Total Lagrangian, bilinear quadrilaterals (Q4) with 2×2 Gauss points (Hughes, *The Finite
Element Method*, 1987, §3.2; Bonet & Wood, *Nonlinear Continuum Mechanics for FE Analysis*,
2nd ed., 2008, ch. 8). For a displacement field ``u = Σ_a N_a u_a``::

    F = I + Σ_a u_a ⊗ ∇₀N_a                        (2×2 in-plane; F₃₃ = 1, plane strain)
    f_int,a = Σ_e Σ_q w_q det J_q P(F_q) ∇₀N_a(X_q),   P = first Piola–Kirchhoff (in-plane block)
    R(u) = f_int(u) − f_ext = 0 on the free degrees of freedom.

The material enters only through ``pk1(F3) -> P3`` on 3×3 gradients (plane strain embeds
``F``), so a hyperelastic law, Cauchy–Born, DPK or an MLP all plug in unchanged. Newton's
method ``K Δu = −R`` uses the exact tangent ``K = ∂R/∂u`` assembled from element Jacobians
computed by forward-mode autodiff (``jacfwd`` of the 8-dof element residual, ``vmap`` over
elements), so convergence is quadratic whenever the law is smooth; each linear solve is a
``lineax`` LU solve of the (dense, assembled) tangent. Dirichlet conditions are imposed by
elimination; the prescribed displacement is applied in ``n_load`` equal increments.

Q4 elements contain the linear fields, so any homogeneous deformation ``u = (F₀ − I)X`` is
reproduced exactly (patch test), for any law and any (distorted) mesh.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from .kinematics import plane_strain_F

__all__ = ["Mesh", "rectangle_mesh", "plate_with_hole_mesh", "plate_tension_bc", "Precomputed", "precompute",
           "residual", "solve", "SolveResult", "plane_strain_law"]

_GP = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) / np.sqrt(3.0)


class Mesh(NamedTuple):
    """``nodes`` (N, 2) reference coordinates; ``elems`` (E, 4) node indices, counter-clockwise."""

    nodes: np.ndarray
    elems: np.ndarray


def rectangle_mesh(lx: float, ly: float, nx: int, ny: int, distort: float = 0.0, seed: int = 0) -> Mesh:
    """Structured ``nx × ny`` Q4 mesh of ``[0, lx] × [0, ly]``; interior nodes jittered by up to
    ``distort`` × the element size (for patch tests)."""
    if nx < 1 or ny < 1 or not (lx > 0 and ly > 0) or not 0 <= distort < 0.3:
        raise ValueError("rectangle_mesh: need nx, ny >= 1, positive sizes and 0 <= distort < 0.3.")
    x, y = np.meshgrid(np.linspace(0, lx, nx + 1), np.linspace(0, ly, ny + 1), indexing="ij")
    if distort:
        rng = np.random.default_rng(seed)
        inner = np.zeros_like(x, bool)
        inner[1:-1, 1:-1] = True
        x = x + inner * rng.uniform(-distort, distort, x.shape) * lx / nx
        y = y + inner * rng.uniform(-distort, distort, y.shape) * ly / ny
    nodes = np.stack([x.ravel(), y.ravel()], 1)
    idx = np.arange((nx + 1) * (ny + 1)).reshape(nx + 1, ny + 1)
    elems = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], -1).reshape(-1, 4)
    return Mesh(nodes, elems)


def plate_with_hole_mesh(half_width: float = 1.0, radius: float = 0.3, n_radial: int = 8, n_theta: int = 12,
                         grading: float = 1.5) -> Mesh:
    """Quarter of a square plate ``[0, L]²`` with a circular hole of ``radius`` at the origin
    (symmetry planes x = 0 and y = 0). Nodes on rays at angle θ from the hole (ξ = 0) to the
    outer square (ξ = 1), ``ξ`` graded towards the hole; ``n_theta`` must be even."""
    L, r = half_width, radius
    if not 0 < r < L or n_radial < 1 or n_theta < 2 or n_theta % 2:
        raise ValueError("plate_with_hole_mesh: need 0 < radius < half_width, n_radial >= 1 and even n_theta >= 2.")
    th = np.linspace(0, np.pi / 2, n_theta + 1)
    xi = np.linspace(0, 1, n_radial + 1) ** grading
    inner = np.stack([r * np.cos(th), r * np.sin(th)], 1)
    outer = np.where((th <= np.pi / 4)[:, None], np.stack([np.full_like(th, L), L * np.tan(np.minimum(th, np.pi / 4))], 1),
                     np.stack([L / np.tan(np.maximum(th, np.pi / 4)), np.full_like(th, L)], 1))
    nodes = (1 - xi[None, :, None]) * inner[:, None] + xi[None, :, None] * outer[:, None]  # (θ, ξ, 2)
    nodes = nodes.reshape(-1, 2)
    nodes[np.abs(nodes) < 1e-14] = 0.0
    idx = np.arange((n_theta + 1) * (n_radial + 1)).reshape(n_theta + 1, n_radial + 1)
    # counter-clockwise: ξ increases then θ increases
    elems = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], -1).reshape(-1, 4)
    return Mesh(nodes, elems)


def plate_tension_bc(mesh: Mesh, displacement: float, half_width: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Dirichlet data ``(fixed, prescribed)`` of a quarter plate (:func:`plate_with_hole_mesh`)
    stretched along x: symmetry planes ``u_x = 0`` on x = 0 and ``u_y = 0`` on y = 0, and
    ``u_x = displacement`` on the loaded edge x = ``half_width`` (nominal strain
    ``displacement / half_width``); every other component is free."""
    X = np.asarray(mesh.nodes)
    right = np.isclose(X[:, 0], half_width)
    if not right.any():
        raise ValueError(f"plate_tension_bc: no node at x = half_width = {half_width}; pass the mesh's half-width.")
    fixed, prescribed = np.zeros_like(X, bool), np.zeros_like(X)
    fixed[np.isclose(X[:, 0], 0), 0] = True
    fixed[np.isclose(X[:, 1], 0), 1] = True
    fixed[right, 0], prescribed[right, 0] = True, displacement
    return fixed, prescribed


class Precomputed(NamedTuple):
    elems: jax.Array  # (E, 4)
    dN: jax.Array     # (E, 4 gauss, 4 nodes, 2) reference gradients ∇₀N_a at the Gauss points
    wJ: jax.Array     # (E, 4) Gauss weight × det J
    n_nodes: int


def precompute(mesh: Mesh, dtype=None) -> Precomputed:
    """Shape-function gradients and integration weights (raises on inverted elements)."""
    dtype = dtype or jnp.zeros(()).dtype
    xe = mesh.nodes[mesh.elems]  # (E, 4, 2)
    xi, eta = _GP[:, 0], _GP[:, 1]
    # dN/dξ, dN/dη for N_a = ¼(1 ± ξ)(1 ± η), nodes (−1,−1), (1,−1), (1,1), (−1,1)
    sx = np.array([-1, 1, 1, -1.0])
    sy = np.array([-1, -1, 1, 1.0])
    dxi = 0.25 * sx[None, :] * (1 + sy[None, :] * eta[:, None])   # (4 gp, 4 nodes)
    deta = 0.25 * sy[None, :] * (1 + sx[None, :] * xi[:, None])
    dref = np.stack([dxi, deta], -1)  # (gp, a, 2)
    J = np.einsum("qak,eai->eqik", dref, xe)  # J_ik = ∂x_i/∂ξ_k
    detJ = np.linalg.det(J)
    if np.any(detJ <= 0):
        raise ValueError("precompute: inverted or degenerate element (det J <= 0); list nodes counter-clockwise.")
    Jinv = np.linalg.inv(J)
    dN = np.einsum("qak,eqki->eqai", dref, Jinv)
    return Precomputed(jnp.asarray(mesh.elems, jnp.int32), jnp.asarray(dN, dtype), jnp.asarray(detJ, dtype),
                       int(mesh.nodes.shape[0]))


def plane_strain_law(pk1: Callable) -> Callable:
    """In-plane ``P₂(F₂) = P(plane_strain_F(F₂))[:2, :2]`` from a 3D law ``pk1(F3)``."""
    return lambda F2: pk1(plane_strain_F(F2))[:2, :2]


def _element_residual(P2, ue, dN, wJ):
    F = jnp.eye(2, dtype=ue.dtype) + jnp.einsum("ai,qaj->qij", ue, dN)
    P = jax.vmap(P2)(F)
    return jnp.einsum("q,qij,qaj->ai", wJ, P, dN)


def residual(pk1: Callable, pre: Precomputed, u: jax.Array) -> jax.Array:
    """Internal nodal forces ``f_int(u)`` (N, 2) for the law ``pk1(F3) -> P3``."""
    P2 = plane_strain_law(pk1)
    fe = jax.vmap(lambda ue, dN, w: _element_residual(P2, ue, dN, w))(u[pre.elems], pre.dN, pre.wJ)
    return jnp.zeros((pre.n_nodes, 2), u.dtype).at[pre.elems].add(fe)


class SolveResult(NamedTuple):
    u: np.ndarray               # (N, 2) displacements
    residual_norms: list        # per load step, the Newton residual norms (free dofs)
    converged: bool


def solve(pk1: Callable, mesh: Mesh, fixed: np.ndarray, prescribed: np.ndarray, *, n_load: int = 1,
          tol: float = 1e-10, max_iter: int = 15, u0: Optional[np.ndarray] = None, dtype=None) -> SolveResult:
    """Newton solve of ``R(u) = 0`` with Dirichlet data (zero external force elsewhere).

    Args:
        pk1: the material, ``P3 = pk1(F3)`` on one 3×3 gradient.
        fixed: (N, 2) bool, which displacement components are prescribed.
        prescribed: (N, 2) their values (at full load; scaled by ``k/n_load`` in step ``k``).
        tol: stop when ``‖R_free‖ ≤ tol · max(1, ‖R_free at the step start‖)``.
    Returns: :class:`SolveResult`; ``converged`` is False when a step hit ``max_iter`` or
        produced non-finite values (the last good ``u`` is returned).
    """
    fixed = np.asarray(fixed, bool)
    prescribed = np.asarray(prescribed)
    n = mesh.nodes.shape[0]
    if fixed.shape != (n, 2) or prescribed.shape != (n, 2):
        raise ValueError(f"solve: fixed and prescribed must be ({n}, 2) arrays, got {fixed.shape}, {prescribed.shape}.")
    if n_load < 1:
        raise ValueError("solve: n_load must be >= 1.")
    dtype = dtype or jnp.zeros(()).dtype
    pre = precompute(mesh, dtype)
    free = np.flatnonzero(~fixed.ravel())
    P2 = plane_strain_law(pk1)
    edofs = (2 * pre.elems[:, :, None] + jnp.arange(2)[None, None, :]).reshape(-1, 8)
    g2f = -np.ones(2 * n, np.int64)
    g2f[free] = np.arange(free.size)

    @jax.jit
    def res_and_tangent(u):
        ue = u[pre.elems]
        re = jax.vmap(lambda a, d, w: _element_residual(P2, a, d, w))(ue, pre.dN, pre.wJ)
        ke = jax.vmap(lambda a, d, w: jax.jacfwd(lambda x: _element_residual(P2, x.reshape(4, 2), d, w).reshape(8))(a.reshape(8)))(
            ue, pre.dN, pre.wJ)  # (E, 8, 8)
        r = jnp.zeros(2 * n, u.dtype).at[edofs].add(re.reshape(-1, 8))
        K = jnp.zeros((2 * n, 2 * n), u.dtype).at[edofs[:, :, None], edofs[:, None, :]].add(ke)
        fr = jnp.asarray(free)
        return r[fr], K[fr][:, fr]

    @jax.jit
    def newton_update(r, K):
        return lx.linear_solve(lx.MatrixLinearOperator(K), -r, lx.LU()).value

    u = np.zeros((n, 2)) if u0 is None else np.array(u0, np.float64)
    norms_all, ok = [], True
    for k in range(1, n_load + 1):
        u = np.where(fixed, prescribed * k / n_load, u)
        norms = []
        for it in range(max_iter + 1):
            r, K = res_and_tangent(jnp.asarray(u, dtype))
            rn = float(jnp.linalg.norm(r))
            norms.append(rn)
            if not np.isfinite(rn):
                ok = False
                break
            if rn <= tol * max(1.0, norms[0]):
                break
            if it == max_iter:
                ok = False
                break
            du = np.asarray(newton_update(r, K), np.float64)
            if not np.all(np.isfinite(du)):
                ok = False
                break
            uf = u.ravel().copy()
            uf[free] += du
            u = uf.reshape(n, 2)
        norms_all.append(norms)
        if not ok:
            break
    return SolveResult(u, norms_all, ok)
