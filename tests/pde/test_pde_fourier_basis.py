"""pde.fourier_basis: the real trigonometric basis is orthogonal on the periodic grid and its rows
are the modes it names."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import pde


def test_fourier_basis_rows_are_orthogonal_modes():
    (x,) = pde.Grid(32).coords()
    B, k = pde.fourier_basis(3, x)
    assert B.shape == (7, 32) and k.tolist() == [0, 1, 1, 2, 2, 3, 3]
    np.testing.assert_allclose(B @ B.T, 32 * np.diag([1.0] + [0.5] * 6), atol=1e-4)
    np.testing.assert_allclose(B[3], jnp.cos(2 * x), atol=1e-6)
    np.testing.assert_allclose(B[6], jnp.sin(3 * x), atol=1e-6)
    # Σ k² c² is the H¹ seminorm up to the grid factor: ‖u_x‖² = N/2 Σ k² c² for u = c @ B (no constant part)
    c = jnp.asarray([0.0, 0.3, -0.2, 0.5, 0.1, -0.4, 0.25])
    u_x = jnp.fft.irfft(1j * jnp.fft.rfftfreq(32, 1 / 32) * jnp.fft.rfft(c @ B), 32)
    np.testing.assert_allclose(jnp.sum(u_x**2), 16 * jnp.sum(k**2 * c**2), rtol=1e-4)
    with pytest.raises(ValueError, match="kmax"):
        pde.fourier_basis(-1, x)
    with pytest.raises(ValueError, match="1-D"):
        pde.fourier_basis(2, jnp.zeros((4, 4)))
