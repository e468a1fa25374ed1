"""Score-based sequential Langevin sampling (SSLS) filter.

Ding, Duan, Jiao, Yang, Yuan & Zhang (2024), *Nonlinear assimilation via score-based sequential
Langevin sampling*: each cycle

1. **forecast** the ensemble with the model (mechanism);
2. **estimate the prior score** ``∇log p_f`` from the forecast ensemble (the data-driven part);
3. **sample the analysis** by Langevin dynamics on the posterior score
   ``∇log p_f(x) + ∇_x log p(y | x)``, one chain per member, started at the forecast members.

Nothing is linearised: the likelihood enters through its value and its gradient (JAX autodiff of
``h``), so nonlinear observation operators (``arctan``, ``|x|``, ``x²``) are used as they are.
Two estimators of the prior score (``prior=``):

``"ensemble"`` (default) — the score of the Gaussian fitted to the forecast ensemble, written in
ensemble space (the estimator that denoising score matching returns for a linear score model).
With ``X = (E − x̄)/√(N−1)`` (N × d), a state is ``x(w) = x̄ + Xᵀ w`` and the prior is
``w ~ N(0, I_N)``, so the posterior on ``w`` is

    log π(w | y) = −½‖w‖² + log p(y | x̄ + Xᵀ w),    ∇_w log π = −w + X ∇_x log p(y | x).

The chains run preconditioned MALA (Roberts & Tweedie 1996 with a constant metric; the
Metropolis step removes the discretisation bias, so every chain leaves the exact posterior
invariant) with the Gauss–Newton metric of the ensemble linearisation,

    M = (I + S Sᵀ/(N−1))⁻¹ = (N−1) C⁻¹,    C = S Sᵀ + (N−1) I,    S = (h(E) − ȳ) R^{-1/2},

the matrix of the ETKF (Hunt et al. 2007). Writing ``w = T v`` with ``T = √(N−1) C^{-1/2}``
(symmetric) turns this into plain MALA (:func:`jaxhybrid.sampling.mala`) on ``v``, whose
posterior is close to ``N(·, I)`` — for a linear ``h`` it is exactly ``N(T⁻¹ w̄, I)`` with
``w̄`` the ETKF mean weights, so SSLS then samples the ETKF/Kalman analysis. Chains start at the
ETKF analysis members. The analysis ensemble is the symmetric square root of the sampled
posterior mean and covariance of ``w`` (rotated at random, as in the ETKF). With ``shrink=True``
the sampled covariance ``Ŝ`` of ``v`` is first shrunk towards the Gauss–Newton covariance, which
is the identity in ``v`` (Ledoit & Wolf 2004; the optimal linear weight
``ρ = E‖Ŝ − Σ‖²_F / E‖Ŝ − I‖²_F``): the chains are split into ``G = chains_per_member`` groups of
``N`` independent chains, the Monte-Carlo error of the pooled ``Ŝ`` is estimated by the spread
of the group covariances, ``E‖Ŝ − Σ‖² ≈ Σ_g ‖Ŝ_g − S̄‖² / (G(G − 1))``, and
``Σ̂ = (1 − ρ) Ŝ + ρ I`` with ``ρ`` clipped to [0, 1]. A few thousand correlated MALA draws of
a 40-dimensional covariance spread its eigenvalues (Marchenko–Pastur), and the shrinkage removes
most of that noise where the posterior is close to Gaussian. In ensemble space
the sampler needs no localisation and costs ``O(N²)`` per step beyond the ``N`` likelihood
gradients.

``"learned"`` — a score network ``s_θ(z, σ)`` trained each cycle by denoising score matching
(Vincent 2011; :func:`jaxhybrid.sampling.dsm_loss`) on the standardised forecast members
``z = (x − x̄_f)/s_f``, warm-started from the previous cycle, and annealed Langevin
(:func:`jaxhybrid.sampling.annealed_langevin`) over noise levels ``sigmas`` in the full space.
It makes no Gaussian assumption, but with a few dozen members in tens of dimensions the network
has little to learn from; it suits large ensembles of low-dimensional states.

Everything runs inside the ``jit``-compiled cycle (DSM training is a fixed number of Adam steps
of :func:`jaxhybrid.train.trainer` run by :func:`jaxhybrid.rollout.evolve`), so a whole SSLS
experiment is still one ``lax.scan``. The analysis info holds the mean MALA acceptance
probability of the kept steps (``accept_prob``) and the step size used (``step_size``) for the
ensemble prior, the mean DSM loss of the cycle's training steps (``dsm_loss``) for the learned one.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.rollout import evolve, rollout
from jaxhybrid.sampling import MLPScore, annealed_langevin, dsm_loss, mala
from jaxhybrid.train import trainer

from .base import EnsembleState, Filter, _init, ensemble_forecast, init_ensemble, inflate, make_filter
from .ensemble_kf import mean_preserving_rotation
from .observations import Observation, gaussian_loglik

__all__ = ["ssls"]


def ssls(model: Callable, obs: Observation, N: int, *, prior: str = "ensemble", infl: float = 1.0,
         n_steps: int = 40, step_size: float = 0.5, chains_per_member: int = 8, rotate: bool = True,
         target_accept: Optional[float] = None, adapt_rate: float = 1.0, shrink: bool = False, key=None, sigmas: Sequence[float] = (1.0, 0.5, 0.25),
         eps: float = 0.02, n_steps_each: int = 20, train_steps: int = 50, learning_rate: float = 3e-3,
         width: int = 64, train_sigmas: Sequence[float] = (0.25, 1.0)) -> Filter:
    """SSLS filter with ``N`` members (see the module docstring).

    Common: ``infl`` inflates the forecast anomalies before the analysis.

    ``prior="ensemble"``: ``n_steps`` preconditioned MALA steps of size ``step_size`` (in the
    whitened coordinates ``v``; 0.3–0.8 keeps the acceptance high for N ≲ 100); the second half
    of every chain is kept as samples. With ``target_accept`` (e.g. 0.574, the optimal MALA rate
    of Roberts & Rosenthal 1998) the step size is adapted during the first half only, by the
    Robbins–Monro update ``log δ ← log δ + adapt_rate (ᾱ − target_accept)`` with ``ᾱ`` the mean
    acceptance probability of all chains, then held fixed (so the kept samples come from a
    fixed MALA kernel, which leaves the posterior invariant); the adapted step starts the next
    cycle (carried in the state's ``aux``) and ``step_size`` is only the first cycle's.

    ``shrink``: shrink the sampled analysis covariance towards the Gauss–Newton (ETKF) one with
    the Monte-Carlo-error weight of the module docstring (needs ``chains_per_member >= 2``).

    ``prior="learned"``: ``key`` initialises the score network (an
    :class:`jaxhybrid.sampling.MLPScore` of ``width``); ``sigmas`` (decreasing), ``eps``,
    ``n_steps_each``: the annealed Langevin schedule in standardised units; ``train_steps`` Adam
    steps of DSM per cycle with noise levels drawn log-uniformly in ``train_sigmas``.
    """
    if N < 2:
        raise ValueError(f"ssls: need N >= 2 members, got {N}.")
    if infl <= 0:
        raise ValueError(f"ssls: inflation must be positive, got {infl}.")
    if prior == "ensemble":
        if n_steps < 1 or step_size <= 0 or chains_per_member < 1:
            raise ValueError(f"ssls: need n_steps >= 1, step_size > 0 and chains_per_member >= 1, got "
                             f"{n_steps}, {step_size}, {chains_per_member}.")
        if target_accept is not None and not (0.0 < target_accept < 1.0 and adapt_rate > 0):
            raise ValueError(f"ssls: need 0 < target_accept < 1 and adapt_rate > 0, got {target_accept}, "
                             f"{adapt_rate}.")
        if target_accept is not None and n_steps < 2:
            raise ValueError(f"ssls: step-size adaptation needs n_steps >= 2, got {n_steps}.")
        if shrink and chains_per_member < 2:
            raise ValueError(f"ssls: shrink=True estimates the Monte-Carlo error from groups of chains and "
                             f"needs chains_per_member >= 2, got {chains_per_member}.")
        analysis = _ensemble_analysis(obs, N, infl, n_steps, step_size, chains_per_member, rotate,
                                      target_accept, adapt_rate, shrink)
        if target_accept is None:
            init = _init(N)
        else:   # aux carries log δ from cycle to cycle
            def init(x0, std0, *, key) -> EnsembleState:
                s = init_ensemble(x0, std0, N, key=key)
                return s._replace(aux=jnp.log(jnp.asarray(step_size, s.E.dtype)))
    elif prior == "learned":
        if key is None:
            raise ValueError("ssls: prior='learned' needs `key` to initialise the score network.")
        if train_steps < 1 or n_steps_each < 1:
            raise ValueError(f"ssls: need train_steps >= 1 and n_steps_each >= 1, got {train_steps}, {n_steps_each}.")
        init, analysis = _learned_analysis(obs, N, infl, key, sigmas, eps, n_steps_each, train_steps,
                                           learning_rate, width, train_sigmas)
    else:
        raise ValueError(f"ssls: prior must be 'ensemble' or 'learned', got {prior!r}.")
    return make_filter(init, ensemble_forecast(model), analysis)


def _ensemble_analysis(obs, N, infl, n_steps, step_size, chains_per_member, rotate, target_accept=None,
                       adapt_rate=1.0, shrink=False):
    M = N * chains_per_member
    P1 = jnp.eye(N) - 1.0 / N                             # removes the (null) direction of 1
    n_keep = n_steps // 2
    n_burn = n_steps - n_keep

    def analysis(s: EnsembleState, k, y):
        E = inflate(s.E, infl)
        m = jnp.mean(E, 0)
        X = (E - m) / jnp.sqrt(N - 1.0)
        HE = jax.vmap(obs.h)(E)
        S = (HE - jnp.mean(HE, 0)) / obs.std
        C = S @ S.T + (N - 1) * jnp.eye(N, dtype=E.dtype)
        lam, V = jnp.linalg.eigh(C)
        T = (V * jnp.sqrt((N - 1) / lam)) @ V.T          # w = T v
        Tinv = (V * jnp.sqrt(lam / (N - 1))) @ V.T
        XT = T @ X                                        # x(v) = m + (T X)ᵀ v

        def logpost(v):
            w = T @ v
            return -0.5 * jnp.sum(w * w) + gaussian_loglik(obs, m + XT.T @ v, y)

        # start at the ETKF analysis (the linearised posterior): w_i = √(N−1)(w̄ + T e_i),
        # w̄ = C⁻¹ S (y − ȳ)/σ, i.e. v_i = √(N−1)(T⁻¹ w̄ + e_i)
        wbar_lin = V @ ((V.T @ (S @ ((y - jnp.mean(HE, 0)) / obs.std))) / lam)
        V0 = jnp.sqrt(N - 1.0) * (Tinv @ wbar_lin + jnp.eye(N, dtype=E.dtype))
        V0 = jnp.tile(V0, (chains_per_member, 1))
        k_burn, k_keep, k_rot = jax.random.split(k, 3)
        log_delta0 = jnp.log(jnp.asarray(step_size, E.dtype)) if target_accept is None else s.aux

        def steps(states, log_delta, kk):           # one MALA step of every chain -> (states, info)
            return jax.vmap(mala(logpost, jnp.exp(log_delta)).step)(states, jax.random.split(kk, M))

        def burn_step(c, kk):
            states, log_delta = c
            states, info = steps(states, log_delta, kk)
            if target_accept is not None:           # Robbins–Monro on the mean acceptance
                log_delta = log_delta + adapt_rate * (jnp.mean(info["accept_prob"]) - target_accept)
            return states, log_delta

        states0 = jax.vmap(mala(logpost, jnp.exp(log_delta0)).init)(V0)
        states, log_delta = rollout(burn_step, (states0, log_delta0), n_burn, save_every=n_burn,
                                    observe=lambda c: None, inputs=jax.random.split(k_burn, n_burn)).final
        keep = rollout(lambda st, kk: steps(st, log_delta, kk), states, n_keep, observe=lambda st: st.position,
                       inputs=jax.random.split(k_keep, n_keep), with_info=True)
        kept = keep.saved
        Vs = kept @ P1                                    # samples of v without the null direction
        vbar = jnp.mean(Vs.reshape(-1, N), 0)
        Sv = _cov(Vs.reshape(-1, N))
        if shrink:                                        # shrink towards the Gauss–Newton covariance
            groups = Vs.reshape(n_keep, chains_per_member, N, N).swapaxes(0, 1).reshape(chains_per_member, -1, N)
            Sg = jax.vmap(_cov)(groups)
            noise2 = jnp.sum((Sg - jnp.mean(Sg, 0)) ** 2) / (chains_per_member * (chains_per_member - 1.0))
            rho = jnp.clip(noise2 / jnp.maximum(jnp.sum((Sv - P1) ** 2), 1e-30), 0.0, 1.0)
            Sv = (1.0 - rho) * Sv + rho * P1
        wbar = vbar @ T
        cov = T @ Sv @ T
        mu, U = jnp.linalg.eigh(cov)
        G = jnp.sqrt(N - 1.0) * (U * jnp.sqrt(jnp.maximum(mu, 0.0))) @ U.T   # Gᵀ G = (N−1) cov, G 1 = 0
        if rotate:
            G = mean_preserving_rotation(k_rot, N, E.dtype) @ G
        out = s._replace(E=m + (wbar + G) @ X)
        info = {"accept_prob": jnp.mean(keep.info["accept_prob"]), "step_size": jnp.exp(log_delta)}
        return (out if target_accept is None else out._replace(aux=log_delta)), info

    return analysis


def _cov(V):
    """Sample covariance of the rows of ``V`` (n × N)."""
    A = V - jnp.mean(V, 0)
    return A.T @ A / (V.shape[0] - 1.0)


def _learned_analysis(obs, N, infl, key, sigmas, eps, n_steps_each, train_steps, learning_rate, width,
                      train_sigmas):
    sig = np.asarray(sigmas, np.float32)   # host array: annealed_langevin validates it
    tsig = jnp.asarray(train_sigmas, jnp.float32)
    L = len(sigmas)
    net_key = key

    def loss(p, batch):     # batch = (the network's static part, standardised members Z, noise key)
        static, Z, kk = batch
        return dsm_loss(eqx.combine(p, static), Z, kk, tsig, continuous=True)

    dsm = trainer(loss, optax.adam(learning_rate))

    def init(x0, std0, *, key) -> EnsembleState:
        s = init_ensemble(x0, std0, N, key=key)
        net = MLPScore(s.E.shape[1], width=width, depth=2, key=net_key)
        return s._replace(aux=eqx.filter(net, eqx.is_inexact_array))

    def analysis(s: EnsembleState, k, y):
        E = inflate(s.E, infl)
        m = jnp.mean(E, 0)
        sd = jnp.std(E, 0, ddof=1) + 1e-6
        Z = (E - m) / sd
        template = MLPScore(E.shape[1], width=width, depth=2, key=net_key)
        static = eqx.filter(template, eqx.is_inexact_array, inverse=True)
        k_train, k_lang = jax.random.split(k)
        # train_steps Adam steps of DSM, warm-started from the last cycle's parameters; step n
        # draws its noise with the n-th of split(k_train, train_steps)
        fit_step = Algorithm(dsm.init, lambda st, kk, key_n: dsm.step(st, kk, (static, Z, key_n)))
        trained = evolve(fit_step, dsm.init(s.aux), train_steps, inputs=jax.random.split(k_train, train_steps),
                         save_every=train_steps, observe=lambda st: None)
        params = trained.final.params
        net = eqx.combine(params, static)

        def score(z, sigma):
            x = m + sd * z
            return net(z, sigma) + sd * jax.grad(lambda xx: gaussian_loglik(obs, xx, y))(x)

        with jax.ensure_compile_time_eval():   # the sampler validates its (static) schedule
            algo = annealed_langevin(score, sig, eps, n_steps_each)

        def chain(z0, kk):
            keys = jax.random.split(kk, L * n_steps_each)
            return rollout(lambda st, kn: algo.step(st, kn)[0], algo.init(z0), L * n_steps_each,
                           save_every=L * n_steps_each, observe=lambda st: None, inputs=keys).final.position

        Za = jax.vmap(chain)(Z, jax.random.split(k_lang, N))
        return s._replace(E=m + sd * Za, aux=params), {"dsm_loss": trained.info["loss"][0]}

    return init, analysis
