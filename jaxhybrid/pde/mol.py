r"""Method of lines (MOL) through diffrax for non-periodic problems.

Space is discretised with second-order finite differences on the interior nodes of
``[0, L]`` (``x_i = i h``, ``h = L/(n+1)``, ``i = 1..n``; 1D or 2D tensor grids) with Dirichlet
boundary values ``g`` (constants or functions of time), turning

    u_t = D Δu + R(u, x, t)      (reaction–diffusion; heat for R = 0)

into the ODE system ``U' = D Δ_h U + (D/h²) B(g) + R(U, x, t)`` that
:func:`mol_solve` integrates with diffrax (Kidger 2021): an explicit adaptive Runge–Kutta
(``"nonstiff"``: Tsit5, Tsitouras 2011) or an L-stable implicit ESDIRK (``"stiff"``: Kvaerno5,
Kværnø 2004) with a PID step-size controller. The diffusion Jacobian has eigenvalues down to
``−4dD/h²``, so fine grids are stiff and want ``"stiff"``. Everything is differentiable
(diffrax's ``RecursiveCheckpointAdjoint`` by default) and ``vmap``-able.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["dirichlet_laplacian", "reaction_diffusion_rhs", "mol_solve", "mol_coords"]


def mol_coords(shape: Union[int, Sequence[int]], extent):
    """Interior-node coordinates (tuple of arrays, ``indexing="ij"``) for :func:`reaction_diffusion_rhs`."""
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(n) for n in shape)
    ext = (float(extent),) * len(shape) if np.isscalar(extent) else tuple(float(e) for e in extent)
    axes = [jnp.arange(1, n + 1, dtype=jnp.result_type(float)) * (L / (n + 1)) for n, L in zip(shape, ext)]
    return tuple(jnp.meshgrid(*axes, indexing="ij"))


def dirichlet_laplacian(u, extent, boundary=0.0):
    """Second-order ``Δ_h u`` on interior nodes with Dirichlet value(s) ``boundary`` (a scalar
    for all sides, or per axis a pair ``(left, right)``)."""
    d = u.ndim
    ext = (float(extent),) * d if np.isscalar(extent) else tuple(float(e) for e in extent)
    bnd = boundary
    out = 0.0
    for ax in range(d):
        n = u.shape[ax]
        h = ext[ax] / (n + 1)
        if np.isscalar(bnd) or (hasattr(bnd, "ndim") and jnp.ndim(bnd) == 0):
            left = right = bnd
        else:
            left, right = bnd[ax] if d > 1 else bnd
        shp = list(u.shape)
        shp[ax] = 1
        lo = jnp.broadcast_to(jnp.asarray(left, u.dtype), shp)
        hi = jnp.broadcast_to(jnp.asarray(right, u.dtype), shp)
        ue = jnp.concatenate([lo, u, hi], axis=ax)
        sl = lambda a, b: tuple(slice(a, b) if i == ax else slice(None) for i in range(d))
        out = out + (ue[sl(2, None)] - 2 * u + ue[sl(0, -2)]) / h**2
    return out


def reaction_diffusion_rhs(extent, diffusivity, reaction: Optional[Callable] = None, boundary=0.0):
    """Vector field ``f(t, u, args) = D Δ_h u + R(u, t, args)`` for :func:`mol_solve`.

    ``boundary`` may be a callable ``t -> value(s)`` for time-dependent Dirichlet data.
    ``reaction(u, t, args)`` is any JAX function (e.g. Fisher–KPP ``r u (1 − u)`` or a neural
    network closure).
    """
    if isinstance(diffusivity, (int, float)) and diffusivity < 0:
        raise ValueError(f"reaction_diffusion_rhs: diffusivity must be >= 0, got {diffusivity}.")

    def rhs(t, u, args):
        g = boundary(t) if callable(boundary) else boundary
        out = diffusivity * dirichlet_laplacian(u, extent, g)
        if reaction is not None:
            out = out + reaction(u, t, args)
        return out

    return rhs


_SOLVERS = {"nonstiff": diffrax.Tsit5, "stiff": diffrax.Kvaerno5}


def mol_solve(rhs: Callable, u0, ts, *, solver: Union[str, diffrax.AbstractSolver] = "stiff",
              rtol: float = 1e-6, atol: float = 1e-8, dt0: Optional[float] = None,
              max_steps: int = 100_000, args=None, adjoint=None):
    """Integrate ``u' = rhs(t, u, args)`` from ``ts[0]`` and return ``u`` at every time in ``ts``.

    Args:
        rhs: vector field (e.g. from :func:`reaction_diffusion_rhs`).
        u0: initial state (any shape).
        ts: increasing save times, ``ts[0]`` the initial time (1D array, length >= 2).
        solver: ``"stiff"`` (Kvaerno5), ``"nonstiff"`` (Tsit5) or any diffrax solver.
        rtol, atol: tolerances of the adaptive PID controller.
        dt0: initial step (default: chosen by diffrax).
        max_steps: step budget (raise it for long/stiff runs).
        args: passed to ``rhs``.

    Returns:
        ``(ys, stats)``: states of shape ``(len(ts),) + u0.shape`` and diffrax's statistics
        (``num_steps``, ``num_accepted_steps``, ``num_rejected_steps``, ...).
    """
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"mol_solve: ts must be a 1D array of at least 2 times, got shape {ts.shape}.")
    if isinstance(solver, str):
        if solver not in _SOLVERS:
            raise ValueError(f"mol_solve: solver must be one of {tuple(_SOLVERS)} or a diffrax solver, got {solver!r}.")
        solver = _SOLVERS[solver]()
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"mol_solve: rtol and atol must be positive, got {rtol}, {atol}.")
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), solver, t0=ts[0], t1=ts[-1], dt0=dt0, y0=jnp.asarray(u0), args=args,
        saveat=diffrax.SaveAt(ts=ts), stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps, **({} if adjoint is None else {"adjoint": adjoint}),
    )
    return sol.ys, sol.stats
