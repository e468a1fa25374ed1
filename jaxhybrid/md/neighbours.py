"""Verlet neighbour lists built from cell lists, with overflow detection and multi-image
support for small periodic boxes.

Verlet list with skin (Verlet 1967; Allen & Tildesley §5.3): store every pair closer than
``r_list = cutoff + skin``; the list stays exact while no atom has moved more than ``skin/2``
since the build (two atoms approach by at most ``skin``), so it is rebuilt when

    max_i |r_i(t) - r_i(t_build)| > skin / 2.

Build (Allen & Tildesley §5.3.2, cell lists): atoms are binned into ``n_x × n_y × n_z`` cells
(in fractional coordinates, so triclinic cells work too) whose perpendicular width is at least
``r_list``; atoms are sorted by cell and every atom scans the 27 surrounding cells, each padded
to a fixed ``cell_capacity``. The kept candidates are compacted into the first columns of a
fixed-width ``(N, max_neighbors)`` array with a row-wise cumulative sum and a binary search
(gathers only, no scatter). Small systems (fewer than 3 cells per side) use an all-pairs build.

Fixed shapes and overflow. Under ``jit`` the capacities (``max_neighbors``, ``cell_capacity``)
are static. A build that finds more neighbours (or fuller cells) than the capacity sets the
sticky ``overflow`` flag and records the needed sizes; it never silently pretends to be
complete. The host checks the flag (``simulate`` does this after every chunk) and calls
:meth:`NeighborListFn.reallocate`, then recomputes the affected steps.

Small boxes. When ``r_list ≥ w_min / 2`` (``w_min`` the smallest perpendicular width of the
cell), minimum image is no longer exact. The list then enumerates periodic images explicitly
and stores, per pair, an integer image shift ``n`` so that the pair vector is
``d_ij = r_j - r_i + n @ H`` with *unwrapped* positions. An atom may then appear several
times in another atom's list (and even in its own), which is the correct multi-image sum.

Formats. ``"dense"``: each pair stored twice (``j`` in ``i``'s row and ``i`` in ``j``'s row);
forces are a row sum, no scatter — the fast path. ``"half"``: each pair once (balanced
parity rule, see ``_half_rule``); half
the pair work, forces need a scatter-add of the reaction. :func:`to_sparse` exports either as
flat ``(senders, receivers, shifts, mask)`` edge arrays for graph networks.

Positions passed in may be unwrapped (integrators never wrap); the build wraps internally.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .space import Box, make_box, perpendicular_widths

__all__ = ["NeighborList", "NeighborListFn", "neighbor_list", "pair_vectors", "to_sparse", "invalid", "poison"]

_FORMATS = ("dense", "half")
_OFFSETS = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)], np.int32)


class NeighborList(eqx.Module):
    """A fixed-capacity Verlet list (a pytree; capacities are in the array shapes).

    idx_t: (max_neighbors, N) int32, ``idx_t[k, i]`` = k-th neighbour of atom i, padded with
        ``N``. Stored neighbour-major so that the per-pair kernels vectorise over atoms;
        ``.idx`` gives the familiar (N, max_neighbors) view.
    shifts: (max_neighbors, N, 3) int8 image shifts (multi-image mode) or ``None``.
    reference: (N, 3) positions at the last build.
    overflow: bool, sticky: some build since allocation did not fit.
    needed: int32 (2,) the largest neighbour count and cell occupancy seen (for reallocation).
    n_builds: int32 number of builds since allocation.
    """

    idx_t: jax.Array
    shifts: Optional[jax.Array]
    reference: jax.Array
    overflow: jax.Array
    needed: jax.Array
    n_builds: jax.Array
    format: str = eqx.field(static=True, default="dense")
    cutoff: float = eqx.field(static=True, default=0.0)
    skin: float = eqx.field(static=True, default=0.0)
    cells: tuple = eqx.field(static=True, default=(0, 0, 0))
    cell_capacity: int = eqx.field(static=True, default=0)
    images: tuple = eqx.field(static=True, default=(0, 0, 0))

    @property
    def idx(self) -> jax.Array:
        """(N, max_neighbors) neighbour indices, padded with N."""
        return jnp.swapaxes(self.idx_t, -1, -2)

    @property
    def max_neighbors(self) -> int:
        return self.idx_t.shape[-2]

    @property
    def multi_image(self) -> bool:
        return self.shifts is not None

    @property
    def half(self) -> bool:
        return self.format == "half"


def pair_vectors(positions: jax.Array, nbrs: NeighborList, box) -> tuple[jax.Array, jax.Array]:
    """Pair vectors ``d_ij = r_j - r_i`` (N, M, 3) for the stored pairs and the validity mask
    (N, M). Minimum image, or the stored image shifts in multi-image mode. Padded slots have
    ``mask = False`` and a finite, arbitrary ``d``."""
    box = make_box(box)
    n = positions.shape[0]
    idx = nbrs.idx
    mask = idx < n
    rj = jnp.take(positions, idx, axis=0, mode="clip")
    d = rj - positions[:, None, :]
    if nbrs.shifts is not None:
        d = d + jnp.swapaxes(nbrs.shifts, 0, 1).astype(d.dtype) @ box.matrix
    elif box.is_orthorhombic:
        L = box.lengths.astype(d.dtype)
        d = d - L * jnp.round(d / L)
    else:
        H = box.matrix.astype(d.dtype)
        s = d @ jnp.linalg.inv(H)
        d = (s - jnp.round(s)) @ H
    return d, mask


def invalid(positions: jax.Array, nbrs: NeighborList) -> jax.Array:
    """True (a traced bool) when an energy computed on ``nbrs`` cannot be trusted: the list
    overflowed (pairs are missing, sticky flag) or a position is NaN/Inf (the list cannot place
    that atom, so its pairs would silently drop out of every masked sum). Potentials return
    ``jnp.where(invalid(...), nan, energy)`` (:func:`poison`): a wrong answer is never a
    plausible number, and the host's NaN guard or overflow check sees it."""
    return jnp.asarray(getattr(nbrs, "overflow", False)) | ~jnp.all(jnp.isfinite(positions))


def poison(value, positions: jax.Array, nbrs: NeighborList):
    """``value`` (any pytree of float arrays: an energy, forces) replaced by NaN where
    :func:`invalid` holds; jittable, vmappable, and differentiable (the NaN branch carries no
    gradient into a valid result)."""
    bad = invalid(positions, nbrs)
    return jax.tree_util.tree_map(lambda v: jnp.where(bad, jnp.asarray(jnp.nan, jnp.result_type(v)), v), value)


def to_sparse(nbrs: NeighborList):
    """Flat edge arrays ``(senders i, receivers j, shifts or None, mask)`` of length ``N·M``
    (fixed size; invalid slots masked) — the sparse/graph view of a dense or half list."""
    n, m = nbrs.idx.shape
    senders = jnp.repeat(jnp.arange(n, dtype=jnp.int32), m)
    receivers = nbrs.idx.reshape(-1)
    shifts = None if nbrs.shifts is None else jnp.swapaxes(nbrs.shifts, 0, 1).reshape(-1, 3)
    return senders, receivers, shifts, receivers < n


# --------------------------------------------------------------------------------------------
# build kernels (traceable; capacities static)
#
# Compaction is a sequential ``lax.scan`` over the K candidate slots, vectorised over all N
# atoms: slot k proposes one candidate j_k(i) per atom, and kept candidates are written at
# row ``count_i`` of the (capacity, N) table (a scatter with ``mode="drop"`` beyond capacity,
# so the true count is still measured). This keeps memory O(N·capacity) for any N and is an
# order of magnitude faster on CPU than a row-wise cumulative sum.


def _half_rule(i, j):
    """Keep pair {i, j} (i ≠ j) in exactly one row, balanced: row i holds j when
    ``(j > i) == (i + j even)`` — each atom owns about half its neighbours (a plain ``j > i``
    rule would give atom 0 all of its neighbours and double the list width)."""
    return (j > i) == ((i + j) % 2 == 0)


def _scan_compact(n, cap, n_cand, cand_fn, with_shift=False, unroll=None):
    """``unroll``: scan iterations per loop trip; by default 1 on CPU, 4 elsewhere. Measured on
    XLA:CPU, 2 idle cores (``benchmarks/results/md-unroll-cpu.json``): an NVE program of 4,000 LJ
    atoms (200 steps, 18 builds) compiles in 3.3 instead of 5.1 CPU-s with the same cost per step
    (2.45 ms, median of 7 interleaved); the lists are identical (the unroll changes no operation)."""
    if unroll is None:
        unroll = 1 if jax.default_backend() == "cpu" else 4
    rows = jnp.arange(n, dtype=jnp.int32)

    def body(carry, k):
        cnt, out, out_sh = carry
        j, keep, sh = cand_fn(k)
        pos = jnp.where(keep, cnt, cap)
        out = out.at[pos, rows].set(j, mode="drop")
        if with_shift:
            out_sh = out_sh.at[pos, rows].set(sh, mode="drop")
        return (cnt + keep.astype(jnp.int32), out, out_sh), None

    out0 = jnp.full((cap, n), n, jnp.int32)
    sh0 = jnp.zeros((cap, n, 3), jnp.int8) if with_shift else None
    carry = (jnp.zeros((n,), jnp.int32), out0, sh0)
    (cnt, out, out_sh), _ = jax.lax.scan(body, carry, jnp.arange(n_cand, dtype=jnp.int32), unroll=unroll)
    return out, out_sh, cnt


def _blocked_compact(n, cap, n_blocks, block_fn):
    """Accelerator variant of :func:`_scan_compact`: each of ``n_blocks`` iterations handles a
    whole (C, N) block of candidates (one neighbour cell: C slots for every atom), ranking the
    kept ones with a short cumulative sum over C. Few, wide iterations suit GPUs."""
    rows = jnp.arange(n, dtype=jnp.int32)

    def body(carry, b):
        cnt, out = carry
        j, keep = block_fn(b)  # (C, N) each
        rank = jnp.cumsum(keep.astype(jnp.int32), axis=0)
        pos = jnp.where(keep, cnt[None, :] + rank - 1, cap)
        out = out.at[pos, jnp.broadcast_to(rows, pos.shape)].set(j, mode="drop")
        return (cnt + rank[-1], out), None

    out0 = jnp.full((cap, n), n, jnp.int32)
    (cnt, out), _ = jax.lax.scan(body, (jnp.zeros((n,), jnp.int32), out0), jnp.arange(n_blocks, dtype=jnp.int32))
    return out, None, cnt


def _wide_iterations() -> bool:
    """Per-cell (wide) compaction on accelerators, per-slot (narrow) on CPU — measured: the
    narrow scan is ~10x faster than any row-wise prefix sum on XLA:CPU, while on a GPU the
    1000+ sequential narrow iterations would be launch-bound."""
    return jax.default_backend() != "cpu"


def _fractional(positions, box):
    H = box.matrix.astype(positions.dtype)
    s = positions @ jnp.linalg.inv(H)
    return s, H


def _build_min_image(positions, box, r_list, cap, half, cells, cell_cap):
    """Cell-list (``cells`` ≥ 3 each) or all-pairs (``cells == (0,0,0)``) min-image build.
    Returns the (cap, N) table padded with N, no shifts, needed (count, occupancy), overflow."""
    n = positions.shape[0]
    s, H = _fractional(positions, box)
    sw = s - jnp.floor(s)
    r2max = jnp.asarray(r_list * r_list, positions.dtype)
    rows = jnp.arange(n, dtype=jnp.int32)

    ortho = box.is_orthorhombic
    S = sw.T  # (3, N) structure of arrays: vectorises over atoms

    def test(j, valid):
        d = [jnp.take(S[k], j) - S[k] for k in range(3)]  # broadcasts over a leading C axis
        d = [dk - jnp.round(dk) for dk in d]
        if ortho:
            r2 = sum((d[k] * H[k, k]) ** 2 for k in range(3))
        else:
            r2 = sum((d[0] * H[0, k] + d[1] * H[1, k] + d[2] * H[2, k]) ** 2 for k in range(3))
        keep = valid & (r2 < r2max) & (j != rows)
        if half:
            keep = keep & _half_rule(rows, j)
        return keep

    if cells == (0, 0, 0):
        occupancy = jnp.asarray(0, jnp.int32)
        cell_over = jnp.asarray(False)
        n_cand = n

        def cand_fn(k):
            j = jnp.full((n,), k, jnp.int32)
            return j, test(j, True), None
    else:
        nc = jnp.asarray(cells, jnp.int32)
        ci = jnp.clip(jnp.floor(sw * nc).astype(jnp.int32), 0, nc - 1)
        cid = (ci[:, 0] * cells[1] + ci[:, 1]) * cells[2] + ci[:, 2]
        order = jnp.argsort(cid).astype(jnp.int32)
        sorted_cid = cid[order]
        n_cells = cells[0] * cells[1] * cells[2]
        ids = jnp.arange(n_cells, dtype=jnp.int32)
        start = jnp.searchsorted(sorted_cid, ids, side="left").astype(jnp.int32)
        end = jnp.searchsorted(sorted_cid, ids, side="right").astype(jnp.int32)
        cnt = end - start
        occupancy = jnp.max(cnt)
        cell_over = occupancy > cell_cap
        offs = jnp.asarray(_OFFSETS)
        nb = (ci[None, :, :] + offs[:, None, :]) % nc  # (27, N, 3)
        nid = (nb[..., 0] * cells[1] + nb[..., 1]) * cells[2] + nb[..., 2]
        st = start[nid]  # (27, N)
        cn = cnt[nid]
        n_cand = 27 * cell_cap

        if _wide_iterations():
            slots = jnp.arange(cell_cap, dtype=jnp.int32)[:, None]

            def block_fn(b):
                valid = slots < cn[b][None, :]
                j = order[jnp.minimum(st[b][None, :] + slots, n - 1)]  # (C, N)
                return j, test(j, valid)

            idx, _, count = _blocked_compact(n, cap, 27, block_fn)
            maxc = jnp.max(count)
            needed = jnp.stack([maxc, occupancy]).astype(jnp.int32)
            return idx, None, needed, (maxc > cap) | cell_over

        def cand_fn(k):
            b = k // cell_cap
            sl = k % cell_cap
            valid = sl < cn[b]
            j = order[jnp.minimum(st[b] + sl, n - 1)]
            return j, test(j, valid), None

    idx, _, count = _scan_compact(n, cap, n_cand, cand_fn)
    maxc = jnp.max(count)
    needed = jnp.stack([maxc, occupancy]).astype(jnp.int32)
    return idx, None, needed, (maxc > cap) | cell_over


def _image_list(box_np, r_list):
    w = np.asarray(perpendicular_widths(box_np), np.float64)
    m = [int(math.ceil(r_list / wk)) + 1 for wk in w]
    return tuple(m)


def _build_multi_image(positions, box, r_list, cap, half, images):
    """All pairs × all periodic images within reach; stores integer image shifts
    ``n - a_j + a_i`` (``a`` = the cell each unwrapped atom sits in)."""
    n = positions.shape[0]
    s, H = _fractional(positions, box)
    a = jnp.floor(s)
    sw = s - a
    rng = [np.arange(-m, m + 1) for m in images]
    img = np.stack(np.meshgrid(*rng, indexing="ij"), -1).reshape(-1, 3)
    n_img = img.shape[0]
    img_j = jnp.asarray(img, positions.dtype)
    # lexicographic positivity of the image vector (for the half list with j == i)
    lex_pos = jnp.asarray(
        (img[:, 0] > 0) | ((img[:, 0] == 0) & (img[:, 1] > 0)) | ((img[:, 0] == 0) & (img[:, 1] == 0) & (img[:, 2] > 0))
    )
    zero_img = jnp.asarray(np.all(img == 0, axis=1))
    r2max = jnp.asarray(r_list * r_list, positions.dtype)
    rows = jnp.arange(n, dtype=jnp.int32)

    def cand_fn(k):
        jj = k // n_img
        im = k % n_img
        d = (sw[jj] + img_j[im])[None, :] - sw
        dc = d @ H
        r2 = jnp.sum(dc * dc, axis=-1)
        same = rows == jj
        keep = (r2 < r2max) & ~(same & zero_img[im])
        if half:
            keep = keep & ((~same & _half_rule(rows, jj)) | (same & lex_pos[im]))
        shift = (img_j[im] - a[jj])[None, :] + a
        return jnp.full((n,), jj, jnp.int32), keep, shift.astype(jnp.int8)

    idx, sh, count = _scan_compact(n, cap, n * n_img, cand_fn, with_shift=True)
    maxc = jnp.max(count)
    needed = jnp.stack([maxc, jnp.asarray(0, jnp.int32)]).astype(jnp.int32)
    return idx, sh, needed, maxc > cap


# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NeighborListFn:
    """Factory for neighbour lists of one ``cutoff``/``skin``/``format`` (see module doc).

    ``allocate`` (host, not jittable) sizes and builds a list; ``update`` (jittable) rebuilds
    it when an atom has moved more than ``skin/2``; ``rebuild`` (jittable) rebuilds
    unconditionally; ``reallocate`` (host) grows the capacities after an overflow.
    """

    cutoff: float
    skin: float = 0.3
    format: str = "dense"
    capacity_multiplier: float = 1.25
    method: str = "auto"  # "auto" | "cell" | "brute"
    
    def __post_init__(self):
        if not self.cutoff > 0:
            raise ValueError(f"neighbor_list: cutoff must be positive, got {self.cutoff}.")
        if not self.skin >= 0:
            raise ValueError(f"neighbor_list: skin must be >= 0, got {self.skin}.")
        if self.format not in _FORMATS:
            raise ValueError(f"neighbor_list: format must be one of {_FORMATS}, got {self.format!r}.")
        if not self.capacity_multiplier >= 1.0:
            raise ValueError("neighbor_list: capacity_multiplier must be >= 1.")
        if self.method not in ("auto", "cell", "brute"):
            raise ValueError(f"neighbor_list: method must be 'auto', 'cell' or 'brute', got {self.method!r}.")

    @property
    def r_list(self) -> float:
        return float(self.cutoff + self.skin)

    # ---- host side --------------------------------------------------------------------------
    def _layout(self, box: Box, n: int):
        w = np.asarray(perpendicular_widths(box), np.float64)
        multi = not (self.r_list < 0.5 * w.min())
        if multi:
            return True, (0, 0, 0), _image_list(box, self.r_list)
        cells = tuple(int(x) for x in np.floor(w / self.r_list))
        use_cells = min(cells) >= 3 and self.method != "brute"
        if self.method == "cell" and not use_cells:
            raise ValueError(
                f"neighbor_list: method='cell' needs at least 3 cells of width cutoff+skin="
                f"{self.r_list} per side; the box widths {w} allow {cells}. Use method='auto'."
            )
        return False, (cells if use_cells else (0, 0, 0)), (0, 0, 0)

    def allocate(self, positions, box, *, max_neighbors: Optional[int] = None, cell_capacity: Optional[int] = None) -> NeighborList:
        """Size the list from ``positions`` (capacity = ``capacity_multiplier`` × the largest
        count found, or the given values) and build it."""
        positions = jnp.asarray(positions)
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise ValueError(f"neighbor_list.allocate: positions must have shape (N, 3), got {positions.shape}.")
        if not jnp.issubdtype(positions.dtype, jnp.floating):
            raise ValueError("neighbor_list.allocate: positions must be floating point.")
        box = make_box(box)
        n = positions.shape[0]
        multi, cells, images = self._layout(box, n)
        if cells != (0, 0, 0) and cell_capacity is None:
            s = np.asarray(positions, np.float64) @ np.linalg.inv(np.asarray(box.matrix, np.float64))
            ci = np.clip(np.floor((s - np.floor(s)) * np.array(cells)).astype(int), 0, np.array(cells) - 1)
            occ = np.bincount((ci[:, 0] * cells[1] + ci[:, 1]) * cells[2] + ci[:, 2], minlength=int(np.prod(cells))).max()
            cell_capacity = int(math.ceil(occ * self.capacity_multiplier)) + 1
        cell_capacity = int(cell_capacity or 0)
        if max_neighbors is None:
            count = None if multi or not box.is_orthorhombic else self._host_count(positions, box)
            if count is None:
                # count with a one-slot list on the device (the build measures the true count)
                probe = self._empty(positions, multi, cells, cell_capacity, images, 1)
                built = _jit_build(positions, box, probe)
                count = int(built.needed[0])
                if bool(built.needed[1] > cell_capacity) and cells != (0, 0, 0):
                    cell_capacity = int(math.ceil(int(built.needed[1]) * self.capacity_multiplier)) + 1
            max_neighbors = max(1, int(math.ceil(count * self.capacity_multiplier)))
        nbrs = self._empty(positions, multi, cells, cell_capacity, images, int(max_neighbors))
        return _jit_build(positions, box, nbrs)

    def _host_count(self, positions, box: Box) -> int:
        """Largest row length of the list, counted on the host with a periodic k-d tree
        (orthorhombic, minimum-image boxes): sizing then needs no extra device compile."""
        from scipy.spatial import cKDTree

        L = np.asarray(box.lengths, np.float64)
        x = np.asarray(positions, np.float64)
        x = x - L * np.floor(x / L)
        x = np.where(x >= L, 0.0, x)  # rounding can land exactly on L
        tree = cKDTree(x, boxsize=L)
        # a hair of slack so that pairs at r ≈ r_list in float32 are never under-counted
        r = self.r_list * (1.0 + 1e-6)
        if self.format == "dense":
            return int(np.max(tree.query_ball_point(x, r, return_length=True)) - 1)
        pairs = tree.query_pairs(r, output_type="ndarray")
        if pairs.size == 0:
            return 0
        i, j = pairs[:, 0], pairs[:, 1]
        keep_i = (j > i) == ((i + j) % 2 == 0)  # _half_rule: row i holds j
        rows = np.where(keep_i, i, j)
        return int(np.bincount(rows, minlength=x.shape[0]).max())

    def reallocate(self, positions, box, nbrs: NeighborList, growth: float = 1.5) -> NeighborList:
        """Grow the capacities of an overflowed list (to ``growth ×`` what was needed) and
        rebuild it at ``positions``."""
        needed = np.asarray(nbrs.needed)
        m = max(int(math.ceil(needed[0] * growth)), int(math.ceil(nbrs.max_neighbors * 1.1)) + 1)
        c = nbrs.cell_capacity
        if nbrs.cells != (0, 0, 0):
            c = max(c, int(math.ceil(needed[1] * growth)) + 1)
        fresh = self.allocate(positions, box, max_neighbors=m, cell_capacity=c or None)
        if bool(fresh.overflow):  # the layout changed or counts jumped: size from scratch
            return self.allocate(positions, box)
        return fresh

    def _empty(self, positions, multi, cells, cell_cap, images, cap) -> NeighborList:
        n = positions.shape[0]
        return NeighborList(
            idx_t=jnp.full((cap, n), n, jnp.int32),
            shifts=jnp.zeros((cap, n, 3), jnp.int8) if multi else None,
            reference=positions,
            overflow=jnp.asarray(False),
            needed=jnp.zeros((2,), jnp.int32),
            n_builds=jnp.asarray(0, jnp.int32),
            format=self.format,
            cutoff=float(self.cutoff),
            skin=float(self.skin),
            cells=cells,
            cell_capacity=int(cell_cap),
            images=images,
        )

    # ---- traceable ----------------------------------------------------------------------------
    def rebuild(self, positions, nbrs: NeighborList, box) -> NeighborList:
        """Rebuild at ``positions`` unconditionally (jittable)."""
        return _build(positions, make_box(box), nbrs)

    def update(self, positions, nbrs: NeighborList, box) -> NeighborList:
        """Rebuild if any atom moved more than ``skin/2`` since the last build (jittable).

        Called eagerly (outside ``jit``, e.g. by an integrator's ``init``), the test is decided
        on the host and a rebuild goes through the cached compiled build: an eager
        ``lax.cond`` would compile itself and the whole build again on every call."""
        box = make_box(box)
        d = positions - nbrs.reference
        moved = jnp.max(jnp.sum(d * d, axis=-1)) > (0.5 * nbrs.skin) ** 2
        if not isinstance(moved, jax.core.Tracer):
            return _jit_build(positions, box, nbrs) if bool(moved) else nbrs
        return jax.lax.cond(moved, lambda: _build(positions, box, nbrs), lambda: nbrs)

    def needs_rebuild(self, positions, nbrs: NeighborList) -> jax.Array:
        d = positions - nbrs.reference
        return jnp.max(jnp.sum(d * d, axis=-1)) > (0.5 * nbrs.skin) ** 2


def _build(positions, box: Box, nbrs: NeighborList) -> NeighborList:
    r_list = nbrs.cutoff + nbrs.skin
    half = nbrs.format == "half"
    cap = nbrs.max_neighbors
    if nbrs.shifts is not None:
        idx, sh, needed, over = _build_multi_image(positions, box, r_list, cap, half, nbrs.images)
        sh = sh.astype(nbrs.shifts.dtype)
    else:
        idx, sh, needed, over = _build_min_image(positions, box, r_list, cap, half, nbrs.cells, nbrs.cell_capacity)
    return NeighborList(
        idx_t=idx.astype(jnp.int32),
        shifts=sh,
        reference=positions,
        overflow=nbrs.overflow | over,
        needed=jnp.maximum(nbrs.needed, needed),
        n_builds=nbrs.n_builds + 1,
        format=nbrs.format,
        cutoff=nbrs.cutoff,
        skin=nbrs.skin,
        cells=nbrs.cells,
        cell_capacity=nbrs.cell_capacity,
        images=nbrs.images,
    )


@eqx.filter_jit
def _jit_build(positions, box, nbrs):
    return _build(positions, box, nbrs)


def neighbor_list(cutoff: float, skin: float = 0.3, format: str = "dense", *, capacity_multiplier: float = 1.25, method: str = "auto") -> NeighborListFn:
    """Make a :class:`NeighborListFn` (see module docstring).

    Example::

        nl = neighbor_list(cutoff=2.5, skin=0.3)
        nbrs = nl.allocate(R, box)          # host: sizes and builds
        nbrs = nl.update(R_new, nbrs, box)  # jittable: rebuild if needed
        if nbrs.overflow: nbrs = nl.reallocate(R_new, box, nbrs)
    """
    return NeighborListFn(float(cutoff), float(skin), format, float(capacity_multiplier), method)
