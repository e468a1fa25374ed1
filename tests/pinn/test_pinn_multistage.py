import jax
import jax.numpy as jnp
import numpy as np
import pytest


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_multistage_targets_and_boundary_lift():
    from jaxhybrid.examples import pinn_multistage as ms

    with jax.enable_x64(True):
        x = jnp.linspace(-1.0, 1.0, 7)
        d2 = jax.vmap(jax.grad(jax.grad(ms.u_true)))(x)
        np.testing.assert_allclose(jax.vmap(ms.f_true)(x), -d2, rtol=1e-12)
        for b in (-1.0, 1.0):  # the lift g carries the exact boundary values
            np.testing.assert_allclose(ms.lift(jnp.asarray([b])), ms.u_true(b), rtol=1e-14)


@pytest.mark.example
def test_quick_run_multistage_improves_on_single_stage(quick_record):
    rec = quick_record("pinn-multistage")
    m, b = rec["metrics"], rec["baselines"]["single_stage"]
    assert m["regression_rel_l2"] < b["regression_rel_l2"] / 3  # quick: 9.2e-7 -> 1.7e-7 (full: 3.5e-7 -> 8.5e-13)
    assert m["pinn_rel_l2"] < b["pinn_rel_l2"] / 100  # quick: 1.0e-9 -> 2.2e-14 (full: 7.4e-10 -> 2.0e-16)
    # resolved, not interpolating: the error between the samples is that on them
    st = rec["stage_errors"]
    assert st["regression"][-1] < 3 * st["regression_train"][-1]


def test_multistage_regression_rejects_a_stage_that_does_not_help(x64):
    from jaxhybrid.pinn import regression_stages

    x = jnp.linspace(-1.0, 1.0, 41)[:, None]
    xt = jnp.linspace(-1.0, 1.0, 83)[:, None]
    target = lambda z: jnp.sin(2 * z[0] + 1) + 0.2 * jnp.exp(1.3 * z[0])  # the example's u* (Wang & Lai 2024)
    # an untrained second stage (0 iterations) adds ε·(random network) and raises the error: not kept
    model, errs, train, diag = regression_stages(target, jax.random.PRNGKey(0), [x, x], xt, (6, 6), (2, 2), (20, 0),
                                                 progress=False)
    assert len(model.stages) == 1 and errs[1] == errs[0] and train[1] == train[0]
    assert diag[0]["kept"] and not diag[1]["kept"]
    assert train[0] < 1e-2


def test_stage_loops_reject_mismatched_or_non_1d_grids(x64):
    from jaxhybrid.pinn import pinn_stages, regression_stages

    x = jnp.linspace(-1.0, 1.0, 11)[:, None]
    with pytest.raises(ValueError, match="per stage"):
        regression_stages(lambda z: z[0], jax.random.PRNGKey(0), [x, x], x, (4,), (1,), (1,))
    with pytest.raises(ValueError, match="1D grid"):
        pinn_stages(None, None, None, None, None, jax.random.PRNGKey(0), [jnp.zeros((11, 2))], x, (4,), (1,), (1,))
