import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import constitutive as C
from jaxhybrid.constitutive import fem, loadcases


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_fe_reproduces_homogeneous_deformation_exactly_on_distorted_mesh(x64):
    # patch test: boundary nodes follow u = (F0 − I)X; the interior solution must be the same
    # linear field for a nonlinear law and a distorted mesh
    law = C.neo_hookean(1.0, 2.0)
    mesh = fem.rectangle_mesh(1.0, 0.8, 4, 3, distort=0.2, seed=1)
    X = mesh.nodes
    F0 = np.array([[1.1, 0.05], [-0.03, 0.95]])
    onb = np.isclose(X[:, 0], 0) | np.isclose(X[:, 0], 1.0) | np.isclose(X[:, 1], 0) | np.isclose(X[:, 1], 0.8)
    assert (~onb).sum() >= 6
    exact = X @ (F0 - np.eye(2)).T
    res = fem.solve(law.pk1, mesh, np.repeat(onb[:, None], 2, 1), exact, tol=1e-13)
    assert res.converged
    np.testing.assert_allclose(res.u, exact, atol=1e-12)
    # and the stress of the solution is the homogeneous one at every Gauss point
    pre = fem.precompute(mesh, jnp.float64)
    f = fem.residual(law.pk1, pre, jnp.asarray(res.u))
    assert float(jnp.abs(f[~onb]).max()) < 1e-12


def test_fe_newton_converges_quadratically_plate_with_hole(x64):
    law = C.neo_hookean(1.0, 2.0)
    mesh = fem.plate_with_hole_mesh(1.0, 0.3, 4, 6)
    X = mesh.nodes
    fixed, pres = fem.plate_tension_bc(mesh, 0.15)
    # symmetry planes and the loaded edge, nothing else
    assert fixed[:, 0].sum() == (np.isclose(X[:, 0], 0) | np.isclose(X[:, 0], 1.0)).sum()
    assert fixed[:, 1].sum() == np.isclose(X[:, 1], 0).sum() and np.all(pres[fixed[:, 0] & (X[:, 0] > 0.5), 0] == 0.15)
    assert np.all(pres[~fixed] == 0) and np.all(pres[:, 1] == 0)
    with pytest.raises(ValueError, match="half_width"):
        fem.plate_tension_bc(mesh, 0.1, half_width=2.0)
    res = fem.solve(law.pk1, mesh, fixed, pres, tol=1e-13, max_iter=12)
    assert res.converged
    e = np.asarray(res.residual_norms[0]) / res.residual_norms[0][0]
    assert len(e) <= 9 and e[-1] < 1e-13
    pairs = [(a, b) for a, b in zip(e[:-1], e[1:]) if a < 1e-2 and b > 1e-14]
    assert pairs, e
    for a, b in pairs:  # quadratic: e_{k+1} ≤ c e_k² (a linear rate would give e_{k+1} ~ e_k)
        assert b <= 10.0 * a * a, e
    # the hole concentrates the strain: larger x-stretch at the hole's top than far away
    top = np.argmin(np.abs(X[:, 0]) + np.abs(X[:, 1] - 0.3))
    assert res.u[top, 1] < 0  # Poisson contraction at the hole's top


def test_fe_rejects_bad_input():
    mesh = fem.rectangle_mesh(1.0, 1.0, 2, 2)
    with pytest.raises(ValueError):
        fem.solve(lambda F: F, mesh, np.zeros((3, 2), bool), np.zeros((3, 2)))
    bad = fem.Mesh(mesh.nodes, mesh.elems[:, ::-1])
    with pytest.raises(ValueError):
        fem.precompute(bad)


def test_load_case_kinematics_closed_form_and_csv_roundtrip(tmp_path, x64):
    mu = 0.7
    W = lambda F: 0.5 * mu * (C.invariants(F)[0] - 3.0)
    lam = jnp.asarray(1.8)
    expect = {"uniaxial": mu * (1.8 - 1.8**-2), "equibiaxial": mu * (1.8 - 1.8**-5), "pure_shear": mu * (1.8 - 1.8**-3)}
    for case, v in expect.items():
        np.testing.assert_allclose(loadcases.nominal_stress(W, case, lam), v, rtol=1e-12)
        assert abs(float(jnp.linalg.det(loadcases.deformation(case, lam))) - 1.0) < 1e-12
    p = loadcases.write_reference_csv(tmp_path / "x.csv", noise=0.0)
    d = loadcases.read_csv(p)
    assert set(d) == set(loadcases.CASES)
    law = C.mooney_rivlin(**loadcases.REFERENCE_MOONEY_RIVLIN)
    lam, P = d["pure_shear"]
    pred = jax.vmap(lambda l: loadcases.nominal_stress(law.energy, "pure_shear", l))(jnp.asarray(lam))
    np.testing.assert_allclose(pred, P, rtol=1e-5)
    # the shipped file is the documented generator's output (1% noise, seed 0)
    shipped = loadcases.read_csv()
    regen = loadcases.read_csv(loadcases.write_reference_csv(tmp_path / "y.csv"))
    for c in loadcases.CASES:
        np.testing.assert_allclose(shipped[c][1], regen[c][1], rtol=1e-5)
