import jax
import numpy as np
import pytest

from jaxhybrid.maps import classify as C
from jaxhybrid.maps import scene as S


def test_classifier_trained_with_fit_generalises_to_another_pass():
    scene = S.make_scene(0, length=80.0)
    passes, _ = S.make_passes(scene, 2, seed=0)
    f0 = C.point_features(passes[0].points, passes[0].intensity)
    model, hist = C.train_classifier(f0, passes[0].labels, len(S.CLASS_NAMES), key=jax.random.PRNGKey(0), steps=300)
    assert hist[-1]["loss"] < hist[0]["loss"]
    pred = model.predict(C.point_features(passes[1].points, passes[1].intensity))
    y = passes[1].labels
    assert np.mean(pred == y) > 0.85
    for c in (S.MARKING, S.POLE, S.TARGET):  # the classes the map is built from
        assert np.mean(pred[y == c] == c) > 0.9


def test_features_are_frame_invariant_in_height():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (500, 3))
    i = rng.random(500)
    f = C.point_features(x, i)
    f_up = C.point_features(x + np.array([0.0, 0.0, 3.0]), i)   # a vertical offset (drift) changes nothing
    np.testing.assert_allclose(f, f_up, atol=1e-5)
    with pytest.raises(ValueError, match="intensity"):
        C.point_features(x, i[:10])


def test_classify_passes_trains_on_a_subsample_and_labels_every_pass():
    scene = S.make_scene(0, length=80.0)
    passes, _ = S.make_passes(scene, 3, seed=0)
    labels, model = C.classify_passes(passes[2:], passes[:2], len(S.CLASS_NAMES), key=jax.random.PRNGKey(0),
                                      rng=np.random.default_rng(0), max_points=3000, steps=300)
    assert [len(l) for l in labels] == [len(p.points) for p in passes[:2]]
    np.testing.assert_array_equal(labels[1], model.predict(C.point_features(passes[1].points, passes[1].intensity)))
    assert min(np.mean(l == p.labels) for l, p in zip(labels, passes[:2])) > 0.85
    with pytest.raises(ValueError, match="labelled"):
        C.classify_passes([], passes, 3, key=jax.random.PRNGKey(0), rng=np.random.default_rng(0))
