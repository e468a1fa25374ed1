"""maps — high-precision maps from crowdsourced point clouds under survey control (paradigm 2).

Scene (:mod:`jaxhybrid.maps.scene`): a curved three-lane road, poles and signs, surveyed control
targets every 15 m; vehicle passes with sensor noise, outliers, occlusion and a smooth pose drift
(a part common to all passes + a per-pass part). Two labelled passes train the point classifier
used by every method. **hybrid** — every pass registered to the surveyed control points, fused,
clustered and fitted under geometric constraints (vertical poles; parallel lanes of one width).
**data only** — passes registered to each other by time-varying robust ICP (gauge: the mean pass
pose), free fits; ``data_only_constrained`` adds the hybrid's constraints (ablation).
**mechanism only** — the survey alone (every 4th element; markings at 50 m cross-sections).
Measured (:func:`jaxhybrid.maps.map_scores`): element F1 (match within 0.5 m), median position
error, lane lateral and width errors, and the element error vs the number of passes. README.md.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid import maps
from jaxhybrid.record import figure, record, save_figure
from jaxhybrid.maps import plots as MP

NAME = "maps"
MATCH_RADIUS, GATE = 0.5, 2.0


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start, out = time.perf_counter(), Path(out)
    cfg = dict(length_m=150.0 if quick else 200.0, n_passes=10 if quick else 24, n_labelled_passes=2,
               classifier_steps=400 if quick else 1200, sensor_noise_m=0.05, survey_noise_m=0.01,
               common_drift_translation_m=0.4, common_drift_rotation_deg=0.15,
               pass_drift_translation_m=0.5, pass_drift_rotation_deg=0.3, p_occlusion=0.15,
               match_radius_m=MATCH_RADIUS, error_gate_m=GATE, control_spacing_m=15.0,
               drift_bandwidth_m=20.0, survey_element_fraction=0.25, survey_station_spacing_m=50.0,
               subsets_per_count=3 if quick else 4)
    scene = maps.make_scene(seed, length=cfg["length_m"], sensor_noise=cfg["sensor_noise_m"],
                            survey_noise=cfg["survey_noise_m"], control_spacing=cfg["control_spacing_m"])
    n, n_markings = cfg["n_passes"], len(scene.marking_offsets)
    passes, _ = maps.make_passes(scene, n + cfg["n_labelled_passes"], seed,
                                 common_translation=cfg["common_drift_translation_m"],
                                 common_rotation_deg=cfg["common_drift_rotation_deg"],
                                 pass_translation=cfg["pass_drift_translation_m"],
                                 pass_rotation_deg=cfg["pass_drift_rotation_deg"], p_occlusion=cfg["p_occlusion"])
    rng = np.random.default_rng(seed)
    labels, _ = maps.classify_passes(passes[n:], passes[:n], len(maps.CLASS_NAMES), key=jax.random.PRNGKey(seed),
                                     rng=rng, steps=cfg["classifier_steps"])
    passes = passes[:n]
    acc = float(np.mean(np.concatenate([l == p.labels for l, p in zip(labels, passes)])))
    grid = maps.time_grid(0.0, scene.length)
    # hybrid: every pass registered to the surveyed control points; data only: to each other, gauge = mean pose
    reg = maps.register_passes(passes, labels, scene.controls_surveyed, grid, bandwidth=cfg["drift_bandwidth_m"],
                               seed=seed)
    hybrid_map = functools.partial(maps.survey_registered_map, reg.to_controls, labels, n_markings=n_markings)
    data_map = functools.partial(maps.data_only_map, reg.between, reg.points, reg.times, labels, grid,
                                 n_markings=n_markings)
    scores = functools.partial(maps.map_scores, scene=scene, radius=MATCH_RADIUS, gate=GATE)
    everything = list(range(n))
    hybrid, data_only = hybrid_map(reg.registered, seed=seed), data_map(everything, seed=seed)
    abl = scores(data_map(everything, constrained=True, seed=seed))  # data only + the hybrid's constraints
    # error vs number of passes (elements only), averaged over random subsets of the passes
    curve = maps.error_vs_passes({"hybrid": lambda sub: hybrid_map(sub, lanes=False),
                                  "data_only": lambda sub: data_map(sub, lanes=False)}, n, scene, rng,
                                 subsets_per_count=cfg["subsets_per_count"], radius=MATCH_RADIUS, gate=GATE)
    survey = maps.survey_map(scene, seed, every=round(1 / cfg["survey_element_fraction"]),  # every k-th element
                             spacing=cfg["survey_station_spacing_m"])
    _plot(out, scene, hybrid, data_only, survey, curve, cfg)
    # headline: F1 of the map's elements (complete *and* within the match radius); the survey alone is more
    # precise where it exists (median_position_error_m) but covers a fraction of the elements
    return record(NAME, 2, quick, t_start, scores(hybrid), maps.SCORE_GOALS,
                  {"mechanism_only": scores(survey), "data_only": scores(data_only), "data_only_constrained": abl},
                  headline="element_f1",
                  config={**cfg, "n_elements": int(len(scene.elements)), "n_controls": int(len(scene.controls)),
                          "passes_registered_to_controls": len(reg.registered), "classifier_accuracy": acc,
                          "error_vs_passes": curve})


def _plot(out, scene, hyb, dat, survey, curve, cfg):
    fig, ax = figure(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
    MP.map_panel(ax[0], scene, [(hyb, "C0-", "C0+", "hybrid", dict(ms=9, mew=2)),
                                (dat, "C3--", "C3x", "data only", dict(ms=7, mew=1.5)),
                                (survey, None, "C2s", "survey only", dict(ms=5))])
    ax[0].set(xlabel="along the road frame x (m)", ylabel="y (m)", title="map (road-aligned frame)")
    ax[0].legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    MP.error_vs_passes_panel(ax[1], curve, {"hybrid": ("C0o-", "hybrid (survey-registered, constrained)"),
                                            "data_only": ("C3s--", "data only (ICP between passes)")},
                             noise=cfg["sensor_noise_m"])
    ax[1].set(xlabel="number of passes", ylabel="median element position error (m)", title="error vs passes")
    ax[1].legend(fontsize=8)
    save_figure(fig, out, NAME)
