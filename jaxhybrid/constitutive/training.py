"""Training learned stress laws on reference data: scales, labels and the two standard fits.

* :class:`ScaledStress` — ``P(F) = s · net(F)``: a stress network that works in units of the
  data's stress scale ``s`` (kept as a static field, so it is saved with the network's structure).
* :func:`stress_network` — a DPK network (hybrid: exact frame indifference and material
  symmetry, :class:`~jaxhybrid.constitutive.DPK`) or an unconstrained MLP (data only,
  :class:`~jaxhybrid.constitutive.MLPStress`) wrapped in :class:`ScaledStress`.
* :func:`stress_network_from_config`, :func:`train_stress_network` — the same from a training
  configuration (a JSON-able dict: the key of a stored network), trained on the first ``n_train``
  labelled gradients with every random key derived from ``PRNGKey(seed + n_train)``.
  :func:`stress_network_template` is the structure of a stored one (shapes only, for loading).
* :func:`stress_labels` — reference first Piola–Kirchhoff stresses ``P(F)`` of a law on a batch of
  deformation gradients, evaluated in float64 and stored as float32 labels, and their RMS norm
  ``s = (mean_b ‖P_b‖²)^{1/2}`` (the scale of :class:`ScaledStress` and of the loss).
* :func:`path_scales` — the scales of incremental-law data along strain paths: RMS strain and
  stress components and RMS strain increment (the inputs of :func:`incremental_law`).
* :func:`reference_paths` — random strain paths and a reference incremental law's stresses along them.
* :func:`incremental_training_data` — windows of a reference incremental law's stresses along
  random strain paths (:mod:`~jaxhybrid.constitutive.data`) and their :func:`path_scales`.
* :func:`incremental_law` — an SPD-NN (hybrid) or unconstrained MLP increment (data only) with
  those scales (:mod:`~jaxhybrid.constitutive.spd`); :func:`train_incremental_law` trains the one
  of a configuration (keys from ``PRNGKey(seed)``), :func:`incremental_law_template` is the
  structure of a stored one.
* :func:`fit_stress_law` — full-batch fit of ``P(F)`` by the relative squared error
  ``mean_b ‖(P̂(F_b) − P_b)/s‖²``.
* :func:`fit_incremental_law` — minibatched fit of an incremental law by the teacher-forced
  one-step loss of Xu, Huang & Darve (2021) (:func:`~jaxhybrid.constitutive.one_step_loss`)
  on path windows (:func:`~jaxhybrid.constitutive.data.path_windows`).

Both fits run :func:`jaxhybrid.train.fit` with Adam and the cosine-decayed learning rate
``η_k = η [(1 − α) ½(1 + cos(π k / K)) + α]`` (``K`` steps, ``α = 0.02``; Loshchilov & Hutter
2017, SGDR without restarts), and return the fitted model with its loss history.
"""

from __future__ import annotations

import time
from typing import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.train import fit

from .data import path_windows, strain_paths, stress_paths
from .dpk import DPK, MLPStress
from .spd import SPDNN, MLPIncrement, one_step_loss

__all__ = ["ScaledStress", "stress_network", "stress_network_from_config", "train_stress_network",
           "stress_network_template", "stress_labels", "path_scales", "reference_paths", "incremental_training_data",
           "incremental_law", "incremental_law_template", "train_incremental_law", "fit_stress_law",
           "fit_incremental_law"]


class ScaledStress(eqx.Module):
    """``P(F) = scale · net(F)``: a stress network in units of the data's stress scale."""

    net: eqx.Module
    scale: float = eqx.field(static=True)

    def __call__(self, F):
        return self.scale * self.net(F)


def stress_network(model: str, scale: float, *, key: jax.Array, width: int, depth: int = 2,
                   strain_scale: float = 0.1, group: str = "cubic", n_vectors: int = 4, n_global: int = 2
                   ) -> ScaledStress:
    """``P(F) = scale · net(F)`` with ``net`` a DPK network over the orbit of ``n_vectors``
    trainable vectors under the point group ``group`` with ``n_global`` invariant features
    (``model="hybrid"``) or the unconstrained ``P = MLP((F − I)/e)`` (``model="mlp"``;
    ``group``, ``n_vectors`` and ``n_global`` unused), ``e = strain_scale``; ``key`` initialises it."""
    if model == "hybrid":
        net = DPK(group, n_vectors, width, depth, n_global, strain_scale, key=key)
    elif model == "mlp":
        net = MLPStress(width, depth, strain_scale, key=key)
    else:
        raise ValueError(f"stress_network: model must be 'hybrid' (DPK) or 'mlp', got {model!r}.")
    return ScaledStress(net, scale)


def stress_labels(law, F: np.ndarray) -> tuple[np.ndarray, float]:
    """``(P, s)``: the stresses ``law.pk1(F_b)`` of a batch ``F`` (B, 3, 3), evaluated in float64
    (``law`` must be built for float64, e.g. ``CauchyBorn(..., dtype=jnp.float64)``) and returned
    as float32 labels, and their RMS norm ``s = (mean_b ‖P_b‖²)^{1/2}`` (a Python float)."""
    F = np.asarray(F)
    if F.ndim != 3 or F.shape[1:] != (3, 3) or len(F) == 0:
        raise ValueError(f"stress_labels: F must be a non-empty (B, 3, 3) batch, got shape {F.shape}.")
    with jax.enable_x64(True):
        P = eqx.filter_jit(lambda law, F: jax.vmap(law.pk1)(F))(law, jnp.asarray(F, jnp.float64))
        P = np.asarray(P, np.float32)
    return P, float(np.sqrt(np.mean(np.sum(P**2, axis=(1, 2)))))


def path_scales(eps: np.ndarray, sig: np.ndarray) -> dict:
    """Scales of strain/stress paths ``(P, T+1, m)``: ``strain`` and ``stress`` — the RMS
    components ``(mean ε²)^{1/2}``, ``(mean σ²)^{1/2}`` — and ``increment`` — the RMS strain
    increment ``(mean_{p,n} ‖εⁿ⁺¹ − εⁿ‖²)^{1/2}``. Their ratio ``stress/strain`` is the stiffness
    scale of a tangent. Python floats; compute them on the training data only."""
    eps, sig = np.asarray(eps), np.asarray(sig)
    if eps.ndim != 3 or eps.shape != sig.shape or eps.shape[1] < 2:
        raise ValueError(f"path_scales: eps and sig must both be (P, T+1, m) with T >= 1; got {eps.shape}, "
                         f"{sig.shape}.")
    return {"strain": float(np.sqrt(np.mean(eps**2))), "stress": float(np.sqrt(np.mean(sig**2))),
            "increment": float(np.sqrt(np.mean(np.sum(np.diff(eps, axis=1) ** 2, -1))))}


def reference_paths(law, seed: int, n_paths: int, n_increments: int, amplitude: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(eps, sig)`` (P, T+1, m): ``n_paths`` smooth random strain paths of ``n_increments``
    increments and amplitude up to ``amplitude`` (:func:`~jaxhybrid.constitutive.data.strain_paths`,
    drawn with ``seed``) and the incremental ``law``'s stresses along them from ``σ⁰ = 0``."""
    eps = strain_paths(seed, n_paths, n_increments, amplitude)
    return eps, stress_paths(law, eps)


def incremental_training_data(law, seed: int, n_paths: int, n_increments: int, amplitude: float, window: int
                              ) -> tuple[tuple[np.ndarray, np.ndarray], dict]:
    """``((eps, sig) windows, scales)``: ``n_paths`` random strain paths of ``n_increments``
    (:func:`~jaxhybrid.constitutive.data.strain_paths`, drawn with ``seed``), the stresses of the
    incremental ``law`` along them, cut into windows of ``window`` increments (many short windows
    at the increment size of whole paths, :func:`~jaxhybrid.constitutive.data.path_windows`), and
    the scales of the paths (:func:`path_scales`: input/output scales from the training data only)."""
    e_tr, s_tr = reference_paths(law, seed, n_paths, n_increments, amplitude)
    return path_windows(e_tr, s_tr, window), path_scales(e_tr, s_tr)


def incremental_law(model: str, scales: dict, width: int, depth: int = 2, dim: int = 6, *, key: jax.Array):
    """An incremental stress law scaled by :func:`path_scales`: ``model="hybrid"`` — SPD-NN
    (:class:`~jaxhybrid.constitutive.SPDNN`, tangent scale ``stress/strain``); ``"mlp"`` — the
    unconstrained increment (:class:`~jaxhybrid.constitutive.MLPIncrement`)."""
    if model == "hybrid":
        return SPDNN(dim, width, depth, stress_scale=scales["stress"] / scales["strain"], strain_scale=scales["strain"],
                     key=key)
    if model == "mlp":
        return MLPIncrement(dim, width, depth, stress_scale=scales["stress"], strain_scale=scales["strain"],
                            increment_scale=scales["increment"], key=key)
    raise ValueError(f"incremental_law: model must be 'hybrid' (SPD-NN) or 'mlp', got {model!r}.")


def _cosine_adam(lr: float, steps: int) -> optax.GradientTransformation:
    return optax.adam(optax.cosine_decay_schedule(lr, steps, 0.02))


def _losses(res) -> list:
    return [float(h["loss"]) for h in res.history]


def fit_stress_law(model, F: np.ndarray, P: np.ndarray, scale: float, *, steps: int, lr: float, key: jax.Array,
                   log_every: int | None = None, desc: str = "stress law") -> tuple[eqx.Module, list]:
    """Fit ``P̂ = model(F)`` to labels ``P`` (B, 3, 3), full batch: loss
    ``mean_b ‖P̂(F_b)/s − P_b/s‖²`` (``s = scale``, e.g. from :func:`stress_labels`), cosine-decayed
    Adam (module docstring). Returns ``(fitted model, losses logged every log_every steps)``
    (default ``max(steps // 10, 1)``)."""
    if np.shape(F) != np.shape(P) or np.ndim(F) != 3 or not scale > 0:
        raise ValueError(f"fit_stress_law: F and P must be (B, 3, 3) of one shape and scale > 0; "
                         f"got {np.shape(F)}, {np.shape(P)}, {scale}.")

    def loss(model, batch):
        return jnp.mean(jnp.sum((jax.vmap(model)(batch[0]) * (1.0 / scale) - batch[1] * (1.0 / scale)) ** 2,
                                axis=(1, 2)))

    res = fit(loss, model, (F, P), _cosine_adam(lr, steps), steps=steps, key=key,
              log_every=log_every or max(steps // 10, 1), desc=desc)
    return res.params, _losses(res)


def fit_incremental_law(model, windows: tuple[np.ndarray, np.ndarray], *, steps: int, lr: float, batch_size: int,
                        key: jax.Array, log_every: int | None = None, desc: str = "incremental law"
                        ) -> tuple[eqx.Module, list]:
    """Fit an incremental law (``model.step(σ, ε_old, ε_new)``) on path windows ``(eps, sig)``
    (W, L+1, m) by :func:`~jaxhybrid.constitutive.one_step_loss`, ``batch_size`` windows per step
    (drawn with ``key``), cosine-decayed Adam (module docstring). Returns ``(fitted model, losses
    logged every log_every steps)`` (default ``max(steps // 20, 1)``)."""
    res = fit(one_step_loss, model, windows, _cosine_adam(lr, steps), steps=steps, batch_size=batch_size, key=key,
              log_every=log_every or max(steps // 20, 1), desc=desc)
    return res.params, _losses(res)


def stress_network_from_config(cfg: Mapping, scale: float, key: jax.Array) -> ScaledStress:
    """:func:`stress_network` of a configuration with keys ``model``, ``width``, ``depth``,
    ``strain_scale`` (and ``group``, ``n_vectors``, ``n_global`` for the DPK), in units of
    ``scale``; initialised by ``jax.random.split(key, 3)[0]`` (DPK) or ``[1]`` (MLP), the third key
    being the fit's (:func:`train_stress_network`)."""
    net = {k: cfg[k] for k in ("group", "n_vectors", "n_global") if k in cfg}
    return stress_network(cfg["model"], scale, key=jax.random.split(key, 3)[0 if cfg["model"] == "hybrid" else 1],
                          width=cfg["width"], depth=cfg["depth"], strain_scale=cfg["strain_scale"], **net)


def stress_network_template(cfg: Mapping, meta: Mapping) -> ScaledStress:
    """The structure of the stored network of ``cfg`` (``jax.ShapeDtypeStruct`` leaves, no
    initialisation) with the stress scale ``meta["stress_scale"]`` (a static field), to load
    weights into (e.g. :func:`jaxhybrid.pretrained.load`)."""
    return eqx.filter_eval_shape(stress_network_from_config, cfg, meta["stress_scale"], jax.random.PRNGKey(0))


def train_stress_network(cfg: Mapping, F: np.ndarray, P: np.ndarray, scale: float, *, desc: str = "stress law"
                         ) -> tuple[ScaledStress, dict]:
    """Train the network of ``cfg`` (:func:`stress_network_from_config`, plus ``seed``,
    ``n_train``, ``steps``, ``lr``) on the first ``n_train`` pairs of ``(F, P)`` by
    :func:`fit_stress_law`; keys: ``k = PRNGKey(seed + n_train)``, initialisation from ``k``, fit
    minibatch key ``split(k, 3)[2]``. Returns ``(network, meta)`` with ``meta`` = ``stress_scale``,
    ``losses``, ``final_loss``, ``train_s`` (wall seconds)."""
    t0, n = time.perf_counter(), cfg["n_train"]
    if not 1 <= n <= len(F):
        raise ValueError(f"train_stress_network: n_train must be in [1, {len(F)}] (the labelled pool), got {n}.")
    key = jax.random.PRNGKey(cfg["seed"] + n)
    model, losses = fit_stress_law(stress_network_from_config(cfg, scale, key), F[:n], P[:n], scale, steps=cfg["steps"],
                                   lr=cfg["lr"], key=jax.random.split(key, 3)[2], desc=desc)
    return model, {"stress_scale": scale, "losses": losses, "final_loss": losses[-1],
                   "train_s": round(time.perf_counter() - t0, 2)}


def incremental_law_template(cfg: Mapping, meta: Mapping):
    """The structure of the stored incremental law of ``cfg`` (keys ``model``, ``width``,
    ``depth``) with the scales ``meta["scales"]`` (static fields): shapes only, to load weights into."""
    def make(key):
        return incremental_law(cfg["model"], meta["scales"], cfg["width"], cfg["depth"], key=key)

    return eqx.filter_eval_shape(make, jax.random.PRNGKey(0))


def train_incremental_law(cfg: Mapping, windows: tuple[np.ndarray, np.ndarray], scales: Mapping, *,
                          desc: str = "incremental law") -> tuple[eqx.Module, dict]:
    """Train the :func:`incremental_law` of ``cfg`` (keys ``model``, ``width``, ``depth``, ``seed``,
    ``steps``, ``lr``, ``batch_windows``) on ``windows`` by :func:`fit_incremental_law`; keys
    ``split(PRNGKey(seed), 3)``: SPD-NN initialisation, MLP initialisation, minibatches. Returns
    ``(law, meta)`` with ``meta`` = ``scales``, ``losses``, ``final_loss``, ``train_s`` (wall seconds)."""
    t0 = time.perf_counter()
    k_h, k_m, k_b = jax.random.split(jax.random.PRNGKey(cfg["seed"]), 3)
    key = k_h if cfg["model"] == "hybrid" else k_m
    law = incremental_law(cfg["model"], scales, cfg["width"], cfg["depth"], key=key)
    law, losses = fit_incremental_law(law, windows, steps=cfg["steps"], lr=cfg["lr"], batch_size=cfg["batch_windows"],
                                      key=k_b, desc=desc)
    return law, {"scales": dict(scales), "losses": losses, "final_loss": losses[-1],
                 "train_s": round(time.perf_counter() - t0, 2)}
