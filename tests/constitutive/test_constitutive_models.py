import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import constitutive as C
from jaxhybrid import md
from jaxhybrid.constitutive.data import sample_rotations


def _random_F(key, n, scale=0.3):
    F = jnp.eye(3) + scale * jax.random.normal(key, (n, 3, 3))
    return F * jnp.sign(jnp.linalg.det(F))[:, None, None]  # det > 0


def _rotations64(seed, n):
    """Haar rotations built in float64 (then rounded): float32 QR alone leaves ~2e-7 of
    non-orthogonality, which is input error rather than a property of the law."""
    return sample_rotations(seed, n)


@pytest.mark.parametrize("group", ["cubic", "hexagonal"])
def test_dpk_exact_frame_indifference_material_symmetry_float32(group):
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    model = C.DPK(group, n_vectors=3, width=16, key=k[0])
    F = jnp.eye(3) + jax.random.uniform(k[1], (16, 3, 3), minval=-0.25, maxval=0.25)
    Q = jnp.asarray(_rotations64(0, 16), jnp.float32)
    G = C.point_group(group)
    law = eqx.filter_jit(model)
    v = C.symmetry_violation(law, F, G, Q)
    assert F.dtype == jnp.float32
    assert v["frame"] <= 1e-6 and v["material"] <= 1e-6 and v["cauchy_asym"] <= 1e-6, v
    np.testing.assert_allclose(law(jnp.eye(3)), 0.0, atol=1e-7)  # stress-free reference
    # the unconstrained MLP baseline breaks both symmetries (the check can fail)
    mlp = C.MLPStress(32, key=k[3])
    vm = C.symmetry_violation(eqx.filter_jit(mlp), F, G, Q)
    assert vm["frame"] > 1e-2 and vm["material"] > 1e-2


def test_dpk_symmetries_exact_in_float64():
    with jax.enable_x64(True):
        model = C.DPK("hexagonal", n_vectors=2, width=8, key=jax.random.PRNGKey(1))
        model = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, model)
        F = jnp.eye(3) + jnp.asarray(np.random.default_rng(2).uniform(-0.25, 0.25, (8, 3, 3)))  # host draw
        Q = jnp.asarray(_rotations64(1, 8))
        v = C.symmetry_violation(eqx.filter_jit(model), F, C.point_group("hexagonal", jnp.float64), Q)
    assert max(v.values()) < 1e-13, v


def test_dpk_orbit_is_group_orbit_and_not_isotropic():
    model = C.DPK("cubic", n_vectors=2, n_global=0, key=jax.random.PRNGKey(1))
    assert model.orbit().shape == (96, 3)
    # not isotropic: a generic rotation on the material side changes the response
    R = jnp.asarray(C.rotation_matrix([1.0, 2.0, 0.5], 0.4), jnp.float32)
    F = jnp.eye(3) + jnp.asarray([[0.1, 0.05, 0.0], [0.0, -0.05, 0.02], [0.03, 0.0, 0.08]])
    P, PR = model(F), model(F @ R) @ R.T
    assert float(jnp.linalg.norm(P - PR) / jnp.linalg.norm(P)) > 1e-3


def test_spd_tangent_positive_for_any_input():
    model = C.SPDNN(6, 16, key=jax.random.PRNGKey(2), delta=1e-3)
    # wild inputs, including huge strains, and a perturbed (random) network
    eps = jnp.concatenate([jax.random.normal(jax.random.PRNGKey(3), (100, 6)) * s for s in (1e-3, 1.0, 1e3)])
    rng = np.random.default_rng(4)  # host noise: no per-shape device compiles
    noisy = jax.tree_util.tree_map(lambda x: x + jnp.asarray(3 * rng.standard_normal(x.shape), x.dtype) if eqx_arr(x) else x,
                                   model)
    tangents = eqx.filter_jit(lambda m, e: jax.vmap(m.tangent)(e))  # one program for both networks
    for m in (model, noisy):
        H = tangents(m, eps)
        np.testing.assert_allclose(H, jnp.swapaxes(H, 1, 2), rtol=1e-5, atol=1e-5)
        # exact arithmetic: eigenvalues >= s·δ = 1e-3; float32 rounding of L Lᵀ costs ~eps·‖H‖
        ev = np.linalg.eigvalsh(np.asarray(H, np.float64))
        hmax = np.abs(np.asarray(H)).max(axis=(1, 2))
        assert np.all(ev.min(axis=1) >= 1e-3 - 1e-6 * hmax) and ev.min() > 0, (ev.min(), hmax.max())
    # the rollout is the incremental update, and the work of every increment is positive
    path = jnp.cumsum(0.001 * jax.random.normal(jax.random.PRNGKey(5), (101, 6)), axis=0)
    sig = jax.jit(lambda p: C.rollout_stress(noisy.step, p))(path)
    step = eqx.filter_jit(noisy.step)
    manual = jnp.zeros(6)
    for n in range(3):
        manual = step(manual, path[n], path[n + 1])
    np.testing.assert_allclose(sig[3], manual, rtol=1e-5, atol=1e-7)
    assert float(jnp.min(jnp.sum(jnp.diff(sig, axis=0) * jnp.diff(path, axis=0), -1))) > 0


def eqx_arr(x):
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating)


def test_invariant_net_polyconvex_parts_objective_isotropic_stress_free():
    W = C.InvariantHyperelastic(8, 2, key=jax.random.PRNGKey(6))
    pk1 = eqx.filter_jit(W.pk1)
    F = jnp.eye(3) + 0.2 * jax.random.normal(jax.random.PRNGKey(7), (3, 3))
    Q, R = jnp.asarray(_rotations64(8, 2), jnp.float32)
    np.testing.assert_allclose(pk1(jnp.eye(3)), 0.0, atol=1e-6)
    np.testing.assert_allclose(pk1(Q @ F), Q @ pk1(F), rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(pk1(F @ R) @ R.T, pk1(F), rtol=2e-5, atol=1e-5)  # isotropy
    # W1 is convex and non-decreasing in (I1-3, I2-3): check along random segments
    x = jax.random.normal(jax.random.PRNGKey(9), (50, 2, 2))
    w1 = jax.jit(jax.vmap(W.w1))
    mid = w1(0.5 * (x[:, 0] + x[:, 1]))
    assert bool(jnp.all(mid <= 0.5 * (w1(x[:, 0]) + w1(x[:, 1])) + 1e-6))
    g = jax.jit(jax.vmap(jax.grad(W.w1)))(x[:, 0])
    assert bool(jnp.all(g >= 0))


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_cauchy_born_stress_is_fd_derivative_of_energy_density(x64):
    eam = md.eam_analytic(A=0.5, beta=3.0, D=1.0, alpha=5.0)
    a = C.equilibrium_lattice_constant(eam, "fcc", 1.35)
    cb = C.CauchyBorn(eam, "fcc", a, dtype=jnp.float64)
    F = jnp.eye(3, dtype=jnp.float64) + 0.05 * jax.random.normal(jax.random.PRNGKey(10), (3, 3), jnp.float64)
    P = eqx.filter_jit(cb.pk1)(F)
    h = 1e-6
    E = jnp.eye(9, dtype=jnp.float64).reshape(9, 3, 3)
    Wb = eqx.filter_jit(lambda m, X: jax.vmap(m.energy_density)(X))
    fd = ((Wb(cb, F + h * E) - Wb(cb, F - h * E)) / (2 * h)).reshape(3, 3)
    np.testing.assert_allclose(P, fd, rtol=1e-7, atol=1e-7 * float(jnp.abs(P).max()))
    np.testing.assert_allclose(eqx.filter_jit(cb.pk1)(jnp.eye(3, dtype=jnp.float64)), 0.0, atol=1e-9)  # relaxed lattice


@pytest.mark.parametrize("pot,lattice,guess", [("eam", "fcc", 1.35), ("morse", "bcc", 1.1)])
def test_cauchy_born_equals_md_engine_energy_and_virial_small_box(pot, lattice, guess, x64):
    potential = {"eam": md.eam_analytic(A=0.5, beta=3.0, D=1.0, alpha=5.0), "lj": md.lennard_jones(cutoff=2.5),
                 "morse": md.morse(alpha=5.0, cutoff=2.0)}[pot]
    a = C.equilibrium_lattice_constant(potential, lattice, guess)
    cb = C.CauchyBorn(potential, lattice, a, dtype=jnp.float64)
    F = jnp.eye(3, dtype=jnp.float64) + 0.04 * jax.random.normal(jax.random.PRNGKey(11), (3, 3), jnp.float64)
    # the deformed crystal as a periodic supercell (2 cubic cells a side: multi-image lists)
    n = 2
    base = {"fcc": np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]), "bcc": np.array([[0, 0, 0], [0.5, 0.5, 0.5]])}[lattice]
    g = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    R0 = jnp.asarray(((g[:, None] + base[None]) * a).reshape(-1, 3))
    box = md.Box(jnp.eye(3, dtype=jnp.float64) * n * a @ F.T, False)
    R = R0 @ F.T
    nl = md.neighbor_list(potential.cutoff, 0.0).allocate(R, box)
    assert nl.multi_image
    # each side in one compiled program: MD energy and virial stress; CB energy and PK1 stress
    E, S = jax.jit(lambda r: (potential(r, nl, box), md.stress(potential, r, nl, box)))(R)
    e_cb, P = eqx.filter_jit(lambda law, F: (law.energy_per_atom(F), law.pk1(F)))(cb, F)
    np.testing.assert_allclose(e_cb, E / R.shape[0], rtol=1e-10)
    # continuum Cauchy stress σ = J⁻¹ P Fᵀ equals the MD virial stress (whose sign is
    # compression-positive: md.stress = -(1/V) ∂E/∂ε)
    sig = C.cauchy_from_pk1(P, F)
    np.testing.assert_allclose(sig, -S, rtol=1e-8, atol=1e-8 * float(jnp.abs(sig).max()))
