"""PINN training throughput: jaxhybrid.pinn vs DeepXDE (JAX backend), same problem, same process.

Problem: forward Poisson ``−Δu = 2π² sin(πx) sin(πy)`` on (0, 1)², ``u = 0`` on the boundary
(exact ``u = sin(πx) sin(πy)``). Both sides: the same collocation points (``N_DOM`` interior +
``N_BC`` boundary; the PDE residual on all of them, the Dirichlet misfit on the boundary ones, as
DeepXDE does), the same tanh network [2, 32, 32, 32, 1], soft BC loss ``mean r² + mean (u−0)²``,
Adam with learning rate 1e-3, float32, the same number of iterations. DeepXDE computes Δu with
its JAX-backend reverse-mode Hessian and steps from a Python loop (one jitted step per
iteration); ours uses :func:`jaxhybrid.pinn.laplacian` (forward mode) and runs the steps inside
one compiled ``lax.scan``. Compilation is excluded on both sides (a warm-up run first); timing
is the best of interleaved repeats. ``agreement``: relative difference of the two final
relative L2 errors; both errors are reported (``ours_rel_l2``, ``peer_rel_l2``).

Usage: ``python benchmarks/pinn.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("DDE_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhybrid.nn import MLP
from jaxhybrid.pinn import Box, laplacian, least_squares

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


def ours(dom, bc, iters, seed=0):
    allpts = jnp.asarray(np.concatenate([bc, dom]))
    bcp = jnp.asarray(bc)
    src = lambda x: 2 * jnp.pi**2 * jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])
    loss = least_squares({
        "pde": lambda net, b: -jax.vmap(laplacian(net))(b["pde"]) - jax.vmap(src)(b["pde"]),
        "bc": lambda net, b: jax.vmap(net)(b["bc"]),
    })
    batch = {"pde": allpts, "bc": bcp}
    net = MLP(2, "scalar", widths=WIDTHS, key=jax.random.PRNGKey(seed))
    opt = optax.adam(LR)

    @jax.jit
    def train(net, state):
        def step(carry, _):
            net, state = carry
            (v, _), g = jax.value_and_grad(loss, has_aux=True)(net, batch)
            upd, state = opt.update(g, state, net)
            return (optax.apply_updates(net, upd), state), v

        (net, state), vals = jax.lax.scan(step, (net, state), None, length=iters)
        return net, state, vals

    state = opt.init(net)
    jax.block_until_ready(train(net, state))  # compile

    def timed():
        t = time.perf_counter()
        out = jax.block_until_ready(train(net, state))
        return time.perf_counter() - t, out[0]

    return timed


def peer(dom, bc, iters, seed=0):
    import deepxde as dde

    dde.config.set_random_seed(seed)
    geom = dde.geometry.Rectangle([0, 0], [1, 1])

    def pde(x, y):
        dxx = dde.grad.hessian(y, x, i=0, j=0)[0]
        dyy = dde.grad.hessian(y, x, i=1, j=1)[0]
        xs = x
        return -dxx - dyy - 2 * np.pi**2 * jnp.sin(np.pi * xs[:, 0:1]) * jnp.sin(np.pi * xs[:, 1:2])

    bcond = dde.icbc.DirichletBC(geom, lambda x: 0.0, lambda _, on_b: on_b)
    data = dde.data.PDE(geom, pde, bcond, num_domain=0, num_boundary=0, anchors=np.concatenate([bc, dom]), num_test=100)
    net = dde.nn.FNN([2] + WIDTHS + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=LR)
    model.train(iterations=10, display_every=10, verbose=0)  # compile
    params0, opt0 = model.params, model.opt_state

    def timed():
        model.params, model.opt_state = params0, opt0
        model.net.params = params0[0]
        t = time.perf_counter()
        model.train(iterations=iters, display_every=iters, verbose=0)
        jax.block_until_ready(model.params)
        dt = time.perf_counter() - t
        return dt, (lambda x: np.asarray(model.predict(x)))

    return timed


def rel_l2(pred, ref):
    return float(np.linalg.norm(pred - ref) / np.linalg.norm(ref))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "pinn-cpu.json")
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args()
    n_dom, n_bc, iters = (500, 100, 500) if a.quick else (2000, 400, 3000)
    repeats = a.repeats or (2 if a.quick else 3)
    dom, bc = points(n_dom, n_bc)
    xt = test_grid()
    ut = u_exact(xt)
    run_ours, run_peer = ours(dom, bc, iters), peer(dom, bc, iters)
    t_ours, t_peer = [], []
    for _ in range(repeats):  # interleaved
        dt, net = run_ours()
        t_ours.append(dt)
        dt, pred = run_peer()
        t_peer.append(dt)
    e_ours = rel_l2(np.asarray(jax.vmap(net)(jnp.asarray(xt)))[:, None], ut)
    e_peer = rel_l2(pred(xt), ut)
    ips_o, ips_p = iters / min(t_ours), iters / min(t_peer)
    case = {"case": f"poisson2d-adam-{n_dom + n_bc}pts-{iters}it", "ours": round(ips_o, 2), "peer": round(ips_p, 2),
            "unit": "iterations/s", "ratio": round(ips_o / ips_p, 3),
            "agreement": round(abs(e_ours - e_peer) / max(e_peer, 1e-30), 4),
            "ours_rel_l2": e_ours, "peer_rel_l2": e_peer, "times_ours_s": t_ours, "times_peer_s": t_peer,
            "iterations": iters, "points": n_dom + n_bc}
    load = os.getloadavg()
    res = {"area": "pinn", "device": f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
           "peer": "deepxde (JAX backend)", "quick": a.quick, "load_avg_1_5_15": [round(v, 2) for v in load],
           "cases": [case]}
    print(f"{'case':36s} {'ours it/s':>10s} {'DeepXDE it/s':>13s} {'ratio':>6s} {'err ours':>9s} {'err DeepXDE':>11s}")
    print(f"{case['case']:36s} {ips_o:10.1f} {ips_p:13.1f} {ips_o / ips_p:6.2f} {e_ours:9.2e} {e_peer:11.2e}")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
