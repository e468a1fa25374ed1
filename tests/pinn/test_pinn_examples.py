import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid.examples import pinn_poisson_source as ps
from jaxhybrid.pinn import manufactured_source as sp
from jaxhybrid.metrics import rel_l2
from jaxhybrid.pinn import Box, Chebyshev2D, Rescaled, holdout, lm_fit, source_terms
from jaxhybrid.pinn.optim import MU_MAX, levenberg_marquardt, one_blas_thread, until_lm_converged
from jaxhybrid.rollout import DivergenceError
from jaxhybrid.train import fit


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _lm_fit(terms, params, steps, log_every, **kw):
    with one_blas_thread():
        return fit(None, params, None, levenberg_marquardt(terms), steps=steps, log_every=log_every, progress=False,
                   until=until_lm_converged(), **kw)


@pytest.mark.parametrize("shape", [(40, 6), (6, 40)])  # primal (m > P) and dual (m < P) solves
def test_levenberg_marquardt_linear_least_squares_reaches_min_norm_solution(x64, shape):
    A = jax.random.normal(jax.random.PRNGKey(0), shape)
    y = jax.random.normal(jax.random.PRNGKey(1), (shape[0],))
    terms = {"fit": (lambda p, row: row[0] @ p["w"] - row[1], (A, y))}
    res = _lm_fit(terms, {"w": jnp.zeros(shape[1])}, 30, 10)
    # from w = 0 every step stays in the row space of A: the limit is the minimum-norm solution
    np.testing.assert_allclose(res.params["w"], np.linalg.pinv(np.asarray(A)) @ np.asarray(y), atol=1e-9)
    assert res.params["w"].dtype == jnp.float64 and set(res.history[-1]) >= {"loss", "mu", "stalled"}


def test_levenberg_marquardt_rosenbrock_and_rejected_nan_trials(x64):
    # r = (10 (y − x²), 1 − x): minimum (1, 1); the √ residual is NaN for y < 0, such trials are rejected
    rows = jnp.zeros((1,))
    terms = {"a": (lambda p, _: 10 * (p[1] - p[0] ** 2), rows), "b": (lambda p, _: 1 - p[0], rows),
             "c": (lambda p, _: 1e-3 * jnp.sqrt(p[1]), rows)}
    res = _lm_fit(terms, jnp.asarray([-1.2, 1.0]), 200, 20)
    assert np.all(np.isfinite(res.params))
    assert abs(float(res.params[0]) - 1) < 1e-3 and res.history[-1]["loss"] < 2e-6
    assert float(res.opt_state.loss) == res.history[-1]["loss"]  # the record's loss is that of the iterate
    with pytest.raises(DivergenceError) as e:  # a NaN at the start stops with the given state
        _lm_fit({"a": (lambda p, _: jnp.log(p), rows)}, jnp.asarray(-1.0), 5, 5)
    assert e.value.step == 0
    with pytest.raises(ValueError, match="pair"):
        levenberg_marquardt({"a": lambda p, _: p})


def test_levenberg_marquardt_stops_early_and_freezes_past_mu_max(x64):
    # an exactly solvable problem: once the loss is 0 no trial is accepted, μ grows past MU_MAX and
    # the steps become no-ops; `until_lm_converged` ends the run at that chunk, before `steps`
    rows = jnp.arange(3.0)
    terms = {"a": (lambda p, x: p["w"] * x - 2 * x, rows)}
    res = _lm_fit(terms, {"w": jnp.asarray(0.0)}, 10_000, 20)
    assert res.step < 10_000 and res.history[-1]["stalled"] > 0 and float(res.opt_state.mu) > MU_MAX
    assert float(res.params["w"]) == 2.0
    lm = levenberg_marquardt(terms)
    frozen = lm.init({"w": jnp.asarray(2.0)})._replace(opt_state=res.opt_state)
    nxt, info = lm.step(frozen, None)
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.array_equal(a, b)), nxt.opt_state, frozen.opt_state)
    assert jax.tree_util.tree_all(same) and bool(info["stalled"])
    # tol: stop at the end of the first chunk whose last loss is <= tol
    stop = fit(None, {"w": jnp.asarray(0.0)}, None, lm, steps=100, log_every=2, progress=False,
               until=until_lm_converged(tol=1.0))
    assert stop.step == 2 and stop.history[-1]["loss"] <= 1.0 and stop.history[0]["step"] == 2
    with pytest.raises(ValueError, match="tol"):
        until_lm_converged(-1.0)


def test_manufactured_source_matches_closed_form():
    with jax.enable_x64(True):
        x = jax.random.uniform(jax.random.PRNGKey(0), (20, 2), jnp.float64)
        s1 = jnp.sin(jnp.pi * x[:, 0]) * jnp.sin(jnp.pi * x[:, 1])
        s2 = jnp.sin(2 * jnp.pi * x[:, 0]) * jnp.sin(2 * jnp.pi * x[:, 1])
        np.testing.assert_allclose(jax.vmap(sp.f_true)(x), 2 * jnp.pi**2 * (s1 + 0.8 * s2), rtol=1e-12)
        # the hard-BC field vanishes on the boundary for any weights
        f = sp.make_fields(jax.random.PRNGKey(1), 8, 2)
        xb = sp.DOMAIN.sample_boundary(jax.random.PRNGKey(2), 50)
        assert float(jnp.max(jnp.abs(jax.vmap(f.u)(xb)))) < 1e-15


def test_source_problem_errors_vanish_at_truth_and_fd_source_is_second_order(x64):
    from jaxhybrid.pinn import SourceFields

    assert sp.pinn_errors(SourceFields(sp.u_true, sp.f_true), sp.DOMAIN.grid(21)) == (0.0, 0.0)
    u_err, f_err = sp.pinn_errors(SourceFields(sp.u_true, lambda z: 1.1 * sp.f_true(z)), sp.DOMAIN.grid(21))
    assert u_err == 0.0 and f_err == pytest.approx(0.1, rel=1e-9)
    # data-only: the exact u has no u error, and −Δ_h u* misses f* by the 5-point stencil's O(h²) error only
    u_err, f_err = sp.data_only_errors(sp.u_true)
    assert u_err == 0.0 and 1e-5 < f_err < 2e-3
    assert sp.on_fd_grid(sp.u_true).shape == (sp.N_GRID, sp.N_GRID)


def test_poisson_source_residuals_vanish_at_truth_and_source_basis_resolves_f(x64):
    from types import SimpleNamespace

    key = jax.random.PRNGKey(3)
    x = jax.random.uniform(key, (64, 2), jnp.float64)
    truth = SimpleNamespace(u=sp.u_true, f=sp.f_true)
    for name, (r, rows) in source_terms(x, jax.vmap(sp.u_true)(x), x, 1.0, sp.F_SCALE).items():
        assert float(jnp.max(jnp.abs(jax.vmap(lambda row: r(truth, row))(rows)))) < 1e-12, name
    wrong = SimpleNamespace(u=sp.u_true, f=lambda z: 0.9 * sp.f_true(z))
    r, rows = source_terms(x, jax.vmap(sp.u_true)(x), x, 1.0, sp.F_SCALE)["pde"]
    assert float(jnp.max(jnp.abs(jax.vmap(lambda row: r(wrong, row))(rows)))) > 1e-2
    # Chebyshev2D: T_n(cos θ) = cos nθ, and degree 12 resolves f* to < 1e-7 (least squares on 900 points)
    c = jnp.zeros((4, 4)).at[3, 2].set(1.0)
    t = jnp.asarray([0.3, 0.8])
    val = Chebyshev2D(c)(t)
    assert Chebyshev2D(c, 2.0)(t) == 2 * val
    np.testing.assert_allclose(val, np.cos(3 * np.arccos(2 * 0.3 - 1)) * np.cos(2 * np.arccos(2 * 0.8 - 1)), rtol=1e-12)
    g = (jnp.arange(30) + 0.5) / 30
    pts = jnp.stack([a.ravel() for a in jnp.meshgrid(g, g, indexing="ij")], -1)
    T = np.cos(np.arange(13)[None, :] * np.arccos(2 * np.asarray(pts)[:, :, None] - 1))  # (n, 2, 13)
    basis = sp.F_SCALE * np.einsum("pi,pj->pij", T[:, 0], T[:, 1]).reshape(-1, 169)
    ft = np.asarray(jax.vmap(sp.f_true)(pts))
    coef = np.linalg.lstsq(basis, ft, rcond=None)[0]
    np.testing.assert_allclose(jax.vmap(Chebyshev2D(jnp.asarray(coef.reshape(13, 13)), sp.F_SCALE))(pts), basis @ coef, rtol=1e-10)
    assert rel_l2(basis @ coef, ft) < 1e-7
    with pytest.raises(ValueError, match="square"):
        Chebyshev2D(jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="degree"):
        Chebyshev2D.zeros(-1)
    assert Chebyshev2D.zeros(12, sp.F_SCALE).coef.shape == (13, 13)


def test_source_terms_data_weight_scales_only_the_data_rows(x64):
    from types import SimpleNamespace

    x = jax.random.uniform(jax.random.PRNGKey(4), (16, 2), jnp.float64)
    off = SimpleNamespace(u=lambda z: 1.1 * sp.u_true(z), f=sp.f_true)  # nonzero data and PDE residuals
    rows = {w: {k: jax.vmap(lambda row: r(off, row))(rw)
                for k, (r, rw) in source_terms(x, jax.vmap(sp.u_true)(x), x, w, sp.F_SCALE).items()} for w in (1.0, 100.0)}
    np.testing.assert_allclose(rows[100.0]["data"], 10.0 * rows[1.0]["data"], rtol=1e-12)
    np.testing.assert_allclose(rows[100.0]["pde"], rows[1.0]["pde"], rtol=1e-12)
    assert float(jnp.min(jnp.abs(rows[1.0]["pde"]))) > 0
    with pytest.raises(ValueError, match="data_weight"):
        source_terms(x, x[:, 0], x, 0.0)
    with pytest.raises(ValueError, match="observation"):
        source_terms(x, x[:3, 0], x)


def test_lm_fit_keeps_the_iterate_with_the_smallest_held_out_misfit(x64):
    # fit y = w·x to training rows whose slope differs from the held-out rows': the last iterate
    # has the training slope, the kept one is the start or a chunk end closer to the held-out slope
    x = jnp.linspace(0.0, 1.0, 20)
    y = jnp.where(jnp.arange(20) < 10, 2.0, 1.0) * x
    val_fn = lambda p: jnp.mean((p["w"] * x[10:] - y[10:]) ** 2)  # noqa: E731
    terms = {"fit": (lambda p, row: p["w"] * row[0] - row[1], (x[:10], y[:10]))}
    last, res = lm_fit(terms, {"w": jnp.asarray(1.2)}, 30, progress=False)
    assert abs(float(last["w"]) - 2.0) < 1e-8 and res.step <= 30
    best, res = lm_fit(terms, {"w": jnp.asarray(1.2)}, 30, val_fn=val_fn, log_every=1, progress=False)
    assert float(val_fn(best)) <= float(val_fn({"w": jnp.asarray(1.2)})) and abs(float(best["w"]) - 1.2) < 1e-12
    with pytest.raises(ValueError, match="steps"):
        lm_fit(terms, {"w": jnp.asarray(0.0)}, -1)


def test_holdout_splits_and_scores_the_held_out_rows(x64):
    x = jnp.arange(20.0)[:, None]
    y = 3.0 * x[:, 0]
    trn, val_fn = holdout(jax.random.PRNGKey(0), x, y, 0.25, lambda a: (lambda z: a * z[0]))
    assert trn.shape == (15,) and len(set(np.asarray(trn).tolist())) == 15
    assert float(val_fn(3.0)) == 0.0 and float(val_fn(2.0)) > 0
    val = np.setdiff1d(np.arange(20), np.asarray(trn))
    np.testing.assert_allclose(float(val_fn(2.0)), np.mean(np.asarray(x[val, 0]) ** 2), rtol=1e-12)
    assert holdout(jax.random.PRNGKey(0), x, y, 0.0, lambda a: a)[1] is None
    with pytest.raises(ValueError, match="fraction"):
        holdout(jax.random.PRNGKey(0), x, y, 1.0, lambda a: a)


def test_box_grid_and_rescaled_network():
    b = Box([0.0, -1.0], [2.0, 3.0])
    g = b.grid(3)
    np.testing.assert_allclose(g, [[0, -1], [0, 1], [0, 3], [1, -1], [1, 1], [1, 3], [2, -1], [2, 1], [2, 3]])
    r = Rescaled(lambda z: z, b)
    np.testing.assert_allclose(np.asarray(jax.vmap(r)(g))[[0, 4, 8]], [[-1, -1], [0, 0], [1, 1]], atol=1e-7)
    with pytest.raises(ValueError, match="grid"):
        b.grid(1)


@pytest.mark.example
def test_quick_run_pinn_poisson_source(quick_record):
    rec = quick_record("pinn-poisson-source")
    m, b = rec["metrics"], rec["baselines"]
    assert set(b) == {"mechanism_only", "data_only"}
    for k in ("u_rel_l2", "f_rel_l2", "f_rel_l2_noisy"):
        assert np.isfinite(m[k]) and k in b["mechanism_only"] and k in b["data_only"]
    assert m["u_rel_l2"] < 0.05 and m["f_rel_l2"] < 0.5


def test_quick_path_loads_the_shipped_full_networks(x64):
    """Seed 0's quick run evaluates the full run's four networks, shipped with the package."""
    from jaxhybrid.pretrained import find

    full = ps.network_configs(False, 0)
    for n in ps.NETWORKS:  # fail fast (no training) if a file is missing
        hit = find(f"{ps.NAME}-{n}", full[n])
        assert hit is not None and hit[1] == "shipped", f"{ps.NAME}-{n}: {hit}"
    got, tier = ps.obtain_networks(quick=True, seed=0)
    assert tier == "full"
    assert all(g.source == "shipped" and g.config == full[n] for n, g in got.items())
    assert got["pinn"].summary()["source"] == "shipped"
    u_err, f_err = sp.pinn_errors(got["pinn"].model, sp.DOMAIN.grid(41))
    assert u_err < 1e-5 and f_err < 1e-3  # the fully trained PINN (README: 1.13e-6 / 2.8e-4 on 101²)
    assert f_err < sp.data_only_errors(got["data"].model)[1]
