"""Method of lines through diffrax (Dirichlet heat / reaction–diffusion)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import pde


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_heat_dirichlet_second_order_in_space_stiff_and_nonstiff(x64):
    """u = sin(πx) e^{−π²Dt} + 1 + x solves u_t = D u_xx with u(0)=1, u(1)=2."""
    D, T = 0.5, 0.2
    rhs = pde.reaction_diffusion_rhs(1.0, D, boundary=(1.0, 2.0))
    for solver in ("stiff", "nonstiff"):
        errs, steps = [], []
        for n in (15, 31):
            (x,) = pde.mol_coords(n, 1.0)
            exact = lambda t: jnp.sin(np.pi * x) * np.exp(-np.pi**2 * D * t) + 1 + x
            ys, stats = pde.ode_solve(rhs, exact(0.0), jnp.array([0.0, T]), solver=solver, rtol=1e-10, atol=1e-12)
            errs.append(float(jnp.max(jnp.abs(ys[-1] - exact(T)))))
            steps.append(int(stats["num_steps"]))
        rate = np.log2(errs[0] / errs[1])
        assert abs(rate - 2) < 0.3, (solver, errs)
        if solver == "stiff":
            stiff_steps = steps
        else:
            # explicit steps grow like n² (stability); the implicit solver does not
            assert steps[1] > 2 * steps[0] and steps[1] > 3 * stiff_steps[1], (steps, stiff_steps)


@pytest.mark.slow
@pytest.mark.parametrize("shape,solver,t1,rtol", [((10, 10), "stiff", 1.0, 1e-8), ((12,), "nonstiff", 0.5, 1e-9)],
                         ids=["2d-stiff", "1d-nonstiff"])
def test_fisher_kpp_gradient_in_the_growth_rate_matches_finite_differences(x64, shape, solver, t1, rtol):
    """Reaction–diffusion u_t = D Δu + r u(1−u), zero Dirichlet: d/dr of the final mass through
    the implicit (2D) and the adaptive explicit (1D) solve, against central differences."""
    xs = pde.mol_coords(shape, (1.0,) * len(shape))
    u0 = jnp.exp(-sum((x - 0.5) ** 2 for x in xs) / 0.02)

    def final(r):
        rhs = pde.reaction_diffusion_rhs((1.0,) * len(shape), 0.01, reaction=lambda u, t, args: args * u * (1 - u))
        ys, _ = pde.ode_solve(rhs, u0, jnp.array([0.0, t1]), solver=solver, rtol=rtol, atol=rtol / 100, args=r)
        return jnp.sum(ys[-1])

    g = jax.grad(final)(2.0)
    eps = 1e-5
    fd = (final(2.0 + eps) - final(2.0 - eps)) / (2 * eps)
    assert abs(float(g) - float(fd)) < 1e-5 * abs(float(fd))
    assert float(final(2.0)) > float(jnp.sum(u0)) * 0.5  # growth competes with the absorbing boundary


def test_mol_invalid_inputs():
    rhs = pde.reaction_diffusion_rhs(1.0, 0.1)
    with pytest.raises(ValueError, match="ts"):
        pde.ode_solve(rhs, jnp.zeros(8), jnp.array([0.0]))
    with pytest.raises(ValueError, match="solver"):
        pde.ode_solve(rhs, jnp.zeros(8), jnp.array([0.0, 1.0]), solver="magic")
    with pytest.raises(ValueError, match="diffusivity"):
        pde.reaction_diffusion_rhs(1.0, -0.1)


def test_ode_solve_fixed_step_converges_at_high_order_and_starts_at_t0(x64):
    """Tsit5 with a fixed step on y' = −y + cos t from t0 = 0.5 (save times on the step grid, after t0):
    the global error falls at least like dt^4.5 (Tsit5 is order 5; faster before the asymptotic regime),
    and the saved values follow the exact solution from t0, not from ts[0]."""
    rhs = lambda t, y, a: -a * y + jnp.cos(t)
    t0, y0 = 0.5, 2.0
    exact = lambda t: (y0 - 0.5 * (np.cos(t0) + np.sin(t0))) * np.exp(-(t - t0)) + 0.5 * (np.cos(t) + np.sin(t))
    ts = jnp.asarray([1.0, 2.0, 3.0])
    errs = []
    for dt in (0.5, 0.25):
        ys, stats = pde.ode_solve(rhs, jnp.asarray(y0), ts, t0=t0, solver="nonstiff", dt=dt, max_steps=20, args=1.0)
        errs.append(float(jnp.max(jnp.abs(ys - exact(np.asarray(ts))))))
        assert int(stats["num_steps"]) == int(np.ceil((3.0 - t0) / dt - 1e-9))
    assert np.log2(errs[0] / errs[1]) > 4.5 and errs[1] < 1e-6, errs
    with pytest.raises(ValueError, match="dt"):
        pde.ode_solve(rhs, jnp.asarray(y0), ts, t0=t0, solver="nonstiff", dt=-0.1, args=1.0)
