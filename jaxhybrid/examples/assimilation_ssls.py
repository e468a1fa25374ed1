"""assimilation-ssls — score-based sequential Langevin sampling vs ETKF and PF on Lorenz-96 (paradigm 3).

Two twin experiments on Lorenz-96 (N_x = 40, F = 8, RK4 dt = 0.05), every method with the same
ensemble size ``N = 40``, started from the same perturbed truth:

* **nonlinear** — ``y = arctan(x) + ε`` at all 40 sites, ``ε ~ N(0, 0.3²)``, every 3 model
  steps (``dt_obs = 0.15``). ``arctan`` bends on the scale of one unit, comparable to the
  ensemble spread at this observation interval (analysis spread ~0.4), so the posterior is skewed and the ETKF's linear update
  (a regression of ``h(E)`` on ``E``) is biased (the importance-sampling test in
  ``tests/assimilation/test_ssls.py`` shows it on one cycle); the same observation operator as
  the arctan settings of the score-filter literature, with a longer observation interval;
* **linear** — the Sakov & Oke (2008) setting of ``assimilation-l96``: all sites, every step,
  ``R = I``.

Methods (:mod:`jaxhybrid.assimilation`): SSLS (:func:`~jaxhybrid.assimilation.ssls` with the
ensemble-space prior score — forecast (mechanism), prior score estimated from the forecast
ensemble (data), Metropolis-adjusted Langevin on the exact posterior started at the ETKF analysis,
step size adapted towards 0.574 acceptance during each cycle's burn-in, 8 chains per member
(4 in quick mode), 40 MALA steps (20), the sampled analysis covariance shrunk towards the
Gauss–Newton one by its estimated Monte-Carlo error), the ETKF with random rotations, and the
bootstrap particle filter with regularisation — all with ``N = 40``.

Inflation: the same grid {1.05, 1.1, 1.15, 1.2, 1.25} for the ETKF on the full nonlinear run,
seeds 0 / 1 / 2: 1.05 diverges (2.31 / 3.87 / 2.93), **1.1** gives 0.370 / 0.363 / 0.363,
1.15 0.477 / 0.403 / 0.401, 1.2 0.476 / 0.452 / 0.445, 1.25 0.514 / 0.499 / 0.506. The
ETKF's best value, 1.1, is used for both filters (not re-tuned for SSLS: with the earlier
SSLS sampler 1.15 and 1.2 were worse than 1.1 where it tracked); 1.02 for both in the linear
setting. The particle filter uses jitter scale 1.5 as in ``assimilation-l96``.

Metrics (time-mean analysis RMSE over the statistics cycles, burn-in excluded):
``ssls_rmse_a``, ``etkf_rmse_a``, ``pf_rmse_a`` (nonlinear setting); ``ssls_rmse_a_linear``,
``etkf_rmse_a_linear``; ``ssls_over_etkf_linear`` (the ratio; within 10% means ≤ 1.1).

Full runs (300 burn-in + 1,000 cycles, CPU, ``jaxhybrid run assimilation-ssls --seed S``),
analysis RMSE; every run is bit-reproducible (a rerun gives the same digits):

=========  ===========  ===========  =========  =====================  =============
seed       SSLS (nl.)   ETKF (nl.)   PF (nl.)   SSLS / ETKF (linear)   ratio linear
=========  ===========  ===========  =========  =====================  =============
0          **0.363**    0.370        5.10       0.1785 / 0.1779        1.004
1          **0.340**    0.363        5.06       0.1780 / 0.1785        0.997
2          **0.344**    0.363        5.05       0.1922 / 0.1915        1.003
=========  ===========  ===========  =========  =====================  =============

(Recorded before each cycle drew its key as ``fold_in(key, n)``: the random stream of a seed has
changed since, so a rerun gives other digits of the same spread.)

SSLS beats the ETKF on all three seeds (by 2.0%, 6.1%, 5.2%) and is within 0.4% of it in the
linear setting; the 40-particle filter collapses in 40 observed dimensions. Seed 0 has a hard
stretch near cycle 780 where every filter's error jumps (ETKF 1.2, SSLS 2.7 at the peak; both
recover). Analysis spreads (nonlinear): SSLS 0.40, ETKF 0.44. Cost per full run (two runs
at a time on the loaded 2-core machine): 347–353 s in all; SSLS 146–149 s (nonlinear) and
89–99 s (linear), the ETKF 20–25 s.

What changed, and why (measured on the full nonlinear run):

* *Reproducibility.* The same seed gives bit-identical SSLS runs in one process, in two
  processes, with and without a persistent compilation cache (the tests check two runs around
  a fresh compile). The earlier "first runs"
  (0.348 / 0.335) came from the code before MALA drew its random numbers through
  :mod:`jaxhybrid.random` (the increments and the acceptance uniform now come from ``d + 1``
  rather than ``d + 2`` uniforms), a different random stream; the "reruns" (0.539) used the
  new one. Each stream is deterministic; the trajectories differed because the filter is chaotic.
* *Robustness.* With 4 chains per member and the raw sampled covariance, SSLS lost track on
  seeds 0 and 2 (0.539, 0.541; 0.347 on seed 1): the analysis spread stayed at 0.40 while the
  error rose to 4–5, i.e. the ensemble was overconfident. The analysis covariance was estimated
  from ~3,000 correlated MALA draws in 40 dimensions, whose eigenvalues are spread by sampling
  noise (the smallest shrink). 12 chains per member removed the loss on seed 0 (0.355), so did
  shrinking the sampled covariance towards the Gauss–Newton one with the Monte-Carlo-error
  weight (4 chains: 0.375 / 0.338 / 0.343 on seeds 0 / 1 / 2, seed 0 slightly behind the ETKF);
  both together at 8 chains per member give the table above. More inflation is not the cure
  (SSLS at 1.15: 0.553 on seed 0; at 1.2: 0.419 / 0.407 on seeds 0 / 2, behind the ETKF).
* With the previous setting (every model step, N = 24) SSLS only tied the ETKF: there the
  forecast spread (~0.2) is small against the scale on which ``arctan`` bends.

Baselines: ``mechanism_only`` — a free model run from the same initial state;
``data_only`` — the observations inverted pointwise (``tan y`` with ``y`` clipped inside
``(−π/2, π/2)`` and the result clipped to L96's range ``[−10, 15]``; the observations
themselves in the linear case).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import assimilation as da
from jaxhybrid.examples import assimilation_l96 as l96

NAME = "assimilation-ssls"
N = 40
NL_STD, NL_STEPS = 0.3, 3
INFL = {"nonlinear": 1.1, "linear": 1.02}
TARGET_ACCEPT = 0.574     # optimal MALA acceptance (Roberts & Rosenthal 1998)
ATTRACTOR_RANGE = (-10.0, 15.0)   # L96 (F = 8) states stay inside this range


def settings():
    base = l96.make_hmm()
    return {
        "nonlinear": da.HMM(base.step, NL_STEPS, da.nonlinear(l96.NX, "arctan", 1, NL_STD), base.x0, 1.0),
        "linear": base,
    }


def filters(hmm, infl, quick):
    f, o = hmm.forecast, hmm.obs
    return {
        "ssls": da.ssls(f, o, N, infl=infl, n_steps=20 if quick else 40, step_size=0.3,
                        chains_per_member=4 if quick else 8, target_accept=TARGET_ACCEPT, shrink=True),
        "etkf": da.etkf(f, o, N, infl, rotate=True),
        "pf": da.particle_filter(f, o, N, ner=0.5, reg=1.5),
    }


METHODS = {"nonlinear": ("ssls", "etkf", "pf"), "linear": ("ssls", "etkf")}   # no metric reads the linear PF


def _data_only(name, obs):
    if name == "linear":
        return obs
    return jnp.clip(jnp.tan(jnp.clip(obs, -np.pi / 2 + 1e-3, np.pi / 2 - 1e-3)), *ATTRACTOR_RANGE)


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    burn, n_stats = (60, 120) if quick else (300, 1000)
    K = burn + n_stats
    results, series, base = {}, {}, {}
    for setting, hmm in settings().items():
        k_truth, k_init, k_run = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), len(setting)), 3)
        truth0, obs = da.simulate(hmm, k_truth, K, burn_in=200, include_initial=True)
        truth = truth0[1:]
        x_init = truth0[0] + l96.INIT_STD * jax.random.normal(k_init, (l96.NX,))
        for name, filt in filters(hmm, INFL[setting], quick).items():
            if name not in METHODS[setting]:
                continue
            t0 = time.perf_counter()
            state = filt.init(x_init, l96.INIT_STD, key=jax.random.fold_in(k_init, 1))
            r = da.assimilate(filt, state, obs, k_run)
            sc = da.scores(r, truth, burn)
            results[(setting, name)] = {"rmse_a": sc["rmse_a"], "spread_a": sc["spread_a"],
                                        "wall_s": round(time.perf_counter() - t0, 2)}
            series[(setting, name)] = np.asarray(da.rmse_series(r.mean_a, truth))
            print(f"  {setting:9s} {name:5s} rmse_a {sc['rmse_a']:.4f}  spread {sc['spread_a']:.4f}  "
                  f"({results[(setting, name)]['wall_s']:.1f} s)")
        free = da.simulate(hmm._replace(x0=x_init, std0=0.0), k_run, K)[0]
        base[setting] = {"mechanism_only": float(da.rmse(free, truth, burn)),
                         "data_only": float(da.rmse(_data_only(setting, obs), truth, burn))}

    metrics = {
        "ssls_rmse_a": results[("nonlinear", "ssls")]["rmse_a"],
        "etkf_rmse_a": results[("nonlinear", "etkf")]["rmse_a"],
        "pf_rmse_a": results[("nonlinear", "pf")]["rmse_a"],
        "ssls_rmse_a_linear": results[("linear", "ssls")]["rmse_a"],
        "etkf_rmse_a_linear": results[("linear", "etkf")]["rmse_a"],
    }
    metrics["ssls_over_etkf_linear"] = metrics["ssls_rmse_a_linear"] / metrics["etkf_rmse_a_linear"]
    goal = {k: "min" for k in metrics}
    baselines = {b: {"ssls_rmse_a": base["nonlinear"][b], "etkf_rmse_a": base["nonlinear"][b],
                     "pf_rmse_a": base["nonlinear"][b], "ssls_rmse_a_linear": base["linear"][b],
                     "etkf_rmse_a_linear": base["linear"][b]} for b in ("mechanism_only", "data_only")}
    _plot(out, series, base, burn)
    return {
        "name": NAME,
        "paradigm": 3,
        "quick": quick,
        "wall_s": round(time.perf_counter() - t_start, 2),
        "metrics": metrics,
        "goal": goal,
        "baselines": baselines,
        "config": {"N": N, "inflation": INFL, "ssls_target_accept": TARGET_ACCEPT, "nonlinear_obs": f"arctan(x) at all 40 sites, std {NL_STD}, "
                   f"every {NL_STEPS} steps", "linear_obs": "x at all sites, R = I, every step",
                   "burn_in_cycles": burn, "stat_cycles": n_stats,
                   "per_method": {f"{s}/{m}": v for (s, m), v in results.items()}},
    }


def _plot(out, series, base, burn):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    for ax, setting in zip(axes, ("nonlinear", "linear")):
        for i, name in enumerate(METHODS[setting]):
            s = series[(setting, name)]
            ax.semilogy(s, lw=0.8, color=f"C{i}", label=f"{name} ({np.nanmean(s[burn:]):.3f})")
        for j, (b, v) in enumerate(base[setting].items()):
            ax.axhline(v, color="k", ls=[":", "--"][j], lw=1, label=f"{b} ({v:.2f})")
        ax.axvline(burn, color="grey", lw=0.8)
        title = (f"arctan obs, std {NL_STD}, every {NL_STEPS} steps" if setting == "nonlinear"
                 else "linear obs, R = I, every step")
        ax.set(xlabel="cycle", ylabel="analysis RMSE", title=f"Lorenz-96, N = {N}: {title}")
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    plt.close(fig)
