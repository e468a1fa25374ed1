import equinox as eqx
import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxhybrid.nn import MLP, FourierFeatures, from_flax, pure


def test_mlp_shapes_and_scalar_io():
    k = jax.random.PRNGKey(0)
    assert MLP(3, 2, 8, 2, key=k)(jnp.ones(3)).shape == (2,)
    assert MLP("scalar", "scalar", 8, 1, key=k)(jnp.asarray(0.5)).shape == ()
    with pytest.raises(ValueError):
        MLP(3, 2, 0, 2, key=k)


def test_fourier_features_are_fixed_and_periodic():
    ff = FourierFeatures(2, 16, sigma=1.0, key=jax.random.PRNGKey(0))
    x = jnp.asarray([0.2, -0.4])
    z = ff(x)
    assert z.shape == (32,)
    np.testing.assert_allclose(z[:16] ** 2 + z[16:] ** 2, 1.0, rtol=1e-5)
    g = jax.grad(lambda m: jnp.sum(m(x)))(ff)
    assert float(jnp.abs(g.B).max()) == 0.0  # B is not trained


class LinenNet(linen.Module):
    @linen.compact
    def __call__(self, x):
        return linen.Dense(1)(jnp.tanh(linen.Dense(16)(x)))[0]


class NNXNet(nnx.Module):
    def __init__(self, rngs):
        self.l1, self.l2 = nnx.Linear(3, 16, rngs=rngs), nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(jnp.tanh(self.l1(x)))[0]


@pytest.fixture(params=["linen", "nnx"])
def flax_model(request):
    if request.param == "linen":
        return from_flax(LinenNet(), jnp.ones(3), key=jax.random.PRNGKey(1)), None
    net = NNXNet(nnx.Rngs(1))
    return from_flax(net), net


def test_flax_adapter_jit_vmap_grad(flax_model):
    model, original = flax_model
    xs = jax.random.normal(jax.random.PRNGKey(2), (5, 3))
    eager = jnp.stack([model(x) for x in xs])
    np.testing.assert_allclose(eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(model, xs), eager, rtol=1e-6)
    if original is not None:
        np.testing.assert_allclose(eager, jnp.stack([original(x) for x in xs]), rtol=1e-6)

    # gradient with respect to parameters, checked against a finite difference along a direction
    loss = lambda m: jnp.sum(jax.vmap(m)(xs) ** 2)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    g = jax.grad(lambda p: loss(eqx.combine(p, static)))(params)
    d = jax.tree_util.tree_map(lambda a: jax.random.normal(jax.random.PRNGKey(3), a.shape), params)
    eps = 1e-3
    shift = lambda s: eqx.combine(jax.tree_util.tree_map(lambda a, b: a + s * b, params, d), static)
    fd = (loss(shift(eps)) - loss(shift(-eps))) / (2 * eps)
    an = sum(jnp.vdot(a, b) for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(d)))
    np.testing.assert_allclose(an, fd, rtol=2e-2)

    # the pure (apply, params) view agrees, and works with vmap over parameter ensembles
    apply, p = pure(model)
    np.testing.assert_allclose(apply(p, xs[0]), model(xs[0]), rtol=1e-6)
    stacked = jax.tree_util.tree_map(lambda a: jnp.stack([a, 2 * a]), p)
    out = jax.vmap(lambda q: apply(q, xs[0]))(stacked)
    assert out.shape == (2,)


def test_flax_adapter_trains_with_fit():
    from jaxhybrid.train import fit
    import optax

    model = from_flax(LinenNet(), jnp.ones(3), key=jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (64, 3))
    y = jnp.sin(x[:, 0]) + 0.5 * x[:, 1]
    loss = lambda m, b: jnp.mean((jax.vmap(m)(b[0]) - b[1]) ** 2)
    before = float(loss(model, (x, y)))
    res = fit(loss, model, (x, y), optax.adam(1e-2), steps=300, log_every=100, progress=False)
    assert float(loss(res.params, (x, y))) < 0.1 * before


def test_from_flax_rejects_other_objects():
    with pytest.raises(TypeError, match="flax"):
        from_flax(lambda x: x)
    with pytest.raises(ValueError, match="variables"):
        from_flax(LinenNet())
