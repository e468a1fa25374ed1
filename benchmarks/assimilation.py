"""Benchmark: jaxhybrid.assimilation ETKF vs DAPPER on the Sakov & Oke (2008) Lorenz-96 setup.

Same process, same configuration on both sides: Lorenz-96 with N_x = 40, F = 8, RK4 dt = 0.05,
all 40 variables observed every step with R = I (DAPPER's ``dapper.mods.Lorenz96.sakov2008``
HMM, Chronology dt = 0.05, dko = 1); ETKF (DAPPER: ``EnKF('Sqrt', N=24, infl=1.013, rot=True)``;
ours: ``etkf(N=24, infl=1.013, rotate=True)``); the **same** truth and observations (DAPPER's
``HMM.simulate``) are fed to both; both start from an ensemble drawn from DAPPER's ``X0``
(``N(x0, 0.001 I)``, the law the truth starts from). RMSE: time mean of the analysis RMSE after
the burn-in (DAPPER: ``BurnIn = 20`` time units = 400 cycles; then 1,000 cycles, quick: 100 +
300).

Cases:

* ``etkf-l96`` — one experiment; ``cycles/s`` (one cycle = forecast of 24 members + analysis +
  per-cycle statistics; DAPPER's ``assimilate`` also computes its per-cycle statistics, ours its
  mean/spread records). ``agreement`` = relative difference of the two analysis RMSEs (different
  random streams: agreement within sampling noise, not bitwise).
* ``etkf-l96-batch64`` — 64 independent experiments (8 truth/observation seeds × 8 inflation
  values 1.00–1.07) in one call of :func:`jaxhybrid.assimilation.experiments` (``vmap`` through
  :func:`jaxhybrid.ensemble.ensemble`, sharded over the batch axis when there are several
  devices); unit experiments·cycles/s; the peer figure is DAPPER's one-experiment-at-a-time
  throughput (its only mode in one process).

Timing: compile excluded (one warm-up call), ``block_until_ready``, the two sides interleaved,
best of ``--repeats``. ``ratio = ours / peer`` throughput (> 1: jaxhybrid is faster).

Usage: ``python benchmarks/assimilation.py [--quick] [--json PATH] [--repeats R]``
(default output ``benchmarks/results/assimilation-<cpu|gpu>.json``).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import harness  # noqa: E402  (benchmarks/harness.py: puts the work tree first on sys.path)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxhybrid import assimilation as da  # noqa: E402

try:
    import dapper
    import dapper.da_methods as dda
    import dapper.mods as modelling
    from dapper.mods.Lorenz96.sakov2008 import HMM as SAKOV_HMM
except ImportError as e:  # pragma: no cover
    raise SystemExit("benchmarks/assimilation.py needs DAPPER (pip install 'jaxhybrid[bench]').") from e

N, INFL, DT = 24, 1.013, 0.05


def dapper_hmm(n_cycles: int, burn_cycles: int):
    hmm = SAKOV_HMM.copy()
    hmm.tseq = modelling.Chronology(DT, dko=1, Ko=n_cycles - 1, BurnIn=burn_cycles * DT)
    return hmm


def ours_hmm():
    return da.HMM(da.lorenz96(DT, 8.0), 1, da.full(40, 1.0), jnp.zeros(40).at[0].set(1.0), np.sqrt(0.001))


def run_dapper(hmm, xx, yy, seed):
    np.random.seed(seed)
    xp = dda.EnKF("Sqrt", N=N, infl=INFL, rot=True)
    t = time.perf_counter()
    xp.assimilate(hmm, xx, yy, liveplots=False)
    t = time.perf_counter() - t
    xp.stats.average_in_time()
    return t, float(xp.avrgs.err.rms.a.val)


def make_ours(hmm):
    filt = da.etkf(hmm.forecast, hmm.obs, N, INFL, rotate=True)

    @jax.jit
    def experiment(obs, key):
        k0, k1 = jax.random.split(key)
        s = filt.init(hmm.x0, hmm.std0, key=k0)
        return da.assimilate(filt, s, obs, k1).mean_a

    return experiment


def make_batch(hmm, n_cycles):
    @jax.jit
    def setup(keys):
        return jax.vmap(lambda k: da.simulate(hmm, k, n_cycles))(keys)

    run = da.experiments(lambda infl: da.etkf(hmm.forecast, hmm.obs, N, infl, rotate=True), hmm.x0, hmm.std0,
                         batched_obs=True)

    def batch(obs, keys, infls):
        return run(keys, obs, infls).mean_a

    return setup, batch


def main(argv=None):
    a = harness.parser(__doc__, repeats=3).parse_args(argv)
    burn, stats = (100, 300) if a.quick else (400, 1000)
    K = burn + stats
    repeats = 1 if a.quick else a.repeats
    print(f"device: {harness.device()}   DAPPER {dapper.__version__}   load: {harness.load()}")

    hmm_d = dapper_hmm(K + 1, burn)
    np.random.seed(0)
    xx, yy = hmm_d.simulate()              # xx: K + 1 states (time 0 first), yy: K observations
    truth = jnp.asarray(xx[1:], jnp.float32)
    obs = jnp.asarray(np.stack([np.asarray(y) for y in yy]), jnp.float32)
    hmm = ours_hmm()
    ours = make_ours(hmm)
    key = jax.random.PRNGKey(0)
    ours(obs, key).block_until_ready()     # compile

    t_ours, t_peer, rm_ours, rm_peer = [], [], None, None
    for r in range(repeats):
        t = time.perf_counter()
        ma = ours(obs, jax.random.fold_in(key, r)).block_until_ready()
        t_ours.append(time.perf_counter() - t)
        rm_ours = float(da.rmse(ma, truth, burn))
        tp, rm_peer = run_dapper(hmm_d, xx, yy, r)
        t_peer.append(tp)
        print(f"  repeat {r}: ours {K / t_ours[-1]:.0f} cycles/s (rmse.a {rm_ours:.4f})   "
              f"DAPPER {K / tp:.1f} cycles/s (rmse.a {rm_peer:.4f})")
    ours_cps, peer_cps = K / min(t_ours), K / min(t_peer)
    cases = [{"case": "etkf-l96", "ours": round(ours_cps, 2), "peer": round(peer_cps, 2), "unit": "cycles/s",
              "ratio": round(ours_cps / peer_cps, 2), "agreement": round(abs(rm_ours - rm_peer) / rm_peer, 4),
              "rmse_a_ours": round(rm_ours, 4), "rmse_a_peer": round(rm_peer, 4), "cycles": K,
              "burn_in_cycles": burn}]

    # 64 experiments in one call: 8 seeds × 8 inflations
    setup, batch = make_batch(hmm, K)
    infls = jnp.repeat(jnp.linspace(1.0, 1.07, 8), 8)
    k_truth, k_exp = jax.random.split(jax.random.PRNGKey(1))
    truths, obss = setup(jax.random.split(k_truth, 64))
    ks = jax.random.split(k_exp, 64)
    batch(obss, ks, infls).block_until_ready()   # compile
    t_b = []
    for r in range(repeats):
        t = time.perf_counter()
        mas = batch(obss, ks, infls).block_until_ready()
        t_b.append(time.perf_counter() - t)
    rm = np.asarray(jax.vmap(lambda m, t: da.rmse(m, t, burn))(mas, truths)).reshape(8, 8).mean(1)
    thr = 64 * K / min(t_b)
    print(f"  batch of 64: {thr:.0f} experiments·cycles/s ({min(t_b):.2f} s); mean rmse.a per inflation "
          + " ".join(f"{i:.2f}:{v:.3f}" for i, v in zip(np.linspace(1.0, 1.07, 8), rm)))
    cases.append({"case": "etkf-l96-batch64", "ours": round(thr, 1), "peer": round(peer_cps, 2),
                  "unit": "experiments·cycles/s", "ratio": round(thr / peer_cps, 2),
                  "agreement": None, "experiments": 64, "cycles": K,
                  "rmse_a_by_inflation": {f"{i:.2f}": round(float(v), 4) for i, v in zip(np.linspace(1.0, 1.07, 8), rm)}})

    harness.print_table(cases, "DAPPER")
    harness.write_result("assimilation", cases, a.json, quick=a.quick, dapper=dapper.__version__, repeats=repeats)


if __name__ == "__main__":
    main()
