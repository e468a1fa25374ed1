"""Deep Potential molecular dynamics (paradigm 1) and concurrent learning (paradigm 3).

* :mod:`.model` — the ``se_e2_a`` Deep Potential (:class:`DeepPot`), an energy function of the
  MD engine's contract ``E(positions, neighbours, box, species)``.
* :mod:`.data` — DeePMD-kit numpy format, ASE in/out, padded neighbour tables.
* :mod:`.training` — DeePMD loss with moving prefactors through :func:`jaxhybrid.train.fit`.
* :mod:`.labellers` — reference labellers (ASE EMT, PySCF DFT) and cached reference-MD datasets.
* :mod:`.dft_md` — a DFT labeller as an MD force function (host callback), cached DFT-MD trajectories.
* :mod:`.deviation` — ensembles and model deviation; :mod:`.concurrent` — the DP-GEN loop
  (explore → deviate → select within trust levels → label → retrain).
* :mod:`.baselines` — the data-only MLP baseline; :mod:`.plots` — force parity and training panels.
* :mod:`.concurrent_baselines` — the DP-GEN loop against random selection and the seed set at
  equal cost, and the ensembles' test errors.
* :mod:`.configured` — a Deep Potential (and its data-only MLP) built and trained from one
  configuration dictionary.
* :mod:`.crystal_md` — DP-MD of a crystal against reference MD (same thermostat; g(r) compared)
  and its cost per atom-step.
* :mod:`.crystals` — element-specific crystal set-up (lattice, mass, supercells, labelled
  reference-MD frames) from the element's symbol.
* :mod:`.molecule_md` — DP-MD of a molecule against DFT-MD in the same compiled program: cost per
  step and structural distributions with their sampling floor.
* :mod:`.label_file` — a list of labelled systems as one ``.npz`` with a checked JSON header.
* :mod:`.networks` — an experiment's Deep Potential and data-only baselines, stored or trained,
  all of one tier (full or quick).
* :mod:`.molecule_data` — a molecule's DFT-MD training and held-out sets from one
  level-of-theory dictionary, and a stored held-out set read back.
* :mod:`.crystal_concurrent` — concurrent learning on an element's crystal against its baselines,
  from one configuration dictionary, and the arms' held-out errors.
"""

from .data import Packed, System, concat, from_ase, neighbour_table, pack, read_deepmd, to_ase, write_deepmd
from .model import DeepPot, ResNet, cast, environment, molecule_energy_fn, switch
from .training import LossConfig, deepmd_loss, predict, rmse, train, with_statistics

__all__ = [
    "DeepPot", "ResNet", "cast", "environment", "switch", "molecule_energy_fn",
    "System", "Packed", "read_deepmd", "write_deepmd", "to_ase", "from_ase", "concat", "neighbour_table", "pack",
    "LossConfig", "deepmd_loss", "train", "predict", "rmse", "with_statistics",
]
from .labellers import (BOHR_A, HARTREE_EV, EMTLabeller, PySCFLabeller, cache_dir, cached_system,  # noqa: E402
                        publish_system, reference_md, spec_tag, timed_reference_md)

__all__ += ["EMTLabeller", "PySCFLabeller", "cache_dir", "cached_system", "publish_system", "spec_tag", "reference_md",
            "timed_reference_md", "HARTREE_EV", "BOHR_A"]
from .deviation import ensemble_forces, force_deviation, make_ensemble, member, model_deviation  # noqa: E402

__all__ += ["make_ensemble", "member", "ensemble_forces", "force_deviation", "model_deviation"]
from .dft_md import dft_force_fn, dft_md, one_thread  # noqa: E402
from .baselines import features, mlp_baseline  # noqa: E402
from .concurrent import ConcurrentResult, Explorer, TrustLevels, concurrent_learning, explore, label_frames, select  # noqa: E402

__all__ += ["dft_force_fn", "dft_md", "one_thread", "features", "mlp_baseline", "Explorer", "TrustLevels",
            "ConcurrentResult", "concurrent_learning", "explore", "select", "label_frames"]
from .concurrent_baselines import (ARM_FIGURES, CONCURRENT_ARMS, concurrent_figures, concurrent_vs_baselines,  # noqa: E402
                                   ensemble_errors)
from .configured import (MODEL_KEYS, deep_pot_from_config, fit_from_config, loss_from_config,  # noqa: E402
                         template_from_config, train_from_config)
from .crystals import (atomic_mass, crystal, crystal_data, crystal_data_from_config, crystal_positions,  # noqa: E402
                       lattice_constant)
from .label_file import keyed_label_file, read_label_file, stored_labels, write_label_file  # noqa: E402
from .crystal_md import CrystalMDCheck, crystal_md_check, crystal_md_cost, crystal_md_scaling  # noqa: E402
from .molecule_md import MoleculeMDCheck, molecule_md_check, molecule_md_metrics  # noqa: E402

__all__ += ["CONCURRENT_ARMS", "concurrent_vs_baselines", "ensemble_errors", "MODEL_KEYS", "deep_pot_from_config",
            "loss_from_config", "train_from_config", "fit_from_config", "template_from_config", "lattice_constant",
            "atomic_mass", "crystal", "crystal_positions", "crystal_data", "read_label_file", "write_label_file",
            "keyed_label_file", "stored_labels", "CrystalMDCheck", "crystal_md_check", "crystal_md_cost",
            "MoleculeMDCheck", "molecule_md_check"]
from .networks import obtain_networks, timed_trainer, weights_summary  # noqa: E402
from .molecule_data import LEVEL_KEYS, MoleculeDFTMD, dft_labeller, molecule_dft_md  # noqa: E402
from .crystal_concurrent import concurrent_template, crystal_arm_errors, crystal_concurrent_from_config  # noqa: E402

__all__ += ["ARM_FIGURES", "concurrent_figures", "crystal_data_from_config", "crystal_md_scaling", "molecule_md_metrics",
            "obtain_networks", "timed_trainer", "weights_summary", "LEVEL_KEYS", "dft_labeller", "molecule_dft_md",
            "MoleculeDFTMD", "crystal_concurrent_from_config", "concurrent_template", "crystal_arm_errors"]
