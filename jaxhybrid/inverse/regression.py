"""The data-only baseline of an inverse problem: a network that maps observations straight to the
unknown, trained on simulated pairs (no forward model at inference, no prior, no error bar):

    θ* = argmin_θ  E_{x, z} ‖ predict(θ, F(x) + σ z) − x ‖²      (mean per entry),

with fresh observation noise ``z ~ N(0, I)`` in every minibatch (so the network sees the noise
law, not one draw of it), trained by :func:`jaxhybrid.train.fit`.

For images, :func:`train_patch_regressor` is the data-only counterpart of
:func:`~jaxhybrid.inverse.train_patch_prior`: the same patches, network architecture and
optimiser, trained to undo ``F`` instead of the noise alone, and read out by
:func:`residual_estimate` as ``x̂ = y − N_θ(y, σ)`` (a noise predictor) or ``x̂ = y + ε_θ(y, σ)``
(a DSM-residual network) — the network learns the correction to its input;
:func:`deblur_regressor_from_config` trains it for a Gaussian blur from one configuration.

For an unknown without image structure (a source field seen through a few sensors),
:func:`train_observation_mlp` fits an MLP (:func:`observation_mlp`) from the observations, scaled
by a typical observation size ``u_scale``, to the flattened unknown: ``x̂ = MLP_θ(y / u_scale)``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.nn import MLP
from jaxhybrid.sampling import NoisePredictor, score_network
from jaxhybrid.train import FitResult, fit

from .data import extract_patches, load_images
from .operators import LinearOperator, blur, gaussian_psf

__all__ = ["train_regressor", "residual_estimate", "train_patch_regressor", "deblur_regressor_from_config",
           "observation_mlp", "train_observation_mlp"]


def train_regressor(predict: Callable[[Any, jax.Array], jax.Array], net, data, noise: float,
                    optimizer: optax.GradientTransformation, *, steps: int, batch_size: int, key,
                    forward: Optional[Callable] = None, **fit_kw) -> FitResult:
    """Fit ``predict(net, y) ≈ x`` on noisy simulated observations (module docstring).

    Args:
        predict: ``predict(net, y) -> x̂`` for one observation.
        net: the initial network (any pytree :func:`~jaxhybrid.train.fit` trains).
        data: the unknowns ``x`` ``(n, ...)`` when ``forward`` is given (it is applied to each
            minibatch), else pairs ``(F(x), x)`` of precomputed clean observations and targets.
        noise: observation noise std σ (``>= 0``).
        optimizer, steps, batch_size, key, fit_kw: passed to :func:`~jaxhybrid.train.fit`
            (``stochastic=True``: the minibatch key draws the noise).
    """
    if not noise >= 0:
        raise ValueError(f"train_regressor: noise must be a std >= 0, got {noise}.")
    if forward is None and not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError("train_regressor: without forward, data must be a pair (clean observations, targets).")

    def loss(m, batch, k):
        u, x = (jax.vmap(forward)(batch), batch) if forward is not None else batch
        y = u + noise * jax.random.normal(k, u.shape)
        return jnp.mean((jax.vmap(lambda a: predict(m, a))(y) - x) ** 2)

    return fit(loss, net, data, optimizer, steps=steps, batch_size=batch_size, key=key, stochastic=True, **fit_kw)


def residual_estimate(net, y: jax.Array, noise: float) -> jax.Array:
    """The estimate ``x̂`` of a score-network architecture used as a regressor at noise level σ =
    ``noise``: ``y − N_θ(y, σ)`` for a :class:`~jaxhybrid.sampling.NoisePredictor`, else ``y +
    ε_θ(y, σ)`` (``net.residual``)."""
    return y - net.noise(y, noise) if isinstance(net, NoisePredictor) else y + net.residual(y, noise)


def train_patch_regressor(images: Sequence[np.ndarray], config: dict, forward: Callable, noise: float, seed: int, *,
                          net_key: jax.Array, key: jax.Array, steps: Optional[int] = None,
                          desc: str = "data-only regressor", loop: str = "host", progress: bool = True) -> FitResult:
    """Train the network of ``config`` (:func:`~jaxhybrid.sampling.score_network`, initialised with
    ``net_key``) to map ``forward(x) + noise · z`` to ``x`` on the patches of ``images`` that
    :func:`~jaxhybrid.inverse.train_patch_prior` draws with ``seed`` (``config``'s ``patch``,
    ``patches``, ``batch``, ``lr``), read out by :func:`residual_estimate`.

    ``forward`` acts on one ``patch × patch`` patch (e.g. ``blur(psf, (p, p)).apply``). Adam with a
    cosine-decayed learning rate (to 5%) and global-norm clipping at 1, ``steps`` steps (default
    ``config["steps"]``) of :func:`train_regressor` (minibatch order and noise from ``key``).
    """
    missing = [k for k in ("patch", "patches", "batch", "lr", "steps") if k not in config]
    if missing:
        raise ValueError(f"train_patch_regressor: the configuration lacks {missing}.")
    steps = config["steps"] if steps is None else steps
    patches = extract_patches(images, config["patch"], config["patches"], seed=seed)
    sched = optax.cosine_decay_schedule(config["lr"], steps, 0.05)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(sched))
    predict = functools.partial(residual_estimate, noise=noise)  # x̂ = residual_estimate(net, y, σ = noise)
    return train_regressor(predict, score_network(config, net_key), jnp.asarray(patches), noise, opt,
                           forward=forward, steps=steps, batch_size=config["batch"], key=key,
                           log_every=max(1, steps // 10), desc=desc, loop=loop, progress=progress)


def deblur_regressor_from_config(config: dict):
    """The data-only regressor of a deblurring problem, defined by its configuration alone:
    :func:`train_patch_regressor` on the images named ``config["images"]``
    (:func:`~jaxhybrid.inverse.load_images`) with ``seed = config["seed"]``, the forward map
    ``blur(gaussian_psf(*config["psf"]), (patch, patch))`` and noise ``config["noise"]``, for
    ``config["regressor_steps"]`` steps (default ``config["steps"]``); the network is initialised with
    ``PRNGKey(seed + 7)``, minibatches and noise come from ``PRNGKey(seed + 8)``.

    Returns ``(network, {"final_loss": last logged loss or None})`` — the ``train`` protocol of
    :func:`jaxhybrid.pretrained.obtain`.
    """
    missing = [k for k in ("images", "seed", "psf", "noise") if k not in config]
    if missing:
        raise ValueError(f"deblur_regressor_from_config: the configuration lacks {missing}.")
    seed, ims = config["seed"], load_images(tuple(config["images"]))
    forward = blur(gaussian_psf(*config["psf"]), (config["patch"],) * 2).apply
    res = train_patch_regressor([ims[n] for n in config["images"]], config, forward, config["noise"], seed,
                                net_key=jax.random.PRNGKey(seed + 7), key=jax.random.PRNGKey(seed + 8),
                                steps=config.get("regressor_steps", config["steps"]))
    return res.params, {"final_loss": res.history[-1]["loss_mean"] if res.history else None}


def observation_mlp(n_obs: int, n_out: int, config: dict, key: jax.Array) -> MLP:
    """An MLP ``R^n_obs → R^n_out`` with ``config["depth"]`` hidden layers of ``config["width"]`` GELU units,
    initialised with ``key`` (its shapes alone: ``equinox.filter_eval_shape(observation_mlp, ..., key)``)."""
    return MLP(n_obs, n_out, width=config["width"], depth=config["depth"], activation=jax.nn.gelu, key=key)


def train_observation_mlp(op: LinearOperator, xs: jax.Array, noise: float, u_scale: float, config: dict,
                          net_key: jax.Array, key: jax.Array, *, desc: str = "data-only MLP"):
    """The data-only baseline of a linear problem with few observations: :func:`observation_mlp`
    (``op``'s observations in, the flattened unknown out; initialised with ``net_key``) fitted by
    :func:`train_regressor` to ``MLP_θ((A x + noise · z) / u_scale) ≈ x`` on the unknowns ``xs``
    ``(n, ...)`` (``A x`` precomputed, fresh noise ``z`` in each minibatch drawn from ``key``).

    ``config``: ``width``, ``depth``, ``steps``, ``batch``, ``lr`` (Adam, cosine-decayed to 5%). Returns
    ``(network, {"final_loss": last logged loss or None})`` — the ``train`` protocol of
    :func:`jaxhybrid.pretrained.obtain`; estimate with ``jax.vmap(network)(y / u_scale)``.
    """
    missing = [k for k in ("width", "depth", "steps", "batch", "lr") if k not in config]
    if missing:
        raise ValueError(f"train_observation_mlp: the configuration lacks {missing}.")
    if not u_scale > 0:
        raise ValueError(f"train_observation_mlp: u_scale must be > 0, got {u_scale}.")
    n = xs.shape[0]
    net = observation_mlp(int(np.prod(op.out_shape)), int(np.prod(xs.shape[1:])), config, net_key)
    res = train_regressor(lambda m, yy: m(yy / u_scale), net, (jax.vmap(op.apply)(xs), xs.reshape(n, -1)), noise,
                          optax.adam(optax.cosine_decay_schedule(config["lr"], config["steps"], 0.05)),
                          steps=config["steps"], batch_size=config["batch"], key=key,
                          log_every=max(1, config["steps"] // 10), desc=desc)
    return res.params, {"final_loss": res.history[-1]["loss_mean"] if res.history else None}
