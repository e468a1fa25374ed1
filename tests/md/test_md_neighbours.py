"""Neighbour lists: forces through the list equal brute-force all-image forces (dense, dilute,
triclinic, small boxes; dense and half formats), overflow is flagged and recovered, vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md

RC, SKIN = 2.5, 0.3


def _lj_ref(R, box, rc=RC):
    ec = 4 * (rc**-12 - rc**-6)
    phi = lambda r: 4 * (r**-12 - r**-6) - ec  # noqa: E731
    E, G = jax.jit(jax.value_and_grad(lambda x: md.brute_force_energy(phi, x, box, rc)))(R)
    return E, -G


def _config(key, n, density, H_unit, min_dist=0.8):
    """Random positions with a minimum separation (rejection sampling in float64)."""
    L = (n / density) ** (1 / 3)
    H = np.asarray(H_unit, np.float64) * L
    rng = np.random.default_rng(key)
    imgs = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).T.reshape(-1, 3)
    pts = np.zeros((0, 3))
    Hi = np.linalg.inv(H)
    while len(pts) < n:
        p = rng.random(3) @ H
        d = (pts - p) @ Hi
        d -= np.round(d)
        # nearest images explicitly (small or skewed boxes), self-images included
        dd = (d[:, None, :] + imgs[None]) @ H
        self_img = (imgs[imgs.any(1)]) @ H
        if (len(pts) == 0 or np.linalg.norm(dd, axis=-1).min() >= min_dist) and np.linalg.norm(self_img, axis=-1).min() >= min_dist:
            pts = np.vstack([pts, p])
    return jnp.asarray(pts), md.make_box(jnp.asarray(H))


TRI = [[1.0, 0, 0], [0.35, 1.0, 0], [-0.2, 0.3, 1.0]]
CASES = [
    ("dense-cube", 300, 0.85, np.eye(3)),  # cell list (≥3 cells)
    ("dilute-cube", 120, 0.05, np.eye(3)),
    ("dense-triclinic", 250, 0.8, TRI),
    ("small-box", 20, 0.8, np.eye(3)),  # L = 2.9 < 2 rc: multi-image
    ("small-triclinic", 12, 0.7, TRI),
]


@pytest.mark.parametrize("name,n,rho,H", CASES, ids=[c[0] for c in CASES])
def test_neighbour_forces_equal_brute_force(name, n, rho, H):
    with jax.enable_x64(True):
        R, box = _config(abs(hash(name)) % 1000, n, rho, H)
        # move atoms (less than skin/2) and translate by whole cells (unwrapped coordinates)
        dR = jax.random.normal(jax.random.PRNGKey(1), R.shape) * 0.04
        R2 = R + dR + jnp.asarray([1.0, -2.0, 0.5]) @ box.matrix
        E0, F0 = _lj_ref(R, box)
        E20, F20 = _lj_ref(R2, box)
        lj = md.lennard_jones(cutoff=RC)
        for fmt in ("dense", "half"):
            nl = md.neighbor_list(RC, SKIN, fmt)
            nbrs = nl.allocate(R, box)
            assert not bool(nbrs.overflow)
            assert nbrs.multi_image == name.startswith("small")
            E, F = lj.energy_and_forces(R, nbrs, box)  # analytic fast path
            scale = float(jnp.max(jnp.abs(F0)))
            assert abs(float(E - E0)) <= 1e-10 * max(1.0, abs(float(E0)))
            assert float(jnp.max(jnp.abs(F - F0))) <= 1e-10 * scale
            if fmt == "dense":  # generic autodiff path (how a learned energy gets its forces)
                _, F_ad = md.energy_and_forces(lambda *a: lj.energy(*a))(R, nbrs, box)
                assert float(jnp.max(jnp.abs(F_ad - F0))) <= 1e-10 * scale
            nb2 = nl.update(R2, nbrs, box)
            E2, F2 = lj.energy_and_forces(R2, nb2, box)
            assert abs(float(E2 - E20)) <= 1e-10 * max(1.0, abs(float(E20)))
            assert float(jnp.max(jnp.abs(F2 - F20))) <= 1e-10 * float(jnp.max(jnp.abs(F20)))


def test_cell_and_brute_builds_agree():
    R, box = _config(3, 700, 0.8, np.eye(3))
    R = R.astype(jnp.float32)
    a = md.neighbor_list(RC, SKIN, method="cell").allocate(R, box)
    b = md.neighbor_list(RC, SKIN, method="brute").allocate(R, box)
    assert a.cells != (0, 0, 0) and b.cells == (0, 0, 0)
    sa = [set(np.asarray(r)[np.asarray(r) < 700]) for r in a.idx]
    sb = [set(np.asarray(r)[np.asarray(r) < 700]) for r in b.idx]
    assert sa == sb


def test_half_list_is_balanced():
    R, box = _config(4, 300, 0.85, np.eye(3))
    dense = md.neighbor_list(RC, SKIN, "dense").allocate(R, box)
    half = md.neighbor_list(RC, SKIN, "half").allocate(R, box)
    n_dense = int(jnp.sum(dense.idx < 300))
    n_half = int(jnp.sum(half.idx < 300))
    assert n_dense == 2 * n_half
    assert half.max_neighbors < 0.7 * dense.max_neighbors


def test_overflow_is_flagged_and_reallocation_recovers():
    with jax.enable_x64(True):
        R, box = _config(5, 200, 0.85, np.eye(3))
        nl = md.neighbor_list(RC, SKIN)
        small = nl.allocate(R, box, max_neighbors=5)
        assert bool(small.overflow)  # never a silent truncation
        assert int(small.needed[0]) > 5
        grown = nl.reallocate(R, box, small)
        assert not bool(grown.overflow) and grown.max_neighbors >= int(small.needed[0])
        _, F = md.lennard_jones(cutoff=RC).energy_and_forces(R, grown, box)
        _, F0 = _lj_ref(R, box)
        assert float(jnp.max(jnp.abs(F - F0))) <= 1e-10 * float(jnp.max(jnp.abs(F0)))


def test_vmap_over_replicas():
    Rs = []
    for k in range(3):
        R, box = _config(10 + k, 150, 0.8, np.eye(3))
        Rs.append(R.astype(jnp.float32))
    Rb = jnp.stack(Rs)
    nl = md.neighbor_list(RC, SKIN)
    nb0 = nl.allocate(Rs[0], box, max_neighbors=130)
    lj = md.lennard_jones(cutoff=RC)
    nbb = jax.vmap(lambda r: nl.rebuild(r, nb0, box))(Rb)
    assert not bool(jnp.any(nbb.overflow))
    Eb, Fb = jax.vmap(lambda r, nb: lj.energy_and_forces(r, nb, box))(Rb, nbb)
    for k in range(3):
        E, F = lj.energy_and_forces(Rs[k], nl.allocate(Rs[k], box), box)
        np.testing.assert_allclose(np.asarray(Eb[k]), np.asarray(E), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(Fb[k]), np.asarray(F), atol=1e-3 * float(jnp.abs(F).max()))


def test_minimum_image_helpers_and_errors():
    box = md.make_box(jnp.asarray([[4.0, 0, 0], [3.0, 4.0, 0], [0, 0, 4.0]]))
    assert not md.min_image_ok(box, 1.7)  # the skewed cell is only 3.2 wide across its a-faces
    assert md.min_image_ok(box, 1.5)
    assert md.min_image_ok(md.orthorhombic(10.0), 4.9)
    with pytest.raises(ValueError, match="positive volume"):
        md.make_box(jnp.asarray([[1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]]))
    with pytest.raises(ValueError, match="shape"):
        md.make_box(jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="cutoff"):
        md.neighbor_list(-1.0)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        md.neighbor_list(2.5).allocate(jnp.ones((5, 2)), 10.0)
    d = md.displacement(jnp.zeros(3), jnp.asarray([9.5, 0.2, -9.9]), md.orthorhombic(10.0))
    np.testing.assert_allclose(np.asarray(d), [-0.5, 0.2, 0.1], atol=1e-5)
