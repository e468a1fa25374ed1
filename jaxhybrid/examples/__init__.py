"""Seed examples. Each module ``jaxhybrid/examples/<module>.py`` exposes

    run(quick: bool, seed: int, out: pathlib.Path) -> dict

returning the record built by :func:`jaxhybrid.examples.record.record` (``name``,
``paradigm``, ``quick``, ``wall_s``, ``metrics``, ``goal``, ``baselines``) and writing its PNG plot(s) into ``out``. The CLI writes
the JSON. To add an example, add one line to ``REGISTRY``.
"""

from __future__ import annotations

import importlib
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
