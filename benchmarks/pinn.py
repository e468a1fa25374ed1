"""PINN training throughput: jaxhybrid.pinn vs DeepXDE (JAX backend), same problem, same process.

Problem: forward Poisson ``−Δu = 2π² sin(πx) sin(πy)`` on (0, 1)², ``u = 0`` on the boundary
(exact ``u = sin(πx) sin(πy)``). Both sides: the same collocation points (``N_DOM`` interior +
``N_BC`` boundary; the PDE residual on all of them, the Dirichlet misfit on the boundary ones, as
DeepXDE does), the same tanh network [2, 32, 32, 32, 1] starting from the *same* weights
(DeepXDE's Glorot-normal initialisation, copied into ours), the loss
``mean r² + mean (u − 0)²``, Adam with learning rate 1e-3, float32, the same number of
iterations, no resampling.

What each side computes per step:

* DeepXDE: its compiled ``train_step`` (one ``jax.jit``), called from a Python loop as
  ``Model.train`` does. Δu is formed by its JAX backend: per point, the reverse-mode gradient,
  then for each of the two diagonal Hessian entries a reverse-mode gradient of that gradient's
  component (``dde.grad.hessian``), vmapped over its training array. That array is the
  boundary points followed by all the points (``N_BC + N_DOM + N_BC`` rows); the residual of the
  first ``N_BC`` rows is computed and discarded (DeepXDE's layout, not ours to change).
* ours: :func:`jaxhybrid.pinn.operators.value_and_laplacian` (forward Laplacian: one forward
  sweep carrying value, gradient and Laplacian) on the training points, the PDE residual from its
  Laplacian on all of them and the Dirichlet misfit from its value on the boundary rows (the
  network is evaluated once per step on the training points, as DeepXDE does), and all steps in
  one compiled ``lax.scan``: the library's training step (:func:`jaxhybrid.train.trainer`, with
  its NaN/Inf flag) run by :func:`jaxhybrid.rollout.evolve`.
* ours_separate (an extra column, the previous formulation): the loss from
  :func:`jaxhybrid.pinn.least_squares` with the residuals as separate functions, i.e.
  :func:`jaxhybrid.pinn.laplacian` on all points plus a second network evaluation on the
  boundary points; ``ratio_shared_vs_separate`` > 1 means the one-sweep loss is faster.

* hand (an extra column, not the comparison): the same training loop with the Laplacian of this
  one tanh MLP written out by hand in closed form (:func:`mlp_laplacian`, value and Laplacian
  from one sweep like ours), the reference a user would write without an operator library;
  ``ratio_ours_vs_hand`` > 1 means the generic operator is faster than it.

Timing: compilation excluded on both sides (a warm-up call first); the peer is timed on a loop
over its jitted step with the training arrays already on the device (no per-step host copies and
none of ``Model.train``'s bookkeeping — the peer's best case); ``jax.block_until_ready`` at the
end; all columns interleaved, best of ``--repeats`` (default 5; the 1-minute load average is
recorded after every repeat). Reported: iterations/s (wall) and
CPU-seconds per iteration (process time, all threads) of each side — on a shared machine the
CPU time is the steadier figure. ``agreement``: relative difference of the two final relative L2
errors on a 101×101 grid; both errors are reported (``ours_rel_l2``, ``peer_rel_l2``).

Usage: ``python benchmarks/pinn.py [--quick] [--json PATH] [--repeats N] [--points 600|2400]``.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("DDE_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import harness  # noqa: E402  (benchmarks/harness.py: puts the work tree first on sys.path)
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.algorithm import Algorithm
from jaxhybrid.nn import MLP
from jaxhybrid.pinn import Box, laplacian, least_squares
from jaxhybrid.pinn.operators import value_and_laplacian
from jaxhybrid.rollout import evolve
from jaxhybrid.metrics import rel_l2 as _rel_l2
from jaxhybrid.train import trainer

WIDTHS = [32, 32, 32]
LR = 1e-3


def u_exact(x):
    return np.sin(np.pi * x[:, :1]) * np.sin(np.pi * x[:, 1:2])


def points(n_dom, n_bc, seed=0):
    box = Box([0.0, 0.0], [1.0, 1.0])
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return np.asarray(box.sample_interior(k1, n_dom), np.float32), np.asarray(box.sample_boundary(k2, n_bc), np.float32)


def test_grid(n=101):
    g = np.linspace(0, 1, n)
    return np.stack([a.ravel() for a in np.meshgrid(g, g, indexing="ij")], -1).astype(np.float32)


def _timed(run):
    t, c = time.perf_counter(), time.process_time()
    out = run()
    return time.perf_counter() - t, time.process_time() - c, out


def peer(dom, bc, iters, seed=0):
    """DeepXDE model on the same points; returns (timed run, initial flax params)."""
    import deepxde as dde

    dde.config.set_random_seed(seed)
    geom = dde.geometry.Rectangle([0, 0], [1, 1])

    def pde(x, y):
        dxx = dde.grad.hessian(y, x, i=0, j=0)[0]
        dyy = dde.grad.hessian(y, x, i=1, j=1)[0]
        return -dxx - dyy - 2 * np.pi**2 * jnp.sin(np.pi * x[:, 0:1]) * jnp.sin(np.pi * x[:, 1:2])

    bcond = dde.icbc.DirichletBC(geom, lambda x: 0.0, lambda _, on_b: on_b)
    data = dde.data.PDE(geom, pde, bcond, num_domain=0, num_boundary=0, anchors=np.concatenate([bc, dom]), num_test=100)
    if data.train_x_bc.shape[0] != bc.shape[0]:
        raise RuntimeError(f"DeepXDE found {data.train_x_bc.shape[0]} boundary points, expected {bc.shape[0]}.")
    net = dde.nn.FNN([2] + WIDTHS + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=LR)
    model.train(iterations=1, display_every=1, verbose=0)  # compile the step
    params0, opt0 = model.params, model.opt_state
    X = jnp.asarray(model.train_state.X_train)
    y = model.train_state.y_train
    step = model.train_step

    def run():
        p, s = params0, opt0
        for _ in range(iters):
            p, s = step(p, s, X, y)
        return jax.block_until_ready(p)

    def timed():
        wall, cpu, p = _timed(run)
        model.params, model.net.params = p, p[0]
        return wall, cpu, (lambda x: np.asarray(model.predict(x)))

    return timed, params0[0]["params"]


def mlp_laplacian(net, x):
    """Hand-written value and forward Laplacian of a tanh :class:`~jaxhybrid.nn.MLP` on points ``x`` (n, d):
    per layer ``z = h Wᵀ + b``, ``∂_i z = ∂_i h Wᵀ``, ``Δz = Δh Wᵀ``, then ``h' = tanh z``,
    ``∂_i h' = (1 − h'²) ∂_i z``, ``Δh' = (1 − h'²) Δz − 2 h'(1 − h'²) Σ_i (∂_i z)²``; the
    reverse sweep by autodiff. The reference a user would write by hand for this one network."""
    h, d = x, x.shape[1]
    gs, lap = [jnp.broadcast_to(jnp.eye(d, dtype=x.dtype)[i], x.shape) for i in range(d)], None
    for k, layer in enumerate(net.layers):
        W = layer.weight
        z = h @ W.T + layer.bias
        gz = [g @ W.T for g in gs]
        lz = None if lap is None else lap @ W.T
        if k == len(net.layers) - 1:
            return z[:, 0], lz[:, 0]
        t = jnp.tanh(z)
        t1 = 1 - t * t
        t2 = -2 * t * t1
        sq = sum(g * g for g in gz)
        h, gs, lap = t, [t1 * g for g in gz], (t2 * sq if lz is None else t1 * lz + t2 * sq)


def ours(dom, bc, iters, flax_params, hand=False, separate=False):
    """Same network (weights copied from the peer's initial ones), loss, optimiser, points.
    ``hand``: value and Laplacian by :func:`mlp_laplacian` instead of
    :func:`jaxhybrid.pinn.operators.value_and_laplacian`; ``separate``: the previous formulation
    (:func:`jaxhybrid.pinn.least_squares`, the boundary term by a second network evaluation)."""
    net = MLP(2, "scalar", widths=WIDTHS, key=jax.random.PRNGKey(0))
    layers = [flax_params[f"denses_{i}"] for i in range(len(net.layers))]
    net = eqx.tree_at(lambda n: [l.weight for l in n.layers] + [l.bias for l in n.layers], net,
                      [jnp.asarray(l["kernel"]).T for l in layers] + [jnp.asarray(l["bias"]) for l in layers])
    src = lambda x: 2 * jnp.pi**2 * jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])
    batch = {"pde": jnp.asarray(np.concatenate([bc, dom])), "bc": jnp.asarray(bc)}
    n_bc = bc.shape[0]  # the first n_bc rows of batch["pde"] are the boundary points
    if separate:
        loss = least_squares({
            "pde": lambda net, b: -jax.vmap(laplacian(net))(b["pde"]) - jax.vmap(src)(b["pde"]),
            "bc": lambda net, b: jax.vmap(net)(b["bc"]),
        })
    else:
        value_lap = mlp_laplacian if hand else (lambda net, x: jax.vmap(value_and_laplacian(net))(x))

        def loss(net, b):  # mean r² over all training points + mean (u − 0)² over the boundary ones
            u, lap = value_lap(net, b["pde"])
            r = -lap - jax.vmap(src)(b["pde"])
            terms = {"pde": jnp.mean(r * r), "bc": jnp.mean(jnp.square(u[:n_bc]))}
            return terms["pde"] + terms["bc"], terms
    # the library's pure training step (jaxhybrid.train.trainer) run by its one time loop (rollout.evolve)
    tr = trainer(loss, optax.adam(LR), has_aux=True)
    algo = Algorithm(tr.init, lambda s, key: tr.step(s, key, batch))

    @jax.jit
    def train(state):
        return evolve(algo, state, iters, observe=lambda s: None).final

    state = tr.init(net)
    jax.block_until_ready(train(state))  # compile

    def timed():
        wall, cpu, out = _timed(lambda: jax.block_until_ready(train(state)))
        return wall, cpu, out.params

    timed.hlo = lambda: train.lower(state).compile().as_text()  # for inspection
    return timed


def rel_l2(pred, ref):
    return float(_rel_l2(np.asarray(pred, np.float64), np.asarray(ref, np.float64)))


def run_case(n_dom, n_bc, iters, repeats, xt, ut):
    dom, bc = points(n_dom, n_bc)
    run_peer, p0 = peer(dom, bc, iters)
    run_ours = ours(dom, bc, iters, p0)
    run_hand = ours(dom, bc, iters, p0, hand=True)
    run_sep = ours(dom, bc, iters, p0, separate=True)
    t_o, t_p, t_h, t_s, loads = [], [], [], [], []
    for _ in range(repeats):  # interleaved
        w, c, net = run_ours()
        t_o.append((w, c))
        w, c, pred = run_peer()
        t_p.append((w, c))
        w, c, net_h = run_hand()
        t_h.append((w, c))
        w, c, net_s = run_sep()
        t_s.append((w, c))
        loads.append(harness.load())
    e_o = rel_l2(np.asarray(jax.vmap(net)(jnp.asarray(xt)))[:, None], ut)
    e_p = rel_l2(pred(xt), ut)
    wo, wp = min(w for w, _ in t_o), min(w for w, _ in t_p)
    co, cp = min(c for _, c in t_o), min(c for _, c in t_p)
    wh, ch = min(w for w, _ in t_h), min(c for _, c in t_h)
    e_h = rel_l2(np.asarray(jax.vmap(net_h)(jnp.asarray(xt)))[:, None], ut)
    ws, cs = min(w for w, _ in t_s), min(c for _, c in t_s)
    e_s = rel_l2(np.asarray(jax.vmap(net_s)(jnp.asarray(xt)))[:, None], ut)
    return {"case": f"poisson2d-adam-{n_dom + n_bc}pts-{iters}it", "ours": round(iters / wo, 2), "peer": round(iters / wp, 2),
            "unit": "iterations/s", "ratio": round(wp / wo, 3),
            "agreement": round(abs(e_o - e_p) / max(e_p, 1e-30), 4),
            "ours_rel_l2": e_o, "peer_rel_l2": e_p,
            "ours_cpu_ms_per_it": round(1e3 * co / iters, 3), "peer_cpu_ms_per_it": round(1e3 * cp / iters, 3),
            "ratio_cpu": round(cp / co, 3),
            "hand": round(iters / wh, 2), "hand_cpu_ms_per_it": round(1e3 * ch / iters, 3), "hand_rel_l2": e_h,
            "ratio_ours_vs_hand": round(wh / wo, 3),
            "ours_separate": round(iters / ws, 2), "ours_separate_cpu_ms_per_it": round(1e3 * cs / iters, 3),
            "ours_separate_rel_l2": e_s, "ratio_separate_vs_peer": round(wp / ws, 3),
            "ratio_shared_vs_separate": round(ws / wo, 3),
            "times_ours_s": [[round(w, 3), round(c, 3)] for w, c in t_o], "times_peer_s": [[round(w, 3), round(c, 3)] for w, c in t_p],
            "times_hand_s": [[round(w, 3), round(c, 3)] for w, c in t_h],
            "times_ours_separate_s": [[round(w, 3), round(c, 3)] for w, c in t_s], "load_avg_1min_per_repeat": loads,
            "times_layout": "[wall_s, cpu_s] per repeat", "iterations": iters, "points": n_dom + n_bc}


def main():
    ap = harness.parser(__doc__, repeats=5)
    ap.add_argument("--points", type=int, default=None, help="run only the case with this many points (600 or 2400)")
    a = ap.parse_args()
    sizes = [(500, 100)] if a.quick else [(500, 100), (2000, 400)]
    if a.points is not None:
        sizes = [(nd, nb) for nd, nb in sizes if nd + nb == a.points]
        if not sizes:
            raise ValueError(f"--points: no case with {a.points} points here (600, or 2400 without --quick).")
    iters = 300 if a.quick else 3000
    repeats = 2 if a.quick else a.repeats
    xt = test_grid()
    ut = u_exact(xt)
    load0 = harness.load()
    cases = [run_case(nd, nb, iters, repeats, xt, ut) for nd, nb in sizes]
    print(f"{'case':34s} {'ours it/s':>9s} {'peer it/s':>9s} {'ratio':>6s} {'ours cpu ms/it':>14s} {'peer cpu ms/it':>14s}"
          f" {'ratio cpu':>9s} {'err ours':>9s} {'err peer':>9s} {'hand it/s':>9s} {'separate it/s':>13s}")
    for c in cases:
        print(f"{c['case']:34s} {c['ours']:9.1f} {c['peer']:9.1f} {c['ratio']:6.2f} {c['ours_cpu_ms_per_it']:14.3f}"
              f" {c['peer_cpu_ms_per_it']:14.3f} {c['ratio_cpu']:9.2f} {c['ours_rel_l2']:9.2e} {c['peer_rel_l2']:9.2e} {c['hand']:9.1f}"
              f" {c['ours_separate']:13.1f}")
    harness.write_result("pinn", cases, a.json, peer="deepxde (JAX backend)", quick=a.quick, jax=jax.__version__,
                         cores=os.cpu_count(), load_avg_1min_start=load0)


if __name__ == "__main__":
    main()
