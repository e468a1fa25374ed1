r"""Variable-coefficient elliptic problems ``−∇·(a ∇u) = f``, matrix-free conjugate gradients.

Discretisation: the homogeneous-Dirichlet node grid of :mod:`jaxhybrid.pde.poisson`
(unknowns at interior nodes, ``h = L/(n+1)``) with the conservative second-order stencil

    (A u)_i = −Σ_d [ a_{i+½e_d} (u_{i+e_d} − u_i) − a_{i−½e_d} (u_i − u_{i−e_d}) ] / h_d²,

face coefficients ``a_{i±½}`` the arithmetic mean of the two nodal values (nodal ``a`` is
extended to the boundary nodes by copying the nearest interior value) — the classical
five-point scheme for diffusion with variable conductivity (e.g. LeVeque 2007, §2.15).
``A`` is symmetric positive definite for ``a > 0``, so it is solved matrix-free with conjugate
gradients (``lineax.CG``), preconditioned by the constant-coefficient fast solver
(:func:`~jaxhybrid.pde.poisson.poisson_fd` scaled by ``1/mean(a)``), which makes the iteration
count nearly independent of the grid for smooth ``a``.

Gradients: ``lineax.linear_solve`` differentiates implicitly (``du = A⁻¹(df − dA u)``), so
``jax.grad`` w.r.t. both ``f`` and ``a`` costs one extra (adjoint) CG solve and does not
store the iterations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from .poisson import fd_spacing, poisson_fd

__all__ = ["variable_coefficient_operator", "solve_variable_coefficient"]


def _check(a, f, extent):
    ext = (float(extent),) if np.isscalar(extent) else tuple(float(e) for e in extent)
    if any(not e > 0 for e in ext):
        raise ValueError(f"extent must be positive, got {extent!r}.")
    if jnp.shape(a) != jnp.shape(f):
        raise ValueError(f"a and f must have the same shape (one value per unknown), got {jnp.shape(a)} and {jnp.shape(f)}.")
    if jnp.ndim(f) != len(ext):
        raise ValueError(f"f has {jnp.ndim(f)} axes but extent has {len(ext)} entries; batch with jax.vmap.")
    if any(n < 2 for n in jnp.shape(f)):
        raise ValueError(f"need at least 2 unknowns per axis, got {jnp.shape(f)}.")
    return ext


def variable_coefficient_operator(a, extent):
    """Matrix-free ``u -> −∇_h·(a ∇_h u)`` (homogeneous Dirichlet) as a callable."""
    ext = (float(extent),) if np.isscalar(extent) else tuple(float(e) for e in extent)
    d = jnp.ndim(a)

    def apply(u):
        out = jnp.zeros_like(u)
        for ax in range(d):
            n = u.shape[ax]
            h = fd_spacing(n, ext[ax], "dirichlet")
            pad = [(0, 0)] * d
            pad[ax] = (1, 1)
            up = jnp.pad(u, pad)  # zero Dirichlet values
            ap = jnp.pad(a, pad, mode="edge")
            sl = lambda lo, hi: tuple(slice(lo, hi) if i == ax else slice(None) for i in range(d))
            af = 0.5 * (ap[sl(1, None)] + ap[sl(0, -1)])  # n + 1 faces
            flux = af * (up[sl(1, None)] - up[sl(0, -1)]) / h  # a ∂u at faces
            out = out - (flux[sl(1, None)] - flux[sl(0, -1)]) / h
        return out

    return apply


def solve_variable_coefficient(a, f, extent, *, rtol: float = 1e-6, atol: float = 1e-9,
                               max_steps: int = 2000, precondition: bool = True):
    """Solve ``−∇·(a∇u) = f`` (homogeneous Dirichlet) by preconditioned CG; differentiable in
    ``a`` and ``f``.

    Args:
        a: positive coefficient at the unknowns (same shape as ``f``).
        f: right-hand side on the interior nodes, shape ``(n_0[, n_1[, n_2]])``.
        extent: domain lengths per axis.
        rtol, atol, max_steps: CG stopping rule (lineax).
        precondition: use the fast constant-coefficient solver as preconditioner.

    Returns:
        ``u`` (same shape as ``f``).
    """
    ext = _check(a, f, extent)
    a = jnp.asarray(a)
    f = jnp.asarray(f)
    op_fn = variable_coefficient_operator(a, ext)
    struct = jax.ShapeDtypeStruct(f.shape, f.dtype)
    op = lx.FunctionLinearOperator(op_fn, struct, tags=(lx.symmetric_tag, lx.positive_semidefinite_tag))
    options = {}
    if precondition:
        abar = jax.lax.stop_gradient(jnp.mean(a))
        pre = lx.FunctionLinearOperator(lambda v: poisson_fd(v, ext, "dirichlet") / abar, struct,
                                        tags=(lx.symmetric_tag, lx.positive_semidefinite_tag))
        options["preconditioner"] = pre
    solver = lx.CG(rtol=rtol, atol=atol, max_steps=max_steps)
    return lx.linear_solve(op, f, solver, options=options).value
