r"""Training a PINN with adaptive collocation: Adam rounds with the points redrawn between rounds
from the current residual, then L-BFGS on the final points (all through :func:`jaxhybrid.train.fit`).

Strategies (:func:`adaptive_fit`), at an equal final number of points ``n`` and equal iterations:

* ``"uniform"`` — ``n`` uniform points, fixed (the baseline);
* ``"adaptive"`` — after each round ``n`` points from :func:`~jaxhybrid.pinn.gaussian_mixture`
  (a mixture fitted by weighted EM to candidates weighted by ``r²``, a share ``uniform_frac``
  kept uniform; in the spirit of Jiang et al. 2023, GAS);
* ``"rar"`` — residual-based adaptive refinement (Lu et al. 2021, DeepXDE): start from
  ``n − rounds·⌊n / 2·rounds⌋`` uniform points and add the ``⌊n / 2·rounds⌋`` candidates with the
  largest ``|r|`` after each round (:func:`~jaxhybrid.pinn.rar`).

Each round is ``adam_steps`` Adam steps with a cosine-decayed learning rate (``lr`` → ``0.1·lr``);
L-BFGS (memory 50, zoom line search) then runs up to ``lbfgs_steps`` and stops once the loss
stalls for a chunk (:func:`~jaxhybrid.pinn.until_stalled`).
"""

from __future__ import annotations

from typing import Callable

import jax
import optax

from jaxhybrid.train import fit

from .geometry import Shape
from .optim import until_stalled
from .sampling import gaussian_mixture, rar

__all__ = ["adaptive_fit", "STRATEGIES"]

STRATEGIES = ("uniform", "adaptive", "rar")


def adaptive_fit(loss: Callable, residual: Callable, make_net: Callable, domain: Shape, key, *, strategy: str, n_points: int,
                 rounds: int, adam_steps: int, lbfgs_steps: int, lr: float = 2e-3, components: int = 8,
                 candidates: int = 8000, uniform_frac: float = 0.2, progress: bool = True):
    """Train the network ``make_net(k)`` on ``loss(net, points)`` with the collocation ``strategy``
    (module docstring); ``residual(net)`` is the batched PDE residual ``points (n, d) -> (n,)`` that
    drives the adaptive strategies. ``key`` splits into the network's, the first points' and the
    resampling keys (round ``r`` uses ``fold_in(k, r)``). Returns ``(net, final points)``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"adaptive_fit: strategy must be one of {STRATEGIES}, got {strategy!r}.")
    if rounds < 1 or n_points < 2 * rounds:
        raise ValueError(f"adaptive_fit: need rounds >= 1 and n_points >= 2·rounds, got {rounds}, {n_points}.")
    k_net, k_pts, k_ad = jax.random.split(key, 3)
    net = make_net(k_net)
    n_add = n_points // (2 * rounds)
    pts = domain.sample_interior(k_pts, n_points - rounds * n_add if strategy == "rar" else n_points)
    for r in range(rounds):
        sched = optax.cosine_decay_schedule(lr, adam_steps, alpha=0.1)
        net = fit(lambda m, _, p=pts: loss(m, p), net, None, optax.adam(sched), steps=adam_steps, log_every=500,
                  progress=progress, desc=f"{strategy} round {r}").params
        if strategy == "adaptive":
            pts = gaussian_mixture(jax.random.fold_in(k_ad, r), domain, residual(net), n_points, n_components=components,
                                   n_candidates=candidates, uniform_frac=uniform_frac)
        elif strategy == "rar":
            pts = rar(pts, domain.sample_interior(jax.random.fold_in(k_ad, r), candidates), residual(net), n_add)
    net = fit(lambda m, _: loss(m, pts), net, None, optax.lbfgs(memory_size=50), steps=lbfgs_steps, log_every=250,
              progress=progress, until=until_stalled(), desc=f"{strategy} lbfgs").params
    return net, pts
