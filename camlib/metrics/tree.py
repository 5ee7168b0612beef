"""The component tree: every connected component of every thresholded mask of a map, in one pass.

Masks ``{m >= tau}`` are nested: lowering tau only adds pixels, so components only grow and merge, and all the
components at all taus form one tree (a max-tree). It is built by adding the pixels in decreasing order of
their *level* (the number of taus they pass) and joining each to its already-added neighbours with union-find.
Each tree node is one component that exists unchanged over an interval of levels; its box, pixel count, first
pixel in raster order and "touches the border" flag follow from its children's when components merge. The cost
is O(H W) per map, whatever the number of taus, instead of one labelling per tau.

**Kernel.** A small numba ``@njit`` union-find: scikit-image's ``morphology.max_tree`` gives the bare tree
without node attributes at ~70x this kernel's time, OpenCV per tau is linear in the number of taus
(``benchmarks/bench_metrics.py``). The first call compiles (~10-25 s on 2 busy cores); kernels are cached in
``__pycache__`` or numba's user cache (``NUMBA_CACHE_DIR``), so a later process loads them in ~1-2 s.

Node table: one row per node, columns :data:`XMIN` .. :data:`TAU_HI`; the box is inclusive pixel extents.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from camlib.metrics.levels import SLOTS_PER_CUT, count_le, lookup_table, njit, quantize

__all__ = [
    "SLOTS_PER_CUT",
    "count_le",
    "lookup_table",
    "njit",
    "quantize",
    "TreeScratch",
    "tree_scratch",
    "build_component_tree",
]

XMIN, YMIN, XMAX, YMAX = 0, 1, 2, 3  # inclusive pixel extents of the component
AREA = 4  # its pixel count
FIRST = 5  # raster index y * W + x of its first pixel
BORDER = 6  # 1 when one of its pixels lies on the image border
COMP_FIELDS = 8  # fields kept per union-find root (7 used, padded to 32 bytes)
TAU_LO, TAU_HI = 7, 8  # a node is a component of the masks at level indices TAU_LO..TAU_HI (inclusive)
NODE_FIELDS = 9

_LOWEST_BIT = np.array([(i & -i).bit_length() - 1 for i in range(256)], dtype=np.int64)  # of an 8-bit mask


class TreeScratch(NamedTuple):
    """Work arrays of :func:`build_component_tree` for H x W maps and up to L levels, allocated once per batch.
    Union-find arrays live in the (H + 2) x (W + 2) grid framed by pixels that are never added, so neighbours
    need no bounds checks."""

    parent: np.ndarray  # (P,) int32 union-find parent in the padded grid, -1 for pixels not added yet
    comp: np.ndarray  # (P, COMP_FIELDS) int32 component data, valid at roots
    node_of: np.ndarray  # (P,) int32 node of a root's current component, -1 while it changes
    order: np.ndarray  # (H*W,) int32 pixels sorted by level, highest first
    ends: np.ndarray  # (L + 1,) int64 end offset of each level's pixels in ``order``
    dirty: np.ndarray  # (H*W,) int32 roots changed at the current level
    nodes: np.ndarray  # (H*W, NODE_FIELDS) int32 the node table (a map has at most H*W nodes)
    where: np.ndarray  # (H*W, 3) int32 per raster index p: x, y and p's index in the padded grid


def tree_scratch(h: int, w: int, n_levels: int) -> TreeScratch:
    """Allocate the work arrays of :func:`build_component_tree` (see :class:`TreeScratch`); plain NumPy, so
    that the kernels taking it compile faster."""
    p = np.arange(h * w, dtype=np.int32)  # (H*W,) raster indices
    y, x = np.divmod(p, np.int32(w))
    where = np.stack([x, y, (y + 1) * (w + 2) + x + 1], axis=1).astype(np.int32)  # (H*W, 3)
    padded = (h + 2) * (w + 2)
    return TreeScratch(
        parent=np.full(padded, -1, dtype=np.int32),
        comp=np.empty((padded, COMP_FIELDS), dtype=np.int32),
        node_of=np.empty(padded, dtype=np.int32),
        order=np.empty(h * w, dtype=np.int32),
        ends=np.empty(n_levels + 1, dtype=np.int64),
        dirty=np.empty(h * w, dtype=np.int32),
        nodes=np.empty((h * w, NODE_FIELDS), dtype=np.int32),
        where=where,
    )


@njit
def _sort_by_level(levels: np.ndarray, n_levels: int, order: np.ndarray, ends: np.ndarray) -> None:
    """Counting sort: ``order[ends[l + 1]:ends[l]]`` are the pixels of level l (1..L), highest level first and
    in raster order within a level; level-0 pixels (in no mask) are left out."""
    ends[:] = 0
    for p in range(levels.size):
        ends[levels[p]] += 1
    pos = 0
    for lev in range(n_levels, 0, -1):  # ends[lev] <- start offset of level lev
        count = ends[lev]
        ends[lev] = pos
        pos += count
    for p in range(levels.size):
        lev = levels[p]
        if lev > 0:
            order[ends[lev]] = p
            ends[lev] += 1  # the end offset once the loop is done


@njit
def _ring_steps(w: int) -> np.ndarray:
    """Index steps to the 8 neighbours in ring order (N, NE, E, SE, S, SW, W, NW) in the padded grid of row
    length W + 2."""
    wp = w + 2
    return np.array([-wp, -wp + 1, 1, wp + 1, wp, wp - 1, -1, -wp - 1])


@njit
def _ring_run_starts(added: int) -> int:
    """The first neighbour of each run of set bits of the 8-bit ring mask ``added`` (bit 0 when all are set):
    consecutive 8-neighbours touch each other, so a run is one set already and needs one find."""
    if added == 0xFF:
        return 1
    return added & ~(((added << 1) | (added >> 7)) & 0xFF)


@njit
def build_component_tree(
    levels: np.ndarray, h: int, w: int, n_levels: int, eight: bool, s: TreeScratch
) -> int:
    """The component tree of one quantised map: every component of every mask ``{levels >= l}``, l = 1..L.

    Pixels are added level by level, highest first, one horizontal RUN at a time (consecutive pixels of the
    level in a row: one component already). A run joins the sets of its added neighbours (the cells left and
    right of it and the row segments above and below it; one find per stretch of added cells, which touch each
    other) with union by size and path halving. A root whose component changes closes its node; after the
    level, every changed root that is still a root opens a new node. The union-find steps are inlined on
    purpose (as jitted functions: ~30% slower); runs instead of pixels: ~1.5-2x faster on smooth maps.

    Args:
        levels: (H*W,) int32 levels in 0..L, raster order; level 0 is in no mask.
        h, w, n_levels: H, W and L.
        eight: 8-connected components if True, else 4-connected.
        s: scratch from :func:`tree_scratch` for H x W maps and at least L levels.

    Returns:
        The number n of nodes; ``s.nodes[:n]`` holds them, ordered by ``TAU_HI`` descending. Node i is one
        component of the mask at level index k (the mask ``{levels >= k + 1}``) for every k in
        ``TAU_LO..TAU_HI``, with that component's box, area, first pixel and border flag.
    """
    parent, comp, node_of, order, ends, dirty, nodes, where = s
    wp = w + 2  # row length of the padded grid
    diag = 1 if eight else 0  # the rows above and below reach one cell further for 8-connectivity
    ring = _ring_steps(w)
    join = np.empty(2 * w + 8, dtype=np.int64)  # cells whose sets a run joins
    _sort_by_level(levels, n_levels, order, ends)
    parent[:] = -1  # nothing added yet; the frame stays -1
    n_nodes, start = 0, 0
    for lev in range(n_levels, 0, -1):
        end = ends[lev]
        n_dirty = 0
        i = start
        while i < end:  # add the pixels of this level, one run at a time
            p0 = order[i]
            x0, y, pp0 = where[p0, 0], where[p0, 1], where[p0, 2]  # pp0: p0 in the padded grid
            j = i
            while j + 1 < end and order[j + 1] == order[j] + 1 and x0 + j + 1 - i < w:  # same row
                j += 1
            n = j - i + 1  # the run: pixels p0 .. p0 + n - 1 of row y
            x1, pp1 = x0 + n - 1, pp0 + n - 1
            n_join = 0  # cells of the sets the run joins: one per stretch of added cells (they touch)
            if eight and n == 1:  # a single pixel: its 8-ring as a bit mask, one cell per run of set bits
                added = 0
                for k in range(8):
                    added |= int(parent[pp0 + ring[k]] >= 0) << k
                bits = _ring_run_starts(added)
                while bits:
                    join[n_join] = pp0 + ring[_LOWEST_BIT[bits]]
                    n_join += 1
                    bits &= bits - 1
            else:  # the cells left and right of the run, the row segments above and below it
                for seg in range(4):
                    if seg == 0:
                        a, b = pp0 - 1, pp0 - 1
                    elif seg == 1:
                        a, b = pp1 + 1, pp1 + 1
                    elif seg == 2:
                        a, b = pp0 - wp - diag, pp1 - wp + diag
                    else:
                        a, b = pp0 + wp - diag, pp1 + wp + diag
                    stretch = False
                    for q in range(a, b + 1):
                        if parent[q] < 0:
                            stretch = False
                        elif not stretch:
                            stretch = True
                            join[n_join] = q
                            n_join += 1
            rp = -1  # the root of the run's set, once it is in one
            for c in range(n_join):
                rq = join[c]
                while parent[rq] != rq:  # find, halving the path
                    parent[rq] = parent[parent[rq]]
                    rq = parent[rq]
                if rq == rp:
                    continue
                if node_of[rq] >= 0:  # rq's component changes: its node ends at the previous level index
                    nodes[node_of[rq], TAU_LO] = lev
                    node_of[rq] = -1
                    dirty[n_dirty] = rq
                    n_dirty += 1
                if rp < 0:
                    rp = rq
                    continue
                big, small = (rp, rq) if comp[rp, AREA] >= comp[rq, AREA] else (rq, rp)
                parent[small] = big  # the two components merge; the larger one's root stays root
                comp[big, XMIN] = min(comp[big, XMIN], comp[small, XMIN])
                comp[big, YMIN] = min(comp[big, YMIN], comp[small, YMIN])
                comp[big, FIRST] = min(comp[big, FIRST], comp[small, FIRST])
                comp[big, XMAX] = max(comp[big, XMAX], comp[small, XMAX])
                comp[big, YMAX] = max(comp[big, YMAX], comp[small, YMAX])
                comp[big, BORDER] = max(comp[big, BORDER], comp[small, BORDER])
                comp[big, AREA] += comp[small, AREA]
                rp = big
            border = 1 if y == 0 or y == h - 1 or x0 == 0 or x1 == w - 1 else 0
            if rp < 0:  # no added neighbour: a new component
                rp = pp0
                node_of[rp] = -1
                comp[rp, XMIN], comp[rp, XMAX], comp[rp, YMIN], comp[rp, YMAX] = x0, x1, y, y
                comp[rp, AREA], comp[rp, FIRST], comp[rp, BORDER] = n, p0, border
                dirty[n_dirty] = rp
                n_dirty += 1
            else:  # the run joins rp's component
                comp[rp, XMIN] = min(comp[rp, XMIN], x0)
                comp[rp, XMAX] = max(comp[rp, XMAX], x1)
                comp[rp, YMIN] = min(comp[rp, YMIN], y)
                comp[rp, YMAX] = max(comp[rp, YMAX], y)
                comp[rp, FIRST] = min(comp[rp, FIRST], p0)
                comp[rp, BORDER] = max(comp[rp, BORDER], border)
                comp[rp, AREA] += n
            for q in range(pp0, pp1 + 1):
                parent[q] = rp
            i = j + 1
        for k in range(n_dirty):  # one new node per component that changed at this level
            r = dirty[k]
            if parent[r] == r and node_of[r] < 0:
                for f in range(BORDER + 1):
                    nodes[n_nodes, f] = comp[r, f]
                nodes[n_nodes, TAU_LO] = 0  # until a later level changes the component
                nodes[n_nodes, TAU_HI] = lev - 1
                node_of[r] = n_nodes
                n_nodes += 1
        start = end
    return n_nodes
