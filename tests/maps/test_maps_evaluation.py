"""Map-quality studies: registrations of all passes, maps of subsets of passes (equal to the calls
they wrap), the error-vs-passes curve (exact on perfect maps, equal to the inline loop it
replaces), the score goals and the figure panels."""

import numpy as np
import pytest

from jaxhybrid import maps
from jaxhybrid.maps import pipeline as P
from jaxhybrid.maps import scene as S


@pytest.fixture(scope="module")
def small():
    scene = S.make_scene(4, length=80.0)
    passes, _ = S.make_passes(scene, 3, seed=4, common_translation=0.0, pass_translation=0.0,
                              common_rotation_deg=0.0, pass_rotation_deg=0.0)
    return scene, passes


def _identity(n_grid):
    import jax.numpy as jnp

    return maps.Transform(jnp.broadcast_to(jnp.eye(3), (n_grid, 3, 3)), jnp.zeros((n_grid, 3)), jnp.ones(n_grid))


def test_maps_of_subsets_equal_build_map_of_their_registered_passes(small):
    scene, passes = small
    grid = P.time_grid(0.0, scene.length)
    pts, tms, lab = [p.true_points for p in passes], [p.times.astype(float) for p in passes], [p.labels for p in passes]
    Ts = [_identity(len(grid))] * 3
    gauged = maps.gauged_points(Ts, pts, tms, grid, [0, 2])
    np.testing.assert_allclose(gauged[1], pts[2], atol=1e-6)  # identity poses: nothing moves
    n_mk = len(scene.marking_offsets)
    got = maps.data_only_map(Ts, pts, tms, lab, grid, [0, 2], n_mk, lanes=False)
    ref = P.build_map(gauged, [lab[0], lab[2]], n_mk, constrained=False, lanes=False)
    np.testing.assert_array_equal(got.elements, ref.elements)
    registered = [pts[0], None, pts[2]]
    hyb = maps.survey_registered_map(registered, lab, [0, 1, 2], n_mk, lanes=False)
    ref = P.build_map([pts[0], pts[2]], [lab[0], lab[2]], n_mk, constrained=True, lanes=False)
    np.testing.assert_array_equal(hyb.elements, ref.elements)
    assert maps.survey_registered_map(registered, lab, [1], n_mk) is None
    with pytest.raises(ValueError, match="empty"):
        maps.gauged_points(Ts, pts, tms, grid, [])


def test_error_vs_passes_is_exact_on_perfect_maps_and_follows_the_inline_loop(small):
    scene = small[0]
    perfect = P.MapResult(scene.elements, scene.element_class, None, [], float("nan"))
    built = []

    def build(sub):
        built.append(list(sub))
        return perfect

    curve = maps.error_vs_passes({"perfect": build, "none": lambda sub: None}, 5, scene, np.random.default_rng(0),
                                 counts=(1, 2, 8), subsets_per_count=2)
    assert curve["n_passes"] == [1, 2, 5] and curve["subsets_per_count"] == 2
    assert curve["perfect"] == [0.0, 0.0, 0.0] and curve["perfect_f1"] == [1.0, 1.0, 1.0]
    assert np.all(np.isnan(curve["none"])) and curve["none_f1"] == [0.0, 0.0, 0.0]
    rng = np.random.default_rng(0)  # the subsets: drawn per count before any map is built
    expect = [sorted(rng.choice(5, m, replace=False)) for m in (1, 2) for _ in range(2)] + [list(range(5))]
    assert built == [list(s) for s in expect]
    assert set(maps.SCORE_GOALS) >= set(maps.map_scores(perfect, scene))
    with pytest.raises(ValueError, match="n_passes"):
        maps.error_vs_passes({"perfect": build}, 0, scene, np.random.default_rng(0))


def test_register_passes_equals_the_two_registrations(small):
    scene, passes = small
    grid = P.time_grid(0.0, scene.length)
    lab = [p.labels for p in passes[:2]]
    reg = maps.register_passes(passes[:2], lab, scene.controls_surveyed, grid, bandwidth=20.0, seed=1)
    pts = [p.points.astype(np.float64) for p in passes[:2]]
    tms = [p.times.astype(np.float64) for p in passes[:2]]
    for k in range(2):
        direct = P.register_to_controls(pts[k], tms[k], lab[k], scene.controls_surveyed, grid, bandwidth=20.0)
        assert (reg.to_controls[k] is None) == (direct is None)
        if direct is not None:
            np.testing.assert_array_equal(reg.to_controls[k], direct)
    assert reg.registered == [k for k in range(2) if reg.to_controls[k] is not None]
    between = P.register_between_passes(pts, tms, lab, grid, bandwidth=20.0, seed=1)
    np.testing.assert_array_equal(np.asarray(reg.between[1].R), np.asarray(between[1].R))
    with pytest.raises(ValueError, match="label array per pass"):
        maps.register_passes(passes[:2], lab[:1], scene.controls_surveyed, grid)


def test_plot_panels_draw(small, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxhybrid.maps import plots as MP

    scene = small[0]
    survey = P.survey_map(scene, 0)
    np.testing.assert_allclose(MP.road_aligned(scene, scene.origin[None]), [[0.0, 0.0]], atol=1e-12)
    fig, ax = plt.subplots(1, 2)
    MP.map_panel(ax[0], scene, [(survey, "C2-", "C2s", "survey", {})])
    n_truth = len(scene.marking_offsets)
    assert len(ax[0].lines) == n_truth + len(survey.lane_curves) + 3  # truth elements, survey, control points
    MP.error_vs_passes_panel(ax[1], {"n_passes": [1, 2], "a": [0.2, 0.1]}, {"a": ("C0o-", "A")}, noise=0.05)
    assert len(ax[1].lines) == 2
    fig.savefig(tmp_path / "panels.png")
    plt.close(fig)
