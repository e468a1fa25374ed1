"""Seed examples. Each module ``jaxhybrid/examples/<module>.py`` exposes

    run(quick: bool, seed: int, out: pathlib.Path) -> dict

returning the record built by :func:`jaxhybrid.record.record` (``name``,
``paradigm``, ``quick``, ``wall_s``, ``metrics``, ``goal``, ``baselines``) and writing its PNG plot(s) into ``out``. The CLI writes
the JSON. To add an example, add one line to ``REGISTRY``.

:func:`run_or_load` runs an example once and shares its record: the test suite and the notebooks
(``make test``) both ask for the quick run of each example, and the second asker reads the first
one's record and figures from the folder ``$JAXHYBRID_RECORDS`` instead of running it again.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

#: example name -> (module name under jaxhybrid.examples, one-line description)
REGISTRY: dict[str, tuple[str, str]] = {
    "prior-deblur": ("prior_deblur", "learned DSM image prior + blur likelihood, PnP-ULA posterior mean/std vs TV, Tikhonov and a data-only regressor; inpainting with the same prior (paradigm 1)"),
    "prior-poisson-source": ("prior_poisson_source", "recover a Poisson source field from sparse noisy potentials: PDE likelihood + learned prior, PnP-ULA vs Tikhonov and a data-only MLP (paradigm 1)"),
    "lj-md": ("lj_md", "Lennard-Jones liquid with the MD engine: thermodynamics, energy drift, g(r) (paradigm 1 mechanism)"),
    "pde-inverse-design": ("pde_inverse_design", "recover a Burgers initial condition / design a source by gradients through the ETDRK solver vs FD gradients and a linearised model (paradigm 1)"),
    "closure-ode": ("closure_ode", "learned friction law inside a diffrax pendulum solve (paradigm 1)"),
    "forecast-closure": ("forecast_closure", "two-scale Lorenz-96: coarse model with a learned subgrid closure (offline, then online through the solver) vs polynomial closures; linear and MLP MOS of a biased model (paradigm 1 for forecasting)"),
    "assimilation-l96": ("assimilation_l96", "Lorenz-96 forecast ↔ analysis cycles (Sakov & Oke 2008 / DAPPER setup): ETKF, EnKF, LETKF, 3D-Var, 4D-Var (adjoint by JAX), particle filter vs free forecast and observations alone (paradigm 3)"),
    "assimilation-ssls": ("assimilation_ssls", "score-based sequential Langevin sampling (ensemble prior score + exact nonlinear likelihood, adaptive MALA) vs ETKF and particle filter at N = 40 on Lorenz-96 with arctan observations every 3 steps and linear observations (paradigm 3)"),
    "alphazero-tictactoe": ("alphazero_tictactoe", "AlphaZero on tic-tac-toe: Gumbel MuZero search on the rules + residual Flax policy/value net, vs a perfect player; pure MCTS and raw-policy baselines (paradigm 3)"),
    "alphazero-connect4": ("alphazero_connect4", "AlphaZero on Connect Four vs pure MCTS with 200 random-rollout simulations; MCTS and raw-policy baselines (paradigm 3)"),
    "pinn-poisson-source": ("pinn_poisson_source", "inverse source problem of the Poisson equation: PINN u_θ, f_η with hard BCs (Adam + L-BFGS, float64) vs Tikhonov FD inversion and data-only regression + FD Laplacian (paradigm 2)"),
    "dpmd": ("dpmd", "se_e2_a Deep Potential trained on EMT Cu labels, run by the MD engine: held-out errors, g(r) vs EMT-MD, linear-scaling cost (paradigm 1)"),
    "dpmd-dft": ("dpmd_dft", "se_e2_a Deep Potential trained on PySCF PBE DFT-MD labels of a water molecule: held-out errors, O-H bond-length distribution of DP-MD vs DFT-MD, cost per step vs DFT-MD with the same integrator (paradigm 1)"),
    "dpgen": ("dpgen", "concurrent learning of a Deep Potential (explore with DP-MD, model deviation, label with EMT, retrain) vs random selection (paradigm 3)"),
    "constitutive-spd": ("constitutive_spd", "SPD-NN incremental stress law (SPD tangent) vs an MLP over 1,000-increment rollouts on unseen loading paths (paradigm 2)"),
    "constitutive-dpk": ("constitutive_dpk", "DPK stress network with exact cubic symmetry learned from Cauchy-Born (EAM FCC) data vs an MLP, then used in a plate-with-hole FE solve (paradigm 2)"),
    "pinn-adaptive": ("pinn_adaptive", "Poisson problem with a sharp peak: Gaussian-mixture adaptive collocation vs uniform and RAR at equal points and iterations (paradigm 2)"),
    "pinn-multistage": ("pinn_multistage", "multi-stage networks (Wang & Lai 2024): regression and a 1D PINN summed over stages with sin(κ·) first layers, float64 (paradigm 2)"),
    "maps": ("maps", "crowdsourced point clouds registered to surveyed control points, fused and fitted under geometric constraints vs survey-only and ICP-only maps (paradigm 2)"),
}


def load(name: str) -> ModuleType:
    """Import the module of example ``name`` (raises ``KeyError`` for unknown names)."""
    module, _ = REGISTRY[name]
    return importlib.import_module(f"jaxhybrid.examples.{module}")


def run_or_load(name: str, quick: bool = True, seed: int = 0, out: str | os.PathLike | None = None,
                store: str | os.PathLike | None = None) -> dict:
    """The record of example ``name`` (quick mode, ``seed``), run at most once per ``store``.

    ``store`` (default ``$JAXHYBRID_RECORDS``; none: always run): a folder holding
    ``<name>.json`` and the example's files (``<name>*.png``, ...) from an earlier run. If it holds
    a record with the same ``quick`` and ``seed``, that record is returned and its files are copied
    into ``out``; otherwise the example runs (into ``store``, under a per-example file lock so that
    concurrent askers — test workers, notebook kernels — wait for one run) and its files are copied
    into ``out``. The returned record carries ``"loaded_from"`` when it was read, not run.
    """
    from jaxhybrid.cli import run_example
    from jaxhybrid.record import read_record

    if name not in REGISTRY:
        raise KeyError(f"unknown example {name!r}; known examples: {', '.join(sorted(REGISTRY))}")
    store = store if store is not None else os.environ.get("JAXHYBRID_RECORDS")
    out = Path(out) if out is not None else None
    if not store:
        if out is None:
            raise ValueError("run_or_load: give `out` or a record store (`store=` or $JAXHYBRID_RECORDS).")
        out.mkdir(parents=True, exist_ok=True)
        return run_example(name, quick, seed, out)
    import fcntl

    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    with open(store / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = store / f"{name}.json"
        rec = read_record(path) if path.exists() else None
        if rec is not None and rec.get("quick") == quick and rec.get("seed") == seed:
            rec["loaded_from"] = str(path)
        else:
            run_example(name, quick, seed, store)
            rec = read_record(path)  # the stored (JSON) form, as a later asker sees it
    if out is not None and Path(out).resolve() != store.resolve():
        Path(out).mkdir(parents=True, exist_ok=True)
        for f in store.glob(f"{name}*"):
            if f.is_file():
                shutil.copy2(f, Path(out) / f.name)
    return rec
