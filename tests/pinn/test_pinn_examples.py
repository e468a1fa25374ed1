import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.examples import pinn_poisson_source as ps


def test_manufactured_source_matches_closed_form():
    with jax.enable_x64(True):
        x = jax.random.uniform(jax.random.PRNGKey(0), (20, 2), jnp.float64)
        s1 = jnp.sin(jnp.pi * x[:, 0]) * jnp.sin(jnp.pi * x[:, 1])
        s2 = jnp.sin(2 * jnp.pi * x[:, 0]) * jnp.sin(2 * jnp.pi * x[:, 1])
        np.testing.assert_allclose(jax.vmap(ps.f_true)(x), 2 * jnp.pi**2 * (s1 + 0.8 * s2), rtol=1e-12)
        # the hard-BC field vanishes on the boundary for any weights
        f = ps.make_fields(jax.random.PRNGKey(1), 8, 2)
        xb = ps.DOMAIN.sample_boundary(jax.random.PRNGKey(2), 50)
        assert float(jnp.max(jnp.abs(jax.vmap(f.u)(xb)))) < 1e-15


@pytest.mark.slow
def test_quick_run_pinn_poisson_source(tmp_path):
    rec = ps.run(quick=True, seed=0, out=tmp_path)
    m, b = rec["metrics"], rec["baselines"]
    assert (tmp_path / "pinn-poisson-source.png").exists()
    assert set(b) == {"mechanism_only", "data_only"}
    for k in ("u_rel_l2", "f_rel_l2", "f_rel_l2_noisy"):
        assert np.isfinite(m[k]) and k in b["mechanism_only"] and k in b["data_only"]
    assert m["u_rel_l2"] < 0.05 and m["f_rel_l2"] < 0.5


def test_multistage_targets_and_boundary_lift():
    from jaxhybrid.examples import pinn_multistage as ms

    with jax.enable_x64(True):
        x = jnp.linspace(-1.0, 1.0, 7)
        d2 = jax.vmap(jax.grad(jax.grad(ms.u_true)))(x)
        np.testing.assert_allclose(jax.vmap(ms.f_true)(x), -d2, rtol=1e-12)
        for b in (-1.0, 1.0):  # the lift g carries the exact boundary values
            np.testing.assert_allclose(ms._g(jnp.asarray([b])), ms.u_true(b), rtol=1e-14)


@pytest.mark.slow
def test_quick_run_multistage_improves_on_single_stage(tmp_path):
    from jaxhybrid.examples import pinn_multistage as ms

    rec = ms.run(quick=True, seed=0, out=tmp_path)
    m, b = rec["metrics"], rec["baselines"]["single_stage"]
    assert (tmp_path / "pinn-multistage.png").exists()
    assert m["regression_rel_l2"] < b["regression_rel_l2"] / 10
    assert m["pinn_rel_l2"] < b["pinn_rel_l2"]
