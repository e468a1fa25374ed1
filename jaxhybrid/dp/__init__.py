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
