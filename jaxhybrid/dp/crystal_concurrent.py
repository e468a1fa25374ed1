"""Concurrent learning of a Deep Potential for an element's crystal against its equal-cost
baselines, from one configuration dictionary (as :mod:`.configured` does for one network).

:func:`crystal_concurrent_from_config` runs :func:`~.concurrent_baselines.concurrent_vs_baselines`
— the DP-GEN loop, random selection of as many frames from everything the loop explored, and the
seed-set ensemble alone — on the :func:`~.crystals.crystal` of an element. Keys read:

* crystal: ``cells`` (supercell repetitions), ``a0`` (lattice constant, Å);
* seed set: ``seed_frames`` frames of reference Langevin MD (:func:`~.labellers.reference_md`,
  cached; a frame every 10 steps after 40 of equilibration) at ``seed_T`` K, seed ``seed``;
* ensemble: the model keys of :func:`~.configured.deep_pot_from_config`, ``sel`` and
  ``n_models``, initialised from ``PRNGKey(seed)``;
* loop: DP-MD exploration at ``explore_temperatures`` (K) for ``explore_steps`` steps keeping
  every ``explore_every``-th frame (:class:`~.concurrent.Explorer`, the element's mass), trust
  levels ``lo`` ≤ ε_f < ``hi`` (eV/Å, :class:`~.concurrent.TrustLevels`), up to ``n_label``
  labelled frames per round, at most ``rounds`` rounds;
* training: ``init_steps`` on the seed set, ``round_steps`` per round that labelled,
  ``lr_start``, ``lr_end``, loss prefactors (:func:`~.configured.train_from_config`), every
  frame packed with ``sel`` neighbour slots.

The random-selection arm draws from the loop's explored frames, so the three ensembles are
trained together and stored together (:func:`concurrent_template` gives their structure).
:func:`crystal_arm_errors` scores each on a held-out reference-MD trajectory of the same crystal
(:func:`~.concurrent_baselines.ensemble_errors`).
"""

from __future__ import annotations

import functools
import time
from typing import Mapping, Optional, Sequence

__all__ = ["crystal_concurrent_from_config", "concurrent_template", "crystal_arm_errors"]


def _fit(ens, systems, steps, seed, config):
    """``ens`` trained on ``systems`` for ``steps`` steps (minibatch key ``seed``) as ``config`` says."""
    from .configured import train_from_config
    from .data import pack

    return train_from_config(ens, pack(systems, config["rcut"], k_max=config["sel"]), config, seed=seed, steps=steps,
                             ensemble=True)[0]


def crystal_concurrent_from_config(labeller, element: str, config: Mapping, *, name: str) -> tuple[dict, dict]:
    """``({arm: ensemble}, meta)``: the concurrent-learning loop and its two baselines
    (:data:`~.concurrent_baselines.CONCURRENT_ARMS`) trained as ``config`` says (module
    docstring), labelled by ``labeller`` (its ``type_map`` is the ensemble's); the seed set is
    cached as ``<name>-seed``. ``meta``: the loop's history, labelled frames, rounds,
    convergence and the random-selection arm's steps, and ``train_s``, the wall seconds of it
    all."""
    import jax

    from .concurrent import Explorer, TrustLevels
    from .concurrent_baselines import concurrent_vs_baselines
    from .configured import deep_pot_from_config
    from .crystals import atomic_mass, crystal
    from .labellers import reference_md

    t0, seed = time.perf_counter(), config["seed"]
    atoms = crystal(element, config["cells"], config["a0"])
    seed_set = reference_md(labeller, atoms, temperatures=[config["seed_T"]], n_frames=config["seed_frames"], every=10,
                            equilibrate=40, seed=seed, name=f"{name}-seed")
    # the random-selection arm's seed-set stage is the same computation as the seed-only arm's: same key, data, steps
    arms, meta = concurrent_vs_baselines(
        deep_pot_from_config(labeller.type_map, config, jax.random.PRNGKey(seed)), seed_set, atoms, labeller=labeller,
        fit=functools.partial(_fit, config=config), init_steps=config["init_steps"], round_steps=config["round_steps"],
        seed=seed, explorer=Explorer(config["explore_temperatures"], config["explore_steps"], config["explore_every"],
                                     mass=atomic_mass(element)),
        trust=TrustLevels(config["lo"], config["hi"]), n_label=config["n_label"], rounds=config["rounds"])
    return arms, dict(meta, train_s=round(time.perf_counter() - t0, 2))


def concurrent_template(type_map: Sequence[str], config: Mapping, meta: Optional[Mapping] = None) -> dict:
    """The structure of the stored ensembles of :func:`crystal_concurrent_from_config`, one per
    arm (shapes only: nothing is compiled; :func:`~.configured.template_from_config`)."""
    from .concurrent_baselines import CONCURRENT_ARMS
    from .configured import template_from_config

    return {a: template_from_config(type_map, config) for a in CONCURRENT_ARMS}


def crystal_arm_errors(ensembles: Mapping, labeller, element: str, config: Mapping, *, temperature: float,
                       n_frames: int, every: int, equilibrate: int, seed: int, name: str) -> dict:
    """``{arm: errors}``: :func:`~.concurrent_baselines.ensemble_errors` (member 0's energy and
    force RMSE and max force error, the ensemble's largest model deviation) of each ensemble,
    with ``config["sel"]`` neighbour slots, on ``n_frames`` frames of reference Langevin MD
    (:func:`~.labellers.reference_md`, cached as ``name``) of the configuration's crystal at
    ``temperature`` K: a frame every ``every`` steps after ``equilibrate``, seed ``seed``."""
    from .concurrent_baselines import ensemble_errors
    from .crystals import crystal
    from .labellers import reference_md

    test = reference_md(labeller, crystal(element, config["cells"], config["a0"]), temperatures=[temperature],
                        n_frames=n_frames, every=every, equilibrate=equilibrate, seed=seed, name=name)[0]
    return {a: ensemble_errors(e, test, k_max=config["sel"]) for a, e in ensembles.items()}
