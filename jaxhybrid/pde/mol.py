r"""Method of lines (MOL) through diffrax for non-periodic problems.

Space is discretised with second-order finite differences on the interior nodes of
``[0, L]`` (``x_i = i h``, ``h = L/(n+1)``, ``i = 1..n``; 1D or 2D tensor grids) with Dirichlet
boundary values ``g`` (constants or functions of time), turning

    u_t = D Δu + R(u, x, t)      (reaction–diffusion; heat for R = 0)

into the ODE system ``U' = D Δ_h U + (D/h²) B(g) + R(U, x, t)`` that :func:`ode_solve`
integrates with diffrax (Kidger 2021): an explicit adaptive Runge–Kutta (``"nonstiff"``: Tsit5,
Tsitouras 2011) or an L-stable implicit ESDIRK (``"stiff"``: Kvaerno5, Kværnø 2004) with a PID
step-size controller, or any diffrax solver with a fixed step ``dt``. The diffusion Jacobian has
eigenvalues down to ``−4dD/h²``, so fine grids are stiff and want ``"stiff"``. Everything is
differentiable (diffrax's ``RecursiveCheckpointAdjoint`` by default) and ``vmap``-able.

:func:`ode_solve` is the library's one diffrax call for any ODE ``y' = f(t, y, args)``, not
only MOL systems: a mechanism with a learned closure (:mod:`~jaxhybrid.pde.pendulum`: a pendulum
whose friction law is a network, trained through the solve) uses it the same way.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import diffrax
import jax.numpy as jnp
import numpy as np

__all__ = ["dirichlet_laplacian", "reaction_diffusion_rhs", "ode_solve", "mol_coords"]


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
    """Vector field ``f(t, u, args) = D Δ_h u + R(u, t, args)`` for :func:`ode_solve`.

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


def ode_solve(rhs: Callable, u0, ts, *, t0=None, solver: Union[str, diffrax.AbstractSolver] = "stiff",
              dt: Optional[float] = None, rtol: float = 1e-6, atol: float = 1e-8, dt0: Optional[float] = None,
              max_steps: int = 100_000, args=None, adjoint=None):
    """Integrate ``u' = rhs(t, u, args)`` from ``t0`` and return ``u`` at every time in ``ts``.

    Args:
        rhs: vector field ``rhs(t, u, args)`` (e.g. from :func:`reaction_diffusion_rhs`, or a
            mechanism with a network inside, the network passed as ``args``).
        u0: initial state (any shape, any pytree diffrax accepts).
        ts: increasing save times (1D array); the run ends at ``ts[-1]``.
        t0: initial time (default ``ts[0]``; then ``ts`` needs at least 2 times). May be traced
            (windows of a trajectory starting at different times under ``vmap``).
        solver: ``"stiff"`` (Kvaerno5), ``"nonstiff"`` (Tsit5) or any diffrax solver.
        dt: a fixed step (``diffrax.ConstantStepSize``; ``rtol``/``atol``/``dt0`` unused). Fixed
            steps keep a gradient's cost and memory independent of the parameters being trained.
        rtol, atol: tolerances of the adaptive PID controller (when ``dt`` is ``None``).
        dt0: initial step of the adaptive controller (default: chosen by diffrax).
        max_steps: step budget (raise it for long/stiff runs; with ``dt`` it sizes the step
            buffer, so ``ceil((ts[-1] − t0)/dt)`` plus a few is enough).
        args: passed to ``rhs``.
        adjoint: a diffrax adjoint (default ``RecursiveCheckpointAdjoint``).

    Returns:
        ``(ys, stats)``: states of shape ``(len(ts),) + u0.shape`` and diffrax's statistics
        (``num_steps``, ``num_accepted_steps``, ``num_rejected_steps``, ...).
    """
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < (2 if t0 is None else 1):
        raise ValueError(f"ode_solve: ts must be a 1D array of save times (at least 2 when t0 is not given), "
                         f"got shape {ts.shape}.")
    if isinstance(solver, str):
        if solver not in _SOLVERS:
            raise ValueError(f"ode_solve: solver must be one of {tuple(_SOLVERS)} or a diffrax solver, got {solver!r}.")
        solver = _SOLVERS[solver]()
    if dt is None:
        if not (rtol > 0 and atol > 0):
            raise ValueError(f"ode_solve: rtol and atol must be positive, got {rtol}, {atol}.")
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
    else:
        if isinstance(dt, (int, float)) and not dt > 0:
            raise ValueError(f"ode_solve: the fixed step dt must be positive, got {dt}.")
        controller, dt0 = diffrax.ConstantStepSize(), dt
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"ode_solve: max_steps must be a positive int, got {max_steps!r}.")
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), solver, t0=ts[0] if t0 is None else t0, t1=ts[-1], dt0=dt0, y0=jnp.asarray(u0),
        args=args, saveat=diffrax.SaveAt(ts=ts), stepsize_controller=controller,
        max_steps=max_steps, **({} if adjoint is None else {"adjoint": adjoint}),
    )
    return sol.ys, sol.stats
