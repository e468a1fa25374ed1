"""High-precision maps from crowdsourced point clouds under survey control (paradigm 2).

* :mod:`~jaxhybrid.maps.scene` — synthetic road scene, survey and drifting vehicle passes;
* :mod:`~jaxhybrid.maps.procrustes` — Kabsch/Umeyama transforms (weighted, batched, time-varying);
* :mod:`~jaxhybrid.maps.icp` — robust rigid and time-varying ICP;
* :mod:`~jaxhybrid.maps.cluster` — DBSCAN and voxel down-sampling;
* :mod:`~jaxhybrid.maps.classify` — point features and the point classifier;
* :mod:`~jaxhybrid.maps.fit` — constrained lanes (parallel, constant width), vertical poles;
* :mod:`~jaxhybrid.maps.pipeline` — registration (survey or between passes), fusion, map;
* :mod:`~jaxhybrid.maps.metrics` — element matching, F1, position and lane errors;
* :mod:`~jaxhybrid.maps.evaluation` — both registrations of the passes, maps of subsets of passes, error
  against the number of passes;
* :mod:`~jaxhybrid.maps.plots` — figure panels (maps in the road frame, error vs passes).
"""

from jaxhybrid.maps.classify import PointClassifier, classify_passes, point_features, train_classifier
from jaxhybrid.maps.cluster import dbscan, voxel_downsample
from jaxhybrid.maps.evaluation import (SCORE_GOALS, Registrations, data_only_map, error_vs_passes, gauged_points,
                                      register_passes, survey_registered_map)
from jaxhybrid.maps.fit import (FreeLanes, LaneModel, fit_lanes, fit_lanes_free, free_lane_points, lane_points,
                                pole_free, pole_vertical)
from jaxhybrid.maps.icp import ICPResult, local_icp, nearest  # rigid ICP: jaxhybrid.maps.icp.icp (the module keeps the name)
from jaxhybrid.maps.metrics import element_scores, lane_lateral_error, map_scores, match_elements, polyline_distance
from jaxhybrid.maps.pipeline import (MapResult, apply_gauged, build_map, consensus, register_between_passes,
                                     register_to_controls, survey_map, time_grid)
from jaxhybrid.maps.procrustes import Transform, apply, apply_local, compose, inverse, kabsch, local_rigid, umeyama
from jaxhybrid.maps.scene import (CLASS_NAMES, Drift, Pass, Scene, make_passes, make_scene, road_points, scan_pass,
                                  survey_elements, survey_lines)

__all__ = [
    "PointClassifier", "point_features", "train_classifier", "classify_passes", "map_scores", "survey_map", "dbscan", "voxel_downsample", "FreeLanes", "LaneModel",
    "fit_lanes", "fit_lanes_free", "free_lane_points", "lane_points", "pole_free", "pole_vertical", "ICPResult",
    "local_icp", "nearest", "element_scores", "lane_lateral_error", "match_elements", "polyline_distance", "MapResult", "apply_gauged",
    "build_map", "consensus", "register_between_passes", "register_to_controls", "time_grid", "Transform", "apply",
    "apply_local", "compose", "inverse", "kabsch", "local_rigid", "umeyama", "CLASS_NAMES", "Drift", "Pass", "Scene",
    "make_passes", "make_scene", "road_points", "scan_pass", "survey_elements", "survey_lines",
    "SCORE_GOALS", "Registrations", "register_passes", "gauged_points", "survey_registered_map", "data_only_map",
    "error_vs_passes",
]
