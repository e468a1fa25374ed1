"""Synthetic road scene, survey and crowdsourced vehicle passes (with ground truth).

Geometry (metres). A road of length ``L`` follows the centreline ``c(s) = (s, p(s))`` in a road
frame (``p`` a gentle quadratic + cubic, curvature radius ≳ 300 m), rotated by ``heading`` and
shifted to ``origin`` in the map (world) frame. Lateral positions are offsets ``o`` along the
unit normal ``n(s)``, so every lane line is an exact offset curve ``c(s) + o n(s)``:

* ``n_lanes`` lanes of width ``w``: markings at ``o_k = (k − n_lanes/2) w``, ``k = 0..n_lanes``
  (outer lines solid, inner ones dashed 3 m on / 6 m off), 0.15 m wide, flat on the road (z = 0);
* kerbs (a 0.15 m step) at ``±(n_lanes w/2 + 0.5)``, sidewalk (z = 0.15) beyond;
* poles (radius 0.08 m, 4 m tall) on both sides about every 25 m; signs (0.7 m plates facing the
  traffic, centre 2.5 m up) on about a third of them;
* surveyed control targets (0.25 m reflective discs on the sidewalk) every ``control_spacing``
  metres, alternating sides; the survey measures them (and nothing else, unless asked) with
  ``survey_noise`` accuracy;
* clutter: bushes beyond the sidewalk and uniform outliers.

A vehicle pass scans the scene along the road. Each point carries its scan time ``t`` (the
along-track position of the vehicle, in metres) and is observed in the pass's drifted frame

    x_obs = R(t) (x − v(t)) + v(t) + τ(t) + ε,     ε ~ N(0, σ² I),   σ = sensor_noise,

where ``v(t)`` is the vehicle position and the pose error ``(R(t), τ(t))`` is smooth in ``t``
(random sinusoids with wavelengths 300–900 m: the slow drift of GNSS/INS localisation). Its
yaw/roll/pitch and translation are the sum of a **common** part (shared by all passes: datum
and systematic positioning error, which no amount of pass-to-pass averaging removes) and a
**per-pass** part. Passes cover a random stretch of the road; each element is occluded in a
pass with probability ``p_occlusion``, and stretches of the lines are hidden by traffic.

The generator is NumPy (host side) and fully determined by its seed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["GROUND", "MARKING", "KERB", "POLE", "SIGN", "TARGET", "CLUTTER", "CLASS_NAMES",
           "Scene", "Pass", "Drift", "make_scene", "make_drift", "apply_drift", "scan_pass", "make_passes",
           "road_points", "survey_elements", "survey_lines"]

GROUND, MARKING, KERB, POLE, SIGN, TARGET, CLUTTER = range(7)
CLASS_NAMES = ("ground", "marking", "kerb", "pole", "sign", "target", "clutter")
_INTENSITY = {GROUND: (0.15, 0.05), MARKING: (0.6, 0.08), KERB: (0.28, 0.06), POLE: (0.4, 0.08),
              SIGN: (0.85, 0.06), TARGET: (0.95, 0.03), CLUTTER: (0.2, 0.08)}


class Scene(NamedTuple):
    """Ground truth. ``elements``: (E, 3) reference points (pole: base on the ground; sign: plate
    centre), ``element_class``: POLE or SIGN; ``controls``: (C, 3) true control-target centres,
    ``controls_surveyed``: their survey measurements; ``coeffs``: centreline polynomial
    ``p(s) = Σ coeffs[k] (s − L/2)^k`` in the road frame."""

    length: float
    origin: np.ndarray
    heading: float
    coeffs: np.ndarray
    lane_width: float
    n_lanes: int
    marking_offsets: np.ndarray
    kerb_offsets: np.ndarray
    elements: np.ndarray
    element_class: np.ndarray
    element_s: np.ndarray
    controls: np.ndarray
    controls_surveyed: np.ndarray
    control_s: np.ndarray
    sensor_noise: float
    survey_noise: float


class Drift(NamedTuple):
    """Smooth pose error: ``angles(t)`` (roll, pitch, yaw) and ``shift(t)`` are
    ``a0 + Σ_j a_j sin(2π t / λ_j + φ_j)``; arrays hold (a0, a_j, λ_j, φ_j) per component."""

    a0: np.ndarray      # (6,)
    amp: np.ndarray     # (6, J)
    wavelength: np.ndarray
    phase: np.ndarray

    def values(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, np.float64)[..., None, None]
        return self.a0 + np.sum(self.amp * np.sin(2 * np.pi * t / self.wavelength + self.phase), -1)

    def __add__(self, other: "Drift") -> "Drift":  # sum of two drifts
        return Drift(self.a0 + other.a0, np.concatenate([self.amp, other.amp], 1),
                     np.concatenate([self.wavelength, other.wavelength], 1),
                     np.concatenate([self.phase, other.phase], 1))


class Pass(NamedTuple):
    """One vehicle pass. ``points``: (N, 3) observed (drifted, noisy); ``intensity``: (N,);
    ``times``: (N,) scan time (vehicle along-track position, m); ground truth for scoring:
    ``labels`` (class per point), ``element_id`` (index into ``scene.elements`` or −1),
    ``true_points`` (N, 3); ``drift``: the pass's pose error."""

    points: np.ndarray
    intensity: np.ndarray
    times: np.ndarray
    labels: np.ndarray
    element_id: np.ndarray
    true_points: np.ndarray
    drift: Drift


# ---------------------------------------------------------------------------------------------
# road geometry


def _rot(heading):
    c, s = np.cos(heading), np.sin(heading)
    return np.array([[c, -s], [s, c]])


def road_points(scene: Scene, s: np.ndarray, offset: np.ndarray | float, z: np.ndarray | float = 0.0) -> np.ndarray:
    """World coordinates of the points at along-track ``s`` and lateral ``offset`` (exact offset
    curve of the centreline), height ``z``. Broadcasts ``s``, ``offset``, ``z``."""
    s, offset, z = np.broadcast_arrays(np.asarray(s, float), np.asarray(offset, float), np.asarray(z, float))
    u = s - scene.length / 2
    p = np.polynomial.polynomial.polyval(u, scene.coeffs)
    dp = np.polynomial.polynomial.polyval(u, np.polynomial.polynomial.polyder(scene.coeffs))
    nrm = np.stack([-dp, np.ones_like(dp)], -1) / np.sqrt(1 + dp**2)[..., None]
    xy = np.stack([s, p], -1) + offset[..., None] * nrm
    xy = xy @ _rot(scene.heading).T + scene.origin
    return np.concatenate([xy, z[..., None]], -1)


def _tangent(scene, s):
    a = road_points(scene, s - 0.05, 0.0)[..., :2]
    b = road_points(scene, s + 0.05, 0.0)[..., :2]
    d = b - a
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def make_scene(
    seed: int = 0,
    *,
    length: float = 200.0,
    n_lanes: int = 3,
    lane_width: float = 3.5,
    pole_spacing: float = 25.0,
    control_spacing: float = 15.0,
    sensor_noise: float = 0.05,
    survey_noise: float = 0.01,
) -> Scene:
    """Draw a road scene (see the module docstring)."""
    if length < 50 or n_lanes < 1 or lane_width <= 0 or pole_spacing <= 2 or control_spacing <= 2:
        raise ValueError("make_scene: need length >= 50 m, n_lanes >= 1, lane_width > 0, "
                         f"pole/control spacing > 2 m; got {length}, {n_lanes}, {lane_width}, "
                         f"{pole_spacing}, {control_spacing}.")
    if sensor_noise < 0 or survey_noise < 0:
        raise ValueError("make_scene: noise levels must be non-negative.")
    rng = np.random.default_rng(seed)
    half = length / 2
    k2 = rng.uniform(-1, 1) / (2 * 400.0)          # curvature ~ 1/400 m at the centre
    k3 = rng.uniform(-1, 1) / (6 * 400.0 * half)
    coeffs = np.array([0.0, 0.0, k2, k3])
    origin = rng.uniform(-1000, 1000, 2)
    heading = rng.uniform(-np.pi, np.pi)
    scene = Scene(length, origin, heading, coeffs, lane_width, n_lanes,
                  (np.arange(n_lanes + 1) - n_lanes / 2) * lane_width,
                  np.array([-(n_lanes * lane_width / 2 + 0.5), n_lanes * lane_width / 2 + 0.5]),
                  np.zeros((0, 3)), np.zeros(0, int), np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)),
                  np.zeros(0), float(sensor_noise), float(survey_noise))
    edge = n_lanes * lane_width / 2
    # poles: both sides, alternating, jittered spacing
    s_pole = np.arange(pole_spacing / 2, length - 2, pole_spacing / 2) + rng.uniform(-3, 3, int(np.ceil((length - 2 - pole_spacing / 2) / (pole_spacing / 2))))
    s_pole = np.clip(s_pole, 3, length - 3)
    side = np.where(np.arange(len(s_pole)) % 2 == 0, 1.0, -1.0)
    o_pole = side * (edge + 1.5 + rng.uniform(0.0, 0.8, len(s_pole)))
    poles = road_points(scene, s_pole, o_pole, 0.0)
    has_sign = rng.random(len(s_pole)) < 0.35
    # sign plate: 0.35 m towards the road from the pole axis, 2.5 m up
    signs = road_points(scene, s_pole[has_sign], o_pole[has_sign] - 0.35 * side[has_sign], 2.5)
    elements = np.concatenate([poles, signs])
    cls = np.concatenate([np.full(len(poles), POLE), np.full(len(signs), SIGN)])
    el_s = np.concatenate([s_pole, s_pole[has_sign]])
    # control targets on the sidewalk, alternating sides
    s_c = np.arange(control_spacing / 2, length, control_spacing)
    o_c = np.where(np.arange(len(s_c)) % 2 == 0, -1.0, 1.0) * (edge + 1.0)
    controls = road_points(scene, s_c, o_c, 0.15)
    surveyed = controls + survey_noise * rng.standard_normal(controls.shape)
    return scene._replace(elements=elements, element_class=cls, element_s=el_s, controls=controls,
                          controls_surveyed=surveyed, control_s=s_c)


# ---------------------------------------------------------------------------------------------
# drift and passes


def make_drift(rng: np.random.Generator, translation: float, rotation_deg: float, n_waves: int = 2,
               wavelengths=(300.0, 900.0)) -> Drift:
    """Random smooth pose error: per component (roll, pitch, yaw, x, y, z) a constant plus
    ``n_waves`` sinusoids, standard deviations ``rotation_deg`` (yaw; roll/pitch a quarter) and
    ``translation`` (x, y; z a quarter)."""
    sd = np.array([rotation_deg / 4, rotation_deg / 4, rotation_deg, translation, translation, translation / 4])
    sd[:3] = np.deg2rad(sd[:3])
    a0 = sd * rng.standard_normal(6)
    amp = sd[:, None] * rng.standard_normal((6, n_waves)) / np.sqrt(n_waves)
    lam = rng.uniform(*wavelengths, (6, n_waves))
    ph = rng.uniform(0, 2 * np.pi, (6, n_waves))
    return Drift(a0, amp, lam, ph)


def _rotation(angles):
    r, p, y = angles[..., 0], angles[..., 1], angles[..., 2]
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    one, zero = np.ones_like(r), np.zeros_like(r)
    Rx = np.stack([one, zero, zero, zero, cr, -sr, zero, sr, cr], -1).reshape(*r.shape, 3, 3)
    Ry = np.stack([cp, zero, sp, zero, one, zero, -sp, zero, cp], -1).reshape(*r.shape, 3, 3)
    Rz = np.stack([cy, -sy, zero, sy, cy, zero, zero, zero, one], -1).reshape(*r.shape, 3, 3)
    return Rz @ Ry @ Rx


def apply_drift(scene: Scene, drift: Drift, x: np.ndarray, t: np.ndarray, lane_offset: float) -> np.ndarray:
    """``R(t)(x − v(t)) + v(t) + τ(t)`` with ``v(t)`` the vehicle at along-track ``t``."""
    v = road_points(scene, t, lane_offset, 1.8)
    val = drift.values(t)
    R = _rotation(val[:, :3])
    return np.einsum("nij,nj->ni", R, x - v) + v + val[:, 3:]


def scan_pass(
    scene: Scene,
    rng: np.random.Generator,
    drift: Drift,
    *,
    density: float = 1.0,
    p_occlusion: float = 0.15,
    outlier_fraction: float = 0.01,
    coverage: tuple[float, float] = (0.8, 1.0),
) -> Pass:
    """Scan one pass (see the module docstring); ``density`` scales every point count."""
    if density <= 0 or not (0 <= p_occlusion < 1) or not (0 <= outlier_fraction < 0.5):
        raise ValueError("scan_pass: need density > 0, 0 <= p_occlusion < 1, 0 <= outlier_fraction < 0.5.")
    L, edge = scene.length, scene.n_lanes * scene.lane_width / 2
    span = rng.uniform(*coverage) * L
    s0 = rng.uniform(0, L - span)
    s1 = s0 + span
    lane = (rng.integers(scene.n_lanes) - (scene.n_lanes - 1) / 2) * scene.lane_width
    pts, lab, eid = [], [], []

    def add(x, c, e=-1):
        pts.append(x)
        lab.append(np.full(len(x), c))
        eid.append(np.full(len(x), e))

    def count(area, per_m2):
        return max(int(rng.poisson(area * per_m2 * density)), 0)

    # traffic hides stretches of the lines (a few gaps per line)
    def visible(s):
        ok = np.ones(len(s), bool)
        for _ in range(rng.poisson(3)):
            a = rng.uniform(s0, s1)
            ok &= ~((s > a) & (s < a + rng.uniform(4, 15)))
        return ok

    # ground: road and sidewalks
    n = count(span * 2 * (edge + 3.5), 1.2)
    s, o = rng.uniform(s0, s1, n), rng.uniform(-(edge + 3.5), edge + 3.5, n)
    z = np.where(np.abs(o) > scene.kerb_offsets[1], 0.15, 0.0)
    on_line = np.min(np.abs(o[:, None] - scene.marking_offsets[None]), 1) < 0.1
    keep = ~on_line & (np.min(np.abs(o[:, None] - scene.kerb_offsets[None]), 1) > 0.05)
    add(road_points(scene, s[keep], o[keep], z[keep]), GROUND)
    # markings
    for k, off in enumerate(scene.marking_offsets):
        n = count(span * 0.15, 45.0)
        s = rng.uniform(s0, s1, n)
        dashed = 0 < k < scene.n_lanes
        keep = visible(s) & ((np.mod(s, 9.0) < 3.0) if dashed else True)
        o = off + rng.uniform(-0.075, 0.075, n)
        add(road_points(scene, s[keep], o[keep], 0.0), MARKING)
    # kerbs: vertical 0.15 m face
    for off in scene.kerb_offsets:
        n = count(span * 0.15, 30.0)
        s = rng.uniform(s0, s1, n)
        keep = visible(s)
        add(road_points(scene, s[keep], off, rng.uniform(0.0, 0.15, n)[keep]), KERB)
    # poles and signs
    inside = (scene.element_s > s0 + 2) & (scene.element_s < s1 - 2)
    for e in np.flatnonzero(inside & (rng.random(len(scene.elements)) > p_occlusion)):
        c = scene.elements[e]
        if scene.element_class[e] == POLE:
            n = count(2 * np.pi * 0.08 * 4.0, 30.0)
            ang, h = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 4.0, n)
            x = c + np.stack([0.08 * np.cos(ang), 0.08 * np.sin(ang), h], -1)
            add(x, POLE, e)
        else:
            n = count(0.49, 90.0)
            tan = _tangent(scene, np.asarray(scene.element_s[e]))
            nrm = np.array([-tan[1], tan[0]])
            a, b = rng.uniform(-0.35, 0.35, n), rng.uniform(-0.35, 0.35, n)
            x = c + np.stack([a * nrm[0], a * nrm[1], b], -1) + 0.01 * rng.standard_normal((n, 1)) * np.r_[tan, 0]
            add(x, SIGN, e)
    # control targets
    for j in np.flatnonzero((scene.control_s > s0 + 1) & (scene.control_s < s1 - 1) & (rng.random(len(scene.controls)) > p_occlusion)):
        n = count(np.pi * 0.25**2, 150.0)
        r, ang = 0.25 * np.sqrt(rng.random(n)), rng.uniform(0, 2 * np.pi, n)
        add(scene.controls[j] + np.stack([r * np.cos(ang), r * np.sin(ang), np.zeros(n)], -1), TARGET)
    # clutter: bushes beyond the sidewalk
    for _ in range(rng.poisson(span / 20)):
        n = count(6.0, 25.0)
        centre = road_points(scene, rng.uniform(s0, s1), rng.choice([-1, 1]) * rng.uniform(edge + 4, edge + 7), 0.8)
        add(centre + rng.standard_normal((n, 3)) * np.array([0.7, 0.7, 0.4]), CLUTTER)
    x_true = np.concatenate(pts)
    labels, eids = np.concatenate(lab), np.concatenate(eid)
    # uniform outliers (spurious returns)
    n_out = int(outlier_fraction * len(x_true))
    o_out = road_points(scene, rng.uniform(s0, s1, n_out), rng.uniform(-(edge + 6), edge + 6, n_out), rng.uniform(-0.5, 5.0, n_out))
    x_true = np.concatenate([x_true, o_out])
    labels = np.concatenate([labels, np.full(n_out, CLUTTER)])
    eids = np.concatenate([eids, np.full(n_out, -1)])
    # scan time: the vehicle's along-track position when the point was captured
    along = _along_track(scene, x_true)
    t = np.clip(along + 5.0 * rng.standard_normal(len(x_true)), s0, s1)
    mu = np.array([_INTENSITY[c][0] for c in range(7)])[labels]
    sd = np.array([_INTENSITY[c][1] for c in range(7)])[labels]
    inten = np.clip(mu + sd * rng.standard_normal(len(labels)), 0.0, 1.0)
    inten[-n_out:] = rng.random(n_out) if n_out else inten[-n_out:]
    x_obs = apply_drift(scene, drift, x_true, t, lane) + scene.sensor_noise * rng.standard_normal(x_true.shape)
    order = rng.permutation(len(x_true))
    return Pass(x_obs[order].astype(np.float32), inten[order].astype(np.float32), t[order].astype(np.float32),
                labels[order], eids[order], x_true[order], drift)


def _along_track(scene: Scene, x: np.ndarray) -> np.ndarray:
    """Along-track coordinate ``s`` of world points (projection on the centreline, by
    nearest sample on a 0.05 m grid and one Newton refinement: good to well under a cm)."""
    grid = np.arange(-5.0, scene.length + 5.0, 0.5)
    c = road_points(scene, grid, 0.0)[:, :2]
    xy = x[:, :2]
    best = np.empty(len(x))
    for i in range(0, len(x), 4096):
        d2 = np.sum((xy[i:i + 4096, None] - c[None]) ** 2, -1)
        best[i:i + 4096] = grid[np.argmin(d2, 1)]
    tan = _tangent(scene, best)
    base = road_points(scene, best, 0.0)[:, :2]
    return best + np.sum((xy - base) * tan, -1)


def make_passes(scene: Scene, n_passes: int, seed: int = 0, *, common_translation: float = 0.4,
                common_rotation_deg: float = 0.15, pass_translation: float = 0.8,
                pass_rotation_deg: float = 0.3, **scan_kwargs) -> tuple[list[Pass], Drift]:
    """``n_passes`` passes sharing one common drift; returns ``(passes, common_drift)``."""
    if n_passes < 1:
        raise ValueError(f"make_passes: n_passes must be >= 1, got {n_passes}.")
    rng = np.random.default_rng([seed, 1])
    common = make_drift(rng, common_translation, common_rotation_deg)
    passes = [scan_pass(scene, rng, common + make_drift(rng, pass_translation, pass_rotation_deg), **scan_kwargs)
              for _ in range(n_passes)]
    return passes, common


# ---------------------------------------------------------------------------------------------
# the survey (mechanism-only knowledge)


def survey_elements(scene: Scene, seed: int = 0, every: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The elements a field survey measured: every ``every``-th element, with survey noise.
    Returns ``(positions (K, 3), classes (K,))``."""
    rng = np.random.default_rng([seed, 2])
    idx = np.arange(0, len(scene.elements), every)
    return scene.elements[idx] + scene.survey_noise * rng.standard_normal((len(idx), 3)), scene.element_class[idx]


def survey_lines(scene: Scene, seed: int = 0, spacing: float = 50.0) -> np.ndarray:
    """Surveyed cross-sections: every marking measured at along-track stations ``spacing`` apart.
    Returns (n_markings, n_stations, 3)."""
    rng = np.random.default_rng([seed, 3])
    st = np.linspace(0.0, scene.length, int(round(scene.length / spacing)) + 1)
    pts = np.stack([road_points(scene, st, o, 0.0) for o in scene.marking_offsets])
    return pts + scene.survey_noise * rng.standard_normal(pts.shape)
