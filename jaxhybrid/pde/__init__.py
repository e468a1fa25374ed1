"""jaxhybrid.pde — PDE engine (mechanism layer; knows nothing of the layers above).

Periodic pseudo-spectral (exponential integrators):
    Grid, SpectralSpace                      — grids, real-FFT operators, 2/3 de-aliasing
    fourier_basis                            — real trigonometric basis of a band-limited 1-D field
    ETDRKStepper, etdrk_coefficients         — ETDRK1–4 (Cox & Matthews 2002; Kassam & Trefethen 2005)
    advection_diffusion, heat, burgers, kuramoto_sivashinsky, korteweg_de_vries,
    navier_stokes_2d, kolmogorov_forcing     — ready-made equations (return ETDRKStepper)

Rectangles (finite differences):
    poisson_fd, laplacian_fd, fd_coords      — Poisson/Helmholtz, Dirichlet/Neumann/periodic, fast transforms
    fd_points                                — the grid's nodes as points (for functions of a point)
    solve_variable_coefficient               — −∇·(a∇u) = f, matrix-free preconditioned CG (lineax)
    ode_solve, reaction_diffusion_rhs, dirichlet_laplacian, mol_coords
                                              — method of lines through diffrax (stiff / non-stiff,
                                                adaptive or fixed step); ode_solve serves any ODE
    trajectory_windows, fit_windows, Windows — learn a vector field through the solve on short
                                                windows of observed trajectories
    snapshots                                — a stepper's solution at chosen step counts (what
                                                sensors see; checkpointed gradients)
    adam_descent, heat_initial_condition, heat_source_design
                                             — inverse problems and design through a solver: the
                                                optimiser and the linearised (heat) baselines
    solve_batch                              — ode_solve from many initial states, compiled once
                                                per vector field (parameters as arguments)
    pendulum_field, pendulum_neural_field, pendulum_friction, pendulum_reference, cylinder_rel_l2,
    pendulum_initial_states, pendulum_windows, pendulum_errors
                                             — a driven pendulum whose friction law is learned
                                                (a closure test problem: data and scoring)

Every stepper follows the algorithm protocol (``û, info = stepper.step(û, key=None)``) and runs
through :func:`jaxhybrid.rollout.evolve` (``evolve(stepper, stepper.init(u0), n, save_every=k,
observe=stepper.to_physical)``): ``vmap`` over initial conditions or parameters, ``grad`` with
``checkpoint=True``, and ``is_bad=nonfinite`` to stop a blow-up at the last
good state.
"""

from .grid import Grid
from .spectral import SpectralSpace, dealias_cutoff, fourier_basis
from .etdrk import ETDRKStepper, etdrk_coefficients
from .equations import (
    advection_diffusion,
    heat,
    burgers,
    kuramoto_sivashinsky,
    korteweg_de_vries,
    navier_stokes_2d,
    kolmogorov_forcing,
)
from .poisson import poisson_fd, laplacian_fd, fd_coords, fd_points
from .variable_coefficient import solve_variable_coefficient, variable_coefficient_operator
from .mol import ode_solve, reaction_diffusion_rhs, dirichlet_laplacian, mol_coords
from .windows import Windows, trajectory_windows, fit_windows
from .snapshots import snapshots
from .inverse_design import adam_descent, heat_initial_condition, heat_source_design
from .trajectories import solve_batch
from .pendulum import (pendulum_friction, pendulum_field, pendulum_neural_field, pendulum_reference, cylinder_rel_l2,
                       pendulum_initial_states, pendulum_windows, pendulum_errors)

__all__ = [
    "Grid", "SpectralSpace", "dealias_cutoff", "fourier_basis", "ETDRKStepper", "etdrk_coefficients",
    "advection_diffusion", "heat", "burgers", "kuramoto_sivashinsky", "korteweg_de_vries",
    "navier_stokes_2d", "kolmogorov_forcing", "poisson_fd", "laplacian_fd", "fd_coords",
    "solve_variable_coefficient", "variable_coefficient_operator", "ode_solve",
    "reaction_diffusion_rhs", "dirichlet_laplacian", "mol_coords", "Windows", "trajectory_windows", "fit_windows",
    "snapshots", "fd_points", "solve_batch", "adam_descent", "heat_initial_condition", "heat_source_design",
    "pendulum_friction", "pendulum_field", "pendulum_neural_field", "pendulum_reference", "cylinder_rel_l2",
    "pendulum_initial_states", "pendulum_windows", "pendulum_errors",
]
