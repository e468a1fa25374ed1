"""Benchmark: jaxhybrid.pde ETDRK steppers vs exponax on identical problems (same process).

Cases (float32 both sides, same grid, dt, ETDRK order, contour points, de-aliasing, steps and
initial condition; both advance the state in Fourier space between the first forward and the
last inverse FFT):

* ``ns2d_256``  / ``ns2d_1024``: decaying 2D Navier–Stokes vorticity, ``L = 2π``, ``ν = 1e-3``,
  ETDRK4, band-limited random initial vorticity. exponax: ``NavierStokesVorticity`` +
  ``RepeatedStepper`` (its Fourier-space multi-step) and ``exponax.repeat``; the faster of the two
  is the peer time.
* ``ks1d_ensemble``: Kuramoto–Sivashinsky (combustion form, exponax's ``KuramotoSivashinsky``),
  ``L = 60``, ``N = 128``, ``dt = 0.1``, ETDRK4, an ensemble of ``B >= 1024`` trajectories via
  ``jax.vmap`` on both sides.

Sign convention: exponax's vorticity state ``q`` uses the velocity ``(∂_y ψ, −∂_x ψ)`` with
``Δψ = q``, i.e. ``q = −ω`` for the standard vorticity ``ω = ∂_x v − ∂_y u`` that jaxhybrid uses.
So exponax is started from ``q₀`` and jaxhybrid from ``ω₀ = −q₀`` and ``agreement`` compares
``−ω(T)`` with ``q(T)`` (relative L2). Same physics, same numbers.

Timing: jit warm-up excluded, ``block_until_ready``, the two sides are interleaved and the best
of ``--repeats`` runs is kept. ``ratio = peer_time / our_time`` (> 1: jaxhybrid is faster).

Memory: the gradient of ``Σ ω(T)²`` w.r.t. ``ω₀`` through a 1000-step 256² NS rollout, compiled
with and without checkpointing; XLA's ``memory_analysis()`` gives the temporary buffer sizes
(no need to run the un-checkpointed one). With ``--run-grad`` the checkpointed gradient is also
executed and timed.

Usage: ``python benchmarks/pde_spectral.py [--quick] [--json PATH] [--repeats R]``.
"""

from __future__ import annotations

import json
import time

import harness  # noqa: E402  (benchmarks/harness.py: puts the work tree first on sys.path)
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import pde  # noqa: E402
from jaxhybrid.rollout import evolve  # noqa: E402

try:
    import exponax as ex
except ImportError as e:  # pragma: no cover
    raise SystemExit("benchmarks/pde_spectral.py needs exponax (pip install exponax).") from e


def _bandlimited(key, n, batch=(), kmax=4, amp=1.0, ndim=2):
    """Random zero-mean field with energy only in modes |k_d| <= kmax (float32)."""
    shape = batch + (n,) * ndim
    x = jax.random.normal(key, shape, jnp.float32)
    xh = jnp.fft.rfftn(x, axes=tuple(range(-ndim, 0)))
    m = np.fft.fftfreq(n, 1.0 / n)
    mr = np.fft.rfftfreq(n, 1.0 / n)
    grids = np.meshgrid(*([m] * (ndim - 1) + [mr]), indexing="ij")
    mask = np.ones(grids[0].shape, bool)
    for gk in grids:
        mask &= np.abs(gk) <= kmax
    mask[(0,) * ndim] = False
    u = jnp.fft.irfftn(xh * mask, s=(n,) * ndim, axes=tuple(range(-ndim, 0)))
    u = u / jnp.sqrt(jnp.mean(u**2, axis=tuple(range(-ndim, 0)), keepdims=True))
    return (amp * u).astype(jnp.float32)


def _time(fn, arg, repeats):
    return min(_once(fn, arg) for _ in range(repeats))


def _once(fn, arg):
    t = time.perf_counter()
    jax.block_until_ready(fn(arg))
    return time.perf_counter() - t


def _interleaved(fns: dict, arg, repeats: int) -> dict:
    for f in fns.values():  # warm-up / compile
        jax.block_until_ready(f(arg))
    best = {k: float("inf") for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            best[k] = min(best[k], _once(f, arg))
    return best


def _final(stepper, u0, steps):
    """Physical field after ``steps`` steps through :func:`jaxhybrid.rollout.evolve` (one block)."""
    return evolve(stepper, stepper.init(u0), steps, save_every=steps, observe=stepper.to_physical).saved[-1]


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def case_ns(n, steps, dt, repeats, order=4, nu=1e-3, contour=16):
    L = 2 * np.pi
    q0 = _bandlimited(jax.random.PRNGKey(0), n, kmax=4, amp=2.0)[None]  # exponax: (1, n, n)
    grid = pde.Grid((n, n), L)
    ours = pde.navier_stokes_2d(grid, dt, viscosity=nu, order=order, n_contour=contour)
    st = ex.stepper.NavierStokesVorticity(2, L, n, dt, diffusivity=nu, order=order, num_circle_points=contour)
    rep = ex.RepeatedStepper(st, steps)
    f_ours = jax.jit(lambda q: -_final(ours, -q[0], steps)[None])
    f_rep = jax.jit(lambda q: rep(q))
    f_repeat = jax.jit(ex.repeat(st, steps))
    best = _interleaved({"ours": f_ours, "exponax_repeated_stepper": f_rep, "exponax_repeat": f_repeat}, q0, repeats)
    peer = min(best["exponax_repeated_stepper"], best["exponax_repeat"])
    a, b = f_ours(q0), f_rep(q0)
    return {
        "case": f"ns2d_{n}", "ours": best["ours"] / steps * 1e3, "peer": peer / steps * 1e3, "unit": "ms/step",
        "ratio": peer / best["ours"], "agreement": _rel(a, b),
        "detail": {"grid": [n, n], "dt": dt, "steps": steps, "order": order, "viscosity": nu,
                   "contour_points": contour, "peer_variants_ms_per_step": {k: v / steps * 1e3 for k, v in best.items()}},
    }


def case_ks(batch, steps, repeats, n=128, L=60.0, dt=0.1, order=4, contour=16):
    u0 = _bandlimited(jax.random.PRNGKey(1), n, batch=(batch,), kmax=6, amp=1.0, ndim=1)[:, None]
    grid = pde.Grid(n, L)
    ours = pde.kuramoto_sivashinsky(grid, dt, order=order, n_contour=contour)  # transform="auto"
    st = ex.stepper.KuramotoSivashinsky(1, L, n, dt, order=order, num_circle_points=contour)
    rep = ex.RepeatedStepper(st, steps)
    f_ours = jax.jit(lambda u: _final(ours, u[:, 0], steps)[:, None])
    f_rep = jax.jit(jax.vmap(rep))
    f_repeat = jax.jit(jax.vmap(ex.repeat(st, steps)))
    fns = {"ours": f_ours, "exponax_repeated_stepper": f_rep, "exponax_repeat": f_repeat}
    if ours.space.dft is not None:  # also time our FFT path for reference
        ours_fft = pde.kuramoto_sivashinsky(grid, dt, order=order, n_contour=contour, transform="fft")
        fns["ours_fft_transform"] = jax.jit(lambda u: _final(ours_fft, u[:, 0], steps)[:, None])
    best = _interleaved(fns, u0, repeats)
    peer = min(best["exponax_repeated_stepper"], best["exponax_repeat"])
    a, b = f_ours(u0), f_rep(u0)
    return {
        "case": f"ks1d_ensemble_{batch}", "ours": best["ours"] / steps * 1e3, "peer": peer / steps * 1e3,
        "unit": "ms/step", "ratio": peer / best["ours"], "agreement": _rel(a, b),
        "detail": {"grid": [n], "extent": L, "dt": dt, "steps": steps, "order": order, "batch": batch,
                   "transform": "matmul" if ours.space.dft is not None else "fft",
                   "contour_points": contour, "peer_variants_ms_per_step": {k: v / steps * 1e3 for k, v in best.items()}},
    }


def memory_ns_grad(n=256, steps=1000, block=40, dt=2e-3, run=False):
    """Compiled memory of d/dω₀ Σω(T)² through `steps` NS steps, with/without checkpointing."""
    grid = pde.Grid((n, n))
    st = pde.navier_stokes_2d(grid, dt, viscosity=1e-3, order=4)
    w0 = -_bandlimited(jax.random.PRNGKey(0), n, kmax=4, amp=2.0)

    def loss(w, checkpoint):
        r = evolve(st, st.init(w), steps, save_every=block, checkpoint=checkpoint, observe=lambda s: ())
        return jnp.sum(st.to_physical(r.final) ** 2)

    out = {"problem": f"grad of sum(w(T)^2) wrt w0, NS {n}x{n}, {steps} ETDRK4 steps, float32",
           "checkpoint_block": block}
    # the un-checkpointed program is only executed where memory is plentiful (GPU); on CPU it is
    # compiled for memory_analysis() only
    for name, ck in (("checkpointed", True), ("no_checkpoint", False)):
        g = jax.jit(jax.grad(lambda w, ck=ck: loss(w, ck)))
        comp = g.lower(w0).compile()
        ma = comp.memory_analysis()
        rec = {}
        for f in ("temp_size_in_bytes", "argument_size_in_bytes", "output_size_in_bytes", "generated_code_size_in_bytes"):
            v = getattr(ma, f, None) if ma is not None else None
            if v is not None:
                rec[f.replace("_in_bytes", "_MiB")] = round(v / 2**20, 2)
        out[name] = rec
        if run and (ck or jax.devices()[0].platform == "gpu"):
            dev = jax.devices()[0]
            jax.block_until_ready(comp(w0))
            t = time.perf_counter()
            gv = jax.block_until_ready(comp(w0))
            rec["wall_s"] = round(time.perf_counter() - t, 2)
            rec["grad_finite"] = bool(jnp.all(jnp.isfinite(gv)))
            stats = dev.memory_stats() if hasattr(dev, "memory_stats") else None
            if stats and "peak_bytes_in_use" in stats:  # GPU: measured peak (monotone over the process)
                rec["device_peak_MiB_so_far"] = round(stats["peak_bytes_in_use"] / 2**20, 1)
            del gv
    state_mib = n * (n // 2 + 1) * 8 / 2**20
    out["one_full_state_MiB"] = round(state_mib, 3)
    return out


def main(argv=None):
    p = harness.parser(__doc__, repeats=9)
    p.add_argument("--big", type=int, default=1024, help="size of the large NS case (0: skip)")
    p.add_argument("--batch", type=int, default=1024, help="KS ensemble size (>= 1024 for the acceptance case)")
    p.add_argument("--run-grad", action="store_true", help="also execute the 1000-step gradient (checkpointed; on GPU both)")
    p.add_argument("--no-memory", action="store_true")
    a = p.parse_args(argv)
    platform = jax.devices()[0].platform
    gpu = platform == "gpu"
    reps = 3 if a.quick else a.repeats
    print(f"device: {harness.device()}   load: {harness.load()}")

    cases = []
    if a.quick:
        plan = [("ns", 128, 10), ("ks", a.batch, 20)]
    else:
        plan = [("ns", 256, 200 if gpu else 50), ("ns", a.big, 100 if gpu else 10), ("ks", a.batch, 200 if gpu else 50)]
    for kind, size, steps in plan:
        if kind == "ns" and size == 0:
            continue
        if kind == "ns":
            c = case_ns(size, steps, dt=2e-3 if size <= 256 else 1e-3, repeats=reps)
        else:
            c = case_ks(size, steps, repeats=reps)
        cases.append(c)
        print(f"{c['case']:>22s}  ours {c['ours']:9.3f} {c['unit']}  exponax {c['peer']:9.3f}  "
              f"ratio {c['ratio']:5.2f}  agreement {c['agreement']:.2e}", flush=True)

    extra = {"quick": a.quick}
    if not a.no_memory:
        mem = memory_ns_grad(n=128 if a.quick else 256, run=a.run_grad or gpu)
        extra["memory"] = mem
        print("memory (grad through 1000-step NS):", json.dumps({k: mem[k] for k in ("checkpointed", "no_checkpoint")}))
    extra["load_avg_after"] = harness.load()
    path = harness.write_result("pde_spectral", cases, a.json, **extra)
    return json.loads(path.read_text())


if __name__ == "__main__":
    main()
