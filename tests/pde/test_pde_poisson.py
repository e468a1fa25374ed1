"""Finite-difference Poisson/Helmholtz (fast transforms) and variable-coefficient CG."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import pde


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _mode(z, L, bc):
    return jnp.sin(np.pi * z / L) if bc == "dirichlet" else jnp.cos(np.pi * z / L) if bc == "neumann" else jnp.cos(2 * np.pi * z / L)


def _k2(L, bc):
    return (2 * np.pi / L) ** 2 if bc == "periodic" else (np.pi / L) ** 2


@pytest.mark.parametrize("bc", ["dirichlet", "neumann", "periodic", ("dirichlet", "neumann"), ("periodic", "dirichlet")])
@pytest.mark.parametrize("alpha", [0.0, 3.0])
def test_second_order_convergence(x64, bc, alpha):
    L = (1.0, 2.0)
    bcs = (bc, bc) if isinstance(bc, str) else bc
    errs = []
    for n in (16, 32, 64):
        x, y = pde.fd_coords((n, n), L, bc)
        exact = _mode(x, L[0], bcs[0]) * _mode(y, L[1], bcs[1])
        f = (_k2(L[0], bcs[0]) + _k2(L[1], bcs[1]) + alpha) * exact
        errs.append(float(jnp.max(jnp.abs(pde.poisson_fd(f, L, bc, alpha) - exact))))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - 2) < 0.3), (errs, rates)


@pytest.mark.parametrize("bc", ["dirichlet", "neumann", "periodic"])
def test_solver_inverts_the_discrete_operator(x64, bc):
    key = jax.random.PRNGKey(0)
    for shape, L in (((20,), (1.0,)), ((6, 8, 10), (1.0, 1.0, 2.0))):
        f = jax.random.normal(key, shape)
        residual = jax.jit(lambda f: -pde.laplacian_fd(u := pde.poisson_fd(f, L, bc, alpha=0.5), L, bc) + 0.5 * u - f)
        assert float(jnp.max(jnp.abs(residual(f)))) < 1e-9


def test_poisson_batched_and_differentiable(x64):
    f = jax.random.normal(jax.random.PRNGKey(1), (3, 16, 16))
    batched = pde.poisson_fd(f, (1.0, 1.0))
    looped = jnp.stack([pde.poisson_fd(fi, (1.0, 1.0)) for fi in f])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(looped), atol=1e-12)
    w = jnp.cos(jnp.arange(256.0)).reshape(16, 16)
    g = jax.grad(lambda f: jnp.sum(w * pde.poisson_fd(f, (1.0, 1.0))))(f[0])
    # the discrete operator is symmetric, so the gradient is the solve of the weights
    np.testing.assert_allclose(np.asarray(g), np.asarray(pde.poisson_fd(w, (1.0, 1.0))), atol=1e-12)


def test_variable_coefficient_cg_matches_dense_and_grads(x64):
    n, L = 8, (1.0, 1.0)
    x, y = pde.fd_coords((n, n), L)
    a = 1 + 0.5 * jnp.sin(2 * np.pi * x) * jnp.cos(np.pi * y)
    f = jnp.exp(-((x - 0.4) ** 2 + (y - 0.6) ** 2) / 0.02)
    # compiled once: an eager call builds new operator closures, so lineax would compile every solve
    solve = jax.jit(lambda a, f: pde.solve_variable_coefficient(a, f, L, rtol=1e-12, atol=1e-14))
    u = solve(a, f)
    op = pde.variable_coefficient_operator(a, L)
    A = jax.vmap(lambda e: op(e.reshape(n, n)).ravel())(jnp.eye(n * n)).T
    assert float(jnp.max(jnp.abs(A - A.T))) < 1e-12
    assert float(jnp.min(jnp.linalg.eigvalsh(A))) > 0
    np.testing.assert_allclose(np.asarray(u), np.asarray(jnp.linalg.solve(A, f.ravel()).reshape(n, n)), atol=1e-12)
    # constant coefficient reduces to the fast solver
    np.testing.assert_allclose(np.asarray(solve(jnp.ones_like(f), f)), np.asarray(pde.poisson_fd(f, L)), atol=1e-12)
    w = jnp.cos(3 * x) * y
    loss = jax.jit(lambda a, f: jnp.sum(w * solve(a, f)))
    ga, gf = jax.jit(jax.grad(loss, argnums=(0, 1)))(a, f)
    eps = 1e-6
    for g, arg, d in ((ga, 0, jnp.sin(5 * x * y)), (gf, 1, jnp.cos(4 * y))):
        args_p = [a, f]
        args_m = [a, f]
        args_p[arg] = args_p[arg] + eps * d
        args_m[arg] = args_m[arg] - eps * d
        fd = (loss(*args_p) - loss(*args_m)) / (2 * eps)
        assert abs(float(jnp.sum(g * d)) - float(fd)) < 1e-7 * max(1.0, abs(float(fd)))


def test_variable_coefficient_second_order(x64):
    """Manufactured solution u = sin(πx) sin(πy), a = 1 + x y."""
    L = (1.0, 1.0)
    errs = []
    for n in (15, 31, 63):
        x, y = pde.fd_coords((n, n), L)
        a = 1 + x * y
        s, c = jnp.sin, jnp.cos
        ux, uy = np.pi * c(np.pi * x) * s(np.pi * y), np.pi * s(np.pi * x) * c(np.pi * y)
        lap = -2 * np.pi**2 * s(np.pi * x) * s(np.pi * y)
        f = -(a * lap + y * ux + x * uy)
        u = pde.solve_variable_coefficient(a, f, L, rtol=1e-10, atol=1e-12)
        errs.append(float(jnp.max(jnp.abs(u - s(np.pi * x) * s(np.pi * y)))))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - 2) < 0.3), (errs, rates)


def test_poisson_invalid_inputs():
    with pytest.raises(ValueError, match="bc"):
        pde.poisson_fd(jnp.ones((8, 8)), (1.0, 1.0), bc="robin")
    with pytest.raises(ValueError, match="alpha"):
        pde.poisson_fd(jnp.ones((8, 8)), (1.0, 1.0), alpha=-1.0)
    with pytest.raises(ValueError, match="extent"):
        pde.poisson_fd(jnp.ones((8, 8)), (1.0, -1.0))
    with pytest.raises(ValueError, match="same shape"):
        pde.solve_variable_coefficient(jnp.ones((8, 8)), jnp.ones((8, 7)), (1.0, 1.0))


def test_cg_preconditioner_iterations_grid_independent(x64):
    """The fast-solver preconditioner keeps CG iterations ~flat under refinement."""
    import lineax as lx

    from jaxhybrid.pde.variable_coefficient import variable_coefficient_operator

    its = []
    for n in (15, 63):
        x, y = pde.fd_coords((n, n), (1.0, 1.0))
        a = 1 + x * y
        f = jnp.ones_like(a)
        s = jax.ShapeDtypeStruct(f.shape, f.dtype)
        tags = (lx.symmetric_tag, lx.positive_semidefinite_tag)
        op = lx.FunctionLinearOperator(variable_coefficient_operator(a, (1.0, 1.0)), s, tags=tags)
        pre = lx.FunctionLinearOperator(lambda v: pde.poisson_fd(v, (1.0, 1.0)) / jnp.mean(a), s, tags=tags)
        sol = lx.linear_solve(op, f, lx.CG(rtol=1e-10, atol=1e-12, max_steps=1000), options={"preconditioner": pre})
        its.append(int(sol.stats["num_steps"]))
    assert its[1] <= its[0] + 6, its
