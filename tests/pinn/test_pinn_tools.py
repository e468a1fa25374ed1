"""jaxhybrid.pinn: poisson_residual, fit_source and lm_regression (equal to the steps they bundle),
and show_fields (field maps on a box)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.paradigms import HardConstraint
from jaxhybrid.pinn import (Box, Chebyshev2D, SinMLP, SourceFields, fit_source, holdout, lm_regression,
                            poisson_residual, show_fields, source_terms)

BOX = Box([0.0, 0.0], [1.0, 1.0])


def _u(x):  # u = sin πx sin πy, −Δu = 2π² u
    return jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])


def _fields(key):  # a small hard-BC network and a degree-2 Chebyshev source, float64
    net = HardConstraint(SinMLP(2, "scalar", 4, 1, key=key), lambda x: jnp.zeros((), x.dtype),
                         lambda x: x[0] * (1 - x[0]) * x[1] * (1 - x[1]))
    net = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if isinstance(a, jax.Array) else a, net)
    return SourceFields(net, Chebyshev2D.zeros(2, 1.0, jnp.float64))


def test_poisson_residual_vanishes_at_the_solution_only():
    with jax.enable_x64(True):
        x = jax.random.uniform(jax.random.PRNGKey(0), (16, 2), jnp.float64)
        f = lambda z: 2 * jnp.pi**2 * _u(z)
        r = jax.vmap(poisson_residual(_u, f, 2 * jnp.pi**2))(x)
        assert float(jnp.max(jnp.abs(r))) < 1e-12
        wrong = jax.vmap(poisson_residual(_u, lambda z: 0.5 * f(z), 2.0))(x)  # (Δu + f/2)/2 = −π²u/2
        np.testing.assert_allclose(wrong, -np.pi**2 * jax.vmap(_u)(x) / 2, rtol=1e-10)
    with pytest.raises(ValueError, match="scale"):
        poisson_residual(_u, f, 0.0)


def _rows(terms, params):
    """Every residual row of ``terms`` at ``params``, by term name."""
    return {k: np.asarray(jax.vmap(lambda row: r(params, row))(rows)) for k, (r, rows) in terms.items()}


def test_fit_source_and_lm_regression_are_the_steps_they_bundle(monkeypatch):
    """Same keys, same collocation points, hold-out split, rows and start as the steps written out."""
    import jaxhybrid.pinn.optim as optim
    import jaxhybrid.pinn.source as source

    calls = []
    fake = lambda terms, params, steps, **kw: calls.append((terms, params, steps, kw)) or (params, None)
    with jax.enable_x64(True):
        key, k_obs = jax.random.split(jax.random.PRNGKey(1))
        x = BOX.sample_interior(k_obs, 20)
        y = jax.vmap(_u)(x)
        with monkeypatch.context() as m:
            m.setattr(source, "lm_fit", fake)
            m.setattr(optim, "lm_fit", fake)
            fit_source(_fields, BOX, x, y, key, n_col=12, steps=3, holdout_frac=0.2, data_weight=4.0, f_scale=2.0)
            make = lambda k: _fields(k).u
            lm_regression(make, x, y, key, steps=3, holdout_frac=0.2)
        (terms, params, steps, kw), (terms_r, params_r, steps_r, kw_r) = calls
        kc, kn, kh = jax.random.split(key, 3)
        trn, val_fn = holdout(kh, x, y, 0.2, lambda p: p.u)
        ref = source_terms(x[trn], y[trn], BOX.sample_interior(kc, 12), 4.0, 2.0)
        start = _fields(kn)
        assert steps == 3 and len(trn) == 16 and float(kw["val_fn"](params)) == float(val_fn(start))
        for k, v in _rows(ref, start).items():
            np.testing.assert_array_equal(_rows(terms, params)[k], v)
        kn, kh = jax.random.split(key)
        trn, val_fn = holdout(kh, x, y, 0.2, lambda p: p)
        ref_r = {"data": (lambda p, row: p(row[0]) - row[1], (x[trn], y[trn]))}
        assert steps_r == 3 and float(kw_r["val_fn"](params_r)) == float(val_fn(make(kn)))
        np.testing.assert_array_equal(_rows(terms_r, params_r)["data"], _rows(ref_r, make(kn))["data"])
        # one real run through lm_fit: (fields, FitResult)
        fields, res = fit_source(_fields, BOX, x, y, key, n_col=12, steps=2, data_weight=4.0, f_scale=2.0)
        assert int(res.step) == 2 and isinstance(fields, SourceFields) and np.isfinite(float(res.opt_state.loss))
    with pytest.raises(ValueError, match="points but"):
        lm_regression(make, x, y[:5], key, steps=1)
    with pytest.raises(ValueError, match="n_col"):
        fit_source(_fields, BOX, x, y, key, n_col=0, steps=1)


def test_show_fields_draws_each_field_over_the_box():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    box = Box([-1.0, 0.0], [1.0, 2.0])
    p = np.asarray(box.grid(5))
    fig, ax = plt.subplots(1, 3)
    pts = np.asarray([[0.0, 1.0], [0.5, 0.5]])
    show_fields(fig, ax, [(p[:, 0], "x"), (p[:, 1].reshape(5, 5), "y"), (p[:, 0] * 0, "zero", pts)], box, 5)
    img = ax[0].get_images()[0]
    assert img.get_extent() == [-1.0, 1.0, 0.0, 2.0] and ax[1].get_title() == "y"
    # x to the right: along a row of the drawn array x grows; y grows along the columns
    assert np.all(np.diff(img.get_array()[0]) > 0) and np.all(np.diff(ax[1].get_images()[0].get_array()[:, 0]) > 0)
    assert len(ax[2].lines) == 1 and len(fig.axes) == 6  # three colour bars
    with pytest.raises(ValueError, match="not 5"):
        show_fields(fig, ax, [(np.zeros(7), "bad")], box, 5)
    with pytest.raises(ValueError, match="panels"):
        show_fields(fig, ax[:1], [(p[:, 0], "a"), (p[:, 0], "b")], box, 5)
    plt.close(fig)
