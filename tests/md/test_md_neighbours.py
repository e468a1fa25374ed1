"""Neighbour lists: forces through the list equal brute-force all-image forces (dense, dilute,
triclinic, small boxes; dense and half formats), overflow is flagged and recovered, vmap."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import md

RC, SKIN = 2.5, 0.3


def _lj_ref_fn(box, rc=RC):
    """Brute-force all-image reference ``R -> (E, F)`` for one box, compiled once and reused for
    every configuration of the same shape in that box."""
    ec = 4 * (rc**-12 - rc**-6)
    phi = lambda r: 4 * (r**-12 - r**-6) - ec  # noqa: E731
    vg = jax.jit(jax.value_and_grad(lambda x: md.brute_force_energy(phi, x, box, rc)))

    def ref(R):
        E, G = vg(R)
        return E, -G

    return ref


def _lj_ref(R, box, rc=RC):
    return _lj_ref_fn(box, rc)(R)


def _neighbour_counts(R, box, r_list):
    """Per-atom number of neighbours closer than ``r_list`` over every periodic image (host,
    float64, no neighbour list): the row lengths a correct dense list must have."""
    H = np.asarray(box.matrix, np.float64)
    s = np.asarray(R, np.float64) @ np.linalg.inv(H)
    ds = s[None, :, :] - s[:, None, :]
    ds -= np.round(ds)
    w = 1.0 / np.linalg.norm(np.linalg.inv(H), axis=0)
    m = [int(np.ceil(r_list / wk + 0.5)) for wk in w]
    img = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in m], indexing="ij"), -1).reshape(-1, 3)
    r2 = np.sum(((ds[:, :, None, :] + img[None, None]) @ H) ** 2, -1)
    self_term = np.eye(len(s), dtype=bool)[:, :, None] & np.all(img == 0, 1)[None, None]
    return np.sum((r2 < r_list**2) & ~self_term, axis=(1, 2))


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
# (name, N, density, cell shape, build expected: "pairs" all-pairs minimum image, "cells" cell
# list, "images" multi-image)
CASES = [
    ("dense-cube", 300, 0.85, np.eye(3), "pairs"),  # L = 7.1: 2 cells of r_list a side
    ("dilute-cube", 120, 0.05, np.eye(3), "cells"),  # L = 13.4: 4x4x4 cells
    ("dense-triclinic", 250, 0.8, TRI, "pairs"),
    ("small-box", 20, 0.8, np.eye(3), "images"),  # L = 2.9 < 2 rc: multi-image
    ("small-triclinic", 12, 0.7, TRI, "images"),
]


@eqx.filter_jit
def _through_list(R, nbrs, box):
    """Energy and forces through the list by the analytic fast path, and the forces by autodiff
    of the energy (the generic path, how a learned energy gets its forces; dense lists only):
    one compiled program per list layout, reused for the configurations R and R2."""
    lj = md.lennard_jones(cutoff=RC)
    E, F = lj.energy_and_forces(R, nbrs, box)
    F_ad = md.energy_and_forces(lambda *a: lj.energy(*a))(R, nbrs, box)[1] if nbrs.format == "dense" else None
    return E, F, F_ad


_update = eqx.filter_jit(lambda nl, R, nbrs, box: nl.update(R, nbrs, box))


@pytest.mark.parametrize("name,n,rho,H,build", CASES, ids=[c[0] for c in CASES])
def test_neighbour_forces_equal_brute_force(name, n, rho, H, build):
    with jax.enable_x64(True):
        R, box = _config(abs(hash(name)) % 1000, n, rho, H)
        # move atoms (less than skin/2) and translate by whole cells (unwrapped coordinates)
        dR = jax.random.normal(jax.random.PRNGKey(1), R.shape) * 0.04
        R2 = R + dR + jnp.asarray([1.0, -2.0, 0.5]) @ box.matrix
        ref = _lj_ref_fn(box)
        E0, F0 = ref(R)
        E20, F20 = ref(R2)
        counts = _neighbour_counts(R, box, RC + SKIN)
        dense_width = None
        for fmt in ("dense", "half"):
            nl = md.neighbor_list(RC, SKIN, fmt)
            # the dense list sizes itself; so does the half list in orthorhombic boxes (a host
            # count); elsewhere it takes the dense width (an upper bound), which spares a probe build
            nbrs = nl.allocate(R, box, max_neighbors=None if box.is_orthorhombic else dense_width)
            assert not bool(nbrs.overflow)
            assert nbrs.multi_image == (build == "images")
            assert (nbrs.cells != (0, 0, 0)) == (build == "cells")
            E, F, F_ad = _through_list(R, nbrs, box)
            scale = float(jnp.max(jnp.abs(F0)))
            assert abs(float(E - E0)) <= 1e-10 * max(1.0, abs(float(E0)))
            assert float(jnp.max(jnp.abs(F - F0))) <= 1e-10 * scale
            if fmt == "dense":
                dense_width = nbrs.max_neighbors
                # every neighbour within r_list (all images) is in the list, nothing else
                np.testing.assert_array_equal(np.asarray(jnp.sum(nbrs.idx < n, axis=1)), counts)
                # generic autodiff path
                assert float(jnp.max(jnp.abs(F_ad - F0))) <= 1e-10 * scale
                nb2 = _update(nl, R2, nbrs, box)  # traced: the move test is a lax.cond
            else:  # eager: the move test on the host, then allocate's compiled build (no second compile)
                assert nl.update(R + 0.01, nbrs, box) is nbrs  # moved less than skin/2: kept, no build
                nb2 = nl.update(R2, nbrs, box)
            # update() sees the move and rebuilds at the unwrapped, translated positions
            assert int(nb2.n_builds) == int(nbrs.n_builds) + 1
            assert not bool(nb2.overflow)
            E2, F2, _ = _through_list(R2, nb2, box)
            assert abs(float(E2 - E20)) <= 1e-10 * max(1.0, abs(float(E20)))
            assert float(jnp.max(jnp.abs(F2 - F20))) <= 1e-10 * float(jnp.max(jnp.abs(F20)))


def test_cell_and_brute_builds_agree():
    R, box = _config(3, 500, 0.8, np.eye(3))  # L = 8.55: 3 cells of r_list a side
    R = R.astype(jnp.float32)
    a = md.neighbor_list(RC, SKIN, method="cell").allocate(R, box)
    b = md.neighbor_list(RC, SKIN, method="brute").allocate(R, box)
    assert a.cells == (3, 3, 3) and b.cells == (0, 0, 0)
    sa = [set(np.asarray(r)[np.asarray(r) < 500]) for r in a.idx]
    sb = [set(np.asarray(r)[np.asarray(r) < 500]) for r in b.idx]
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
    """``rebuild`` and the forces, ``vmap``-ed over replicas in one program, equal the unbatched
    build and forces of each replica (lists of the same capacity)."""
    Rs = []
    for k in range(3):
        R, box = _config(10 + k, 150, 0.8, np.eye(3))
        Rs.append(R.astype(jnp.float32))
    Rb = jnp.stack(Rs)
    nl = md.neighbor_list(RC, SKIN)
    nb0 = nl.allocate(Rs[0], box, max_neighbors=130)
    lj = md.lennard_jones(cutoff=RC)
    ef = jax.jit(lambda r, nb: lj.energy_and_forces(r, nb, box))
    nbb, (Eb, Fb) = jax.jit(jax.vmap(lambda r: (lambda nb: (nb, lj.energy_and_forces(r, nb, box)))(nl.rebuild(r, nb0, box))))(Rb)
    assert not bool(jnp.any(nbb.overflow))
    for k in range(3):
        nb = nl.allocate(Rs[k], box, max_neighbors=130)  # the unbatched build, same capacity
        np.testing.assert_array_equal(np.asarray(nbb.idx_t[k]), np.asarray(nb.idx_t))
        E, F = ef(Rs[k], nb)
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
