import numpy as np
import pytest

from jaxhybrid.maps import metrics as M
from jaxhybrid.maps import scene as S


def test_scene_and_pass_ground_truth():
    scene = S.make_scene(0, length=100.0)
    rng = np.random.default_rng(0)
    zero = S.make_drift(rng, 0.0, 0.0)
    p = S.scan_pass(scene, rng, zero, p_occlusion=0.0, outlier_fraction=0.0)
    # no drift: observed = truth + sensor noise
    err = p.points - p.true_points
    assert abs(np.std(err) - scene.sensor_noise) < 0.005
    assert set(np.unique(p.labels)) >= {S.GROUND, S.MARKING, S.KERB, S.POLE, S.TARGET}
    # pole points are within 0.08 m (radius) of their element's axis
    m = p.element_id >= 0
    d = np.linalg.norm(p.true_points[m, :2] - scene.elements[p.element_id[m], :2], axis=1)
    assert np.all(d[p.labels[m] == S.POLE] < 0.08 + 1e-9)
    # marking offsets are the exact lateral positions of the lines
    np.testing.assert_allclose(np.diff(scene.marking_offsets), scene.lane_width)
    # surveyed control points are accurate to the survey noise
    assert np.max(np.abs(scene.controls_surveyed - scene.controls)) < 5 * scene.survey_noise


def test_drift_moves_points_rigidly_per_time():
    scene = S.make_scene(1, length=100.0)
    rng = np.random.default_rng(1)
    drift = S.make_drift(rng, 0.5, 0.3)
    x = rng.standard_normal((10, 3)) + scene.elements[0]
    y = S.apply_drift(scene, drift, x, np.full(10, 30.0), 0.0)
    dx = np.linalg.norm(x[:, None] - x[None], axis=-1)
    dy = np.linalg.norm(y[:, None] - y[None], axis=-1)
    np.testing.assert_allclose(dx, dy, atol=1e-9)


def test_element_scores():
    true = np.array([[0, 0, 0], [10, 0, 0], [20, 0, 0]], float)
    tc = np.array([3, 3, 4])
    pred = np.array([[0.1, 0, 0], [10.0, 0.7, 0], [20.2, 0, 0], [50, 0, 0]])
    pc = np.array([3, 3, 3, 4])  # the third one has the wrong class
    s = M.element_scores(pred, pc, true, tc, radius=0.5, gate=2.0)
    assert s["precision"] == pytest.approx(1 / 4) and s["recall"] == pytest.approx(1 / 3)
    assert s["median_position_error_m"] == pytest.approx(0.4)  # matches 0.1 and 0.7 within the gate
    assert M.element_scores(true, tc, true, tc)["element_f1"] == 1.0


def test_survey_map_and_map_scores():
    from jaxhybrid.maps import pipeline as P

    scene = S.make_scene(2, length=150.0)
    sv = P.survey_map(scene, seed=2, every=4, spacing=50.0)
    assert len(sv.elements) == len(range(0, len(scene.elements), 4)) and sv.lanes.shape[:2] == (len(scene.marking_offsets), 4)
    assert abs(sv.lane_width - scene.lane_width) < 0.05      # survey noise is 1 cm
    s = M.map_scores(sv, scene)
    assert set(s) == {"median_position_error_m", "element_f1", "precision", "recall", "lane_lateral_error_m",
                      "lane_width_error_m"}
    assert s["precision"] == 1.0 and s["recall"] == pytest.approx(len(sv.elements) / len(scene.elements))
    assert s["median_position_error_m"] < 0.05 and s["lane_width_error_m"] < 0.05
    assert s["lane_lateral_error_m"] > 0.01     # straight chords of a curved road
    # the true map scores perfectly; a map without lane curves has element scores only
    exact = P.MapResult(scene.elements, scene.element_class, None, [], float("nan"))
    e = M.map_scores(exact, scene)
    assert set(e) == {"median_position_error_m", "element_f1", "precision", "recall"}
    assert e["element_f1"] == 1.0 and e["median_position_error_m"] == 0.0
