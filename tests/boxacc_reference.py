"""camlib's per-tau MaxBoxAcc counting as it was before the component tree (commit ecd5941), kept as the
reference the tree is tested against: each tau thresholds the batch and labels it with one
:func:`scipy.ndimage.label` call (:func:`camlib.boxes.component_rows`), then every component's IoU is taken
with :func:`camlib.boxes.iou`. Used only by the tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from camlib.boxes import component_rows, iou, packed_rows
from camlib.cam import normalize


def per_tau_counts(
    maps: Tensor, gts: Sequence[Tensor], thresholds: Sequence[float], iou_thresholds: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """The (D, T) hits ``(correct_all, correct_largest)`` of one batch of (B, H, W) maps (camlib's convention:
    min-max normalised in float32, ``m >= tau``, 8-connected components, exclusive boxes; a constant map has no
    box), labelled once per tau."""
    taus = np.asarray(thresholds, dtype=np.float64)
    b, h, w = maps.shape
    norm = np.full((b, h + 1, w), -1.0, dtype=np.float32)  # (B, H+1, W): an empty row after each image
    norm[:, :h] = normalize(maps.float()).numpy()  # in [0, 1]
    norm[norm.reshape(b, -1).max(1) <= 0] = -1.0  # constant maps: no pixel passes any tau -> no box
    rows = norm.reshape(b * (h + 1), w)  # (B*(H+1), W), one tall image
    row_max = rows.max(1)
    parts = []
    for t_idx, tau in enumerate(taus.tolist()):
        idx = packed_rows(row_max >= tau)  # non-empty rows and one separator per gap
        image, x1, y1, x2, y2, area = component_rows(rows[idx] >= tau, idx - idx // (h + 1), h)
        parts.append((image + t_idx * b, np.stack([x1, y1, x2, y2], axis=1), area))
    key = np.concatenate([p[0] for p in parts])  # (n,) tau_index * B + image, non-decreasing
    boxes = np.concatenate([p[1] for p in parts]).astype(np.float32)  # (n, 4)
    area = np.concatenate([p[2] for p in parts])  # (n,)
    image = key % b
    order = np.argsort(image, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(image, minlength=b))])
    sorted_boxes = torch.from_numpy(boxes[order])  # (n, 4), grouped by image
    comp_iou = np.zeros(key.size, dtype=np.float32)
    for i in range(b):
        if bounds[i + 1] > bounds[i]:
            ious = iou(sorted_boxes[bounds[i] : bounds[i + 1]], gts[i].float())  # (n_i, G_i)
            comp_iou[order[bounds[i] : bounds[i + 1]]] = ious.amax(1).numpy()
    best_all = np.zeros(taus.size * b, dtype=np.float32)  # (T*B,)
    np.maximum.at(best_all, key, comp_iou)
    max_area = np.zeros(best_all.size, dtype=np.int64)
    np.maximum.at(max_area, key, area)
    cand = np.flatnonzero(area == max_area[key])  # largest components (ties: first in raster order)
    keys, first = np.unique(key[cand], return_index=True)
    best_largest = np.zeros_like(best_all)
    best_largest[keys] = comp_iou[cand[first]]
    correct_all = np.zeros((len(iou_thresholds), taus.size), dtype=np.int64)
    correct_largest = np.zeros_like(correct_all)
    for d, delta in enumerate(iou_thresholds):
        correct_all[d] = (best_all.reshape(-1, b) >= np.float32(delta)).sum(1)  # (T,)
        correct_largest[d] = (best_largest.reshape(-1, b) >= np.float32(delta)).sum(1)
    return correct_all, correct_largest
