"""The networks a Deep Potential experiment compares — its Deep Potential and its data-only
baselines — loaded from stored weights or trained, all of one tier.

Each network is trained from scratch by :func:`~.configured.fit_from_config` from one
configuration dictionary, which also keys its stored weights (:mod:`jaxhybrid.pretrained`:
``<name>-<hash of the configuration>.eqx``, shipped with the package or in the user cache).
The configuration names everything the weights depend on — the data selection, the model,
steps, learning rates, loss prefactors and the seed (network initialisation, training
trajectories) — so a changed configuration never reads stale weights, and another seed never
reads the shipped seed's weights.

An experiment has two configurations of every network, the full run's and a small quick one,
and :func:`obtain_networks` takes all its networks from one of the two tiers
(:func:`jaxhybrid.pretrained.obtain_tier`), so that the models it compares were trained alike:

* full run: the stored full networks, trained only when absent or with ``retrain``;
* quick run: the full networks when every one of them is stored (seed 0 of a shipped example),
  so that a quick run evaluates the full run's models, each with its full training budget;
  otherwise (another seed, a checkout without weights, ``retrain``) it trains the small quick
  configuration.

:func:`weights_summary` is what a record says about the networks: for each its source
(``shipped``, ``cache`` or ``trained``), file, configuration hash, tier (``level``: ``full`` or
``quick``) and training time.
"""

from __future__ import annotations

import functools
import time
from typing import Callable, Mapping, Optional, Sequence

from .configured import fit_from_config, template_from_config
from .data import System

__all__ = ["timed_trainer", "obtain_networks", "weights_summary"]


def timed_trainer(type_map: Sequence[str], systems: Callable[[dict], Sequence[System]], *, sel: Optional[int] = None,
                  log_every: Optional[Callable[[dict], int]] = None) -> Callable[[dict], tuple]:
    """``train(config) -> (model, meta)``: the network of ``config`` trained from scratch on
    ``systems(config)`` (its labelled frames) by :func:`~.configured.fit_from_config` with
    ``sel`` neighbour slots and ``log_every(config)`` steps per compiled chunk (default: its
    own); ``meta`` is the training summary with ``train_s``, the wall seconds of obtaining the
    frames (labelling them when not cached) and training, rounded to 0.01 s."""

    def train(config: dict):
        t0 = time.perf_counter()
        model, meta = fit_from_config(type_map, systems(config), config, sel=sel,
                                      log_every=None if log_every is None else log_every(config))
        return model, dict(meta, train_s=round(time.perf_counter() - t0, 2))

    return train


def obtain_networks(type_map: Sequence[str], tiers: Callable[[bool], Mapping[str, tuple[str, dict]]],
                    systems: Callable[[dict], Sequence[System]], *, quick: bool, retrain: bool = False,
                    sel: Optional[int] = None, n_atoms: Optional[int] = None,
                    log_every: Optional[Callable[[dict], int]] = None) -> tuple[dict, str]:
    """The networks of an experiment, all of one tier (module docstring).

    Args:
        tiers: ``tiers(quick_tier) -> {key: (name, config)}``: the stored name and the training
            configuration (:mod:`.configured`) of every network of the full (``False``) or quick
            (``True``) tier.
        systems, sel, log_every: the training frames of a configuration and the training
            (:func:`timed_trainer`).
        n_atoms: the data-only MLPs' atom count where their stored summary lacks it
            (:func:`~.configured.template_from_config`, which also gets ``sel``).

    Returns:
        ``({key: jaxhybrid.pretrained.Obtained}, "full" | "quick")``.
    """
    from jaxhybrid.pretrained import obtain_tier

    train = timed_trainer(type_map, systems, sel=sel, log_every=log_every)
    like = functools.partial(template_from_config, tuple(type_map), sel=sel, n_atoms=n_atoms)
    return obtain_tier(tiers(False), tiers(True), lambda _: train, like, quick=quick, retrain=retrain)


def weights_summary(got: Mapping[str, object], level: str) -> dict:
    """``{key: {source, file, config_hash, level, train_s}}`` of the obtained networks ``got``
    (:class:`jaxhybrid.pretrained.Obtained`, whose meta holds ``train_s``) of tier ``level``."""
    return {k: {**g.summary(), "level": level, "train_s": g.meta["train_s"]} for k, g in got.items()}
