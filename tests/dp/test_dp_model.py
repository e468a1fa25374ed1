"""se_e2_a Deep Potential: symmetries, forces and virial by finite differences, smoothness
at the cutoff, agreement of the MD-engine and training paths."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md
from jaxhybrid.dp import DeepPot, cast, neighbour_table

RC, RS = 4.0, 3.0


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def randomised(m, key=0):
    """The final fitting layers start at zero (energy = bias); give them random weights and
    the energy a random per-type bias so that energies and forces are non-trivial."""
    leaves, tdef = jax.tree_util.tree_flatten(m.fittings)
    keys = jax.random.split(jax.random.PRNGKey(100 + key), len(leaves) + 1)
    leaves = [a + 0.3 * jax.random.normal(k, a.shape, a.dtype) for a, k in zip(leaves, keys)]
    bias = jax.random.normal(keys[-1], m.e_bias.shape, m.e_bias.dtype)
    return cast(eqx.tree_at(lambda t: (t.fittings, t.e_bias), m, (jax.tree_util.tree_unflatten(tdef, leaves), bias)), jnp.float64)


def small_model(ntypes=2, key=0):
    m = DeepPot(tuple("ABCD"[:ntypes]), rcut=RC, rcut_smth=RS, sel=30, embedding=(4, 8), fitting=(8, 8), axis=3,
                key=jax.random.PRNGKey(key))
    return randomised(m, key)


def cluster(n=10, seed=0):
    rng = np.random.default_rng(seed)
    R = rng.uniform(0, 4.5, (n, 3))
    types = np.arange(n) % 2
    return R, types


@eqx.filter_jit
def _efv(model, R, cell, types, idx, sh):
    return model.energy_forces_virial(R, cell, types, idx, sh)


def padded_table(R, cell, rc, pbc, k):
    """Neighbour table padded to a fixed width ``k`` (one compilation per test)."""
    idx, sh = neighbour_table(np.asarray(R), cell, rc, pbc=pbc)
    assert idx.shape[1] <= k
    n = len(R)
    I = np.full((n, k), n, np.int32)
    S = np.zeros((n, k, 3), np.int8)
    I[:, : idx.shape[1]], S[:, : idx.shape[1]] = idx, sh
    return jnp.asarray(I), jnp.asarray(S)


def energy_cluster(model, R, types):
    cell = np.eye(3) * 50.0
    idx, sh = padded_table(R, cell, model.rcut, False, len(R))
    return _efv(model, jnp.asarray(R), jnp.asarray(cell), jnp.asarray(types), idx, sh)


def random_rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def test_energy_invariant_forces_equivariant_rotation_translation_permutation(x64):
    model = small_model()
    R, types = cluster()
    e0, f0, _ = energy_cluster(model, R, types)
    assert abs(float(e0)) > 1e-3 and float(jnp.max(jnp.abs(f0))) > 1e-3
    Q = random_rotation(1)
    t = np.array([0.3, -1.7, 2.2])
    e1, f1, _ = energy_cluster(model, R @ Q.T + t, types)
    np.testing.assert_allclose(float(e1), float(e0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(f1), np.asarray(f0) @ Q.T, rtol=0, atol=1e-10)
    # permutation of same-species atoms (and a shuffle of the atom order overall)
    perm = np.random.default_rng(2).permutation(len(R))
    e2, f2, _ = energy_cluster(model, R[perm], types[perm])
    np.testing.assert_allclose(float(e2), float(e0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(f2), np.asarray(f0)[perm], rtol=0, atol=1e-10)
    # swapping the species of two atoms is *not* a symmetry
    t2 = types.copy()
    t2[0], t2[1] = t2[1], t2[0]
    e3, _, _ = energy_cluster(model, R, t2)
    assert abs(float(e3) - float(e0)) > 1e-6


def test_periodic_md_path_matches_training_path_and_is_invariant(x64):
    model = randomised(DeepPot(("Cu",), rcut=RC, rcut_smth=RS, sel=40, embedding=(4, 8), fitting=(8,), axis=2,
                               key=jax.random.PRNGKey(3)), 3)
    R, box = md.fcc_lattice(3, 3.61, dtype=jnp.float64)
    R = R + 0.1 * jax.random.normal(jax.random.PRNGKey(4), R.shape, jnp.float64)
    nl = md.neighbor_list(RC, 0.3)
    efn = eqx.filter_jit(lambda m, R, nb, b: jax.value_and_grad(lambda x: m(x, nb, b))(R))
    e_md, g_md = efn(model, R, nl.allocate(R, box), box)
    assert float(jnp.max(jnp.abs(g_md))) > 1e-3
    H = np.asarray(box.matrix)
    idx, sh = padded_table(R, H, RC, True, 60)
    e_tr, f_tr, _ = _efv(model, R, jnp.asarray(H), jnp.zeros(len(R), jnp.int32), idx, sh)
    np.testing.assert_allclose(float(e_md), float(e_tr), rtol=1e-12)
    np.testing.assert_allclose(-np.asarray(g_md), np.asarray(f_tr), atol=1e-10)
    # rotate atoms and cell together (the cell becomes triclinic), translate
    Q = random_rotation(5)
    R2 = R @ Q.T + jnp.asarray([0.7, 0.1, -0.4])
    box2 = md.make_box(jnp.asarray(H @ Q.T))
    e2, g2 = efn(model, R2, nl.allocate(R2, box2), box2)
    np.testing.assert_allclose(float(e2), float(e_md), rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(g2), np.asarray(g_md) @ Q.T, rtol=0, atol=1e-10)
    # blocked evaluation (lax.map over atom blocks) gives the same energy
    blocked = randomised(DeepPot(("Cu",), rcut=RC, rcut_smth=RS, sel=40, embedding=(4, 8), fitting=(8,), axis=2, atom_block=25,
                                 key=jax.random.PRNGKey(3)), 3)
    e_b, g_b = efn(blocked, R, nl.allocate(R, box), box)
    np.testing.assert_allclose(float(e_b), float(e_md), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g_b), np.asarray(g_md), atol=1e-10)


def test_forces_and_virial_match_finite_differences(x64):
    model = small_model(key=7)
    R, types = cluster(8, seed=3)
    e0, f0, _ = energy_cluster(model, R, types)
    h = 1e-5
    for (i, a) in [(0, 0), (3, 1), (7, 2)]:
        Rp, Rm = R.copy(), R.copy()
        Rp[i, a] += h
        Rm[i, a] -= h
        fd = -(float(energy_cluster(model, Rp, types)[0]) - float(energy_cluster(model, Rm, types)[0])) / (2 * h)
        np.testing.assert_allclose(float(f0[i, a]), fd, rtol=1e-6, atol=1e-9)
    # periodic virial Ξ = −∂E/∂ε by finite strain of atoms and cell
    m1 = randomised(DeepPot(("Cu",), rcut=RC, rcut_smth=RS, sel=40, embedding=(4, 8), fitting=(8,), axis=2, key=jax.random.PRNGKey(9)), 9)
    Rb, box = md.fcc_lattice(2, 3.61, dtype=jnp.float64)
    Rb = np.asarray(Rb) + np.random.default_rng(0).normal(0, 0.1, Rb.shape)
    H = np.asarray(box.matrix)

    def e_of(eps):
        A = np.eye(3) + eps
        idx, sh = padded_table(Rb @ A, H @ A, RC, True, 80)
        return _efv(m1, jnp.asarray(Rb @ A), jnp.asarray(H @ A), jnp.zeros(len(Rb), jnp.int32), idx, sh)

    _, _, vir = e_of(np.zeros((3, 3)))
    for (a, b) in [(0, 0), (1, 2), (2, 1)]:
        E = np.zeros((3, 3))
        E[a, b] = h
        fd = -(float(e_of(E)[0]) - float(e_of(-E)[0])) / (2 * h)
        np.testing.assert_allclose(float(vir[a, b]), fd, rtol=1e-6, atol=1e-9)


def test_energy_smooth_as_an_atom_crosses_the_cutoff(x64):
    model = small_model(key=11)
    R, types = cluster(6, seed=5)
    R = R - R.mean(0)
    direction = np.array([1.0, 0.0, 0.0])

    def e_at(x):
        # one atom placed at distance x (along +x) from the rightmost atom and far from the rest
        far = R[np.argmax(R[:, 0])]
        Rn = np.vstack([R, far + x * direction])
        return float(energy_cluster(model, Rn, np.append(types, 0))[0])

    e_out = e_at(RC + 1e-3)
    np.testing.assert_allclose(e_at(RC + 0.3), e_out, atol=1e-12)  # beyond r_c: no interaction at all
    # inside: E − E_outside vanishes as (r_c − r)^3 (C² switch): ratio 8 when the gap doubles
    # (only the crossing pair is within r_c of the new atom for these gaps)
    d1, d2 = 0.01, 0.02
    g1, g2 = e_at(RC - d1) - e_out, e_at(RC - d2) - e_out
    assert abs(g2) > 1e-14
    np.testing.assert_allclose(g2 / g1, 8.0, rtol=0.05)


def test_refit_energy_bias_recovers_per_type_offsets_exactly(x64):
    """Labels = the model's own energies + Σ_t n_t δ_t over frames of different compositions:
    the closed-form refit must return b + δ and leave forces unchanged."""
    from jaxhybrid.dp import System, pack, predict
    from jaxhybrid.dp.training import refit_energy_bias

    model = small_model(2, key=3)
    delta = np.array([0.37, -0.81])
    systems = []
    for k, (n, n_a) in enumerate(((6, 1), (9, 5), (12, 4))):  # compositions 1:5, 5:4, 4:8 (rank 2)
        R, _ = cluster(n, seed=k)
        types = np.array([0] * n_a + [1] * (n - n_a))
        frames = np.stack([R, R + 0.05 * np.random.default_rng(k).normal(size=R.shape)])
        box = np.tile(np.eye(3) * 50.0, (2, 1, 1))
        systems.append(System(("A", "B"), types, frames, box, np.zeros(2), np.zeros_like(frames), None, False))
    # the model's own energies and forces of all frames (one prediction: one compilation)
    e, f, _ = predict(model, pack(systems, RC))
    counts = [np.array([(s.types == 0).sum(), (s.types == 1).sum()]) for s in systems]
    systems = [s._replace(energy=e[2 * k:2 * k + 2] + c @ delta, force=f[2 * k:2 * k + 2, :s.n_atoms])
               for k, (s, c) in enumerate(zip(systems, counts))]
    data = pack(systems, RC)
    assert np.linalg.matrix_rank(np.stack([(data.types == t).sum(1) for t in (0, 1)], 1)) == 2
    e0, f0, _ = predict(model, data)
    assert np.max(np.abs(e0 - data.energy)) > 0.5
    refit = refit_energy_bias(model, data)
    np.testing.assert_allclose(np.asarray(refit.e_bias - model.e_bias), delta, atol=1e-9)
    e1, f1, _ = predict(refit, data)
    np.testing.assert_allclose(e1, data.energy, atol=1e-9)
    np.testing.assert_allclose(f1, f0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# committees: training and model deviation through jaxhybrid.ensemble.ensemble

COMMITTEE = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from ase.build import bulk
from jaxhybrid import md
from jaxhybrid.dp import EMTLabeller, ensemble_forces, make_ensemble, pack, train
from jaxhybrid.dp.deviation import frame_forces

frames = []
for k in range(2):
    a = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    a.rattle(0.1, seed=k)
    frames.append(a)
data = pack([EMTLabeller(("Cu",)).label(frames)], rcut=4.0)
kw = dict(type_map=("Cu",), rcut=4.0, rcut_smth=3.0, sel=48, embedding=(4, 8), fitting=(8,), axis=2)
ens = make_ensemble(4, jax.random.PRNGKey(0), **kw)
ens, hist = train(ens, data, steps=4, batch_size=1, lr_start=1e-2, lr_end=1e-3, log_every=2, ensemble=True,
                  key=jax.random.PRNGKey(1))
R, box = jnp.asarray(frames[0].get_positions(), jnp.float32), md.make_box(jnp.asarray(frames[0].get_cell()[:], jnp.float32))
nbrs = md.neighbor_list(4.0, 0.0).allocate(R, box)
print(json.dumps({"n_devices": jax.device_count(), "loss": [h["loss"] for h in hist],
                  "e_bias": np.asarray(ens.e_bias).tolist(),
                  "w": np.asarray(jax.tree_util.tree_leaves(ens.fittings)[0]).ravel()[:64].tolist(),
                  "frame_forces": frame_forces(ens, data).tolist(),
                  "md_forces": np.asarray(ensemble_forces(ens, R, nbrs, box)).tolist()}))
"""


def _run_committee(n_devices):
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={n_devices}")
    out = subprocess.run([sys.executable, "-c", COMMITTEE], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # subprocesses with 4 forced devices; the generic sharded path runs in make test (tests/test_ensemble.py)
def test_committee_training_and_deviation_sharded_over_four_cpu_devices_equal_unsharded():
    one, four = _run_committee(1), _run_committee(4)
    assert one["n_devices"] == 1 and four["n_devices"] == 4
    for k in ("loss", "e_bias", "w", "frame_forces", "md_forces"):
        np.testing.assert_allclose(np.asarray(four[k]), np.asarray(one[k]), rtol=1e-5, atol=1e-6, err_msg=k)
    F = np.asarray(one["frame_forces"])  # (frames, members, atoms, 3): the members differ after training
    assert F.shape == (2, 4, 32, 3) and np.max(np.std(F, axis=1)) > 1e-4
    np.testing.assert_allclose(np.asarray(one["md_forces"]), F[0], rtol=1e-4, atol=1e-5)  # MD path = training path


def test_committee_training_equals_training_each_member_alone():
    """The summed member losses with element-wise Adam: member k of a committee trained together
    ends where member k trained alone on the same minibatches ends. (Two members, three steps on
    two 4-atom frames and one-layer networks: each training is a compilation, and the property
    does not depend on their size.)"""
    from ase.build import bulk

    from jaxhybrid.dp import EMTLabeller, make_ensemble, member, pack, train

    frames = []
    for k in range(2):
        a = bulk("Cu", "fcc", a=3.61, cubic=True)
        a.rattle(0.1, seed=k)
        frames.append(a)
    data = pack([EMTLabeller(("Cu",)).label(frames)], rcut=RC)
    kw = dict(type_map=("Cu",), rcut=RC, rcut_smth=RS, sel=48, embedding=(4,), fitting=(4,), axis=2)
    ens = make_ensemble(2, jax.random.PRNGKey(0), **kw)
    opts = dict(steps=3, batch_size=1, lr_start=1e-2, lr_end=1e-3, log_every=3, key=jax.random.PRNGKey(1))
    together, _ = train(ens, data, ensemble=True, **opts)
    for k in range(2):
        alone, hist = train(member(ens, k), data, **opts)
        for a, b in zip(jax.tree_util.tree_leaves(member(together, k)), jax.tree_util.tree_leaves(alone)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    # training changed the network weights (not only the data statistics): the comparison is not vacuous
    nets = lambda m: jax.tree_util.tree_leaves((m.embeddings, m.fittings))  # noqa: E731
    moved = [float(jnp.max(jnp.abs(a - b))) for a, b in zip(nets(together), nets(ens))]
    assert max(moved) > 1e-4 and min(moved) > 0


def test_md_energy_is_nan_on_an_overflowed_list_or_a_nan_position():
    """A list too small for the configuration, or a NaN position, used to give a finite energy
    (the missing pairs silently dropped out): now NaN, never a plausible wrong number."""
    model = DeepPot(("Cu",), rcut=RC, rcut_smth=RS, sel=40, embedding=(4,), fitting=(4,), axis=2,
                    key=jax.random.PRNGKey(3))
    R, box = md.fcc_lattice(2, 3.61)
    nl = md.neighbor_list(RC, 0.3)
    good, small = nl.allocate(R, box), nl.allocate(R, box, max_neighbors=4)
    assert bool(small.overflow) and np.isfinite(float(model(R, good, box)))
    assert np.isnan(float(model(R, small, box)))
    assert np.isnan(float(model(R.at[3, 0].set(jnp.nan), good, box)))
