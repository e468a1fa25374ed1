"""assimilation-ssls — score-based sequential Langevin sampling vs ETKF and PF on Lorenz-96 (paradigm 3).

Two twin experiments on Lorenz-96 (N_x = 40, F = 8, RK4 dt = 0.05), every method with the same
ensemble size ``N = 24`` and the same inflation, started from the same perturbed truth:

* **nonlinear** — ``y = arctan(x) + ε`` at every site, ``ε ~ N(0, 0.3²)``, every model step.
  ``arctan`` flattens for ``|x| ≳ 2``, where L96 spends much of its time, so the posterior there
  is skewed and the ETKF's linearisation (a regression of ``h(E)`` on ``E``) is biased;
* **linear** — the Sakov & Oke (2008) setting of ``assimilation-l96``: all sites, every step,
  ``R = I``.

Methods (:mod:`jaxhybrid.assimilation`): SSLS (:func:`~jaxhybrid.assimilation.ssls` with the
ensemble-space prior score — forecast (mechanism), prior score estimated from the forecast
ensemble (data), Metropolis-adjusted Langevin on the exact posterior started at the ETKF analysis),
the ETKF with random rotations, and the bootstrap particle filter with regularisation — all with
``N = 24``.

Metrics (time-mean analysis RMSE over the statistics cycles, burn-in excluded):
``ssls_rmse_a``, ``etkf_rmse_a``, ``pf_rmse_a`` (nonlinear setting); ``ssls_rmse_a_linear``,
``etkf_rmse_a_linear``; ``ssls_over_etkf_linear`` (the ratio; within 10% means ≤ 1.1).

Full runs (300 burn-in + 1,000 cycles, CPU), analysis RMSE:

=========  ==================  ==================  =========  ==================
seed       SSLS (nonlinear)    ETKF (nonlinear)    PF (N=24)  SSLS / ETKF linear
=========  ==================  ==================  =========  ==================
0          0.1802              0.1798              5.07       0.1841 / 0.1804
1          0.1703              0.1741              5.06       0.1753 / 0.1792
=========  ==================  ==================  =========  ==================

SSLS matches the ETKF in both settings (linear: within 2%) and the particle filter collapses, but
SSLS does not beat the ETKF here: with all sites observed every step the forecast spread (~0.2)
is small against the scale on which ``arctan`` bends, so the exact likelihood adds little over
the ETKF's linearisation. Sparser observations (every 2nd–4th step or site) make the posterior
non-Gaussian, but there both filters lose track for some seeds at N = 24. Measured settings of the
sampler: inflation 1.02 lost track after ~400 cycles on seed 1 (1.04 does not), and a MALA step of
0.3 lost track on seed 0 where 0.15 does not. SSLS costs ~10× the ETKF (60 MALA steps × 192
chains per cycle).

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
N = 24
NL_STD, NL_STEPS = 0.3, 1
INFL = {"nonlinear": 1.04, "linear": 1.02}
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
        "ssls": da.ssls(f, o, N, infl=infl, n_steps=30 if quick else 60, step_size=0.15, chains_per_member=8),
        "etkf": da.etkf(f, o, N, infl, rotate=True),
        "pf": da.particle_filter(f, o, N, ner=0.5, reg=1.5),
    }


def _data_only(name, obs):
    if name == "linear":
        return obs
    return jnp.clip(jnp.tan(jnp.clip(obs, -np.pi / 2 + 1e-3, np.pi / 2 - 1e-3)), *ATTRACTOR_RANGE)


def run(quick: bool, seed: int, out: Path) -> dict:
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    burn, n_stats = (80, 150) if quick else (300, 1000)
    K = burn + n_stats
    results, series, base = {}, {}, {}
    for setting, hmm in settings().items():
        k_truth, k_init, k_run = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), len(setting)), 3)
        truth0, obs = da.simulate(hmm, k_truth, K, burn_in=200, include_initial=True)
        truth = truth0[1:]
        x_init = truth0[0] + l96.INIT_STD * jax.random.normal(k_init, (l96.NX,))
        for name, filt in filters(hmm, INFL[setting], quick).items():
            t0 = time.perf_counter()
            state = filt.init(jax.random.fold_in(k_init, 1), x_init, l96.INIT_STD)
            r = jax.jit(lambda s, y, k: da.assimilate(filt, s, y, k))(state, obs, k_run)
            rm = float(da.rmse(r.mean_a, truth, burn))
            results[(setting, name)] = {"rmse_a": rm if np.isfinite(rm) else float("inf"),
                                        "spread_a": float(jnp.mean(r.spread_a[burn:])),
                                        "wall_s": round(time.perf_counter() - t0, 2)}
            series[(setting, name)] = np.asarray(da.rmse_series(r.mean_a, truth))
            print(f"  {setting:9s} {name:5s} rmse_a {rm:.4f}  spread {results[(setting, name)]['spread_a']:.4f}  "
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
        "config": {"N": N, "inflation": INFL, "nonlinear_obs": f"arctan(x) at all 40 sites, std {NL_STD}, "
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
        for i, name in enumerate(("ssls", "etkf", "pf")):
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
