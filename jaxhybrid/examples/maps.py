"""maps — high-precision maps from crowdsourced point clouds under survey control (paradigm 2).

Scene (:mod:`jaxhybrid.maps.scene`): a curved three-lane road (four markings, kerbs), poles and
signs, surveyed control targets every 15 m; vehicle passes whose points carry sensor noise
(σ = ``sensor_noise_m`` per axis), outliers, occlusion and a smooth pose drift = a **common**
part shared by all passes (datum/systematic positioning error) + a per-pass part. Two extra
labelled passes train the point classifier (:mod:`jaxhybrid.maps.classify`, through
:func:`jaxhybrid.train.fit`); all methods use the same classifier and clustering.

* **hybrid** — every pass is registered to the surveyed control points (time-varying
  kernel-weighted Kabsch), then fused, clustered and fitted under geometric constraints
  (vertical poles; parallel lanes of one width, :func:`jaxhybrid.paradigms.constrain`).
* **data only** — a competent pipeline without the survey: passes registered to each other by
  time-varying robust ICP, gauge fixed to the mean pass pose (per-pass drift averages out, the
  common drift stays), same clustering, free pole axes and independently fitted markings.
* **data only + constraints** (ablation, reported as ``data_only_constrained``) — the data-only
  registration with the hybrid's geometric constraints: shows what the survey adds on its own.
* **mechanism only (survey only)** — what the field survey measured: every 4th element (others
  count as missed) and the markings at cross-sections every 50 m joined by straight segments.

Scoring (:mod:`jaxhybrid.maps.metrics`): elements (poles, signs) are matched one-to-one within
their class by horizontal distance; a match within ``match_radius_m`` = 0.5 m is a true positive
for F1; ``median_position_error_m`` is the median horizontal error of matches within 2 m.
``lane_lateral_error_m``: mean distance of the true markings to the fitted ones;
``lane_width_error_m``: |ŵ − w|.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from jaxhybrid.examples.record import figure, record, save_figure
from jaxhybrid.maps import classify as C
from jaxhybrid.maps import metrics as M
from jaxhybrid.maps import pipeline as P
from jaxhybrid.maps import scene as S

NAME = "maps"
MATCH_RADIUS, GATE = 0.5, 2.0


def _element_metrics(mp, scene):
    e = M.element_scores(mp.elements, mp.element_class, scene.elements, scene.element_class, MATCH_RADIUS, GATE)
    return e


def _lane_metrics(curves, width, scene):
    st = np.linspace(3.0, scene.length - 3.0, 400)
    truth = [S.road_points(scene, st, o)[:, :2] for o in scene.marking_offsets]
    return {"lane_lateral_error_m": M.lane_lateral_error(curves, truth),
            "lane_width_error_m": abs(float(width) - scene.lane_width)}


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    cfg = dict(length_m=150.0 if quick else 200.0, n_passes=10 if quick else 24, n_labelled_passes=2,
               classifier_steps=400 if quick else 1200, sensor_noise_m=0.05, survey_noise_m=0.01,
               common_drift_translation_m=0.4, common_drift_rotation_deg=0.15,
               pass_drift_translation_m=0.5, pass_drift_rotation_deg=0.3, p_occlusion=0.15,
               match_radius_m=MATCH_RADIUS, error_gate_m=GATE, control_spacing_m=15.0,
               drift_bandwidth_m=20.0, survey_element_fraction=0.25, survey_station_spacing_m=50.0,
               subsets_per_count=3 if quick else 4)
    scene = S.make_scene(seed, length=cfg["length_m"], sensor_noise=cfg["sensor_noise_m"],
                         survey_noise=cfg["survey_noise_m"], control_spacing=cfg["control_spacing_m"])
    n = cfg["n_passes"]
    passes, _ = S.make_passes(scene, n + cfg["n_labelled_passes"], seed,
                              common_translation=cfg["common_drift_translation_m"],
                              common_rotation_deg=cfg["common_drift_rotation_deg"],
                              pass_translation=cfg["pass_drift_translation_m"],
                              pass_rotation_deg=cfg["pass_drift_rotation_deg"], p_occlusion=cfg["p_occlusion"])
    labelled, passes = passes[n:], passes[:n]
    n_markings = len(scene.marking_offsets)

    # point classifier trained on the labelled passes
    rng = np.random.default_rng(seed)
    f_tr = np.concatenate([C.point_features(p.points, p.intensity) for p in labelled])
    y_tr = np.concatenate([p.labels for p in labelled])
    sub = rng.choice(len(y_tr), min(len(y_tr), 8000), replace=False)
    f_tr, y_tr = f_tr[sub], y_tr[sub]
    model, _ = C.train_classifier(f_tr, y_tr, len(S.CLASS_NAMES), key=jax.random.PRNGKey(seed),
                                  steps=cfg["classifier_steps"], batch_size=512)
    feats = [C.point_features(p.points, p.intensity) for p in passes]
    labels = [model.predict(f) for f in feats]
    acc = float(np.mean(np.concatenate([l == p.labels for l, p in zip(labels, passes)])))

    grid = P.time_grid(0.0, scene.length)
    pts = [p.points.astype(np.float64) for p in passes]
    tms = [p.times.astype(np.float64) for p in passes]

    # hybrid: register every pass to the surveyed control points
    reg_h = [P.register_to_controls(x, t, l, scene.controls_surveyed, grid, bandwidth=cfg["drift_bandwidth_m"])
             for x, t, l in zip(pts, tms, labels)]
    ok_h = [k for k in range(n) if reg_h[k] is not None]

    # data only: passes registered to each other, gauge = mean pass pose
    Ts = P.register_between_passes(pts, tms, labels, grid, bandwidth=cfg["drift_bandwidth_m"], seed=seed)

    def data_only_points(sub):
        Mn = P.consensus([Ts[k] for k in sub])
        return [P.apply_gauged(Ts[k], Mn, pts[k], tms[k], grid) for k in sub]

    # the full maps
    hybrid_map = P.build_map([reg_h[k] for k in ok_h], [labels[k] for k in ok_h], n_markings, constrained=True, seed=seed)
    hybrid_el = _element_metrics(hybrid_map, scene)
    data_pts = data_only_points(list(range(n)))
    data_map = P.build_map(data_pts, labels, n_markings, constrained=False, seed=seed)
    data_el = _element_metrics(data_map, scene)
    # ablation: the data-only registration with the geometric constraints (no survey)
    abl_map = P.build_map(data_pts, labels, n_markings, constrained=True, seed=seed)
    abl = {**_pick(_element_metrics(abl_map, scene)), **_lane_metrics(abl_map.lane_curves, abl_map.lane_width, scene)}

    # error vs number of passes (elements only), averaged over random subsets of the passes
    counts = sorted({c for c in (1, 2, 4, 8, 16, n) if c <= n})
    curve = {"n_passes": counts, "hybrid": [], "data_only": [], "hybrid_f1": [], "data_only_f1": [],
             "subsets_per_count": cfg["subsets_per_count"]}
    for m in counts:
        subsets = [list(range(n))] if m == n else [sorted(rng.choice(n, m, replace=False)) for _ in range(cfg["subsets_per_count"])]
        eh, ed = [], []
        for sub in subsets:
            hk = [k for k in sub if reg_h[k] is not None]
            eh.append(_element_metrics(_elements_only([reg_h[k] for k in hk], [labels[k] for k in hk], True), scene)
                      if hk else {"median_position_error_m": float("nan"), "element_f1": 0.0})
            ed.append(_element_metrics(_elements_only(data_only_points(sub), [labels[k] for k in sub], False), scene))
        for key, es in (("hybrid", eh), ("data_only", ed)):
            curve[key].append(float(np.nanmean([e["median_position_error_m"] for e in es])))
            curve[key + "_f1"].append(float(np.mean([e["element_f1"] for e in es])))

    hybrid = {**_pick(hybrid_el), **_lane_metrics(hybrid_map.lane_curves, hybrid_map.lane_width, scene)}
    data_only = {**_pick(data_el), **_lane_metrics(data_map.lane_curves, data_map.lane_width, scene)}

    # survey only
    sv_pos, sv_cls = S.survey_elements(scene, seed, every=4)
    sv_el = M.element_scores(sv_pos, sv_cls, scene.elements, scene.element_class, MATCH_RADIUS, GATE)
    lines = S.survey_lines(scene, seed, cfg["survey_station_spacing_m"])
    sv_width = float(np.mean(np.linalg.norm(np.diff(lines[..., :2], axis=0), axis=-1)))
    dense = [np.concatenate([np.linspace(a, b, 100, endpoint=False) for a, b in zip(l[:-1, :2], l[1:, :2])]) for l in lines]
    survey = {**_pick(sv_el), **_lane_metrics(dense, sv_width, scene)}

    _plot(out, scene, hybrid_map, data_map, sv_pos, lines, curve, cfg)
    goal = {"median_position_error_m": "min", "element_f1": "max", "lane_width_error_m": "min",
            "lane_lateral_error_m": "min", "precision": "max", "recall": "max"}
    return record(
        NAME, 2, quick, t_start, hybrid, goal,
        {"mechanism_only": survey, "data_only": data_only, "data_only_constrained": abl},
        config={**cfg, "n_elements": int(len(scene.elements)), "n_controls": int(len(scene.controls)),
                   "passes_registered_to_controls": len(ok_h), "classifier_accuracy": acc,
                   "error_vs_passes": curve},
    )


def _pick(e):
    return {k: float(e[k]) for k in ("median_position_error_m", "element_f1", "precision", "recall")}


def _elements_only(points, labels, constrained):
    """Elements of a map without the (slower) lane fit: used for the error-vs-passes curve."""
    from jaxhybrid.maps import fit as F

    pid = np.concatenate([np.full(len(p), k) for k, p in enumerate(points)])
    X, Y = np.concatenate(points), np.concatenate(labels)
    min_passes = max(1, int(np.ceil(0.25 * len(points))))
    elems, cls = [], []
    for c_id, dims in ((S.POLE, 2), (S.SIGN, 3)):
        m = Y == c_id
        for cl in P._clusters(X[m], pid[m], 0.3, 8, min_passes, dims):
            elems.append((F.pole_vertical(cl) if constrained else F.pole_free(cl)) if c_id == S.POLE else np.median(cl, 0))
            cls.append(c_id)
    return P.MapResult(np.asarray(elems).reshape(-1, 3), np.asarray(cls, int), None, [], float("nan"))


def _plot(out, scene, hyb, dat, sv_pos, lines, curve, cfg):
    fig, ax = figure(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
    # map in road-aligned coordinates, lateral axis exaggerated by plotting offsets from the centreline
    o, h = scene.origin, scene.heading
    Rm = np.array([[np.cos(h), np.sin(h)], [-np.sin(h), np.cos(h)]])
    loc = lambda xy: (np.asarray(xy)[..., :2] - o) @ Rm.T
    st = np.linspace(0, scene.length, 300)
    for k, off in enumerate(scene.marking_offsets):
        a = loc(S.road_points(scene, st, off))
        ax[0].plot(a[:, 0], a[:, 1], "k-", lw=2.5, alpha=0.35, label="truth: markings" if k == 0 else None)
    for k, c in enumerate(hyb.lane_curves):
        a = loc(c)
        ax[0].plot(a[:, 0], a[:, 1], "C0-", lw=1, label="hybrid: lanes" if k == 0 else None)
    for k, c in enumerate(dat.lane_curves):
        a = loc(c)
        ax[0].plot(a[:, 0], a[:, 1], "C3--", lw=1, label="data only: lanes" if k == 0 else None)
    te, he, de, se = loc(scene.elements), loc(hyb.elements), loc(dat.elements), loc(sv_pos)
    ax[0].plot(te[:, 0], te[:, 1], "ko", ms=9, mfc="none", label="truth: poles/signs")
    ax[0].plot(he[:, 0], he[:, 1], "C0+", ms=9, mew=2, label="hybrid")
    ax[0].plot(de[:, 0], de[:, 1], "C3x", ms=7, mew=1.5, label="data only")
    ax[0].plot(se[:, 0], se[:, 1], "C2s", ms=5, label="survey only")
    cp = loc(scene.controls)
    ax[0].plot(cp[:, 0], cp[:, 1], "C1^", ms=6, label="control points")
    ax[0].set(xlabel="along the road frame x (m)", ylabel="y (m)", title="map (road-aligned frame)")
    ax[0].legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    n = curve["n_passes"]
    ax[1].loglog(n, curve["hybrid"], "C0o-", label="hybrid (survey-registered, constrained)")
    ax[1].loglog(n, curve["data_only"], "C3s--", label="data only (ICP between passes)")
    ax[1].axhline(cfg["sensor_noise_m"], color="grey", ls=":", label="sensor noise σ")
    ax[1].set(xlabel="number of passes", ylabel="median element position error (m)", title="error vs passes")
    ax[1].legend(fontsize=8)
    save_figure(fig, out, NAME)
