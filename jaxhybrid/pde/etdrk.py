r"""Exponential time differencing Runge–Kutta (ETDRK) steppers, orders 1–4.

For a semi-linear PDE written in Fourier space with a diagonal linear part,

    û_t = L̂ ⊙ û + N̂(û),

ETD integrates the linear part exactly and the nonlinear part by a Runge–Kutta quadrature
(Cox & Matthews 2002, J. Comput. Phys. 176, 430–455). With ``h = dt``, ``z = h L̂``,
``E = e^z``, ``E₂ = e^{z/2}`` the schemes are (Cox & Matthews eqs. 19, 22, 23–25, 26–29):

* ETDRK1: ``û⁺ = E û + h φ₁(z) N(û)``,                    ``φ₁(z) = (e^z − 1)/z``
* ETDRK2: ``a = E û + h φ₁ N(û)``;  ``û⁺ = a + h φ₂(z) (N(a) − N(û))``, ``φ₂ = (e^z − 1 − z)/z²``
* ETDRK3: ``a = E₂ û + (h/2) φ₁(z/2) N(û)``, ``b = E û + h φ₁ (2N(a) − N(û))``,
  ``û⁺ = E û + h[f₁ N(û) + 4 f₂ N(a) + f₃ N(b)]``
* ETDRK4: ``a = E₂ û + (h/2)φ₁(z/2) N(û)``, ``b = E₂ û + (h/2)φ₁(z/2) N(a)``,
  ``c = E₂ a + (h/2)φ₁(z/2)(2N(b) − N(û))``,
  ``û⁺ = E û + h[f₁ N(û) + 2 f₂ (N(a) + N(b)) + f₃ N(c)]``

with ``f₁ = (−4 − z + e^z(4 − 3z + z²))/z³``, ``f₂ = (2 + z + e^z(z − 2))/z³``,
``f₃ = (−4 − 3z − z² + e^z(4 − z))/z³``. These functions suffer cancellation for small ``|z|``;
following Kassam & Trefethen (2005, SIAM J. Sci. Comput. 26, 1214–1233) each is evaluated as
the mean over ``M`` points of a circle of radius ``r`` around ``z`` (trapezoidal rule of the
Cauchy integral), which is accurate for every ``z``.

Speed: all coefficients are computed **once**, when a stepper is built, on the (compact,
de-aliased) spectral layout; they are real whenever ``L̂`` is real (diffusion, KS, NS), so
a step is a handful of fused real-by-complex multiply–adds plus the nonlinear evaluations.

The stepper follows the algorithm protocol of :mod:`jaxhybrid.algorithm`, packaged as an
Equinox module: ``û = stepper.init(u)``, ``û, info = stepper.step(û, key=None)`` (deterministic:
the key is ignored, ``info = {}``), ``u = stepper.to_physical(û)``; ``stepper(u)`` is one step
in physical space. Trajectories run through the shared loop::

    from jaxhybrid.rollout import evolve
    res = evolve(stepper, stepper.init(u0), n, save_every=k, observe=stepper.to_physical)

(``res.saved``: the physical field every ``k`` steps; ``res.final``: the spectral state;
``checkpoint=True`` for gradients through long runs, ``is_bad=nonfinite`` to
stop a blow-up at the last good state).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .spectral import SpectralSpace

__all__ = ["etdrk_coefficients", "ETDRKStepper"]

_ORDERS = (1, 2, 3, 4)


def _is_concrete_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _check_dt(dt) -> None:
    if _is_concrete_number(dt) and not (dt > 0 and np.isfinite(dt)):
        raise ValueError(f"ETDRK: dt must be positive and finite, got {dt}.")


def etdrk_coefficients(linear, dt, order: int, *, n_contour: int = 32, radius: float = 1.0) -> dict:
    """ETDRK coefficients of the given order for the diagonal linear symbol ``linear``.

    Returns a dict of arrays shaped like ``linear`` (real if ``linear`` is real):
    ``E`` (= e^{hL}) and the scheme's φ-weights already multiplied by ``h`` (see module doc).
    Uses the Kassam–Trefethen contour mean with ``n_contour`` points on a circle of
    ``radius``. Works on concrete arrays and under tracing (e.g. ``vmap`` over a viscosity).
    """
    if order not in _ORDERS:
        raise ValueError(f"ETDRK: order must be one of {_ORDERS}, got {order!r}.")
    if n_contour < 4:
        raise ValueError(f"ETDRK: n_contour must be >= 4, got {n_contour}.")
    _check_dt(dt)
    linear = jnp.asarray(linear)
    is_real = not jnp.iscomplexobj(linear)
    cdtype = jnp.result_type(linear.dtype, jnp.complex64)
    z = (linear * dt).astype(cdtype)
    roots = np.exp(2j * np.pi * (np.arange(1, n_contour + 1) - 0.5) / n_contour) * radius

    def mean_over_contour(fn):
        acc = None
        for r in roots:
            val = fn(z + jnp.asarray(r, cdtype))
            acc = val if acc is None else jax.tree_util.tree_map(jnp.add, acc, val)
        return jax.tree_util.tree_map(lambda a: a / n_contour, acc)

    def fix(x):
        return x.real if is_real else x

    out = {"E": fix(jnp.exp(z))}
    if order == 1:
        (p1,) = mean_over_contour(lambda w: ((jnp.exp(w) - 1) / w,))
        out["c1"] = fix(dt * p1)
    elif order == 2:
        p1, p2 = mean_over_contour(lambda w: ((jnp.exp(w) - 1) / w, (jnp.exp(w) - 1 - w) / w**2))
        out["c1"], out["c2"] = fix(dt * p1), fix(dt * p2)
    else:
        def fns(w):
            ew = jnp.exp(w)
            return (
                (jnp.exp(w / 2) - 1) / w,
                (ew - 1) / w,
                (-4 - w + ew * (4 - 3 * w + w**2)) / w**3,
                (2 + w + ew * (w - 2)) / w**3,
                (-4 - 3 * w - w**2 + ew * (4 - w)) / w**3,
            )

        ph, p1, f1, f2, f3 = mean_over_contour(fns)
        out["E2"] = fix(jnp.exp(z / 2))
        out["ch"] = fix(dt * ph)
        if order == 3:
            out["c1"] = fix(dt * p1)
        out["f1"], out["f2"], out["f3"] = fix(dt * f1), fix(dt * f2), fix(dt * f3)
    return out


def rmul(a, z):
    """``a * z`` for a real array ``a`` and complex ``z`` as two real products (``jnp`` would
    promote ``a`` to complex and do a full complex multiply); plain ``a * z`` otherwise."""
    if jnp.iscomplexobj(a) or not jnp.iscomplexobj(z):
        return a * z
    re, im = z.real, z.imag
    return jax.lax.complex((a * re).astype(re.dtype), (a * im).astype(re.dtype))


def imul(k, z):
    """``1j * k * z`` for real ``k`` and complex ``z`` without complex arithmetic."""
    re, im = z.real, z.imag
    return jax.lax.complex((-k * im).astype(re.dtype), (k * re).astype(re.dtype))


def _etdrk_update(coef: dict, N: Callable, u, order: int):
    """One ETDRK step ``u -> u⁺`` of the given order (formulas in the module docstring)."""
    m = rmul
    if order == 1:
        return m(coef["E"], u) + m(coef["c1"], N(u))
    if order == 2:
        n0 = N(u)
        a = m(coef["E"], u) + m(coef["c1"], n0)
        return a + m(coef["c2"], N(a) - n0)
    E, E2, ch = coef["E"], coef["E2"], coef["ch"]
    f1, f2, f3 = coef["f1"], coef["f2"], coef["f3"]
    n0 = N(u)
    if order == 3:
        a = m(E2, u) + m(ch, n0)
        na = N(a)
        b = m(E, u) + m(coef["c1"], 2 * na - n0)
        return m(E, u) + m(f1, n0) + m(4 * f2, na) + m(f3, N(b))
    a = m(E2, u) + m(ch, n0)
    na = N(a)
    b = m(E2, u) + m(ch, na)
    nb = N(b)
    c = m(E2, a) + m(ch, 2 * nb - n0)
    return m(E, u) + m(f1, n0) + m(2 * f2, na + nb) + m(f3, N(c))


class ETDRKStepper(eqx.Module):
    """ETDRK stepper for ``û_t = L̂ û + N̂(û)`` on a :class:`SpectralSpace`.

    Args:
        space: spectral space (with de-aliasing for nonlinear problems).
        linear: diagonal linear symbol ``L̂`` in ``space``'s layout (broadcastable).
        nonlinear: ``û -> N̂(û)`` in the same layout (de-aliased by the caller), or ``None`` for
            a linear problem (then every order is exact in time). Any callable works: an
            equation's term, a neural network closure, or a sum of both.
        dt: time step (> 0).
        order: 1, 2, 3 or 4.
        n_contour, radius: Kassam–Trefethen contour for the coefficients.

    The state of :meth:`step` is the spectral field ``û`` (complex, ``space.shape``, optional
    leading batch axes); :meth:`init` / :meth:`to_physical` convert to and from physical space.
    Run trajectories with :func:`jaxhybrid.rollout.evolve` (module docstring).
    """

    space: SpectralSpace
    nonlinear: Optional[Callable]
    coef: dict
    dt: Any
    order: int = eqx.field(static=True)

    def __init__(self, space: SpectralSpace, linear, nonlinear: Optional[Callable], dt, order: int = 4,
                 *, n_contour: int = 32, radius: float = 1.0):
        if not isinstance(space, SpectralSpace):
            raise ValueError("ETDRKStepper: `space` must be a jaxhybrid.pde.SpectralSpace.")
        lin = jnp.asarray(linear)
        try:
            np.broadcast_shapes(lin.shape, space.shape)
        except ValueError:
            raise ValueError(
                f"ETDRKStepper: linear symbol of shape {lin.shape} does not broadcast to the "
                f"spectral shape {space.shape}; build it from space.k."
            ) from None
        lin = jnp.broadcast_to(lin, space.shape)
        self.space = space
        self.nonlinear = nonlinear
        self.dt = dt
        self.order = int(order)
        self.coef = etdrk_coefficients(lin, dt, self.order, n_contour=n_contour, radius=radius)

    # ------------------------------------------------------------------ (init, step)
    def init(self, u):
        """Physical field(s) ``(..., *grid.shape)`` -> spectral state."""
        self.space.grid.check_field(u, "ETDRKStepper.init")
        return self.space.forward(u)

    def step(self, uh, key=None) -> tuple:
        """Advance the spectral state by one step ``dt``: ``(û⁺, {})`` (deterministic; ``key`` is
        accepted for the algorithm protocol and ignored)."""
        if self.nonlinear is None:
            return rmul(self.coef["E"], uh), {}
        return _etdrk_update(self.coef, self.nonlinear, uh, self.order), {}

    def to_physical(self, uh):
        """Spectral state -> physical field(s)."""
        return self.space.inverse(uh)

    def __call__(self, u):
        """One step in physical space (``to_physical(step(init(u)))``)."""
        return self.to_physical(self.step(self.init(u))[0])

    def with_forcing(self, forcing) -> "ETDRKStepper":
        """A copy with a time-independent physical source ``f`` added to the right-hand side
        (``N̂ -> N̂ + f̂``). The ETDRK coefficients are reused, so this is cheap inside a loss
        being differentiated w.r.t. ``f`` (inverse design, control)."""
        self.space.grid.check_field(forcing, "with_forcing")
        f_hat = self.space.forward(jnp.asarray(forcing))
        base = self.nonlinear

        def forced(uh):
            return f_hat if base is None else base(uh) + f_hat

        new = eqx.tree_at(lambda s: s.nonlinear, self, forced, is_leaf=lambda x: x is None)
        return new
