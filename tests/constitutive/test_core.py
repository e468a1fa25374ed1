import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import constitutive as C
from jaxhybrid.constitutive import groups


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("name,order", [("cubic", 48), ("cubic_proper", 24), ("hexagonal", 24),
                                        ("hexagonal_proper", 12), ("trivial", 1), ("triclinic", 2)])
def test_point_groups_closed_orthogonal_with_inverses(name, order, x64):
    G = np.asarray(C.point_group(name, jnp.float64))
    assert G.shape == (order, 3, 3)
    np.testing.assert_allclose(np.einsum("aji,ajk->aik", G, G), np.broadcast_to(np.eye(3), G.shape), atol=1e-12)
    keys = {tuple(np.round(g, 8).ravel() + 0.0) for g in G}
    assert len(keys) == order
    for a in G:  # closure: every product is an element; inverse (transpose) present
        for b in G:
            assert tuple(np.round(a @ b, 8).ravel() + 0.0) in keys
        assert tuple(np.round(a.T, 8).ravel() + 0.0) in keys


def test_cubic_group_is_signed_permutations():
    G = np.asarray(C.point_group("cubic"))
    assert np.all(np.isin(np.round(G, 6), [-1.0, 0.0, 1.0]))
    assert np.all(np.sum(np.abs(G), axis=1) == 1)


def test_generate_group_rejects_infinite():
    with pytest.raises(ValueError):
        groups.generate_group([groups.rotation_matrix([0, 0, 1], 1.0)], max_order=50)


def test_kinematics_invariants_and_maps(x64):
    F = jnp.eye(3) + 0.2 * jax.random.normal(jax.random.PRNGKey(0), (3, 3), jnp.float64)
    Cm = C.right_cauchy_green(F)
    ev = np.linalg.eigvalsh(np.asarray(Cm))
    I1, I2, J = C.invariants(F)
    np.testing.assert_allclose([I1, I2, J**2], [ev.sum(), ev[0] * ev[1] + ev[1] * ev[2] + ev[0] * ev[2], ev.prod()], rtol=1e-12)
    A = C.green_lagrange(F)
    B = C.right_cauchy_green(F)
    rt = jax.jit(lambda A: (C.from_voigt(C.to_voigt(A)), C.from_voigt(C.to_voigt(A, strain=True), strain=True),
                            C.from_mandel(C.to_mandel(A))))
    for back in rt(A):
        np.testing.assert_allclose(back, A, atol=1e-14)
    np.testing.assert_allclose(jnp.dot(C.to_mandel(A), C.to_mandel(B)), jnp.sum(A * B), rtol=1e-12)
    np.testing.assert_allclose(jnp.dot(C.to_voigt(B), C.to_voigt(A, strain=True)), jnp.sum(A * B), rtol=1e-12)
    A2 = A[:2, :2]
    np.testing.assert_allclose(jax.jit(lambda a: C.from_mandel(C.to_mandel(a)))(A2), A2, atol=1e-14)
    Q = jax.jit(lambda k: C.random_rotation(k, (5,), jnp.float64))(jax.random.PRNGKey(1))
    np.testing.assert_allclose(Q @ jnp.swapaxes(Q, 1, 2), np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(jnp.linalg.det(Q), 1.0, atol=1e-12)
    with pytest.raises(ValueError):
        C.from_mandel(jnp.zeros(4))


@pytest.mark.parametrize("law", [C.neo_hookean(1.0, 2.0), C.mooney_rivlin(0.5, 0.1, 10.0),
                                 C.st_venant_kirchhoff(1.0, 0.7), C.cubic_hyperelastic(2.0, 1.2, 0.6)])
def test_reference_laws_objective_stress_free_and_symmetric_cauchy(law, x64):
    key = jax.random.PRNGKey(2)
    F = jnp.eye(3) + 0.15 * jax.random.normal(key, (3, 3), jnp.float64)
    Q = C.random_rotation(jax.random.PRNGKey(3), (), jnp.float64)
    pk1 = jax.jit(law.pk1)
    P = pk1(F)
    np.testing.assert_allclose(pk1(Q @ F), Q @ P, atol=1e-12)
    np.testing.assert_allclose(pk1(jnp.eye(3, dtype=jnp.float64)), 0.0, atol=1e-12)
    s = C.cauchy_from_pk1(P, F)
    np.testing.assert_allclose(s, s.T, atol=1e-12)


def test_cubic_law_has_cubic_not_isotropic_symmetry(x64):
    law = C.cubic_hyperelastic(2.0, 1.2, 0.6)  # 2 C44 != C11 - C12: anisotropic
    F = jnp.eye(3) + 0.1 * jax.random.normal(jax.random.PRNGKey(4), (3, 3), jnp.float64)
    G = C.point_group("cubic", jnp.float64)
    W = jax.jit(jax.vmap(law.energy))
    assert float(jnp.max(jnp.abs(W(F @ G) - law(F)))) < 1e-13
    R = jnp.asarray(groups.rotation_matrix([0, 0, 1], 0.3))
    assert abs(float(law(F @ R) - law(F))) > 1e-4
    # small-strain limit: Hessian at I = the cubic elasticity constants
    Hs = jax.jit(jax.hessian(law.energy))(jnp.eye(3, dtype=jnp.float64))
    np.testing.assert_allclose([Hs[0, 0, 0, 0], Hs[0, 0, 1, 1], Hs[0, 1, 0, 1]], [2.0, 1.2, 0.6], rtol=1e-12)


def test_neo_hookean_uniaxial_closed_form(x64):
    mu, lam = 1.0, 2.0
    law = C.neo_hookean(mu, lam)
    F = jnp.diag(jnp.asarray([1.2, 0.9, 0.95]))
    J = 1.2 * 0.9 * 0.95
    expect = mu * (F - jnp.linalg.inv(F).T) + lam * jnp.log(J) * jnp.linalg.inv(F).T
    np.testing.assert_allclose(law.pk1(F), expect, rtol=1e-12)


def test_hypoelastic_tangent_spd_and_hardening():
    law = C.HardeningHypoelastic()
    key = jax.random.PRNGKey(5)
    eps = 0.02 * jax.random.normal(key, (50, 6))
    ev = jnp.linalg.eigvalsh(jax.jit(jax.vmap(law.tangent))(eps))
    assert float(ev.min()) > 0
    shear = jnp.asarray([0, 0, 0, 0, 0, 1.0])
    tangent = jax.jit(law.tangent)
    H0, H1 = tangent(jnp.zeros(6)), tangent(0.02 * shear)
    assert float(H1[5, 5]) > 2 * float(H0[5, 5])  # strain hardening
    np.testing.assert_allclose(H0, 3 * law.K0 * C.mandel_projectors()[0] + 2 * law.G0 * C.mandel_projectors()[1], rtol=1e-6)


def test_sample_rotations_are_proper_rotations_and_reproducible():
    from jaxhybrid.constitutive.data import sample_rotations

    Q = sample_rotations(3, 200)
    assert Q.shape == (200, 3, 3) and Q.dtype == np.float64
    np.testing.assert_allclose(np.einsum("nki,nkj->nij", Q, Q), np.broadcast_to(np.eye(3), Q.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(Q), 1.0, atol=1e-12)
    np.testing.assert_array_equal(Q, sample_rotations(3, 200))
    # Haar measure: E[Q] = 0 (each entry mean 0, variance 1/3)
    assert np.abs(Q.mean(0)).max() < 0.15 and abs(np.mean(Q**2) - 1 / 3) < 0.03
    with pytest.raises(ValueError, match="sample_rotations"):
        sample_rotations(0, 0)
