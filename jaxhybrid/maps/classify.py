"""Point classification: hand-made local geometric features + a small network.

Features of point ``i`` (computed per pass in the pass's own frame, so drift does not matter;
``g(i)`` is the local ground height, the 20th percentile of ``z`` in its ``ground_cell`` × ``ground_cell``
column, and ``C(i)`` its ``column_cell`` column):

    [ intensity_i,  z_i − g(i),  max_{C(i)} z − g(i),  min_{C(i)} z − g(i),  std_{C(i)} z,
      log(1 + |C(i)|),  log(1 + #{j ∈ C(i): |z_j − z_i| < 0.3}) ]

i.e. reflectivity, height above ground and the shape of the vertical column around the point
(poles are tall thin columns, signs elevated reflective plates, kerbs 0.15 m steps, markings
bright flat paint) — the classic eigen/height features of point-cloud semantic labelling
(e.g. Weinmann et al. 2015, *ISPRS J.* 105:286), kept to column statistics that are cheap to
compute with a hash grid. The network is :class:`jaxhybrid.nn.MLP` on standardised features,
trained with class-balanced cross-entropy by :func:`jaxhybrid.train.fit` on labelled passes.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.nn import MLP
from jaxhybrid.train import fit

__all__ = ["point_features", "PointClassifier", "train_classifier", "classify_passes", "N_FEATURES"]

N_FEATURES = 7


def _group(keys: np.ndarray):
    _, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return inv.reshape(-1), counts


def point_features(points: np.ndarray, intensity: np.ndarray, ground_cell: float = 2.0, column_cell: float = 0.25) -> np.ndarray:
    """(N, 7) float32 features of a pass (see the module docstring)."""
    x = np.asarray(points, np.float64)
    inten = np.asarray(intensity, np.float64)
    if x.ndim != 2 or x.shape[1] != 3 or inten.shape != (len(x),):
        raise ValueError(f"point_features: need points (N, 3) and intensity (N,), got {x.shape}, {inten.shape}.")
    if len(x) == 0:
        return np.zeros((0, N_FEATURES), np.float32)
    z = x[:, 2]
    # local ground: 20th percentile of z per coarse column
    gi, gc = _group(np.floor(x[:, :2] / ground_cell).astype(np.int64))
    order = np.lexsort((z, gi))
    start = np.concatenate([[0], np.cumsum(gc)[:-1]])
    ground = z[order][start + (0.2 * (gc - 1)).astype(int)][gi]
    h = z - ground
    ci, cc = _group(np.floor(x[:, :2] / column_cell).astype(np.int64))
    k = len(cc)
    zmax = np.full(k, -np.inf); np.maximum.at(zmax, ci, z)
    zmin = np.full(k, np.inf); np.minimum.at(zmin, ci, z)
    s1 = np.zeros(k); np.add.at(s1, ci, z)
    s2 = np.zeros(k); np.add.at(s2, ci, z * z)
    mean = s1 / cc
    std = np.sqrt(np.maximum(s2 / cc - mean**2, 0.0))
    # neighbours in the same column within ±0.3 m of height
    bi, bc = _group(np.stack([np.floor(x[:, 0] / column_cell), np.floor(x[:, 1] / column_cell), np.floor(z / 0.3)], 1).astype(np.int64))
    f = np.stack([inten, h, zmax[ci] - ground, zmin[ci] - ground, std[ci], np.log1p(cc[ci]), np.log1p(bc[bi])], 1)
    return f.astype(np.float32)


class PointClassifier(eqx.Module):
    """``logits = MLP((f − μ)/σ)``; ``μ, σ`` are fixed feature statistics (not trained)."""

    net: MLP
    mu: jax.Array
    sd: jax.Array

    def __call__(self, f):
        f = (f - jax.lax.stop_gradient(self.mu)) / jax.lax.stop_gradient(self.sd)
        return self.net(f)

    def predict(self, features: np.ndarray, batch: int = 65536) -> np.ndarray:
        """Class index per row of ``features`` (host arrays in, host array out)."""
        f = np.asarray(features, np.float32)
        if f.ndim != 2 or f.shape[1] != self.mu.shape[0]:
            raise ValueError(f"PointClassifier.predict: features must be (N, {self.mu.shape[0]}), got {f.shape}.")
        fn = eqx.filter_jit(lambda m, a: jnp.argmax(jax.vmap(m)(a), -1))
        return np.concatenate([np.asarray(fn(self, f[i:i + batch])) for i in range(0, max(len(f), 1), batch)])[: len(f)]


def train_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    key: jax.Array,
    steps: int = 1500,
    batch_size: int = 512,
    width: int = 64,
    depth: int = 2,
    lr: float = 3e-3,
    progress: bool = False,
) -> tuple[PointClassifier, list]:
    """Train a :class:`PointClassifier` with class-balanced cross-entropy

        L = − Σ_i a_{y_i} log softmax(z_i)_{y_i} / Σ_i a_{y_i},   a_c ∝ 1 / (frequency of class c),

    through :func:`jaxhybrid.train.fit` (Adam, cosine-decayed learning rate). Returns the model
    and the training history."""
    f = np.asarray(features, np.float32)
    y = np.asarray(labels)
    if f.ndim != 2 or y.shape != (len(f),):
        raise ValueError(f"train_classifier: need features (N, F) and labels (N,), got {f.shape}, {y.shape}.")
    if len(f) < 2 or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"train_classifier: need >= 2 samples with labels in [0, {n_classes}).")
    freq = np.bincount(y, minlength=n_classes).astype(np.float64)
    a = np.where(freq > 0, 1.0 / np.maximum(freq, 1), 0.0)
    a = (a / a[y].mean()).astype(np.float32)
    k1, k2 = jax.random.split(key)
    model = PointClassifier(MLP(f.shape[1], n_classes, width, depth, jax.nn.relu, key=k1),
                            jnp.asarray(f.mean(0)), jnp.asarray(f.std(0) + 1e-6))

    def loss(m, batch):
        fb, yb = batch
        logits = jax.vmap(m)(fb)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, yb)
        wb = jnp.asarray(a)[yb]
        return jnp.sum(wb * ce) / jnp.sum(wb)

    opt = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.05))
    res = fit(loss, model, (jnp.asarray(f), jnp.asarray(y, jnp.int32)), opt, steps=steps,
              batch_size=min(batch_size, len(f)), key=k2, log_every=max(1, steps // 10),
              progress=progress, desc="point classifier")
    return res.params, res.history


def classify_passes(labelled, passes, n_classes: int, *, key: jax.Array, rng: np.random.Generator,
                    max_points: int = 8000, steps: int = 1500, batch_size: int = 512) -> tuple[list, PointClassifier]:
    """Train a :class:`PointClassifier` (:func:`train_classifier`) on the points of the
    ``labelled`` passes (``points``, ``intensity``, ``labels``; at most ``max_points`` drawn
    without replacement by ``rng``) and label every pass of ``passes`` with it. Returns
    ``(labels per pass, model)``."""
    if len(labelled) == 0:
        raise ValueError("classify_passes: need at least one labelled pass to train on.")
    f = np.concatenate([point_features(p.points, p.intensity) for p in labelled])
    y = np.concatenate([p.labels for p in labelled])
    sub = rng.choice(len(y), min(len(y), max_points), replace=False)
    model, _ = train_classifier(f[sub], y[sub], n_classes, key=key, steps=steps, batch_size=batch_size)
    return [model.predict(point_features(p.points, p.intensity)) for p in passes], model
