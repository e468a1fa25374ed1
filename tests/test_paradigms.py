import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhybrid.nn import MLP
from jaxhybrid.paradigms import HardConstraint, alternate, constrain, cycle, mse, refine
from jaxhybrid.rollout import rollout
from jaxhybrid.train import fit


def test_refine_learns_a_rate_through_a_diffrax_solve():
    # mechanism: u' = −k u (diffrax Tsit5); data: u(t) observed for k* = 0.7; learn k through the solver
    ts = jnp.linspace(0.0, 3.0, 16)

    def mechanism(k, u0):
        term = diffrax.ODETerm(lambda t, u, k: -k * u)
        sol = diffrax.diffeqsolve(term, diffrax.Tsit5(), 0.0, 3.0, 0.05, u0, args=k,
                                  saveat=diffrax.SaveAt(ts=ts), stepsize_controller=diffrax.ConstantStepSize())
        return sol.ys

    u0 = jnp.asarray([1.0, 2.0, -0.5])
    target = u0[None, :] * jnp.exp(-0.7 * ts)[:, None]
    loss = refine(mechanism, mse)
    objective, opt = (lambda k, _: loss(k, (u0, target))), optax.sgd(0.5)
    # every fit below reuses one compiled step (same loss, optimiser, shapes and chunk length)
    run = lambda k0, steps: fit(objective, jnp.asarray(k0, jnp.float32), None, opt, steps=steps,  # noqa: E731
                                log_every=1, progress=False)
    # plain gradient descent (not Adam, which is blind to the gradient's scale) reaches k* in 40
    # steps only with a gradient through the solver of the right sign and about the right size
    res = run(0.1, 40)
    np.testing.assert_allclose(float(res.params), 0.7, atol=1e-3)
    # the gradient really flows through the solver: a step from k = 0.5 ± 1e-3 moves k by −0.5·dL/dk;
    # the mean of the two slopes against the central difference of the losses fit reports there
    kp, km = np.float32(0.501), np.float32(0.499)
    p, m = run(kp, 1), run(km, 1)
    g = ((float(kp) - float(p.params)) + (float(km) - float(m.params))) / (2 * 0.5)
    fd = (p.history[0]["loss"] - m.history[0]["loss"]) / (float(kp) - float(km))
    np.testing.assert_allclose(g, fd, rtol=1e-2)
    assert abs(g) > 0.1


def test_refine_regulariser_and_bad_batch():
    loss = refine(lambda w, x: w * x, regulariser=lambda w: 3.0 * w**2)
    np.testing.assert_allclose(loss(2.0, (1.0, 1.0)), (2.0 - 1.0) ** 2 + 12.0)
    with pytest.raises(ValueError, match="pair"):
        loss(2.0, 1.0)


def test_constrain_weights_terms_and_solves_constrained_fit():
    # least squares fit of a line to data, softly constrained to pass through (0, 1):
    # minimise Σ(a x + b − y)² / n + w (b − 1)²; as w → ∞, b → 1 exactly.
    x = jnp.linspace(-1, 1, 21)
    y = 2.0 * x + 0.5
    terms = {"data": lambda p, _: jnp.mean((p[0] * x + p[1] - y) ** 2), "anchor": lambda p, _: (p[1] - 1.0) ** 2}
    loss = constrain(terms, weights={"anchor": 1e3})
    total, aux = loss(jnp.asarray([2.0, 0.5]), None)
    np.testing.assert_allclose(aux["data"], 0.0, atol=1e-12)
    np.testing.assert_allclose(total, 1e3 * 0.25, rtol=1e-6)
    res = fit(loss, jnp.zeros(2), None, optax.adam(5e-2), steps=1500, has_aux=True, log_every=500, progress=False)
    # exact minimiser of the weighted problem: a = 2, b = (0.5 + 1000) / 1001
    np.testing.assert_allclose(res.params, [2.0, (0.5 + 1e3) / 1001], atol=2e-3)
    assert "anchor" in res.history[-1]
    with pytest.raises(ValueError, match="unknown terms"):
        constrain(terms, weights={"pde": 1.0})


def test_hard_constraint_holds_exactly_for_any_network():
    net = MLP(1, "scalar", 16, 2, key=jax.random.PRNGKey(0))
    # u(0) = 1, u(1) = 2: g(x) = 1 + x, d(x) = x (1 − x)
    u = HardConstraint(net, lambda x: 1.0 + x[0], lambda x: x[0] * (1.0 - x[0]))
    for k in range(3):
        net_k = MLP(1, "scalar", 16, 2, key=jax.random.PRNGKey(k))
        u_k = HardConstraint(net_k, u.particular, u.distance)
        assert float(u_k(jnp.asarray([0.0]))) == 1.0
        assert float(u_k(jnp.asarray([1.0]))) == 2.0
    assert jax.grad(lambda m: m(jnp.asarray([0.5])))(u).network is not None


def test_alternate_converges_to_intersection_with_stopping_rule():
    # alternating projections onto two lines through (2, 1): y = x/2 and y = −x + 3
    def project(p, d, a):
        d = d / jnp.linalg.norm(d)
        return a + jnp.dot(p - a, d) * d

    mech = lambda p, r: project(p, jnp.asarray([2.0, 1.0]), jnp.zeros(2))
    data = lambda p, r: project(p, jnp.asarray([1.0, -1.0]), jnp.asarray([0.0, 3.0]))
    res = alternate(mech, data, jnp.asarray([10.0, -4.0]), rounds=500,
                    until=lambda p: jnp.linalg.norm(p - mech(p, 0)) < 1e-5,
                    monitor=lambda p: {"x": float(p[0])})
    assert res.converged and res.rounds < 500
    np.testing.assert_allclose(res.state, [2.0, 1.0], atol=1e-4)
    assert len(res.history) == res.rounds and res.history[-1]["round"] == res.rounds
    # the same alternation as a pure step in the shared rollout gives the same iterate
    step = cycle(lambda p, _: mech(p, 0), lambda p, _: data(p, 0))
    jitted = rollout(step, jnp.asarray([10.0, -4.0]), res.rounds, inputs=jnp.zeros(res.rounds))
    np.testing.assert_allclose(jitted.final, res.state, atol=1e-5)
    with pytest.raises(ValueError, match="rounds"):
        alternate(mech, data, jnp.zeros(2), rounds=0)
