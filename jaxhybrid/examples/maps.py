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

import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.maps import metrics as M
from jaxhybrid.maps import pipeline as P
from jaxhybrid.maps import scene as S
from jaxhybrid.maps.classify import classify_passes

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
    scene = S.make_scene(seed, length=cfg["length_m"], sensor_noise=cfg["sensor_noise_m"],
                         survey_noise=cfg["survey_noise_m"], control_spacing=cfg["control_spacing_m"])
    n, n_markings = cfg["n_passes"], len(scene.marking_offsets)
    passes, _ = S.make_passes(scene, n + cfg["n_labelled_passes"], seed,
                              common_translation=cfg["common_drift_translation_m"],
                              common_rotation_deg=cfg["common_drift_rotation_deg"],
                              pass_translation=cfg["pass_drift_translation_m"],
                              pass_rotation_deg=cfg["pass_drift_rotation_deg"], p_occlusion=cfg["p_occlusion"])
    rng = np.random.default_rng(seed)
    labels, _ = classify_passes(passes[n:], passes[:n], len(S.CLASS_NAMES), key=jax.random.PRNGKey(seed), rng=rng,
                                steps=cfg["classifier_steps"])
    passes = passes[:n]
    acc = float(np.mean(np.concatenate([l == p.labels for l, p in zip(labels, passes)])))
    grid = P.time_grid(0.0, scene.length)
    pts, tms = [p.points.astype(np.float64) for p in passes], [p.times.astype(np.float64) for p in passes]
    # hybrid: every pass registered to the surveyed control points; data only: to each other, gauge = mean pose
    reg_h = [P.register_to_controls(x, t, l, scene.controls_surveyed, grid, bandwidth=cfg["drift_bandwidth_m"])
             for x, t, l in zip(pts, tms, labels)]
    ok_h = [k for k in range(n) if reg_h[k] is not None]
    Ts = P.register_between_passes(pts, tms, labels, grid, bandwidth=cfg["drift_bandwidth_m"], seed=seed)

    def data_only_points(sub):
        Mn = P.consensus([Ts[k] for k in sub])
        return [P.apply_gauged(Ts[k], Mn, pts[k], tms[k], grid) for k in sub]

    def scores(m):
        return M.map_scores(m, scene, MATCH_RADIUS, GATE)

    hybrid_map = P.build_map([reg_h[k] for k in ok_h], [labels[k] for k in ok_h], n_markings, constrained=True, seed=seed)
    data_pts = data_only_points(list(range(n)))
    data_map = P.build_map(data_pts, labels, n_markings, constrained=False, seed=seed)
    abl = scores(P.build_map(data_pts, labels, n_markings, constrained=True, seed=seed))
    # error vs number of passes (elements only), averaged over random subsets of the passes
    counts = sorted({c for c in (1, 2, 4, 8, 16, n) if c <= n})
    curve = {"n_passes": counts, "hybrid": [], "data_only": [], "hybrid_f1": [], "data_only_f1": [],
             "subsets_per_count": cfg["subsets_per_count"]}
    for m in counts:
        subsets = [list(range(n))] if m == n else [sorted(rng.choice(n, m, replace=False)) for _ in range(cfg["subsets_per_count"])]
        eh, ed = [], []
        for sub in subsets:
            hk = [k for k in sub if reg_h[k] is not None]
            eh.append(scores(P.build_map([reg_h[k] for k in hk], [labels[k] for k in hk], n_markings, constrained=True,
                                         lanes=False)) if hk else {"median_position_error_m": float("nan"), "element_f1": 0.0})
            ed.append(scores(P.build_map(data_only_points(sub), [labels[k] for k in sub], n_markings, constrained=False,
                                         lanes=False)))
        for key, es in (("hybrid", eh), ("data_only", ed)):
            curve[key].append(float(np.nanmean([e["median_position_error_m"] for e in es])))
            curve[key + "_f1"].append(float(np.mean([e["element_f1"] for e in es])))
    survey = P.survey_map(scene, seed, every=4, spacing=cfg["survey_station_spacing_m"])
    _plot(out, scene, hybrid_map, data_map, survey, curve, cfg)
    goal = {"median_position_error_m": "min", "element_f1": "max", "lane_width_error_m": "min",
            "lane_lateral_error_m": "min", "precision": "max", "recall": "max"}
    # headline: F1 of the map's elements (complete *and* within the match radius); the survey alone is more
    # precise where it exists (median_position_error_m) but covers a fraction of the elements
    return record(NAME, 2, quick, t_start, scores(hybrid_map), goal,
                  {"mechanism_only": scores(survey), "data_only": scores(data_map), "data_only_constrained": abl},
                  headline="element_f1",
                  config={**cfg, "n_elements": int(len(scene.elements)), "n_controls": int(len(scene.controls)),
                          "passes_registered_to_controls": len(ok_h), "classifier_accuracy": acc,
                          "error_vs_passes": curve})


def _plot(out, scene, hyb, dat, survey, curve, cfg):
    fig, ax = figure(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
    h = scene.heading   # the map in the road-aligned frame
    Rm = np.array([[np.cos(h), np.sin(h)], [-np.sin(h), np.cos(h)]])
    loc = lambda xy: (np.asarray(xy)[..., :2] - scene.origin) @ Rm.T  # noqa: E731
    st = np.linspace(0, scene.length, 300)
    lines = [(S.road_points(scene, st, off), "k-", 2.5, 0.35, "truth: markings") for off in scene.marking_offsets]
    lines += [(c, "C0-", 1, 1, "hybrid: lanes") for c in hyb.lane_curves]
    lines += [(c, "C3--", 1, 1, "data only: lanes") for c in dat.lane_curves]
    seen = set()
    for c, style, lw, alpha, lab in lines:
        a = loc(c)
        ax[0].plot(a[:, 0], a[:, 1], style, lw=lw, alpha=alpha, label=None if lab in seen else lab)
        seen.add(lab)
    for xyz, style, kw, lab in ((scene.elements, "ko", dict(ms=9, mfc="none"), "truth: poles/signs"),
                                (hyb.elements, "C0+", dict(ms=9, mew=2), "hybrid"), (dat.elements, "C3x", dict(ms=7, mew=1.5), "data only"),
                                (survey.elements, "C2s", dict(ms=5), "survey only"), (scene.controls, "C1^", dict(ms=6), "control points")):
        a = loc(xyz)
        ax[0].plot(a[:, 0], a[:, 1], style, label=lab, **kw)
    ax[0].set(xlabel="along the road frame x (m)", ylabel="y (m)", title="map (road-aligned frame)")
    ax[0].legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    ax[1].loglog(curve["n_passes"], curve["hybrid"], "C0o-", label="hybrid (survey-registered, constrained)")
    ax[1].loglog(curve["n_passes"], curve["data_only"], "C3s--", label="data only (ICP between passes)")
    ax[1].axhline(cfg["sensor_noise_m"], color="grey", ls=":", label="sensor noise σ")
    ax[1].set(xlabel="number of passes", ylabel="median element position error (m)", title="error vs passes")
    ax[1].legend(fontsize=8)
    save_figure(fig, out, NAME)
