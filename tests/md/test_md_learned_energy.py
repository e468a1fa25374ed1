"""A neural-network energy plugs into the engine through the energy-function contract, and
gradients flow through the MD time loop to the network parameters (paradigm 1)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid import md
from jaxhybrid.rollout import evolve

RC = 2.0


class PairNet(eqx.Module):
    mlp: eqx.nn.MLP

    def __call__(self, positions, nbrs, box, species=None):
        d, valid = md.pair_components(positions, nbrs, box)
        x = d[0] ** 2 + d[1] ** 2 + d[2] ** 2
        inside = valid & (x < RC * RC)
        r = jnp.sqrt(jnp.where(inside, x, 1.0))
        phi = jax.vmap(lambda s: self.mlp(s[None])[0])(r.reshape(-1)).reshape(r.shape)
        taper = (1 - (r / RC) ** 2) ** 2
        return 0.5 * jnp.sum(jnp.where(inside, (phi + 1.0 / r**6) * taper, 0.0))


def test_network_energy_drives_md_and_is_differentiable_through_the_rollout():
    with jax.enable_x64(True):
        net = PairNet(eqx.nn.MLP(1, 1, 8, 1, activation=jnp.tanh, key=jax.random.PRNGKey(0)))
        net = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, net)
        R, box = md.fcc_lattice(3, 1.7)
        out = md.simulate(net, R, box, n_steps=200, dt=0.002, temperature=0.3, cutoff=RC, thermo_every=20,
                          progress=False, compute_pressure=False, key=jax.random.PRNGKey(0))
        E = out.thermo["total"]
        assert np.max(np.abs(E - E[0])) / abs(E[0]) < 1e-4

        # gradient of a trajectory observable w.r.t. the network parameters, through 20 MD steps
        nl = md.neighbor_list(RC, 0.3)
        nbrs = nl.allocate(R, box)
        P = md.maxwell_boltzmann(jax.random.PRNGKey(1), 1.0, 0.3, R.shape[0])

        def loss(params):
            model = eqx.combine(params, static)
            integ = md.nve(md.neighbor_force_fn(model, nl, box), 0.002)
            s = integ.init(R, P, 1.0, nbrs)
            res = evolve(integ, s, 20, checkpoint=True, save_every=5)
            return jnp.sum((res.final.positions - R) ** 2)

        params, static = eqx.partition(net, eqx.is_inexact_array)
        # one compiled program gives the gradient and the loss values of the finite difference
        value_and_grad = jax.jit(jax.value_and_grad(loss))
        g = value_and_grad(params)[1]
        loss_j = lambda p: value_and_grad(p)[0]  # noqa: E731
        leaf = jax.tree_util.tree_leaves(params)[0]
        gleaf = jax.tree_util.tree_leaves(g)[0]
        # directional finite difference along the first weight matrix
        v = jax.random.normal(jax.random.PRNGKey(2), leaf.shape, leaf.dtype)
        h = 1e-4
        bump = lambda eps: jax.tree_util.tree_map(lambda a: a + eps * v if a is leaf else a, params)  # noqa: E731
        fd = (loss_j(bump(h)) - loss_j(bump(-h))) / (2 * h)
        assert abs(float(fd)) > 1e-8  # the parameters do move the trajectory
        np.testing.assert_allclose(float(jnp.sum(gleaf * v)), float(fd), rtol=1e-5)
