"""MaxBoxAcc and MaxBoxAccV2 exactly as clovaai/wsolevaluation computes them (Choe et al., CVPR 2020), streamed.

The reference (``evaluation.py``: ``compute_bboxes_from_scoremaps``, ``BoxEvaluator``) loops over images and
taus: it quantises each float64 min-max-normalised map to 8 bits, ``u8 = (m * 255).astype(uint8)``, keeps at
tau the pixels with ``u8 > int(tau * max(u8))``, boxes every contour of ``cv2.findContours(RETR_TREE)`` (or
the largest by ``cv2.contourArea`` for MaxBoxAcc) and scores them with "+1" inclusive IoUs. Here the counts are
the same, count for count (tested against a transliteration of that code), from one pass per map:

* There are only 256 masks per map (cuts c = 0..255), so each map is scored at the 256 cuts and each tau reads
  its cut; the number of taus costs nothing beyond 256.
* The contours of ``RETR_TREE`` are the outer border of each 8-connected component, whose bounding rectangle is
  the component's box, and the border of each hole (a 4-connected background region off the image border),
  whose rectangle is the hole's box grown by one pixel. Both are nested over the cuts: two component trees
  (:mod:`camlib.metrics.tree`), the foreground's (8-connected) and the background's (4-connected).
* MaxBoxAcc's "largest contour" is a component's outer contour (holes and nested contours are smaller), so a
  mask with one component needs no contour; where a mask has two or more, OpenCV itself is called on it as the
  reference does (the polygon area and OpenCV's order among equal areas are not worth re-deriving): at most 256
  calls per map.

OpenCV (``opencv-python-headless``) is needed only here: ``pip install 'camlib[wsol]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from camlib.metrics.sweep import is_larger, packed_boxes
from camlib.metrics.tree import (
    BORDER,
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

N_CUTS = 256  # the 8-bit cuts c = 0..255; the mask at c is {u8 > c}, empty at c = 255


def require_cv2() -> ModuleType:
    """OpenCV, or an ``ImportError`` that says how to install it."""
    try:
        import cv2
    except ImportError as err:
        raise ImportError(
            "convention='wsolevaluation' needs OpenCV (the reference's contours and bicubic resize): "
            "pip install 'camlib[wsol]'  (or: pip install opencv-python-headless)"
        ) from err
    return cv2


def normalize_scoremaps(maps: np.ndarray) -> np.ndarray:
    """wsolevaluation's ``normalize_scoremap`` for a batch: float64 ``m -= min; m /= max``; a constant map or
    one with a NaN becomes all zeros.

    Args:
        maps: (B, H, W) maps, any float dtype and range.

    Returns:
        (B, H, W) float64 in [0, 1], a new array (the reference works in place).

    >>> normalize_scoremaps(np.array([[[1.0, 3.0]], [[5.0, 5.0]]])).tolist()
    [[[0.0, 1.0]], [[0.0, 0.0]]]
    """
    m = np.asarray(maps, dtype=np.float64)
    flat = m.reshape(len(m), -1)  # (B, H*W)
    ok = ~np.isnan(flat).any(1) & (flat.min(1) != flat.max(1))  # (B,)
    shifted = flat - flat.min(1, keepdims=True)  # (B, H*W)
    peak = np.where(ok, shifted.max(1), 1.0)[:, None]  # (B, 1)
    return np.where(ok[:, None], shifted / peak, 0.0).reshape(m.shape)


def resize_cams(cams: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The reference's resize of CAMs to the image (``inference.py``): float64 ``cv2.resize(INTER_CUBIC)``.

    Bicubic interpolation can overshoot the CAM's range; :func:`normalize_scoremaps` follows. (The reference
    passes ``dsize=images.shape[2:]``, i.e. (H, W) where OpenCV reads (W, H): the same for square images, the
    only ones it evaluates; this function resizes to (H, W) as meant.)

    Args:
        cams: (B, h, w) maps at the feature map's resolution.
        size: (H, W) of the images.

    Returns:
        (B, H, W) float64.
    """
    cv2 = require_cv2()
    h, w = size
    src = np.asarray(cams, dtype=np.float64)
    return np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_CUBIC) for c in src]).reshape(-1, h, w)


@njit
def wsol_iou(x0: int, y0: int, x1: int, y1: int, gt: np.ndarray) -> float:
    """Best IoU of one box with the (G, 4) int64 ``gt`` boxes as ``calculate_multiple_iou``: "+1" inclusive
    widths and heights, integer areas, one float64 division, 0 for a non-positive union."""
    best = 0.0
    area_a = (x1 - x0 + 1) * (y1 - y0 + 1)
    for g in range(gt.shape[0]):
        iw = max(0, min(x1, gt[g, 2]) - max(x0, gt[g, 0]) + 1)
        ih = max(0, min(y1, gt[g, 3]) - max(y0, gt[g, 1]) + 1)
        union = area_a + (gt[g, 2] - gt[g, 0] + 1) * (gt[g, 3] - gt[g, 1] + 1) - iw * ih
        if union > 0:
            best = max(best, iw * ih / union)
    return best


@njit
def _hits_map(
    u8: np.ndarray,
    h: int,
    w: int,
    gt: np.ndarray,
    deltas: np.ndarray,
    s: TreeScratch,
    work: np.ndarray,
    cover: np.ndarray,
    out: np.ndarray,
    n_comp: np.ndarray,
) -> None:
    """Hits of one map at every cut c = 0..255.

    Args:
        u8: (H*W,) int32 8-bit values; a pixel is in the mask at c when c < u8.
        gt: (G, 4) int64 GT boxes; ``deltas``: (D,) float64 IoU thresholds.
        s: :class:`~camlib.metrics.tree.TreeScratch` for H x W maps and 256 levels.
        work: (H*W,) int32 scratch; ``cover``: (D + 1, 257) int64 scratch (row D: components alive per cut).
        out: (2, D, 256) bool; [0]: some contour's box has IoU >= delta at c (MaxBoxAccV2); [1]: the largest
            contour's box does, filled where ``n_comp[c] <= 1`` (MaxBoxAcc).
        n_comp: (256,) int64 out: 8-connected components of the mask at c.
    """
    n_d = deltas.size
    cover[:] = 0
    iou_empty = wsol_iou(0, 0, 0, 0, gt)  # the reference's box [0, 0, 0, 0] where the mask is empty
    n = build_component_tree(u8, h, w, N_CUTS - 1, True, s)
    ious = np.empty(n)
    for i in range(n):  # outer contours: the components' boxes, clipped at W - 1, H - 1
        nd = s.nodes[i]
        ious[i] = wsol_iou(nd[XMIN], nd[YMIN], min(nd[XMAX] + 1, w - 1), min(nd[YMAX] + 1, h - 1), gt)
        cover[n_d, nd[TAU_LO]] += 1
        cover[n_d, nd[TAU_HI] + 1] -= 1
        for d in range(n_d):
            if ious[i] >= deltas[d]:
                cover[d, nd[TAU_LO]] += 1
                cover[d, nd[TAU_HI] + 1] -= 1
    alive = 0
    for c in range(N_CUTS):
        alive += cover[n_d, c]
        n_comp[c] = alive
    best, i = -1, 0
    for c in range(N_CUTS - 1, -1, -1):  # the largest component by pixel count, from the highest cut down
        while i < n and s.nodes[i, TAU_HI] == c:
            if best < 0 or is_larger(s.nodes[i], s.nodes[best]):
                best = i
            i += 1
        for d in range(n_d):
            if n_comp[c] == 0:
                out[1, d, c] = iou_empty >= deltas[d]
            elif n_comp[c] == 1:
                out[1, d, c] = ious[best] >= deltas[d]
    for p in range(u8.size):
        work[p] = N_CUTS - u8[p]  # background level: in the background at c when u8 <= c
    n = build_component_tree(work, h, w, N_CUTS, False, s)  # holes: 4-connected, off the border
    for i in range(n):
        nd = s.nodes[i]
        if nd[BORDER] == 0:
            iou = wsol_iou(nd[XMIN] - 1, nd[YMIN] - 1, min(nd[XMAX] + 2, w - 1), min(nd[YMAX] + 2, h - 1), gt)
            for d in range(n_d):
                if iou >= deltas[d]:
                    cover[d, N_CUTS - 1 - nd[TAU_HI]] += 1
                    cover[d, N_CUTS - nd[TAU_LO]] -= 1
    for d in range(n_d):
        good = 0
        for c in range(N_CUTS):
            good += cover[d, c]
            out[0, d, c] = good > 0 or (n_comp[c] == 0 and iou_empty >= deltas[d])


@njit
def _hits_batch(
    u8: np.ndarray,
    h: int,
    w: int,
    gt: np.ndarray,
    gt_start: np.ndarray,
    deltas: np.ndarray,
    s: TreeScratch,
    out: np.ndarray,
    n_comp: np.ndarray,
) -> None:
    """:func:`_hits_map` for each map of (B, H*W) int32 ``u8``; ``out`` (B, 2, D, 256), ``n_comp`` (B, 256)."""
    work = np.empty(h * w, dtype=np.int32)
    cover = np.empty((deltas.size + 1, N_CUTS + 1), dtype=np.int64)
    for b in range(u8.shape[0]):
        g = gt[gt_start[b] : gt_start[b + 1]]
        _hits_map(u8[b], h, w, g, deltas, s, work, cover, out[b], n_comp[b])


def _largest_contour_box(cv2: Any, u8: np.ndarray, cut: int) -> tuple[int, int, int, int]:
    """The reference's MaxBoxAcc box of one (H, W) uint8 map at one cut (the mask must not be empty): the
    bounding rectangle of the contour of largest ``cv2.contourArea``, clipped at (W - 1, H - 1)."""
    h, w = u8.shape
    _, mask = cv2.threshold(src=u8, thresh=cut, maxval=255, type=cv2.THRESH_BINARY)  # (H, W) 0 / 255
    found = cv2.findContours(image=mask, mode=cv2.RETR_TREE, method=cv2.CHAIN_APPROX_SIMPLE)
    contours = found[1] if len(found) == 3 else found[0]  # OpenCV 3 returns (image, contours, hierarchy)
    x, y, bw, bh = cv2.boundingRect(max(contours, key=cv2.contourArea))
    return x, y, min(x + bw, w - 1), min(y + bh, h - 1)


def wsol_box_acc_counts(
    scoremaps: np.ndarray,
    gt_boxes: Sequence[np.ndarray],
    thresholds: np.ndarray,
    iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
) -> tuple[np.ndarray, np.ndarray]:
    """What the reference's ``BoxEvaluator.num_correct`` gains from one batch, with ``multi_contour_eval``
    True (MaxBoxAccV2) and False (MaxBoxAcc).

    Args:
        scoremaps: (B, H, W) float64 maps in [0, 1] as the reference's ``accumulate`` receives them
            (:func:`normalize_scoremaps`).
        gt_boxes: B int arrays (G_i, 4) x0y0x1y1, as the reference's ``resize_bbox`` gives them.
        thresholds: (T,) taus in [0, 1], e.g. ``np.arange(0, 1, 0.001)`` (the reference's default).
        iou_thresholds: the D deltas as fractions (``30 / 100`` is the same float64 as 0.3).

    Returns:
        ``correct_all``: (D, T) int64, images whose best box over ALL contours has IoU >= delta (V2);
        ``correct_largest``: (D, T) int64, the same with the largest contour only (V1).
    """
    if scoremaps.ndim != 3 or scoremaps.dtype != np.float64:
        raise ValueError(
            f"scoremaps must be a (B, H, W) float64 array, got {scoremaps.dtype} {scoremaps.shape}"
        )
    if len(gt_boxes) != len(scoremaps):
        raise ValueError(f"gt_boxes has {len(gt_boxes)} entries for {len(scoremaps)} maps: pass one per map")
    cv2 = require_cv2()
    b, h, w = scoremaps.shape
    u8 = (scoremaps * 255).astype(np.uint8)  # (B, H, W): the reference's truncation
    peak = u8.reshape(b, -1).max(1).astype(np.float64)  # (B,)
    taus = np.asarray(thresholds, dtype=np.float64)  # (T,)
    cuts = np.trunc(taus[None, :] * peak[:, None]).astype(np.int64)  # (B, T): int(tau * max(u8))
    gts = [np.asarray(g, dtype=np.int64).reshape(-1, 4) for g in gt_boxes]
    gt, gt_start = packed_boxes(gts, np.int64)
    deltas = np.asarray(iou_thresholds, dtype=np.float64)  # (D,)
    out = np.zeros((b, 2, deltas.size, N_CUTS), dtype=np.bool_)  # (B, 2, D, 256): V2, V1
    n_comp = np.zeros((b, N_CUTS), dtype=np.int64)  # (B, 256)
    s = tree_scratch(h, w, N_CUTS)
    _hits_batch(u8.reshape(b, h * w).astype(np.int32), h, w, gt, gt_start, deltas, s, out, n_comp)
    for i in range(b):  # V1 where a used cut's mask has two or more components: OpenCV, as the reference
        used = np.unique(cuts[i])  # (<= 256,)
        for c in used[n_comp[i, used] >= 2].tolist():
            out[i, 1, :, c] = wsol_iou(*_largest_contour_box(cv2, u8[i], c), gts[i]) >= deltas
    rows = np.arange(b)[:, None]  # (B, 1)
    hits = out.transpose(0, 3, 1, 2)[rows, cuts]  # (B, T, 2, D)
    total = hits.sum(0, dtype=np.int64)  # (T, 2, D)
    return total[:, 0].T.copy(), total[:, 1].T.copy()  # (D, T) each
