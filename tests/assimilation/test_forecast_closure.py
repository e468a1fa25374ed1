import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import assimilation as da
from jaxhybrid.examples import forecast_closure as ex


def test_diagnosed_subgrid_tendency_closes_the_slow_equation(x64):
    # Ẋ of the two-scale system = coarse L96 right-hand side + the diagnosed U
    s = jax.random.normal(jax.random.PRNGKey(0), (ex.K + ex.K * ex.J,)) * 3.0
    full = da.two_scale_l96_rhs(s, ex.K, ex.J, ex.F, ex.H, ex.B, ex.C)[: ex.K]
    X, Y = s[: ex.K], s[ex.K:]
    U = -(ex.H * ex.C / ex.B) * Y.reshape(ex.K, ex.J).sum(-1)
    np.testing.assert_allclose(full, da.lorenz96_rhs(X, ex.F) + U, rtol=1e-12, atol=1e-12)


def test_stencil_and_network_closure_are_translation_equivariant():
    x = jnp.arange(8.0)
    st = ex.stencil(x)
    np.testing.assert_allclose(st[0], [6, 7, 0, 1, 2])
    net = ex.NetClosure(ex.MLP(5, 1, width=8, depth=1, key=jax.random.PRNGKey(0)))
    np.testing.assert_allclose(net(jnp.roll(x, 3)), jnp.roll(net(x), 3), rtol=1e-5, atol=1e-6)


def test_truth_run_sampling_and_coarse_model_without_closure():
    X, U = ex.truth_run(jax.random.PRNGKey(1), 20, spinup=0.5)
    assert X.shape == (20, ex.K) and U.shape == (20, ex.K) and bool(jnp.all(jnp.isfinite(X)))
    x = X[0]
    np.testing.assert_allclose(ex.coarse_step(lambda z: 0.0 * z)(x), da.lorenz96(ex.DT, ex.F)(x), rtol=1e-5)
