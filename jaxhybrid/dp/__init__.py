"""Deep Potential molecular dynamics (paradigm 1) and concurrent learning (paradigm 3).

* :mod:`.model` — the ``se_e2_a`` Deep Potential (:class:`DeepPot`), an energy function of the
  MD engine's contract ``E(positions, neighbours, box, species)``.
* :mod:`.data` — DeePMD-kit numpy format, ASE in/out, padded neighbour tables.
* :mod:`.training` — DeePMD loss with moving prefactors through :func:`jaxhybrid.train.fit`.
* :mod:`.labellers` — reference labellers (ASE EMT, PySCF DFT) and cached reference-MD datasets.
* :mod:`.deviation` — ensembles and model deviation; :mod:`.concurrent` — DP-GEN loop.
"""

from .data import Packed, System, concat, from_ase, neighbour_table, pack, read_deepmd, to_ase, write_deepmd
from .model import DeepPot, ResNet, cast, environment, switch
from .training import LossConfig, deepmd_loss, predict, rmse, train, with_statistics

__all__ = [
    "DeepPot", "ResNet", "cast", "environment", "switch",
    "System", "Packed", "read_deepmd", "write_deepmd", "to_ase", "from_ase", "concat", "neighbour_table", "pack",
    "LossConfig", "deepmd_loss", "train", "predict", "rmse", "with_statistics",
]
from .labellers import (BOHR_A, HARTREE_EV, EMTLabeller, PySCFLabeller, cache_dir, cached_system,  # noqa: E402
                        publish_system, reference_md, spec_tag)

__all__ += ["EMTLabeller", "PySCFLabeller", "cache_dir", "cached_system", "publish_system", "spec_tag", "reference_md",
            "HARTREE_EV", "BOHR_A"]
from .deviation import ensemble_forces, force_deviation, make_ensemble, member  # noqa: E402

__all__ += ["make_ensemble", "member", "ensemble_forces", "force_deviation"]
