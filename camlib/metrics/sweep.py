"""BoxAcc at every tau, and the boxes at every tau, from one component tree per map (:mod:`camlib.metrics.tree`).

* :func:`box_acc_counts` gives what :class:`camlib.metrics.MaxBoxAccMeter` counts for a batch in camlib's
  convention, count for count equal to thresholding and labelling once per tau (tested): per map, one pass over
  the tree's nodes gives MaxBoxAccV2's hits at every tau (a difference array: is SOME alive component's box good
  enough?) and MaxBoxAcc's (a sweep down the taus keeping the largest alive component). Cost O(H W + T) per map.
* :func:`component_boxes_at_thresholds` gives one map's boxes at every tau, equal to
  :func:`camlib.boxes.all_component_boxes` and :func:`camlib.boxes.largest_component_box` at each tau (the
  explorer's IoU-vs-tau curve, ``reproduce``'s threshold tables).

Exactness, where float rounding decides:

* The meter normalises per map in float32 exactly as :func:`camlib.cam.normalize` (``(m - min) / (max - min)``,
  IEEE-rounded, so bit for bit) and keeps ``m >= tau`` compared in float32 (NumPy compares a float32 array with
  a Python float in float32: ``np.float32(0.01) >= 0.01`` is True). So the taus are cast to float32 and a
  pixel's level is the number of them it passes; taus equal in float32 share a level.
* IoUs are float32, term by term :func:`torchvision.ops.box_iou`, compared with ``np.float32(delta)``.
* Ties between equally large components go to the first in raster order, as :func:`scipy.ndimage.label`
  numbers them. A constant map has no box at any tau.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from torch import Tensor

from camlib.metrics.levels import level_table, quantize, quantize_with
from camlib.metrics.tree import (
    AREA,
    FIRST,
    SLOTS_PER_CUT,
    TAU_HI,
    TAU_LO,
    XMAX,
    XMIN,
    YMAX,
    YMIN,
    TreeScratch,
    build_component_tree,
    njit,
    tree_scratch,
)


@njit
def _minmax(raw: np.ndarray, out: np.ndarray) -> bool:
    """``out`` = (raw - min) / (max - min) in float32 (:func:`camlib.cam.normalize`); False for a map with no
    box (constant, or normalised max not positive: that of the max pixel, rounding is monotone)."""
    lo, hi = raw[0], raw[0]
    for p in range(raw.size):
        v = raw[p]
        lo = v if v < lo else lo
        hi = v if v > hi else hi
    span = hi - lo
    if not span > 0:
        return False
    for p in range(raw.size):
        out[p] = (raw[p] - lo) / span
    return bool((hi - lo) / span > 0)


@njit
def _best_iou(node: np.ndarray, gt: np.ndarray) -> np.float32:
    """Best IoU of a node's box with the (G, 4) float32 ``gt`` boxes (exclusive edges), float32 as
    :func:`torchvision.ops.box_iou` computes it."""
    x1, y1 = np.float32(node[XMIN]), np.float32(node[YMIN])
    x2, y2 = np.float32(node[XMAX] + 1), np.float32(node[YMAX] + 1)
    area1 = (x2 - x1) * (y2 - y1)
    best = np.float32(0.0)
    for g in range(gt.shape[0]):
        area2 = (gt[g, 2] - gt[g, 0]) * (gt[g, 3] - gt[g, 1])
        iw = max(min(x2, gt[g, 2]) - max(x1, gt[g, 0]), np.float32(0.0))
        ih = max(min(y2, gt[g, 3]) - max(y1, gt[g, 1]), np.float32(0.0))
        inter = iw * ih
        best = max(best, inter / (area1 + area2 - inter))
    return best


@njit
def is_larger(a: np.ndarray, b: np.ndarray) -> bool:
    """Node ``a`` beats node ``b`` as "the largest component": more pixels, ties to the first in raster order."""
    return a[AREA] > b[AREA] or (a[AREA] == b[AREA] and a[FIRST] < b[FIRST])


@njit
def _count_map(
    nodes: np.ndarray, gt: np.ndarray, deltas: np.ndarray, cover: np.ndarray, hits: np.ndarray
) -> None:
    """Add one map's hits at every level index to ``hits``.

    Args:
        nodes: (n, NODE_FIELDS) its tree, ordered by ``TAU_HI`` descending.
        gt: (G, 4) float32 its ground-truth boxes.
        deltas: (D,) float32 IoU thresholds.
        cover: (D, L + 1) int64 scratch.
        hits: (2, D, L) int64; [0]: SOME component's IoU >= delta (V2); [1]: the LARGEST one's (V1).
    """
    n_levels = hits.shape[2]
    cover[:] = 0
    ious = np.empty(nodes.shape[0], dtype=np.float32)
    for i in range(nodes.shape[0]):  # V2: a difference array of "good nodes alive" over the level index
        ious[i] = _best_iou(nodes[i], gt)
        for d in range(deltas.size):
            if ious[i] >= deltas[d]:
                cover[d, nodes[i, TAU_LO]] += 1
                cover[d, nodes[i, TAU_HI] + 1] -= 1
    for d in range(deltas.size):
        alive = 0
        for k in range(n_levels):
            alive += cover[d, k]
            if alive > 0:
                hits[0, d, k] += 1
    # V1, from the highest level down: components only grow, so the largest at k is the largest at k + 1 or a
    # node born at k (a node that ends is replaced by a strictly larger one born at the same level)
    best, i = -1, 0
    for k in range(n_levels - 1, -1, -1):
        while i < nodes.shape[0] and nodes[i, TAU_HI] == k:
            if best < 0 or is_larger(nodes[i], nodes[best]):
                best = i
            i += 1
        if best >= 0:
            for d in range(deltas.size):
                if ious[best] >= deltas[d]:
                    hits[1, d, k] += 1


@njit
def _count_batch(
    maps: np.ndarray,
    h: int,
    w: int,
    cuts: np.ndarray,
    gt: np.ndarray,
    gt_start: np.ndarray,
    deltas: np.ndarray,
    s: TreeScratch,
    hits: np.ndarray,
) -> None:
    """:func:`_count_map` for each raw map of (B, H*W) float32 ``maps``, min-max normalised and quantised to
    the (L,) sorted distinct float32 ``cuts``; map b's boxes are ``gt[gt_start[b]:gt_start[b + 1]]``; ``s``
    from :func:`~camlib.metrics.tree.tree_scratch`."""
    norm = np.empty(h * w, dtype=np.float32)  # (H*W,)
    levels = np.empty(h * w, dtype=np.int32)  # (H*W,)
    starts = np.empty(SLOTS_PER_CUT * cuts.size + 1, dtype=np.int64)
    table = level_table(cuts, starts)  # once per batch
    cover = np.empty((deltas.size, cuts.size + 1), dtype=np.int64)
    for b in range(maps.shape[0]):
        if not _minmax(maps[b], norm):
            continue  # no box at any tau: no hit
        quantize_with(norm, table, starts, levels)
        n = build_component_tree(levels, h, w, cuts.size, True, s)
        _count_map(s.nodes[:n], gt[gt_start[b] : gt_start[b + 1]], deltas, cover, hits)


def distinct_cuts(cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (L,) sorted distinct cuts and the (T,) index of each given cut among them (its level index).

    >>> [a.tolist() for a in distinct_cuts(np.array([0.5, 0.0, 0.5]))]
    [[0.0, 0.5], [1, 0, 1]]
    """
    distinct, column = np.unique(cuts, return_inverse=True)
    return distinct, column.reshape(-1)


def packed_boxes(
    gts: Sequence[np.ndarray] | np.ndarray, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """B (G_i, 4) box arrays, or one (B, G, 4) array -> one (sum G_i, 4) array and the (B + 1,) int64 start of
    each map's rows."""
    if isinstance(gts, np.ndarray) and gts.ndim == 3:
        b, g = gts.shape[:2]
        return np.ascontiguousarray(gts.reshape(-1, 4), dtype=dtype), np.arange(0, b * g + 1, max(g, 1))
    boxes: list[np.ndarray] = [np.asarray(g, dtype=dtype).reshape(-1, 4) for g in gts]
    start = np.zeros(len(boxes) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in boxes], out=start[1:])
    flat = np.concatenate(boxes) if boxes else np.zeros((0, 4), dtype=dtype)
    return flat, start


def box_acc_counts(
    maps: np.ndarray,
    gts: Sequence[np.ndarray] | np.ndarray,
    thresholds: np.ndarray,
    iou_thresholds: Sequence[float],
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """MaxBoxAcc's and MaxBoxAccV2's hits for one batch in camlib's convention, from one tree per map.

    Args:
        maps: (B, H, W) float32 raw maps (min-max normalised here, as :func:`camlib.cam.normalize`).
        gts: B ground-truth arrays (G_i, 4), G_i >= 1, or one (B, G, 4) array; XYXY with exclusive edges, in map
            pixels.
        thresholds: (T,) taus in [0, 1], any order; a pixel is kept at tau when its normalised value >= tau.
        iou_thresholds: the D deltas.
        workers: threads, each counting a contiguous share of the maps (the kernel releases the GIL).

    Returns:
        ``correct_all``: (D, T) int64, maps whose best box over ALL components has IoU >= delta at tau (V2);
        ``correct_largest``: (D, T) int64, the same with the LARGEST component's box only (V1).
    """
    if maps.ndim != 3 or maps.dtype != np.float32:
        raise ValueError(f"maps must be a (B, H, W) float32 array, got {maps.dtype} {maps.shape}")
    if len(gts) != maps.shape[0]:
        raise ValueError(f"gts has {len(gts)} entries for {maps.shape[0]} maps: pass one per map")
    b, h, w = maps.shape
    cuts, column = distinct_cuts(np.asarray(thresholds, np.float64).astype(np.float32))  # (L,), (T,)
    gt, gt_start = packed_boxes(gts)
    deltas = np.asarray(iou_thresholds, dtype=np.float64).astype(np.float32)  # (D,)
    flat = np.ascontiguousarray(maps).reshape(b, h * w)  # (B, H*W)
    n_workers = max(1, min(workers, b))
    hits = np.zeros((n_workers, 2, deltas.size, cuts.size), dtype=np.int64)  # per worker: V2, V1

    def count(i: int, lo: int, hi: int) -> None:
        g = gt[gt_start[lo] : gt_start[hi]]
        starts = gt_start[lo : hi + 1] - gt_start[lo]
        _count_batch(flat[lo:hi], h, w, cuts, g, starts, deltas, tree_scratch(h, w, cuts.size), hits[i])

    bounds = np.linspace(0, b, n_workers + 1).astype(int)  # (workers + 1,) contiguous shares of the maps
    if n_workers == 1:
        count(0, 0, b)
    else:
        with ThreadPoolExecutor(n_workers) as pool:
            list(pool.map(count, range(n_workers), bounds[:-1], bounds[1:]))
    total = hits.sum(0)  # (2, D, L)
    return total[0][:, column], total[1][:, column]  # (D, T) each


class ThresholdBoxes(NamedTuple):
    """One map's boxes at each tau, as :func:`camlib.boxes.all_component_boxes` / ``largest_component_box``.

    Attributes:
        boxes: T float32 arrays (n_t, 4): every component's box at tau t, in raster order of first pixel.
        largest: (T, 4) float32: the largest component's box at each tau, ``(0, 0, 0, 0)`` where there is none.
    """

    boxes: list[np.ndarray]
    largest: np.ndarray


def component_boxes_at_thresholds(
    score_map: np.ndarray | Tensor, thresholds: Sequence[float] | np.ndarray
) -> ThresholdBoxes:
    """Every component's box and the largest one at each tau, for one map, from one component tree.

    The mask at tau is the paper's ``m >= tau * max(m)`` computed as :func:`camlib.boxes.threshold_maps` does
    (``tau * max`` in the map's dtype; no box where ``max(m) <= 0``), so the result equals
    ``all_component_boxes(m, tau)`` and ``largest_component_box(m, tau)`` at every tau, for ~1 ms per 64 x 64
    map and 100 taus instead of one labelling per tau.

    Args:
        score_map: (H, W) float32 or float64 map (a tensor is moved to the CPU), any normalisation.
        thresholds: (T,) taus in [0, 1], any order.

    Returns:
        :class:`ThresholdBoxes`; boxes are XYXY in map pixels with exclusive right/bottom edges.

    Example:
        >>> m = np.zeros((6, 6), np.float32)
        >>> m[1:3, 1:3], m[4:6, 3:6] = 1.0, 0.5
        >>> got = component_boxes_at_thresholds(m, [0.2, 0.8])
        >>> got.boxes[0].tolist(), got.largest.tolist()
        ([[1.0, 1.0, 3.0, 3.0], [3.0, 4.0, 6.0, 6.0]], [[3.0, 4.0, 6.0, 6.0], [1.0, 1.0, 3.0, 3.0]])
    """
    m = score_map.detach().cpu().numpy() if isinstance(score_map, Tensor) else np.asarray(score_map)
    if m.ndim != 2 or m.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"score_map must be one (H, W) float32 or float64 map, got {m.dtype} {m.shape}: pass maps[i]"
        )
    if not np.isfinite(m).all():
        raise ValueError("score_map contains NaN or inf: check the model's weights and the input images")
    taus = np.asarray(thresholds, dtype=np.float64)
    if taus.ndim != 1 or taus.size == 0 or not (0 <= taus.min() and taus.max() <= 1):
        raise ValueError(f"thresholds must be a non-empty 1-D sequence of taus in [0, 1], got {thresholds}")
    h, w = m.shape
    peak = m.max()  # > 0 below, so the max pixel is in every mask: at least one node
    if peak <= 0:
        return ThresholdBoxes(
            [np.zeros((0, 4), np.float32) for _ in taus], np.zeros((taus.size, 4), np.float32)
        )
    cuts, column = distinct_cuts(taus.astype(m.dtype) * peak)  # (L,), (T,): tau * max in the map's dtype
    levels = np.empty(h * w, dtype=np.int32)  # (H*W,)
    flat = np.ascontiguousarray(m).reshape(-1)  # (H*W,)
    quantize(flat, cuts, np.empty(SLOTS_PER_CUT * cuts.size + 1, dtype=np.int64), levels)
    s = tree_scratch(h, w, cuts.size)
    n = build_component_tree(levels, h, w, cuts.size, True, s)
    nodes = s.nodes[:n][np.argsort(s.nodes[:n, FIRST], kind="stable")]  # (n, NODE_FIELDS), raster order
    boxes = np.stack([nodes[:, XMIN], nodes[:, YMIN], nodes[:, XMAX] + 1, nodes[:, YMAX] + 1], 1)  # (n, 4)
    boxes = boxes.astype(np.float32)
    k = column[:, None]  # (T, 1) each tau's level index
    alive: np.ndarray = (nodes[None, :, TAU_LO] <= k) & (k <= nodes[None, :, TAU_HI])  # (T, n)
    area = np.where(alive, nodes[None, :, AREA], -1)  # (T, n)
    best = area.argmax(1)  # (T,) the first of equal areas: the first in raster order
    some = np.any(alive, axis=1)  # (T,)
    largest = np.where(some[:, None], boxes[best], np.float32(0.0))  # (T, 4)
    return ThresholdBoxes([boxes[a] for a in alive], largest)
