"""A Deep Potential, or its data-only baseline, built and trained from one configuration dictionary.

As DeePMD-kit's ``input.json`` does for ``dp train``, one flat, JSON-serialisable dictionary
says how a network is built and trained — so the same dictionary can key its stored weights (a
hash of it; :mod:`jaxhybrid.pretrained`) and reproduce them. Keys read:

* model (:func:`deep_pot_from_config`): ``rcut``, ``rcut_smth`` (Å), ``embedding``,
  ``fitting`` (layer widths), ``axis``; ``sel`` (neighbour slots) unless given;
  ``n_models`` for an ensemble (:func:`~.deviation.make_ensemble`);
* loss (:func:`loss_from_config`): ``pref_e``, ``pref_f``, ``pref_v`` — each a ``[start,
  limit]`` pair of the DeePMD loss prefactors; an absent pair keeps :class:`~.training.LossConfig`'s
  default (DeePMD-kit's);
* training (:func:`train_from_config`): ``steps``, ``batch_size`` (default 1), ``lr_start``,
  ``lr_end``, ``refit_bias`` (default off).

A configuration with a ``kind`` key (the inputs: ``"coordinates"`` or ``"distances"``) is the
data-only MLP's (:mod:`.baselines`), with ``widths``, ``steps``, ``batch_size`` (default 16)
and ``seed``. :func:`fit_from_config` trains either network from scratch on labelled systems
(``seed`` keys the initialisation, ``seed + 1`` the minibatches), :func:`template_from_config`
gives its structure to load stored weights into. Other keys (the data selection, …) are the
caller's and ignored here.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

from .baselines import MLPEnergy, fit_mlp_energy, mlp_energy_template
from .data import Packed, System, pack
from .model import DeepPot
from .training import LossConfig, train

__all__ = ["MODEL_KEYS", "deep_pot_from_config", "loss_from_config", "train_from_config", "fit_from_config",
           "template_from_config"]

#: the configuration keys of the model's hyperparameters
MODEL_KEYS = ("rcut", "rcut_smth", "embedding", "fitting", "axis")


def _require(config: Mapping, keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if k not in config]
    if missing:
        raise ValueError(f"{what}: the configuration lacks {missing} (has {sorted(config)}).")


def deep_pot_from_config(type_map: Sequence[str], config: Mapping, key, *, sel: Optional[int] = None) -> DeepPot:
    """The :class:`~.model.DeepPot` of ``type_map`` with the hyperparameters :data:`MODEL_KEYS`
    of ``config``, ``sel`` neighbour slots (default ``config["sel"]``), initialised from
    ``key``; with ``config["n_models"]`` an ensemble of that many members
    (:func:`~.deviation.make_ensemble`)."""
    _require(config, MODEL_KEYS + (() if sel is not None else ("sel",)), "deep_pot_from_config")
    kw = {k: config[k] for k in MODEL_KEYS}
    sel = int(config["sel"] if sel is None else sel)
    if "n_models" in config:
        from .deviation import make_ensemble

        return make_ensemble(config["n_models"], key, type_map=tuple(type_map), sel=sel, **kw)
    return DeepPot(tuple(type_map), sel=sel, key=key, **kw)


def loss_from_config(config: Mapping) -> LossConfig:
    """:class:`~.training.LossConfig` from the ``[start, limit]`` pairs ``pref_e``, ``pref_f``,
    ``pref_v`` of ``config`` (absent pairs: the defaults)."""
    d = LossConfig()
    pairs = []
    for name in ("e", "f", "v"):
        pair = config.get(f"pref_{name}", (getattr(d, f"start_pref_{name}"), getattr(d, f"limit_pref_{name}")))
        if len(pair) != 2:
            raise ValueError(f"loss_from_config: pref_{name} must be a [start, limit] pair, got {pair}.")
        pairs.extend(pair)
    return LossConfig(*pairs)


def train_from_config(model: DeepPot, data: Packed, config: Mapping, *, seed: int, steps: Optional[int] = None,
                      log_every: Optional[int] = None, ensemble: bool = False,
                      progress: bool = False) -> tuple[DeepPot, dict]:
    """:func:`~.training.train` ``model`` on ``data`` as ``config`` says (module docstring):
    ``steps`` (default ``config["steps"]``), ``batch_size``, ``lr_start`` → ``lr_end``,
    :func:`loss_from_config`, ``refit_bias``; minibatch key ``PRNGKey(seed)``, compiled chunks
    and the history every ``log_every`` steps (default ``gcd(steps, 100)``). Returns ``(model,
    summary)``, ``summary`` being JSON-ready: ``n_train_frames`` and ``history`` (one dict of
    floats per logged step)."""
    import jax

    _require(config, ("lr_start", "lr_end") + (() if steps is not None else ("steps",)), "train_from_config")
    steps = int(config["steps"] if steps is None else steps)
    model, hist = train(model, data, steps=steps, batch_size=config.get("batch_size", 1), lr_start=config["lr_start"],
                        lr_end=config["lr_end"], loss=loss_from_config(config), key=jax.random.PRNGKey(seed),
                        log_every=math.gcd(steps, 100) if log_every is None else log_every, progress=progress,
                        ensemble=ensemble,
                        refit_bias=config.get("refit_bias", False))
    return model, {"n_train_frames": int(len(data.energy)),
                   "history": [{k: float(v) for k, v in h.items()} for h in hist]}


def fit_from_config(type_map: Sequence[str], systems: Sequence[System], config: Mapping, *, sel: Optional[int] = None,
                    log_every: Optional[int] = None, progress: bool = False) -> tuple[DeepPot | MLPEnergy, dict]:
    """The network of ``config`` (module docstring) trained from scratch on ``systems``.

    Deep Potential: the frames packed with neighbour tables within ``config["rcut"]``
    (:func:`~.data.pack`), the model :func:`deep_pot_from_config` with ``sel`` slots (default:
    the most neighbours found in the data) initialised from ``PRNGKey(config["seed"])``, then
    :func:`train_from_config` with minibatch key ``PRNGKey(config["seed"] + 1)``; summary
    ``sel``, ``n_train_frames``, ``history``. Data-only MLP (``kind`` in ``config``):
    :func:`~.baselines.fit_mlp_energy` on the frames (one atom count); summary ``n_atoms``,
    ``n_train_frames``. ``log_every``: steps per compiled chunk and history record (default
    :func:`train_from_config`'s or :func:`~.baselines.fit_mlp_energy`'s). Returns ``(model,
    summary)``, the summary JSON-ready."""
    import jax

    _require(config, ("seed", "steps"), "fit_from_config")
    if "kind" in config:
        _require(config, ("widths",), "fit_from_config")
        model, _ = fit_mlp_energy(systems, config["kind"], steps=config["steps"], seed=config["seed"],
                                  widths=config["widths"], batch_size=config.get("batch_size", 16), log_every=log_every)
        return model, {"n_atoms": model.n_atoms, "n_train_frames": int(sum(s.n_frames for s in systems))}
    _require(config, ("rcut",), "fit_from_config")
    data = pack(systems, config["rcut"])
    sel = int(data.idx.shape[2]) if sel is None else int(sel)
    model = deep_pot_from_config(type_map, config, jax.random.PRNGKey(config["seed"]), sel=sel)
    model, summary = train_from_config(model, data, config, seed=config["seed"] + 1, log_every=log_every,
                                       progress=progress)
    return model, dict(summary, sel=sel)


def template_from_config(type_map: Sequence[str], config: Mapping, meta: Optional[Mapping] = None, *,
                         sel: Optional[int] = None, n_atoms: Optional[int] = None) -> DeepPot | MLPEnergy:
    """The structure of the network :func:`fit_from_config` trains for ``config``, as shapes only
    (:func:`equinox.filter_eval_shape`: nothing is initialised or compiled) — the template to
    load its stored weights into. What the configuration does not fix comes from the training
    summary ``meta`` unless given: a Deep Potential's ``sel`` (else ``config["sel"]``), the MLP's
    ``n_atoms``."""
    import equinox as eqx
    import jax

    meta = {} if meta is None else meta
    if "kind" in config:
        n_atoms = meta.get("n_atoms") if n_atoms is None else n_atoms
        if n_atoms is None:
            raise ValueError("template_from_config: the MLP's atom count is in neither meta nor n_atoms=.")
        return eqx.filter_eval_shape(mlp_energy_template, config["kind"], int(n_atoms), config["widths"])
    sel = meta.get("sel", config.get("sel")) if sel is None else sel
    return eqx.filter_eval_shape(deep_pot_from_config, tuple(type_map), config, jax.random.PRNGKey(0), sel=sel)
