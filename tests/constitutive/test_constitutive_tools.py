"""The constitutive training and evaluation tools: labels and scales, networks of a configuration,
the two fits (equal to the inline code they replace), held-out errors, symmetry scores, load lines,
tangent eigenvalues, cubic constants, learned laws inside an FE solve, and the figure panels."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhybrid import constitutive as C
from jaxhybrid.constitutive import fem
from jaxhybrid.constitutive.data import path_windows, strain_paths, stress_paths
from jaxhybrid.train import fit


def test_stress_labels_are_the_float64_stresses_rounded_and_their_rms():
    law = C.neo_hookean(1.0, 2.0)
    F = np.eye(3, dtype=np.float32) + 0.05 * np.random.default_rng(0).standard_normal((6, 3, 3)).astype(np.float32)
    P, s = C.stress_labels(law, F)
    with jax.enable_x64(True):
        ref = np.asarray(jax.vmap(law.pk1)(jnp.asarray(F, jnp.float64)))
    assert P.dtype == np.float32
    np.testing.assert_array_equal(P, ref.astype(np.float32))
    assert s == pytest.approx(np.sqrt(np.mean(np.sum(P.astype(np.float64) ** 2, axis=(1, 2)))), rel=1e-6)
    with pytest.raises(ValueError, match="B, 3, 3"):
        C.stress_labels(law, F[0])


def test_path_scales_on_a_known_path():
    eps = np.zeros((1, 3, 2))
    eps[0, 1], eps[0, 2] = [3.0, 4.0], [3.0, 4.0]          # increments of norm 5, then 0
    sig = 2.0 * np.ones((1, 3, 2))
    sc = C.path_scales(eps, sig)
    assert sc["strain"] == pytest.approx(np.sqrt((9 + 16) * 2 / 6))
    assert sc["stress"] == pytest.approx(2.0)
    assert sc["increment"] == pytest.approx(np.sqrt(25 / 2))
    with pytest.raises(ValueError, match="P, T\\+1, m"):
        C.path_scales(eps, sig[:, :2])


def test_reference_paths_and_training_windows_equal_the_inline_pipeline():
    law = C.HardeningHypoelastic()
    eps, sig = C.reference_paths(law, 3, 4, 60, 0.01)
    e_ref = strain_paths(3, 4, 60, 0.01)
    np.testing.assert_array_equal(eps, e_ref)
    np.testing.assert_array_equal(sig, stress_paths(law, e_ref))
    (we, ws), scales = C.incremental_training_data(law, 3, 4, 60, 0.01, 20)
    ref_we, ref_ws = path_windows(eps, sig, 20)
    np.testing.assert_array_equal(we, ref_we)
    np.testing.assert_array_equal(ws, ref_ws)
    assert scales == C.path_scales(eps, sig)


def test_networks_of_a_configuration_use_the_documented_keys_and_scales():
    key = jax.random.PRNGKey(5)
    hyb = dict(model="hybrid", width=8, depth=1, strain_scale=0.1, group="cubic", n_vectors=2, n_global=1)
    net = C.stress_network_from_config(hyb, 3.0, key)
    ref = C.DPK("cubic", 2, 8, 1, 1, 0.1, key=jax.random.split(key, 3)[0])
    assert isinstance(net, C.ScaledStress) and net.scale == 3.0

    def same(a, b):
        leaves = [jax.tree_util.tree_leaves(eqx.filter(m, eqx.is_array)) for m in (a, b)]
        return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(*leaves))

    assert same(net.net, ref) and not same(net.net, C.DPK("cubic", 2, 8, 1, 1, 0.1, key=key))
    mlp = C.stress_network_from_config(dict(model="mlp", width=8, depth=1, strain_scale=0.1), 2.0, key)
    assert isinstance(mlp.net, C.MLPStress) and same(mlp.net, C.MLPStress(8, 1, 0.1, key=jax.random.split(key, 3)[1]))
    like = C.stress_network_template(hyb, {"stress_scale": 3.0})
    assert jax.tree_util.tree_structure(like) == jax.tree_util.tree_structure(net)
    with pytest.raises(ValueError, match="hybrid"):
        C.stress_network("cnn", 1.0, key=key, width=4)
    scales = {"strain": 0.01, "stress": 0.5, "increment": 1e-4}
    spd = C.incremental_law("hybrid", scales, 8, 1, key=key)
    assert isinstance(spd, C.SPDNN) and spd.stress_scale == pytest.approx(50.0)
    assert isinstance(C.incremental_law("mlp", scales, 8, 1, key=key), C.MLPIncrement)
    with pytest.raises(ValueError, match="SPD-NN"):
        C.incremental_law("rnn", scales, 8, 1, key=key)


def test_train_stress_network_equals_the_inline_fit():
    law = C.neo_hookean()
    F = np.eye(3, dtype=np.float32) + 0.05 * np.random.default_rng(1).standard_normal((10, 3, 3)).astype(np.float32)
    P, s = C.stress_labels(law, F)
    cfg = dict(model="mlp", width=8, depth=1, strain_scale=0.1, seed=0, n_train=8, steps=6, lr=1e-2)
    got, meta = C.train_stress_network(cfg, F, P, s, desc="t")
    key = jax.random.PRNGKey(0 + 8)  # the documented keys: initialisation from k, fit from split(k, 3)[2]
    model = C.stress_network_from_config(cfg, s, key)

    def loss(m, b):  # the example's former inline loss
        return jnp.mean(jnp.sum((jax.vmap(m)(b[0]) * (1.0 / s) - b[1] * (1.0 / s)) ** 2, axis=(1, 2)))

    ref = fit(loss, model, (F[:8], P[:8]), optax.adam(optax.cosine_decay_schedule(1e-2, 6, 0.02)), steps=6,
              key=jax.random.split(key, 3)[2], log_every=1, desc="t")
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(got, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(ref.params, eqx.is_array))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert meta["losses"] == [float(h["loss"]) for h in ref.history] and meta["stress_scale"] == s
    assert meta["final_loss"] == meta["losses"][-1] < meta["losses"][0]
    with pytest.raises(ValueError, match="n_train"):
        C.train_stress_network(dict(cfg, n_train=11), F, P, s)
    with pytest.raises(ValueError, match="scale > 0"):
        C.fit_stress_law(model, F, P, 0.0, steps=1, lr=1e-2, key=key)


def test_equilibrium_cauchy_born_is_stress_free_at_its_lattice_constant():
    from jaxhybrid import md

    params = dict(A=0.5, beta=3.0, D=1.0, alpha=5.0, r0=1.0, cutoff=2.5)
    law, a0 = C.equilibrium_cauchy_born(lambda: md.eam_analytic(**params), "fcc", 1.35)
    with jax.enable_x64(True):
        assert a0 == C.equilibrium_lattice_constant(md.eam_analytic(**params), "fcc", 1.35)
        P0 = np.asarray(law.pk1(jnp.eye(3, dtype=jnp.float64)))
    assert P0.dtype == np.float64 and np.abs(P0).max() < 1e-9


def test_train_incremental_law_lowers_the_one_step_loss_and_keeps_its_scales():
    law = C.HardeningHypoelastic()
    windows, scales = C.incremental_training_data(law, 0, 4, 40, 0.01, 10)
    cfg = dict(model="hybrid", width=8, depth=1, seed=0, steps=8, lr=1e-2, batch_windows=4)
    model, meta = C.train_incremental_law(cfg, windows, scales, desc="t")
    assert meta["scales"] == scales and meta["final_loss"] == meta["losses"][-1] and len(meta["losses"]) == 8
    assert meta["losses"][-1] < meta["losses"][0]
    like = C.incremental_law_template(cfg, meta)
    assert jax.tree_util.tree_structure(like) == jax.tree_util.tree_structure(model)


def test_held_out_errors_learning_curves_and_rollout_comparison():
    ref = np.ones((4, 3, 3))
    assert C.stress_rel_error(1.1 * ref, ref) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="one shape"):
        C.stress_rel_error(ref[:2], ref)
    F = np.eye(3)[None].repeat(5, 0) * np.linspace(1.0, 1.2, 5)[:, None, None]
    laws = {("a", 10): lambda F: F, ("a", 20): lambda F: 2 * F, ("b", 10): lambda F: F - jnp.eye(3)}
    P = np.asarray(F[:3])
    curves, preds = C.learning_curves(laws, F, P)
    assert set(curves) == {"a", "b"} and curves["a"][10] < 1e-7
    assert curves["a"][20] == pytest.approx(1.0) and preds[("a", 20)].shape == (5, 3, 3)
    with pytest.raises(ValueError, match="labels"):
        C.learning_curves(laws, F[:2], P)
    law = C.HardeningHypoelastic()
    eps, sig = C.reference_paths(law, 0, 2, 30, 0.01)
    errors, rollouts = C.compare_rollouts({"exact": law}, eps, sig)
    direct = C.rollout_errors(law, eps, sig)
    assert errors["exact"] == direct[0] and errors["exact"]["rollout_rel_error"] < 1e-5
    np.testing.assert_array_equal(rollouts["exact"], direct[1])
    assert set(C.ROLLOUT_GOALS) == set(errors["exact"])


def test_uniaxial_stretch_stretches_only_along_its_direction():
    F = C.uniaxial_stretch([1.0, 2.0, 0.5], [0.9, 1.1])
    n = np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5])
    m = np.cross(n, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(F @ n, np.array([0.9, 1.1])[:, None] * n, atol=1e-15)
    np.testing.assert_allclose(F @ m, np.broadcast_to(m, (2, 3)), atol=1e-15)
    with pytest.raises(ValueError, match="non-zero"):
        C.uniaxial_stretch([0.0, 0.0, 0.0], [1.0])


def test_symmetry_scores_vanish_for_an_isotropic_hyperelastic_law():
    law = C.neo_hookean()
    rng = np.random.default_rng(2)
    F = jnp.asarray(np.eye(3) + 0.05 * rng.standard_normal((4, 3, 3)), jnp.float32)
    Q = jnp.asarray(C.data.sample_rotations(2, 4), jnp.float32)
    skew = lambda F: law.pk1(F) + 0.3 * (F - F.T)  # noqa: E731  (not frame indifferent)
    sc = C.symmetry_scores({"nh": law.pk1, "skew": skew}, F, C.point_group("cubic"), Q)
    assert set(sc["nh"]) == {"frame_violation", "material_violation", "cauchy_asymmetry"}
    assert max(sc["nh"].values()) < 1e-4 and sc["skew"]["frame_violation"] > 1e-2


def test_min_tangent_eigenvalue_and_cubic_constants_on_known_laws():
    law = C.HardeningHypoelastic()  # at ε = 0: H = 3 K₀ J + 2 G₀ K, eigenvalues 3 K₀ = 3 and 2 G₀ = 1.2
    assert C.min_tangent_eigenvalue(law, np.zeros((1, 2, 6), np.float32)) == pytest.approx(1.2, rel=1e-5)
    with pytest.raises(ValueError, match="P, T\\+1, m"):
        C.min_tangent_eigenvalue(law, np.zeros((2, 6)))
    cubic = C.cubic_hyperelastic(2.0, 1.2, 0.6)
    np.testing.assert_allclose(C.cubic_constants(cubic.energy), [2.0, 1.2, 0.6], rtol=1e-12)


def test_fe_errors_of_the_reference_law_itself_are_zero():
    law = C.neo_hookean(1.0, 1.0)
    mesh = fem.plate_with_hole_mesh(1.0, 0.3, 2, 2)
    ref, fe = C.fe_errors({"same": law.pk1}, law.pk1, mesh, fem.plate_tension_bc(mesh, 0.01), n_load=1)
    assert ref.converged and fe["same"].converged and fe["same"].rel_error == 0.0
    assert fe["same"].scores() == {"fe_displacement_rel_error": 0.0, "fe_converged": 1.0}
    np.testing.assert_array_equal(fe["same"].u, ref.u)


def test_plot_panels_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxhybrid.constitutive import plots as CP

    mesh = fem.plate_with_hole_mesh(1.0, 0.3, 2, 2)
    u = np.ones((mesh.nodes.shape[0], 2))
    styles = {"a": ("C0o-", "A")}
    fig, ax = plt.subplots(2, 3)
    lines = {"reference": np.ones((3, 3, 3)), "a": 2 * np.ones((3, 3, 3))}
    CP.stress_law_panels(ax[0], {"a": {10: 0.1, 20: 0.05}}, [0.9, 1.0, 1.1], lines, (1, 0, 0), mesh, u, 1.1 * u,
                         styles, styles)
    sig = np.ones((2, 4, 6))
    CP.incremental_law_panels(ax[1], sig, {"a": 1.1 * sig}, {"a": [1.0, 0.5]}, styles, styles, [(0, "σ11")], clip=10)
    assert len(ax[1, 1].lines) == 1 and len(ax[0, 0].lines) == 1
    fig.savefig(tmp_path / "panels.png")
    plt.close(fig)
