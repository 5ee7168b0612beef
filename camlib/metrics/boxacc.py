"""MaxBoxAcc and MaxBoxAccV2 (Choe et al., CVPR 2020): BoxAcc(tau, delta) over a split, both in one pass.

The definitions, and where they differ from the reference wsolevaluation code, are in :mod:`camlib.metrics`
(which re-exports everything here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from camlib.boxes import component_rows, iou, packed_rows, validate_tau
from camlib.cam import normalize
from camlib.metrics.inputs import BoxesLike, as_box_list, as_maps, cam_thresholds

_CHUNK_PIXELS = 1 << 23  # pixels per labelling call in MaxBoxAccMeter (bounds the label buffer to 32 MB)


@dataclass(frozen=True)
class BoxAccResult:
    """MaxBoxAcc, MaxBoxAccV2 and the BoxAcc curves behind them (all in %).

    Attributes:
        max_box_acc: max over tau of BoxAcc(tau, 0.5), largest component only.
        max_box_acc_v2: mean over ``iou_thresholds`` of max over tau of BoxAcc(tau, delta), all components.
        iou_thresholds: the deltas, e.g. (0.3, 0.5, 0.7).
        thresholds: (T,) the tau grid.
        box_acc: (D, T) BoxAcc(tau, delta) with every component's box (V2), one row per delta.
        box_acc_largest: (D, T) the same with the largest component's box only (V1).
        best_tau: per delta, the tau that maximises ``box_acc`` (the first one on ties).
        num_images: images seen.
    """

    max_box_acc: float
    max_box_acc_v2: float
    iou_thresholds: tuple[float, ...]
    thresholds: np.ndarray
    box_acc: np.ndarray
    box_acc_largest: np.ndarray
    best_tau: tuple[float, ...]
    num_images: int


class MaxBoxAccMeter:
    """Accumulates BoxAcc(tau, delta) for MaxBoxAcc AND MaxBoxAccV2 in one pass.

    Both metrics threshold the same normalised maps at the same taus, so each (tau, batch) is labelled once and
    both the largest component's IoU (V1) and the best component's IoU (V2) are counted; that is why one meter
    serves both.

    Args:
        step: spacing of the tau grid ``np.arange(0, 1, step)``; ignored when ``thresholds`` is given.
        iou_thresholds: the deltas of V2; must include 0.5 (MaxBoxAcc's delta).
        thresholds: an explicit tau grid, values in [0, 1].

    Example:
        >>> m = torch.zeros(1, 8, 8)
        >>> m[0, 2:6, 2:6] = 1.0
        >>> meter = MaxBoxAccMeter()
        >>> meter.update(m, torch.tensor([[2.0, 2, 6, 6]]))
        >>> meter.compute().max_box_acc_v2
        100.0
    """

    def __init__(
        self,
        step: float = 0.01,
        iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
        thresholds: Sequence[float] | None = None,
    ) -> None:
        taus = cam_thresholds(step) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        for t in taus.tolist():
            validate_tau(t)
        if taus.ndim != 1 or taus.size == 0:
            raise ValueError("thresholds must be a non-empty 1-D sequence of taus in [0, 1]")
        self.thresholds = taus
        self.iou_thresholds = tuple(float(d) for d in iou_thresholds)
        if not self.iou_thresholds or any(not 0.0 < d <= 1.0 for d in self.iou_thresholds):
            raise ValueError(f"iou_thresholds must be values in (0, 1], got {iou_thresholds}")
        if 0.5 not in self.iou_thresholds:
            raise ValueError(f"iou_thresholds must include 0.5 (MaxBoxAcc's delta), got {iou_thresholds}")
        self.reset()

    def reset(self) -> None:
        shape = (len(self.iou_thresholds), self.thresholds.size)  # (D, T)
        self._correct_all = np.zeros(shape, dtype=np.int64)
        self._correct_largest = np.zeros(shape, dtype=np.int64)
        self._count = 0

    def update(self, maps: Tensor, gt_boxes: BoxesLike) -> None:
        """Add a batch.

        Args:
            maps: (B, H, W) or (B, 1, H, W) maps at IMAGE resolution (upsample first), any range; min-max
                normalised here.
            gt_boxes: boxes in the maps' pixels; see :func:`as_box_list`.
        """
        maps = as_maps(maps)  # (B, H, W)
        b, h, w = maps.shape
        gts = as_box_list(gt_boxes, b)
        for i, g in enumerate(gts):
            if (g[:, 2] > w).any() or (g[:, 3] > h).any() or (g[:, :2] < 0).any():
                raise ValueError(
                    f"gt_boxes[{i}] = {g.tolist()} lies outside the {w}x{h} map: upsample the maps to the image "
                    f"size first (camlib.cam.upsample(maps, size)) or rescale the boxes"
                )
        chunk = max(1, _CHUNK_PIXELS // (h * w))
        for s in range(0, b, chunk):
            self._update_chunk(maps[s : s + chunk], gts[s : s + chunk])
        self._count += b

    def _update_chunk(self, maps: Tensor, gts: list[Tensor]) -> None:
        b, h, w = maps.shape
        norm = np.full((b, h + 1, w), -1.0, dtype=np.float32)  # (B, H+1, W): an empty row after each image
        norm[:, :h] = normalize(maps).numpy()  # in [0, 1]
        norm[norm.reshape(b, -1).max(1) <= 0] = -1.0  # constant maps: no pixel passes any tau -> no box
        rows = norm.reshape(b * (h + 1), w)  # (B*(H+1), W), one tall image
        row_max = rows.max(1)
        parts = []
        for t_idx, tau in enumerate(self.thresholds.tolist()):
            idx = packed_rows(row_max >= tau)  # non-empty rows and one separator per gap
            image, x1, y1, x2, y2, area = component_rows(rows[idx] >= tau, idx - idx // (h + 1), h)
            parts.append((image + t_idx * b, np.stack([x1, y1, x2, y2], axis=1), area))
        key = np.concatenate([p[0] for p in parts])  # (n,) tau_index * B + image, non-decreasing
        boxes = np.concatenate([p[1] for p in parts]).astype(np.float32)  # (n, 4)
        area = np.concatenate([p[2] for p in parts])  # (n,)
        # best IoU of every component over its image's GT boxes: one box_iou call per image
        image = key % b
        order = np.argsort(image, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(image, minlength=b))])
        sorted_boxes = torch.from_numpy(boxes[order])  # (n, 4), grouped by image
        comp_iou = np.zeros(key.size, dtype=np.float32)
        for i in range(b):
            if bounds[i + 1] > bounds[i]:
                ious = iou(sorted_boxes[bounds[i] : bounds[i + 1]], gts[i])  # (n_i, G_i)
                comp_iou[order[bounds[i] : bounds[i + 1]]] = ious.amax(1).numpy()
        best_all = np.zeros(self.thresholds.size * b, dtype=np.float32)  # (T*B,)
        np.maximum.at(best_all, key, comp_iou)
        max_area = np.zeros(best_all.size, dtype=np.int64)
        np.maximum.at(max_area, key, area)
        cand = np.flatnonzero(area == max_area[key])  # largest components (ties: first in raster order)
        keys, first = np.unique(key[cand], return_index=True)
        best_largest = np.zeros_like(best_all)
        best_largest[keys] = comp_iou[cand[first]]
        for d, delta in enumerate(self.iou_thresholds):
            self._correct_all[d] += (best_all.reshape(-1, b) >= np.float32(delta)).sum(1)  # (T,)
            self._correct_largest[d] += (best_largest.reshape(-1, b) >= np.float32(delta)).sum(1)

    def compute(self) -> BoxAccResult:
        if self._count == 0:
            raise ValueError("no maps: call update() before compute()")
        acc_all = 100.0 * self._correct_all / self._count  # (D, T)
        acc_largest = 100.0 * self._correct_largest / self._count  # (D, T)
        d50 = self.iou_thresholds.index(0.5)
        return BoxAccResult(
            max_box_acc=float(acc_largest[d50].max()),
            max_box_acc_v2=float(acc_all.max(1).mean()),
            iou_thresholds=self.iou_thresholds,
            thresholds=self.thresholds.copy(),
            box_acc=acc_all,
            box_acc_largest=acc_largest,
            best_tau=tuple(float(self.thresholds[i]) for i in acc_all.argmax(1)),
            num_images=self._count,
        )


def max_box_acc(maps: Tensor, gt_boxes: BoxesLike, step: float = 0.01) -> float:
    """MaxBoxAcc (%) of (B, H, W) maps; see :class:`MaxBoxAccMeter` and :mod:`camlib.metrics`."""
    meter = MaxBoxAccMeter(step=step, iou_thresholds=(0.5,))
    meter.update(maps, gt_boxes)
    return meter.compute().max_box_acc


def max_box_acc_v2(maps: Tensor, gt_boxes: BoxesLike, step: float = 0.01) -> float:
    """MaxBoxAccV2 (%) of (B, H, W) maps, deltas (0.3, 0.5, 0.7); see :class:`MaxBoxAccMeter`."""
    meter = MaxBoxAccMeter(step=step)
    meter.update(maps, gt_boxes)
    return meter.compute().max_box_acc_v2
