"""Score learning by denoising score matching (DSM), and two score networks.

Vincent (2011), *A connection between score matching and denoising autoencoders*: for
``x̃ = x + σ z``, ``z ~ N(0, I)``, the minimiser over ``s`` of

    J_σ(s) = E_{x, z} ‖ s(x̃, σ) + z/σ ‖²

is the score of the noise-smoothed data law, ``s*(x̃, σ) = ∇log π_σ(x̃)``,
``π_σ = π * N(0, σ²I)``. Over several noise levels (Song & Ermon 2019) we minimise
``Σ_σ σ² J_σ`` (σ² weighting equalises the terms): with the parameterisation
``s(x̃, σ) = ε_θ(x̃, σ)/σ`` the loss is simply ``E ‖ε_θ(x̃, σ) + z‖²``, i.e. ``ε_θ`` predicts the
negative noise. Tweedie's formula turns a score at σ into an MMSE denoiser,
``D_σ(x̃) = x̃ + σ² s(x̃, σ)`` (used by PnP-ULA).

Networks (Equinox modules; call on one sample, ``vmap`` for batches):

* :class:`ConvScore` — for images ``(H, W)``: a stack of convolutions with "same" padding
  (reflect), no pooling and no dense layer, so it is translation-equivariant and runs on any
  image size; σ enters as a constant extra input channel (``log σ``); output ``ε_θ/σ``. The
  default layout is 5×5 → 1×1 … 1×1 → 5×5: a bank of learned 5×5 filters, learned pointwise
  non-linearities (the 1×1 layers) and a 5×5 synthesis — the structure of a fields-of-experts /
  trainable reaction–diffusion prior (Roth & Black 2005; Chen & Pock 2017), which is several
  times cheaper on a CPU than a deep 3×3 stack (DnCNN, Zhang et al. 2017) at the same receptive
  field. ``kernel_sizes=(3,)*L`` gives the DnCNN-like stack.
* :class:`BiasFreeDnCNN` — for images ``(H, W)``: a bias-free DnCNN (Zhang et al. 2017; Mohan,
  Kadkhodaie, Simoncelli & Fernandez-Granda 2020, *Robust and interpretable blind image denoising
  via bias-free convolutional neural networks*, ICLR): ``L`` 3×3 convolutions without additive
  constants, ReLU in between, that predict the noise ``N(x̃, σ) ≈ σz`` from the input and a
  constant channel equal to σ; the denoiser is ``D_σ(x̃) = x̃ − N(x̃, σ)`` and the score
  ``s_θ = −N/σ²``. Without biases the network is positively homogeneous,
  ``N(a x̃, a σ) = a N(x̃, σ)`` for ``a > 0``, which is what makes it generalise across noise
  levels. Convolutions run in NHWC layout on a reflect-padded input (padded once by ``L``
  pixels, then "valid" convolutions), several times faster to train on a CPU than NCHW.
* :class:`NoisePredictor` — the base of both: a network ``N_θ`` read as denoiser, DSM residual and score.
* :class:`BiasFreeUNet` — the same bias-free, noise-predicting design on a three-level U-Net:
  a receptive field of 44 px for the cost of a few full-resolution layers.
* :class:`MLPScore` — for vectors ``(d,)``: :class:`jaxhybrid.nn.MLP` on ``(x, log σ)``.

:func:`score_network` builds one of the image networks from a JSON-able configuration (the form
a cached prior is keyed by). Train with :func:`dsm_loss` + :func:`jaxhybrid.train.fit`
(``stochastic=True``), see :func:`train_score`; :func:`dsm_loss_by_sigma` scores a trained model
on held-out data, one loss per noise level.
"""

from __future__ import annotations

from typing import Optional, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.nn import MLP
from jaxhybrid.train import fit

__all__ = ["ConvScore", "NoisePredictor", "BiasFreeDnCNN", "BiasFreeUNet", "MLPScore", "GaussianScore", "ResidualScore", "WeightedCorrection", "score_network", "dsm_loss", "dsm_loss_by_sigma",
           "train_score"]


class ConvScore(eqx.Module):
    """Translation-equivariant convolutional score ``s_θ(x, σ)`` for single-channel images."""

    convs: tuple
    activation: callable = eqx.field(static=True)

    def __init__(self, width: int = 32, depth: int = 4, *, kernel_sizes: Optional[Sequence[int]] = None,
                 key, activation=jax.nn.gelu):
        kernel_sizes = (5,) + (1,) * (depth - 2) + (5,) if kernel_sizes is None else tuple(kernel_sizes)
        depth = len(kernel_sizes)
        if width < 1 or depth < 2 or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"ConvScore: need width >= 1, >= 2 layers and odd kernel sizes, got {width}, "
                             f"{kernel_sizes}.")
        keys = jax.random.split(key, depth)
        chans = [2] + [width] * (depth - 1) + [1]
        self.convs = tuple(eqx.nn.Conv2d(a, b, k, padding=k // 2, padding_mode="REFLECT" if k > 1 else "ZEROS", key=kk)
                           for a, b, k, kk in zip(chans[:-1], chans[1:], kernel_sizes, keys))
        self.activation = activation

    def residual(self, x, sigma):
        """``ε_θ(x, σ)``: predicted negative noise, shape of ``x`` (``(H, W)``)."""
        if x.ndim != 2:
            raise ValueError(f"ConvScore: expects one image (H, W), got shape {x.shape}; vmap over batches.")
        ls = jnp.broadcast_to(jnp.log(jnp.asarray(sigma, x.dtype)), x.shape)
        h = jnp.stack([x, ls])
        for c in self.convs[:-1]:
            h = self.activation(c(h))
        return self.convs[-1](h)[0]

    def __call__(self, x, sigma):
        return self.residual(x, sigma) / sigma


def _he_convs(key, shapes):
    """3×3 HWIO kernels for ``shapes = [(C_in, C_out), ...]``: He-normal, the last layer ×0.1."""
    keys = jax.random.split(key, len(shapes))
    return tuple(np.sqrt(2.0 / (9 * a)) * (0.1 if i == len(shapes) - 1 else 1.0)
                 * jax.random.normal(k, (3, 3, a, b), jnp.float32)
                 for i, (k, (a, b)) in enumerate(zip(keys, shapes)))


class NoisePredictor(eqx.Module):
    """A network ``N_θ(x̃, σ) ≈ σz`` that predicts the noise of ``x̃ = x + σz``, read as a denoiser
    ``D_σ = x̃ − N_θ``, a DSM residual ``ε_θ = −N_θ/σ`` and a score ``s_θ = −N_θ/σ²``. Subclasses
    define :meth:`noise`."""

    def noise(self, x, sigma):
        raise NotImplementedError

    def denoise(self, x, sigma):
        """``D_σ(x) = x − N_θ(x, σ)``."""
        return x - self.noise(x, sigma)

    def residual(self, x, sigma):
        """``ε_θ(x, σ) = −N_θ(x, σ)/σ`` (DSM parameterisation, see :func:`dsm_loss`)."""
        return -self.noise(x, sigma) / sigma

    def __call__(self, x, sigma):
        return -self.noise(x, sigma) / sigma**2


class BiasFreeDnCNN(NoisePredictor):
    """Bias-free DnCNN noise predictor as a score ``s_θ(x, σ) = −N_θ(x, σ)/σ²`` (see the module
    docstring). ``weights[l]`` has shape ``(3, 3, C_in, C_out)`` (HWIO); no biases, so
    ``N_θ(a x, a σ) = a N_θ(x, σ)`` for every ``a > 0``."""

    weights: tuple
    sigma_channel: bool = eqx.field(static=True)

    def __init__(self, width: int = 32, depth: int = 6, *, key, sigma_channel: bool = True):
        if width < 1 or depth < 2:
            raise ValueError(f"BiasFreeDnCNN: need width >= 1 and depth >= 2, got {width}, {depth}.")
        chans = [2 if sigma_channel else 1] + [width] * (depth - 1) + [1]
        self.weights = _he_convs(key, list(zip(chans[:-1], chans[1:])))
        self.sigma_channel = sigma_channel

    def noise(self, x, sigma):
        """``N_θ(x, σ)``: the predicted noise ``≈ x̃ − x``, shape ``(H, W)``."""
        if x.ndim != 2:
            raise ValueError(f"BiasFreeDnCNN: expects one image (H, W), got shape {x.shape}; vmap over batches.")
        L = len(self.weights)
        if min(x.shape) <= L:
            raise ValueError(f"BiasFreeDnCNN: image {x.shape} must be larger than the depth {L} in both axes.")
        h = jnp.pad(x, L, mode="reflect")[None, :, :, None]
        if self.sigma_channel:
            h = jnp.concatenate([h, jnp.full_like(h, sigma)], -1)
        for i, w in enumerate(self.weights):
            h = jax.lax.conv_general_dilated(h, w.astype(h.dtype), (1, 1), "VALID",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
            if i < L - 1:
                h = jax.nn.relu(h)
        return h[0, :, :, 0]


class BiasFreeUNet(NoisePredictor):
    """Bias-free U-Net noise predictor (a :class:`NoisePredictor`, like :class:`BiasFreeDnCNN`),
    ``s_θ(x, σ) = −N_θ(x, σ)/σ²``.

    Multi-scale (Ronneberger et al. 2015; the denoiser of DRUNet, Zhang et al. 2021, in
    miniature): at each level ``l = 0 … L−1`` two 3×3 convolutions with ``widths[l]`` channels
    and ReLU, then (except at the coarsest level) 2×2 average pooling; back up by
    nearest-neighbour upsampling, concatenation with the level's skip connection and two 3×3
    convolutions; a last 3×3 convolution to one channel. Each pooling doubles the receptive field
    at a quarter of the cost per channel, so three levels see 44 px where a six-layer DnCNN sees
    13. No additive constants and only positively homogeneous operations (ReLU, averaging,
    nearest upsampling, concatenation), so ``N_θ(a x̃, a σ) = a N_θ(x̃, σ)`` for ``a > 0`` as in the
    bias-free DnCNN (Mohan et al. 2020). The input is reflect-padded by 8 px (more on the high
    side to reach a multiple of ``2^(L−1)``) and cropped back, so any image size works; the
    convolutions zero-pad inside that margin. Shifts by multiples of ``2^(L−1)`` commute with
    the network away from the border.
    """

    weights: tuple
    widths: tuple = eqx.field(static=True)

    def __init__(self, widths: Sequence[int] = (32, 64, 96), *, key):
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"BiasFreeUNet: need >= 2 levels of positive widths, got {widths}.")
        shapes, cin = [], 2
        for w in widths:  # encoder and the coarsest level
            shapes += [(cin, w), (w, w)]
            cin = w
        for w in reversed(widths[:-1]):  # decoder: upsampled features ⊕ skip
            shapes += [(cin + w, w), (w, w)]
            cin = w
        shapes.append((cin, 1))
        self.weights = _he_convs(key, shapes)
        self.widths = widths

    def noise(self, x, sigma):
        """``N_θ(x, σ)``: the predicted noise ``≈ x̃ − x``, shape ``(H, W)``."""
        if x.ndim != 2:
            raise ValueError(f"BiasFreeUNet: expects one image (H, W), got shape {x.shape}; vmap over batches.")
        L, m = len(self.widths), 8
        f = 2 ** (L - 1)
        if min(x.shape) <= m:
            raise ValueError(f"BiasFreeUNet: image {x.shape} must be larger than {m} px in both axes.")
        pads = [(m, -(-(n + 2 * m) // f) * f - n - m) for n in x.shape]
        h = jnp.pad(x, pads, mode="reflect")[None, :, :, None]
        h = jnp.concatenate([h, jnp.full_like(h, sigma)], -1)
        ws = iter(self.weights)

        def conv(h):
            return jax.lax.conv_general_dilated(h, next(ws).astype(h.dtype), (1, 1), "SAME",
                                                dimension_numbers=("NHWC", "HWIO", "NHWC"))

        skips = []
        for l in range(L):
            h = jax.nn.relu(conv(jax.nn.relu(conv(h))))
            if l < L - 1:
                skips.append(h)
                b, hh, ww, c = h.shape
                h = h.reshape(b, hh // 2, 2, ww // 2, 2, c).mean((2, 4))
        for skip in reversed(skips):
            h = jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)
            h = jax.nn.relu(conv(jax.nn.relu(conv(jnp.concatenate([h, skip], -1)))))
        h = conv(h)
        return h[0, pads[0][0]:pads[0][0] + x.shape[0], pads[1][0]:pads[1][0] + x.shape[1], 0]


class MLPScore(eqx.Module):
    """Score ``s_θ(x, σ) = MLP(x, log σ)/σ`` for vector states ``x ∈ R^d``."""

    mlp: MLP

    def __init__(self, dim: int, width: int = 64, depth: int = 2, *, key, activation=jax.nn.gelu):
        self.mlp = MLP(dim + 1, dim, width=width, depth=depth, activation=activation, key=key)

    def residual(self, x, sigma):
        return self.mlp(jnp.concatenate([x, jnp.log(jnp.asarray(sigma, x.dtype))[None]]))

    def __call__(self, x, sigma):
        return self.residual(x, sigma) / sigma


class GaussianScore(eqx.Module):
    """Exact noise-conditional score of a Gaussian law ``N(μ, C)`` smoothed at σ:

        s(x, σ) = ∇log (N(μ, C) * N(0, σ²I))(x) = −(C + σ²I)⁻¹ (x − μ),

    from one eigendecomposition ``C = V diag(λ) Vᵀ`` (``(C + σ²I)⁻¹ = V diag(1/(λ + σ²)) Vᵀ``),
    so any σ costs two mat-vecs. :meth:`from_samples` fits ``μ, C`` to data (the empirical
    second-order statistics: a learned Gaussian prior). States of any shape; ``d = x.size``.
    """

    mean: jax.Array  # (d,)
    evals: jax.Array  # (d,)
    evecs: jax.Array  # (d, d)
    shape: tuple = eqx.field(static=True)

    def __init__(self, mean, cov):
        mean = np.asarray(mean, np.float64)
        cov = np.asarray(cov, np.float64)
        d = mean.size
        if cov.shape != (d, d):
            raise ValueError(f"GaussianScore: cov must be ({d}, {d}) for a mean of {d} entries, got {cov.shape}.")
        lam, V = np.linalg.eigh(0.5 * (cov + cov.T))
        if lam.min() < -1e-8 * max(lam.max(), 1.0):
            raise ValueError(f"GaussianScore: cov must be positive semi-definite (smallest eigenvalue {lam.min():.3g}).")
        self.shape = mean.shape
        self.mean = jnp.asarray(mean.reshape(-1), jnp.float32)
        self.evals = jnp.asarray(np.maximum(lam, 0.0), jnp.float32)
        self.evecs = jnp.asarray(V, jnp.float32)

    @classmethod
    def from_samples(cls, samples, jitter: float = 1e-6) -> "GaussianScore":
        """Empirical mean and covariance (+ ``jitter``·I) of ``samples`` ``(n, ...)``, ``n >= 2``."""
        x = np.asarray(samples, np.float64)
        if x.ndim < 2 or x.shape[0] < 2:
            raise ValueError(f"GaussianScore.from_samples: need >= 2 samples with a leading axis, got {x.shape}.")
        if jitter < 0:
            raise ValueError(f"GaussianScore.from_samples: jitter must be >= 0, got {jitter}.")
        flat = x.reshape(x.shape[0], -1)
        cov = np.cov(flat.T).reshape(flat.shape[1], flat.shape[1]) + jitter * np.eye(flat.shape[1])
        return cls(flat.mean(0).reshape(x.shape[1:]), cov)

    def covariance(self) -> np.ndarray:
        """The dense covariance ``C = V diag(λ) Vᵀ`` in float64, ``(d, d)`` (e.g. the prior of
        :func:`jaxhybrid.inverse.linear_gaussian_posterior`)."""
        V = np.asarray(self.evecs, np.float64)
        return (V * np.asarray(self.evals, np.float64)) @ V.T

    def __call__(self, x, sigma):
        d = self.evecs.T @ (x.reshape(-1) - self.mean)
        return -(self.evecs @ (d / (self.evals + sigma**2))).reshape(x.shape)

    def residual(self, x, sigma):
        return sigma * self(x, sigma)


class ResidualScore(eqx.Module):
    """A fixed base score plus a learned correction: ``s(x, σ) = s_base(x, σ) + s_net(x, σ)``.

    The base (e.g. :class:`GaussianScore` fitted to the data) is held fixed under training
    (``stop_gradient`` on its arrays); DSM (:func:`dsm_loss`) trains only ``net``, whose
    ``residual`` is added to the base's. With ``zero_init=True`` the net's last layer is zeroed
    (:class:`ConvScore`, :class:`MLPScore`), so
    training starts exactly at the base score and the correction learns what the base misses
    (for a Gaussian base: the non-Gaussian structure of the data).

    ``sigma_max``: if given, the correction acts only at noise levels ``σ ≤ sigma_max``
    (``s = s_base`` above): at coarse levels the smoothed law is close to Gaussian, the base is
    already near-exact there and a correction can only add error (train it with σ in
    ``(σ_min, sigma_max)``).
    """

    base: eqx.Module
    net: eqx.Module
    sigma_max: Optional[float] = eqx.field(static=True, default=None)

    def __init__(self, base, net, zero_init: bool = True, sigma_max: Optional[float] = None):
        if not (hasattr(base, "residual") and hasattr(net, "residual")):
            raise ValueError("ResidualScore: base and net need a residual(x, σ) method (σ · score).")
        if sigma_max is not None and not sigma_max > 0:
            raise ValueError(f"ResidualScore: sigma_max must be a positive noise level or None, got {sigma_max!r}.")
        if zero_init:
            net = _zero_last_layer(net)
        self.base, self.net = base, net
        self.sigma_max = None if sigma_max is None else float(sigma_max)

    def residual(self, x, sigma):
        base = jax.lax.stop_gradient(self.base)
        corr = self.net.residual(x, sigma)
        if self.sigma_max is not None:
            corr = jnp.where(jnp.asarray(sigma) <= self.sigma_max, corr, jnp.zeros_like(corr))
        return base.residual(x, sigma) + corr

    def __call__(self, x, sigma):
        return self.residual(x, sigma) / sigma


class WeightedCorrection(eqx.Module):
    """``s_w(x, σ) = s_base(x, σ) + w · s_net(x, σ)`` for a trained :class:`ResidualScore`: the
    prior weight ``w`` of the learned correction (``w = 0``: the base alone, ``w = 1``: the
    trained prior), chosen on validation data like PnP-ULA's prior weight α. ``w`` is an array
    leaf, so every weight runs the same compiled sampler (it is a sampler setting: do not train
    this module)."""

    score: ResidualScore
    weight: jax.Array

    def __init__(self, score: ResidualScore, weight: float):
        if not isinstance(score, ResidualScore):
            raise ValueError(f"WeightedCorrection: score must be a ResidualScore, got {type(score).__name__}.")
        self.score, self.weight = score, jnp.asarray(weight, jnp.float32)

    def residual(self, x, sigma):
        return self.score.base.residual(x, sigma) + self.weight * self.score.net.residual(x, sigma)

    def __call__(self, x, sigma):
        return self.residual(x, sigma) / sigma


def score_network(config: dict, key) -> eqx.Module:
    """An image score network from a configuration dictionary.

    ``config["arch"]``: ``"bf-unet"`` → :class:`BiasFreeUNet` ``(config["widths"])``;
    ``"bf-dncnn"`` → :class:`BiasFreeDnCNN` ``(config["width"], config["depth"])``; absent →
    :class:`ConvScore` ``(config["width"], kernel_sizes=config["kernel_sizes"])``. Other keys
    (training settings) are ignored.
    """
    arch = config.get("arch")
    try:
        if arch == "bf-unet":
            return BiasFreeUNet(config["widths"], key=key)
        if arch == "bf-dncnn":
            return BiasFreeDnCNN(config["width"], config["depth"], key=key)
        if arch is None:
            return ConvScore(config["width"], kernel_sizes=config["kernel_sizes"], key=key)
    except KeyError as e:
        raise ValueError(f"score_network: the configuration of arch={arch!r} needs the key {e}.") from None
    raise ValueError(f"score_network: arch must be 'bf-unet', 'bf-dncnn' or absent (ConvScore), got {arch!r}.")


def _zero_last_layer(net):
    """Zero the weight and bias of the last layer of a :class:`ConvScore` or :class:`MLPScore`."""
    if isinstance(net, ConvScore):
        where = lambda m: m.convs[-1]
    elif isinstance(net, MLPScore):
        where = lambda m: m.mlp.layers[-1]
    else:
        raise ValueError(f"ResidualScore: zero_init supports ConvScore and MLPScore, got {type(net).__name__}; "
                         "pass zero_init=False (or zero the last layer yourself).")
    layer = where(net)
    new = eqx.tree_at(lambda c: c.weight, layer, jnp.zeros_like(layer.weight))
    if layer.bias is not None:
        new = eqx.tree_at(lambda c: c.bias, new, jnp.zeros_like(layer.bias))
    return eqx.tree_at(where, net, new)


def dsm_loss(model, batch, key, sigmas, continuous: bool = False):
    """σ²-weighted DSM loss ``E_σ E ‖σ s_θ(x + σz, σ) + z‖²`` (mean per entry).

    ``sigmas``: noise levels, one per sample drawn uniformly from this set (a single level is
    single-scale DSM); with ``continuous=True``, ``sigmas = (σ_min, σ_max)`` and σ is drawn
    log-uniformly from that range (a noise-level-conditional network usable at any σ in it).
    ``model`` needs a ``residual(x, σ) = σ s_θ(x, σ)`` method. In denoiser terms
    (``D_σ(x̃) = x̃ + σ ε_θ``) the loss is ``E ‖D_σ(x̃) − x‖²/σ²``: DnCNN's residual training
    (Zhang et al. 2017) with a noise-level input.
    """
    x = batch
    sigmas = jnp.atleast_1d(jnp.asarray(sigmas, x.dtype))
    k1, k2 = jax.random.split(key)
    if continuous:
        lo, hi = jnp.log(sigmas[0]), jnp.log(sigmas[-1])
        sig = jnp.exp(jax.random.uniform(k1, (x.shape[0],), x.dtype, lo, hi))
    else:
        sig = sigmas[jax.random.randint(k1, (x.shape[0],), 0, sigmas.shape[0])]
    z = jax.random.normal(k2, x.shape, x.dtype)
    xt = x + sig.reshape((-1,) + (1,) * (x.ndim - 1)) * z
    eps = jax.vmap(model.residual)(xt, sig)
    return jnp.mean((eps + z) ** 2)


def dsm_loss_by_sigma(model, data, sigmas: Sequence[float], key) -> jax.Array:
    """Held-out DSM loss ``E‖σ s(x + σz, σ) + z‖²`` (mean per entry) at each level of ``sigmas``.

    ``data``: samples ``(n, ...)`` the model was not trained on; ``z ~ N(0, I)`` is drawn once
    from ``key`` and shared by every σ, so two models scored with the same key see the same noise
    (a paired comparison: how well each knows the smoothed law ``π * N(0, σ²I)``, Vincent 2011).
    One compiled program for all σ. Returns an array of ``len(sigmas)`` losses.
    """
    data = jnp.asarray(data)
    sig = jnp.asarray(sigmas, data.dtype)
    if data.ndim < 2 or sig.ndim != 1 or sig.size == 0 or bool(jnp.any(sig <= 0)):
        raise ValueError(f"dsm_loss_by_sigma: need data (n, ...) and positive sigmas, got {data.shape}, {sigmas!r}.")
    return _dsm_by_sigma(model, data, jax.random.normal(key, data.shape, data.dtype), sig)


@eqx.filter_jit
def _dsm_by_sigma(model, x, z, sigmas):
    def at(s):
        return jnp.mean((jax.vmap(lambda xi: model.residual(xi, s))(x + s * z) + z) ** 2)

    return jax.lax.map(at, sigmas)


def train_score(model, data, sigmas: Sequence[float] | float, *, steps: int, batch_size: int = 64,
                learning_rate: float = 2e-3, key=None, log_every: int = 100, progress: bool = True,
                desc: str = "DSM", continuous: bool = False, checkpoint_dir=None, loop: str = "scan"):
    """Train ``model`` by (multi-level) DSM with :func:`jaxhybrid.train.fit`; returns ``FitResult``.

    ``data``: array of samples ``(n, ...)`` (image patches ``(n, H, W)`` or vectors ``(n, d)``).
    ``continuous``: draw σ log-uniformly in ``(min(sigmas), max(sigmas))`` (see :func:`dsm_loss`).
    ``checkpoint_dir``: passed to ``fit`` (atomic checkpoints, exact resume): a finished run in
    that folder is loaded instead of retrained, so a folder keyed by the training configuration
    is a cache of the trained prior.
    ``loop``: :func:`jaxhybrid.train.fit`'s; pass ``"host"`` for convolutional networks on CPU
    (their gradient steps run ~9× faster outside a compiled loop there, see :mod:`jaxhybrid.train`).
    """
    sig = np.atleast_1d(np.asarray(sigmas, dtype=float))
    if sig.size == 0 or np.any(sig <= 0):
        raise ValueError(f"train_score: sigmas must be positive noise levels, got {sigmas!r}.")
    if continuous:
        if sig.size < 2 or sig.min() == sig.max():
            raise ValueError("train_score: continuous=True needs a range (σ_min, σ_max) with σ_min < σ_max.")
        sig = np.asarray([sig.min(), sig.max()])
    data = jnp.asarray(data)
    if data.ndim < 2 or data.shape[0] < 1:
        raise ValueError(f"train_score: data needs a leading sample axis, got shape {data.shape}.")
    sched = optax.cosine_decay_schedule(learning_rate, max(steps, 1), alpha=0.05)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(sched))
    sig_j = jnp.asarray(sig, data.dtype)
    log_every = min(log_every, max(steps, 1))
    return fit(lambda m, b, k: dsm_loss(m, b, k, sig_j, continuous), model, data, opt, steps=steps,
               batch_size=min(batch_size, data.shape[0]), key=key, stochastic=True,
               log_every=log_every, progress=progress, desc=desc, checkpoint_dir=checkpoint_dir, loop=loop)
