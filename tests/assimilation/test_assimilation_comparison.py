"""Filter comparisons on a twin experiment (equal to the separate calls they replace), baselines,
the arctan inversion, closure and MOS fitting (exact on known cases, equal to the inline fits they
replace) and the figure panels."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhybrid import assimilation as da
from jaxhybrid.nn import MLP
from jaxhybrid.paradigms import mse, refine
from jaxhybrid.rollout import rollout
from jaxhybrid.train import fit


@pytest.fixture(scope="module")
def l96():
    hmm = da.HMM(da.lorenz96(0.05), 1, da.full(8, 1.0), 8.0 * jnp.ones(8).at[0].add(0.5), 1.0)
    filters = {"etkf": da.etkf(hmm.forecast, hmm.obs, 8, 1.05), "enkf": da.enkf(hmm.forecast, hmm.obs, 8, 1.05)}
    return hmm, filters


def test_twin_comparison_equals_twin_run_filter_and_free_run(l96):
    hmm, filters = l96
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    c = da.twin_comparison(hmm, filters, *keys, 30, 10, 0.1, keep_ensemble=("etkf",), verbose=False,
                           climatology=jnp.zeros(8))
    tw = da.twin(hmm, keys[0], keys[1], 30, 0.1)
    np.testing.assert_array_equal(c.twin.truth, tw.truth)
    for name, f in filters.items():
        sc, series, r = da.run_filter(f, tw.x_init, 0.1, tw.obs, tw.truth, jax.random.fold_in(keys[1], 1), keys[2], 10,
                                      keep_ensemble=name == "etkf")
        assert {k: v for k, v in sc.items() if k != "wall_s"} == {k: v for k, v in c.scores[name].items()
                                                                  if k != "wall_s"}
        np.testing.assert_array_equal(c.series[name], series)
    assert c.results["etkf"].ensemble is not None and c.results["enkf"].ensemble is None
    free = da.free_run(hmm, tw.x_init, keys[2], 30)
    assert c.baselines == {"mechanism_only": float(da.rmse(free, tw.truth, 10)),
                           "data_only": float(da.rmse(tw.obs, tw.truth, 10)),
                           "climatology": float(da.rmse(jnp.zeros_like(tw.truth), tw.truth, 10))}
    with pytest.raises(ValueError, match="name no filter"):
        da.compare_filters(filters, tw, 0.1, keys[1], keys[2], 10, keep_ensemble=("letkf",))
    with pytest.raises(ValueError, match="burn_in"):
        da.twin_baselines(hmm, tw, keys[2], 30)


def test_invert_arctan_inverts_within_the_bounds_and_clips_outside():
    x = jnp.array([-3.0, 0.0, 0.5, 4.0])
    np.testing.assert_allclose(da.invert_arctan(jnp.arctan(x), (-10.0, 15.0)), x, rtol=1e-5, atol=1e-6)
    y = jnp.array([2.0, -2.0])  # beyond ±π/2 (noise): the largest finite value, then the bounds
    np.testing.assert_array_equal(da.invert_arctan(y, (-10.0, 15.0)), [15.0, -10.0])
    with pytest.raises(ValueError, match="bounds"):
        da.invert_arctan(y, (1.0, 1.0))


def test_poly_closure_fit_is_exact_on_a_polynomial_and_persistence_on_a_constant_run():
    X = jnp.linspace(-2.0, 2.0, 40).reshape(10, 4)
    U = 0.5 * X**2 - X + 0.25
    np.testing.assert_allclose(da.fit_poly_closure(X, U, 2)(X), U, atol=1e-5)
    with pytest.raises(ValueError, match="one shape"):
        da.fit_poly_closure(X, U[:5], 2)
    x0 = np.ones((3, 4))
    ref = np.ones((3, 2, 4)) + np.array([0.0, 2.0])[None, :, None]
    np.testing.assert_allclose(da.persistence_lead_rmse(x0, ref), [0.0, 2.0])
    with pytest.raises(ValueError, match="M, L, K"):
        da.persistence_lead_rmse(x0, ref[0])


def _same(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def test_regression_and_online_fits_equal_the_inline_fits():
    X = 3.0 * jax.random.normal(jax.random.PRNGKey(0), (40, 8))
    net = da.LocalClosure(MLP(5, 1, width=4, depth=1, activation=jax.nn.tanh, key=jax.random.PRNGKey(1)))
    U = -0.1 * X
    got = da.fit_regression(net, X, U, lr=3e-3, steps=4, batch_size=8, key=jax.random.PRNGKey(2))
    opt = optax.adam(optax.cosine_decay_schedule(3e-3, 4, alpha=0.05))
    ref = fit(lambda m, b: mse(jax.vmap(m)(b[0]), b[1]), net, (X, U), opt, steps=4, batch_size=8,
              key=jax.random.PRNGKey(2), log_every=1).params
    assert _same(got, ref)
    with pytest.raises(ValueError, match="as many targets"):
        da.fit_regression(net, X, U[:3], lr=1e-3, steps=1, batch_size=2, key=jax.random.PRNGKey(2))
    got = da.fit_through_solver(net, X, 3, 10, dt=0.005, forcing=20.0, lr=1e-3, steps=2, batch_size=2,
                                key=jax.random.PRNGKey(3))
    loss = refine(lambda m, x0: jax.vmap(lambda x: rollout(da.coarse_model(m, 0.005, 20.0), x, 3).saved)(x0))
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(1e-3, 2, alpha=0.1)))
    ref = fit(lambda m, b: loss(m, (b[0], b[1])), net, da.trajectory_windows(X, 3, 10), opt, steps=2, batch_size=2,
              key=jax.random.PRNGKey(3), log_every=1).params
    assert _same(got, ref)


def test_closure_lead_rmse_mos_pairs_and_fit_mos():
    step = da.coarse_model(lambda x: 0.0 * x, 0.005, 20.0)
    X = da.forecast_batch(step, 8.0 + jnp.arange(8.0)[None] / 8, 30, 1)[0]  # a model run (30, 8)
    x0, ref = X[jnp.array([0, 5])], da.lead_targets(X, np.array([0, 5]), 4, 2)
    np.testing.assert_allclose(da.closure_lead_rmse(lambda x: 0.0 * x, x0, ref, 4, 2, dt=0.005, forcing=20.0),
                               [0.0, 0.0], atol=1e-5)  # the model forecasting its own run
    fc, tr = da.mos_pairs(step, X, 3, 4)
    assert fc.shape == tr.shape == (7, 8)
    np.testing.assert_allclose(fc, tr, atol=1e-5)
    np.testing.assert_array_equal(tr, X[np.arange(0, 27, 4) + 3])
    with pytest.raises(ValueError, match="lead"):
        da.mos_pairs(step, X, 0, 4)
    linear, _ = da.fit_mos(step, X, 3, 2, da.ResidualMOS(MLP(8, 8, width=4, depth=1, key=jax.random.PRNGKey(0))),
                           lr=1e-3, steps=2, key=jax.random.PRNGKey(1))
    fc, tr = da.mos_pairs(step, X, 3, 2)
    np.testing.assert_allclose(linear(fc), da.linear_mos(fc, tr)(fc), rtol=1e-6)
    skill = da.mos_skill(step, X, 3, 2, da.ResidualMOS(MLP(8, 8, width=4, depth=1, key=jax.random.PRNGKey(0))),
                         X[:4], X[3:7], lr=1e-3, steps=2, key=jax.random.PRNGKey(1))
    assert set(skill) == {"biased", "linear", "network"} and skill["biased"] < 1e-4  # a perfect model needs no MOS


def test_plot_panels_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxhybrid.assimilation import plots as AP

    fig, ax = plt.subplots(1, 4)
    AP.rmse_series_panel(ax[0], {"a": np.linspace(1, 0.1, 20), "b": np.r_[np.nan, np.ones(19)]}, {"free": 3.0}, 5)
    AP.rank_histogram_panel(ax[1], np.array([3, 4, 5]))
    AP.error_map_panel(ax[2], np.zeros((10, 4)))
    AP.lead_rmse_panel(ax[3], (0.5, 1.0), {"hybrid": [0.1, 0.2], "poly1": [0.3, 0.4], "free": [1, 2]}, marked="poly1")
    assert len(ax[0].lines) == 4 and len(ax[1].patches) == 3 and len(ax[3].lines) == 3
    assert [ln.get_linestyle() for ln in ax[3].lines] == ["-", "--", ":"]
    fig.savefig(tmp_path / "panels.png")
    plt.close(fig)
