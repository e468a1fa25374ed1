import numpy as np

from jaxhybrid.maps import pipeline as P
from jaxhybrid.maps import scene as S


def test_registration_to_controls_removes_the_drift():
    scene = S.make_scene(3, length=100.0)
    passes, _ = S.make_passes(scene, 1, seed=3, common_translation=0.4, pass_translation=0.8)
    p = passes[0]
    grid = P.time_grid(0.0, scene.length)
    reg = P.register_to_controls(p.points.astype(float), p.times.astype(float), p.labels, scene.controls_surveyed, grid)
    before = np.median(np.linalg.norm((p.points - p.true_points)[:, :2], axis=1))
    after = np.median(np.linalg.norm((reg - p.true_points)[:, :2], axis=1))
    noise_only = scene.sensor_noise * np.sqrt(2 * np.log(2))  # median of a 2-D Gaussian norm
    assert before > 0.3
    assert after < 1.3 * noise_only  # drift removed down to about the sensor noise
    # without enough control targets the pass is reported as unregistrable
    assert P.register_to_controls(p.points, p.times, np.zeros_like(p.labels), scene.controls_surveyed, grid) is None


def test_consensus_of_identical_transforms_is_that_transform():
    import jax.numpy as jnp
    from jaxhybrid.maps.procrustes import Transform

    c, s = np.cos(0.01), np.sin(0.01)
    R = jnp.asarray(np.broadcast_to([[c, -s, 0], [s, c, 0], [0, 0, 1.0]], (5, 3, 3)), jnp.float32)
    T = Transform(R, jnp.ones((5, 3)), jnp.ones(5))
    M = P.consensus([T, T, T])
    np.testing.assert_allclose(np.asarray(M.R), np.asarray(R), atol=1e-6)
    x = np.random.default_rng(0).standard_normal((20, 3))
    out = P.apply_gauged(T, M, x, np.linspace(0, 4, 20), np.arange(5.0))
    np.testing.assert_allclose(out, x, atol=1e-5)  # M⁻¹ T = identity


def test_build_map_without_lanes_keeps_the_elements():
    scene = S.make_scene(4, length=80.0)
    passes, _ = S.make_passes(scene, 3, seed=4, common_translation=0.0, pass_translation=0.0,
                              common_rotation_deg=0.0, pass_rotation_deg=0.0)
    pts, lab = [p.true_points for p in passes], [p.labels for p in passes]
    full = P.build_map(pts, lab, len(scene.marking_offsets), constrained=True)
    only = P.build_map(pts, lab, len(scene.marking_offsets), constrained=True, lanes=False)
    np.testing.assert_array_equal(only.elements, full.elements)
    np.testing.assert_array_equal(only.element_class, full.element_class)
    assert len(full.elements) > 0 and only.lanes is None and only.lane_curves == [] and np.isnan(only.lane_width)
    assert len(full.lane_curves) == len(scene.marking_offsets)
