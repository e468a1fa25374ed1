"""jaxhybrid.metrics.rmse: the root-mean-square error, exact on known cases, traceable, validated."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.metrics import rmse


def test_rmse_is_the_root_mean_square_of_the_difference():
    assert float(rmse([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 0.0])) == pytest.approx(2.0)  # √(16/4)
    a = np.random.default_rng(0).standard_normal((5, 7))
    assert float(rmse(a + 0.25, a)) == pytest.approx(0.25, rel=1e-6)  # a constant offset
    assert float(jax.jit(rmse)(jnp.ones(3), jnp.zeros(3))) == 1.0  # traceable
    g = jax.grad(lambda p: rmse(p, jnp.zeros(2)))(jnp.asarray([3.0, 4.0]))
    np.testing.assert_allclose(g, np.asarray([3.0, 4.0]) / (2 * np.sqrt(12.5)), rtol=1e-6)
    with pytest.raises(ValueError, match="shapes differ"):
        rmse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        rmse(np.zeros(0), np.zeros(0))
