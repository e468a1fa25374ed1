"""Score-based sequential Langevin sampling (SSLS) filter.

Ding, Duan, Jiao, Yang, Yuan & Zhang (2024), *Nonlinear assimilation via score-based sequential
Langevin sampling*: each cycle

1. **forecast** the ensemble with the model (mechanism);
2. **learn the prior score** ``s_θ(x, σ) ≈ ∇log p_f,σ(x)`` of the forecast ensemble by denoising
   score matching (Vincent 2011; :func:`jaxhybrid.sampling.dsm_loss`), warm-started from the
   previous cycle's network — the data-driven part;
3. **sample the analysis** with annealed Langevin dynamics
   (:func:`jaxhybrid.sampling.annealed_langevin`) on the posterior score
   ``s_θ(x, σ) + ∇_x log p(y | x)``, the chains started at the forecast members.

Nothing is linearised: the likelihood enters through its gradient (JAX autodiff of ``h``), so
nonlinear observation operators (``arctan``, ``|x|``) are handled as they are. The score is
learned in standardised coordinates ``z = (x − x̄_f)/s_f`` (per-component forecast mean and
standard deviation), where fixed noise levels suit every cycle; the likelihood gradient is
mapped by the chain rule, ``∇_z = s_f ∇_x``. Training is a fixed number of Adam steps inside the
``jit``-compiled cycle, so a whole SSLS experiment is still one ``lax.scan``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.rollout import rollout
from jaxhybrid.sampling import MLPScore, annealed_langevin, dsm_loss

from .base import EnsembleState, Filter, ensemble_forecast, init_ensemble, inflate
from .observations import Observation, gaussian_loglik

__all__ = ["ssls"]


def ssls(model: Callable, obs: Observation, N: int, *, key, sigmas: Sequence[float] = (1.0, 0.5, 0.25),
         eps: float = 0.02, n_steps_each: int = 20, train_steps: int = 50, learning_rate: float = 3e-3,
         width: int = 64, infl: float = 1.0, train_sigmas: Sequence[float] = (0.25, 1.0)) -> Filter:
    """SSLS filter with ``N`` members (see the module docstring).

    ``key`` initialises the score network (an :class:`jaxhybrid.sampling.MLPScore` of ``width``);
    ``sigmas`` (decreasing), ``eps``, ``n_steps_each``: the annealed Langevin schedule in
    standardised units; ``train_steps`` Adam steps of DSM per cycle with noise levels drawn
    log-uniformly in ``train_sigmas``; ``infl`` inflates the forecast anomalies first.
    """
    if N < 2 or train_steps < 1 or n_steps_each < 1:
        raise ValueError(f"ssls: need N >= 2, train_steps >= 1, n_steps_each >= 1; got {N}, {train_steps}, {n_steps_each}.")
    sig = np.asarray(sigmas, np.float32)   # host array: annealed_langevin validates it
    tsig = jnp.asarray(train_sigmas, jnp.float32)
    opt = optax.adam(learning_rate)
    L = len(sigmas)

    def init(k, x0, std0):
        s = init_ensemble(k, x0, std0, N)
        net = MLPScore(s.E.shape[1], width=width, depth=2, key=key)
        return s._replace(aux=eqx.filter(net, eqx.is_inexact_array))

    def analysis(s: EnsembleState, y, k):
        E = inflate(s.E, infl)
        m = jnp.mean(E, 0)
        sd = jnp.std(E, 0, ddof=1) + 1e-6
        Z = (E - m) / sd
        params = s.aux
        template = MLPScore(E.shape[1], width=width, depth=2, key=key)
        static = eqx.filter(template, eqx.is_inexact_array, inverse=True)
        k_train, k_lang = jax.random.split(k)

        def loss(p, kk):
            return dsm_loss(eqx.combine(p, static), Z, kk, tsig, continuous=True)

        def train_step(carry, kk):
            p, o = carry
            g = jax.grad(loss)(p, kk)
            u, o = opt.update(g, o, p)
            return (optax.apply_updates(p, u), o), None

        (params, _), _ = jax.lax.scan(train_step, (params, opt.init(params)), jax.random.split(k_train, train_steps))
        net = eqx.combine(params, static)

        def score(z, sigma):
            x = m + sd * z
            return net(z, sigma) + sd * jax.grad(lambda xx: gaussian_loglik(obs, xx, y))(x)

        with jax.ensure_compile_time_eval():   # the sampler validates its (static) schedule
            algo = annealed_langevin(score, sig, eps, n_steps_each)

        def chain(z0, kk):
            keys = jax.random.split(kk, L * n_steps_each)
            return rollout(algo.step, algo.init(z0), L * n_steps_each, save_every=L * n_steps_each,
                           observe=lambda st: None, inputs=keys).final.position

        Za = jax.vmap(chain)(Z, jax.random.split(k_lang, N))
        return s._replace(E=m + sd * Za, aux=params)

    return Filter(init, ensemble_forecast(model), analysis)
