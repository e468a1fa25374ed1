import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhybrid.nn import MLP
from jaxhybrid.paradigms import HardConstraint
from jaxhybrid.pinn import (Box, Difference, Disk, Union, causal_weights, divergence, failure_informed, fit_gmm,
                            gaussian_mixture, gradient, laplacian, least_squares, partial, rad, rar,
                            sample_gmm, time_derivative, until_stalled)
from jaxhybrid.train import fit


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("method", ["forward", "jvp", "jet"])
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_laplacian_equals_trace_of_hessian(x64, method, dim):
    # the network is an argument: one compilation serves the three networks (same shapes)
    both = jax.jit(lambda n, x: (jax.vmap(laplacian(n, method))(x), jax.vmap(lambda y: jnp.trace(jax.hessian(n)(y)))(x)))
    for s in range(3):
        net = MLP(dim, "scalar", 16, 3, key=jax.random.PRNGKey(s))
        x = jax.random.normal(jax.random.PRNGKey(10 + s), (7, dim))
        ours, ref = both(net, x)
        np.testing.assert_allclose(ours, ref, rtol=1e-11, atol=1e-12)


def _hessian_trace(f):
    return lambda y: jnp.trace(jax.hessian(f)(y), axis1=-2, axis2=-1)


def test_forward_laplacian_on_general_functions(x64):
    """The forward Laplacian interprets any jaxpr: jitted calls, custom_jvp (softplus), custom_vjp,
    scan, products of x-dependent factors, vector outputs, affine and constant fields."""
    from jaxhybrid.nn import FourierFeatures

    @jax.custom_vjp
    def sin_vjp(z):
        return jnp.sin(z)

    sin_vjp.defvjp(lambda z: (jnp.sin(z), z), lambda z, g: (g * jnp.cos(z),))
    ff = FourierFeatures(3, 8, key=jax.random.PRNGKey(1))
    mlp = MLP(16, "scalar", widths=[8], activation=jax.nn.softplus, key=jax.random.PRNGKey(2))
    general = lambda x: (mlp(ff(x)) + jnp.linalg.norm(x) ** 3 + jnp.exp(x[0] * x[1]) / (1 + x[2] ** 2)
                         + sin_vjp(x[2] * x[0]) + jax.jit(jnp.cos)(x @ x)
                         + jax.lax.scan(lambda c, _: (jnp.tanh(1.1 * c + x), None), x, None, length=3)[0].sum())
    fields = {
        "general": general,
        "vector": lambda x: jnp.stack([jnp.sin(x).sum(), x[0] ** 2 * x[1], 3.0 * x[1] - 1.0, jnp.asarray(2.0)]),
        "affine": lambda x: 3.0 * x[0] - x[2] + 2.0,
        "constant": lambda x: jnp.asarray(1.5),
    }
    x = jax.random.uniform(jax.random.PRNGKey(5), (6, 3))
    for name, f in fields.items():
        ours, ref = jax.jit(lambda y: (jax.vmap(laplacian(f))(y), jax.vmap(_hessian_trace(f))(y)))(x)
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(jax.vmap(laplacian(fields["affine"]))(x), 0.0)


def test_forward_laplacian_parameter_gradient_and_cost(x64):
    """Training differentiates through the operator: the parameter gradient of a Laplacian loss
    equals the one through the exact Hessian trace. Cost: a dense layer takes d + 2 products
    (value, d gradient columns, one summed Laplacian), fewer than d nested JVPs."""
    net = MLP(3, "scalar", 16, 2, key=jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (9, 3))
    g1 = jax.jit(jax.grad(lambda n: jnp.sum(jax.vmap(laplacian(n))(x) ** 2)))(net)
    g2 = jax.jit(jax.grad(lambda n: jnp.sum(jax.vmap(_hessian_trace(n))(x) ** 2)))(net)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

    def n_dots(method):
        jaxpr = jax.make_jaxpr(laplacian(net, method))(x[0]).jaxpr
        return sum(e.primitive.name == "dot_general" for e in jaxpr.eqns)

    layers, d = len(net.layers), 3
    assert n_dots("forward") <= layers * (d + 2) < n_dots("jvp")
    with pytest.raises(ValueError):
        laplacian(net, "hessian")
    with pytest.raises(ValueError):
        laplacian(net)(x)  # a batch, not one point


def test_value_and_laplacian_shares_one_sweep(x64):
    """``value_and_laplacian`` returns the network value and the Laplacian of one sweep: both
    equal the separate evaluations, the parameter gradient of a loss using both (a PDE residual
    on all points plus a Dirichlet misfit on some of them) equals the one through the exact
    Hessian trace and a separate forward pass, and the sweep has no more products than the
    Laplacian alone."""
    from jaxhybrid.pinn.operators import value_and_laplacian

    net = MLP(2, "scalar", widths=[12, 12], key=jax.random.PRNGKey(7))
    x = jax.random.uniform(jax.random.PRNGKey(8), (11, 2))

    def shared(n):
        v, l = jax.vmap(value_and_laplacian(n))(x)
        return jnp.mean((l + 1.0) ** 2) + jnp.mean(v[:4] ** 2)

    def separate(n):
        return jnp.mean((jax.vmap(_hessian_trace(n))(x) + 1.0) ** 2) + jnp.mean(jax.vmap(n)(x[:4]) ** 2)

    # one compiled program for all the figures (the sweep, the separate evaluations, both gradients)
    figures = jax.jit(lambda n: (jax.vmap(value_and_laplacian(n))(x), jax.vmap(n)(x), jax.vmap(_hessian_trace(n))(x),
                                 jax.grad(shared)(n), jax.grad(separate)(n)))
    (v, lap), v_ref, lap_ref, g1, g2 = figures(net)
    np.testing.assert_allclose(v, v_ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(lap, lap_ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

    n_dots = lambda f: sum(e.primitive.name == "dot_general" for e in jax.make_jaxpr(f)(x[0]).jaxpr.eqns)
    assert n_dots(value_and_laplacian(net)) <= n_dots(laplacian(net)) + 1  # + the last layer's value
    with pytest.raises(ValueError):
        value_and_laplacian(net)(x)  # a batch, not one point
    with pytest.raises(ValueError):
        value_and_laplacian(3.0)


@pytest.mark.parametrize("act", ["tanh", "sin", "sigmoid"])  # cos, exp: in the general-function test
def test_forward_laplacian_closed_form_activations(x64, act):
    """Activations with closed-form derivative streams (tanh, sin, cos, logistic, exp): the
    Laplacian, its parameter gradient (through the rule's f''') and a parameter-space
    Hessian-vector product (a derivative of that rule) equal the ones through the Hessian trace."""
    f = {"tanh": jnp.tanh, "sin": jnp.sin, "cos": jnp.cos, "sigmoid": jax.nn.sigmoid, "exp": lambda z: jnp.exp(0.5 * z)}[act]
    net = MLP(3, "scalar", widths=[8, 8], activation=f, key=jax.random.PRNGKey(3))
    x = jax.random.normal(jax.random.PRNGKey(4), (5, 3))
    names = [e.primitive.name for e in jax.make_jaxpr(net)(x[0]).jaxpr.eqns]
    assert {"tanh": "tanh", "sin": "sin", "cos": "cos", "sigmoid": "logistic", "exp": "exp"}[act] in names
    loss = lambda n, op: jnp.sum(jax.vmap(op(n))(x) ** 2)
    ours, ref = (lambda n: loss(n, laplacian)), (lambda n: loss(n, _hessian_trace))
    v = jax.tree_util.tree_map(lambda p: jnp.ones_like(p) * 0.1, net)
    hvp = lambda L: jax.jvp(jax.grad(L), (net,), (v,))[1]
    figures = jax.jit(lambda n: [(jax.vmap(laplacian(n))(x), jax.grad(ours)(n), hvp(ours)),
                                 (jax.vmap(_hessian_trace(n))(x), jax.grad(ref)(n), hvp(ref))])
    (lap, g, h), (lap_ref, g_ref, h_ref) = figures(net)
    np.testing.assert_allclose(lap, lap_ref, rtol=1e-11, atol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(h), jax.tree_util.tree_leaves(h_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_gradient_divergence_partial_time_derivative(x64):
    u = lambda x: jnp.sin(x[0]) * x[1] ** 3 + jnp.exp(x[2])
    x = jnp.asarray([0.3, -0.7, 0.2])
    np.testing.assert_allclose(gradient(u)(x), jax.grad(u)(x), rtol=1e-13)
    # div ∇u = Δu
    np.testing.assert_allclose(divergence(gradient(u))(x), laplacian(u)(x), rtol=1e-12)
    np.testing.assert_allclose(partial(u, 1, 2)(x), 6 * jnp.sin(x[0]) * x[1], rtol=1e-12)
    np.testing.assert_allclose(time_derivative(u)(x), jnp.exp(x[2]), rtol=1e-13)
    # divergence of a linear field A x is trace(A)
    A = jax.random.normal(jax.random.PRNGKey(0), (3, 3))
    np.testing.assert_allclose(divergence(lambda y: A @ y)(x), jnp.trace(A), rtol=1e-12)


def test_hard_constraint_holds_exactly_on_boundary(x64):
    box = Box([0.0, 0.0], [1.0, 2.0])
    g = lambda x: jnp.sin(x[0]) + x[1] ** 2
    d = lambda x: x[0] * (1 - x[0]) * x[1] * (2 - x[1])
    for s in range(3):
        u = HardConstraint(MLP(2, "scalar", 16, 2, key=jax.random.PRNGKey(s)), particular=g, distance=d)
        xb = box.sample_boundary(jax.random.PRNGKey(s), 200)
        assert jnp.max(jnp.abs(box.sdf(xb))) < 1e-14
        assert jnp.max(jnp.abs(jax.vmap(u)(xb) - jax.vmap(g)(xb))) == 0.0
        xi = box.sample_interior(jax.random.PRNGKey(s), 50)
        assert jnp.min(jnp.abs(jax.vmap(u)(xi) - jax.vmap(g)(xi))) > 0  # the network does act inside


def test_rar_adds_points_where_residual_is_largest():
    pts = jnp.zeros((5, 2))
    cand = jax.random.uniform(jax.random.PRNGKey(0), (500, 2))
    res = lambda x: jnp.exp(-50 * jnp.sum((x - 0.7) ** 2, -1))  # peak at (0.7, 0.7)
    new = rar(pts, cand, res, 10)
    assert new.shape == (15, 2)
    np.testing.assert_array_equal(new[:5], pts)
    r = res(cand)
    thresh = jnp.sort(r)[-10]
    assert jnp.all(res(new[5:]) >= thresh)
    assert jnp.all(jnp.linalg.norm(new[5:] - 0.7, axis=-1) < jnp.linalg.norm(cand - 0.7, axis=-1).max())
    with pytest.raises(ValueError):
        rar(pts, cand, res, 0)


def test_csg_sampling_and_measures():
    a, b = Box([0.0, 0.0], [1.0, 1.0]), Disk([0.5, 0.5], 0.25)
    diff, uni = a - b, Union(a, Disk([1.0, 0.5], 0.5))
    assert isinstance(diff, Difference)
    # the samplers run under jit (static shapes): one compilation each instead of op-by-op dispatch
    sample = lambda f, key, n: jax.jit(f, static_argnums=1)(jax.random.PRNGKey(key), n)  # noqa: E731
    p = sample(diff.sample_interior, 0, 4000)
    assert bool(jnp.all(diff.contains(p))) and bool(jnp.all(a.contains(p)))
    assert np.isclose(diff.volume, 1 - np.pi / 16, atol=0.02)
    assert np.isclose(uni.volume, 1 + np.pi / 8, atol=0.02)
    # uniform boundary: share of points on the hole = its perimeter share
    pb = sample(diff.sample_boundary, 1, 4000)
    assert float(jnp.max(jnp.abs(diff.sdf(pb)))) < 1e-6
    on_hole = float(jnp.mean(jnp.abs(b.sdf(pb)) < 1e-6))
    assert abs(on_hole - (np.pi / 2) / (4 + np.pi / 2)) < 0.03
    pu = sample(uni.sample_boundary, 2, 2000)
    assert float(jnp.max(jnp.abs(uni.sdf(pu)))) < 1e-6
    # interior sampling of a disk is uniform: mean radius² = r²/2
    q = sample(b.sample_interior, 3, 20000)
    assert abs(float(jnp.mean(jnp.sum((q - 0.5) ** 2, -1))) - 0.25**2 / 2) < 1e-3
    with pytest.raises(ValueError):
        Box([0.0], [0.0])


def _peak_residual(x):
    return jnp.exp(-200 * jnp.sum((x - jnp.asarray([0.3, 0.6])) ** 2, -1))


def test_adaptive_samplers_concentrate_on_the_residual_peak():
    box = Box([0.0, 0.0], [1.0, 1.0])
    near = lambda p: float(jnp.mean(jnp.linalg.norm(p - jnp.asarray([0.3, 0.6]), axis=-1) < 0.15))
    base = np.pi * 0.15**2  # uniform share of the 0.15-disk
    # each sampler compiled once (jit) rather than dispatched op by op
    cand = jax.jit(lambda k: box.sample_interior(k, 4000))(jax.random.PRNGKey(0))
    r = jax.jit(lambda k, c: rad(k, c, _peak_residual, 500, k=2, c=0.0))(jax.random.PRNGKey(1), cand)
    assert near(r) > 5 * base
    fi = jax.jit(lambda k: failure_informed(k, box, _peak_residual, 300, eps=0.5))(jax.random.PRNGKey(2))
    assert int(fi.n_valid) == 300 and bool(jnp.all(_peak_residual(fi.points) > 0.5))
    assert abs(float(fi.p_fail) - np.pi * np.log(2) / 200) < 0.01  # area of {r > 1/2}
    g = jax.jit(lambda k: gaussian_mixture(k, box, _peak_residual, 500, n_components=4, uniform_frac=0.2))(jax.random.PRNGKey(3))
    assert g.shape == (500, 2) and bool(jnp.all(box.contains(g)))
    assert near(g) > 0.5


def test_weighted_gmm_recovers_a_gaussian(x64):
    key = jax.random.PRNGKey(0)
    x = jnp.asarray([1.0, -2.0]) + jax.random.normal(key, (4000, 2)) @ jnp.asarray([[0.5, 0.0], [0.2, 0.3]])
    gmm = fit_gmm(jax.random.PRNGKey(1), x, jnp.ones(4000), 1)
    np.testing.assert_allclose(gmm.means[0], jnp.mean(x, 0), atol=1e-8)
    np.testing.assert_allclose(gmm.covs[0], jnp.cov(x.T, bias=True) + 1e-4 * jnp.eye(2), atol=1e-8)
    s = sample_gmm(jax.random.PRNGKey(2), gmm, 20000)
    np.testing.assert_allclose(jnp.mean(s, 0), gmm.means[0], atol=0.02)


def test_causal_weights():
    w = causal_weights(jnp.asarray([1.0, 2.0, 3.0]), 0.5)
    np.testing.assert_allclose(w, jnp.exp(-0.5 * jnp.asarray([0.0, 1.0, 3.0])), rtol=1e-6)


def test_lbfgs_least_squares_fit_converges(x64):
    # linear least squares through `least_squares` (constrain): L-BFGS reaches the normal-equation solution
    A = jax.random.normal(jax.random.PRNGKey(0), (50, 5))
    y = jax.random.normal(jax.random.PRNGKey(1), (50,))
    loss = least_squares({"fit": lambda p, b: b["A"] @ p["w"] - b["y"]})
    res = fit(lambda p, _: loss(p, {"A": A, "y": y})[0], {"w": jnp.zeros(5)}, None, optax.lbfgs(memory_size=50), steps=100,
              log_every=20, progress=False, until=until_stalled())
    np.testing.assert_allclose(res.params["w"], jnp.linalg.lstsq(A, y)[0], atol=1e-8)
    assert res.params["w"].dtype == jnp.float64
    assert res.step < 100  # converged: the loss stalled for a chunk and `until_stalled` stopped the run


def test_until_stalled_stops_after_the_first_chunk_without_a_new_best():
    until = until_stalled()
    losses = [3.0, 2.0, 2.5, 1.0]
    stops = [until(20 * (i + 1), None, {"loss": v}) for i, v in enumerate(losses)]
    assert stops == [False, False, True, False]
    fresh = until_stalled()  # one per fit call: a new one remembers nothing
    assert not fresh(20, None, {"loss": 5.0}) and fresh(40, None, {"loss": 5.0})


def test_dominant_frequency_and_multistage_sum():
    from jaxhybrid.pinn import MultiStage, SinMLP, dominant_frequency

    x = np.arange(128) / 128
    assert dominant_frequency(np.sin(2 * np.pi * 5 * x) + 0.3 * np.sin(2 * np.pi * 2 * x) + 7.0, 1 / 128) == 5.0
    grid = np.sin(2 * np.pi * 3 * x)[None, :] * np.ones((4, 1))  # varies along axis 1 only
    assert dominant_frequency(grid, 1 / 128) == 3.0
    n1, n2 = SinMLP(1, "scalar", 8, 2, key=jax.random.PRNGKey(0)), SinMLP(1, "scalar", 8, 2, kappa=9.0, key=jax.random.PRNGKey(1))
    m = MultiStage([n1], [1.0]).add(n2, 1e-3)
    z = jnp.asarray([0.37])
    np.testing.assert_allclose(m(z), n1(z) + 1e-3 * n2(z), rtol=1e-6)


def test_adam_and_lbfgs_through_fit_stop_on_nan_keeping_last_good_state():
    from jaxhybrid.rollout import DivergenceError

    loss = lambda p, _: jnp.where(p["w"] > 2.0, jnp.nan, (p["w"] - 5.0) ** 2)
    # parameters that are not weakly typed: every chunk shares the first one's compilation
    w = lambda v: {"w": jnp.asarray(v, jnp.float32)}  # noqa: E731
    with pytest.raises(DivergenceError) as e:
        fit(loss, w(0.0), None, optax.sgd(0.1), steps=100, log_every=50, progress=False)
    assert e.value.step > 1 and float(e.value.state["w"]) <= 2.0  # the last parameters with a finite loss
    # L-BFGS's zoom line search rejects NaN trials (it converges onto w = 2); a NaN at the start stops it
    lbfgs = optax.lbfgs(memory_size=5)
    res = fit(loss, w(0.0), None, lbfgs, steps=40, log_every=20, progress=False)
    assert np.isfinite(res.history[-1]["loss"]) and float(res.params["w"]) <= 2.0
    with pytest.raises(DivergenceError) as e:
        fit(loss, w(3.0), None, lbfgs, steps=40, log_every=20, progress=False)
    assert e.value.step == 1 and float(e.value.state["w"]) == 3.0


def test_adaptive_fit_keeps_the_point_budget_per_strategy():
    from jaxhybrid.pinn import adaptive_fit

    dom = Box([-1.0, -1.0], [1.0, 1.0])
    make = lambda k: HardConstraint(MLP(2, 1, 8, 1, key=k), lambda x: 0.0, lambda x: 1 - x[0] ** 2)  # noqa: E731
    res = lambda net: jax.vmap(lambda x: net(x)[0] - jnp.exp(-10 * (x[0] - 0.5) ** 2))  # noqa: E731
    loss = lambda net, p: jnp.mean(res(net)(p) ** 2)  # noqa: E731
    kw = dict(n_points=40, adam_steps=5, components=2, candidates=200, progress=False)
    # Only rar accumulates points over the rounds (two rounds check its budget arithmetic); uniform
    # and adaptive hold n points in every round, one round shows it. The final L-BFGS stage trains
    # the network on the final points and leaves them alone; it is one compilation per call, so
    # it runs for "uniform" only (whose trained loss is checked below).
    per = {"uniform": dict(rounds=1, lbfgs_steps=5), "rar": dict(rounds=2, lbfgs_steps=0),
           "adaptive": dict(rounds=1, lbfgs_steps=0)}
    out = {s: adaptive_fit(loss, res, make, dom, jax.random.PRNGKey(0), strategy=s, **per[s], **kw) for s in per}
    assert all(p.shape == (40, 2) for _, p in out.values())
    # uniform keeps its first draw; rar keeps its 20 first points and adds 2 × 10 from the candidates
    k_net, k_pts, _ = jax.random.split(jax.random.PRNGKey(0), 3)
    first = dom.sample_interior(k_pts, 40)
    np.testing.assert_array_equal(out["uniform"][1], first)
    np.testing.assert_array_equal(out["rar"][1][:20], dom.sample_interior(k_pts, 20))
    assert not np.array_equal(np.asarray(out["adaptive"][1]), np.asarray(first))
    assert float(loss(*out["uniform"])) < float(loss(make(k_net), first))
    with pytest.raises(ValueError, match="strategy"):
        adaptive_fit(loss, res, make, dom, jax.random.PRNGKey(0), strategy="rad", rounds=1, lbfgs_steps=0, **kw)
