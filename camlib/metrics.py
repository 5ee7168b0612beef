"""Classification and weakly-supervised localization metrics, with accumulators for a whole split.

Definitions (all percentages in 0..100; boxes XYXY in input pixels with exclusive right/bottom edges):

* **Top-k classification error**: % of images whose label is not among the k highest logits.
* **Top-1 localization error** (ILSVRC): an image counts as right when the predicted class is the label AND the
  box from that class's map has IoU >= 0.5 with a ground-truth box. **Top-5**: right when one of the 5 highest
  classes is the label and its map's box has IoU >= 0.5. Only the label can be "right", so both need only the
  box from the TRUE class's map: top-k loc right = (label in top-k) AND (IoU >= 0.5).
* **GT-known localization**: % of images whose box from the true class's map has IoU >= 0.5 (class ignored).
* **BoxAcc(tau, delta)** (Choe et al., CVPR 2020): maps are min-max normalised per image
  (:func:`camlib.cam.normalize`), thresholded at ``tau`` (keep ``m >= tau``), and boxed; the % of images whose
  best IoU over (predicted boxes x GT boxes) is >= delta. The tau grid is ``np.arange(0, 1, step)`` as in the
  reference wsolevaluation code (step 0.01 -> 0.00, 0.01, ..., 0.99). A constant map has no box at any tau.
* **MaxBoxAcc** = max_tau BoxAcc(tau, 0.5) with the LARGEST component's box only.
* **MaxBoxAccV2** = mean over delta in {0.3, 0.5, 0.7} of max_tau BoxAcc(tau, delta) with EVERY component's box,
  tau chosen separately per delta.
* **PxAP**: pixels of all maps of the split pooled; at each tau, precision and recall of ``m >= tau`` against
  the masks; AP = sum over taus (high to low) of precision * (increase in recall), as wsolevaluation's
  ``MaskEvaluator`` (histograms over bins [0, s), [s, 2s), ..., [1 - s, 1), [1, 2), [2, 3)). A constant map
  scores the share of positive pixels.

Differences from the reference code, on purpose: maps are not quantised to 8 bits, components are 8-connected
regions from :func:`scipy.ndimage.label` (not OpenCV contours), and the box edges are exclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from camlib.boxes import _components_rows, check_maps, check_tau, iou, packed_rows
from camlib.cam import normalize

BoxesLike = Tensor | Sequence[Tensor]
_CHUNK_PIXELS = 1 << 23  # pixels per labelling call in MaxBoxAccMeter (bounds the label buffer to 32 MB)


def cam_thresholds(step: float = 0.01) -> np.ndarray:
    """The tau grid ``np.arange(0, 1, step)`` of wsolevaluation (step 0.01 -> 100 values, 0.00 .. 0.99).

    >>> cam_thresholds(0.25).tolist()
    [0.0, 0.25, 0.5, 0.75]
    """
    if not 0.0 < step <= 1.0:
        raise ValueError(f"step must be in (0, 1], got {step} (0.01 gives 100 thresholds)")
    return np.arange(0.0, 1.0, step)


def as_box_list(gt_boxes: BoxesLike, batch: int) -> list[Tensor]:
    """Ground-truth boxes as a list of B float32 (n_i, 4) tensors, checked.

    Args:
        gt_boxes: a (B, 4) tensor (one box per image), a (B, G, 4) tensor, or a list of B (n_i, 4) or (4,) tensors.
        batch: B.

    Raises:
        ValueError: wrong length or shape, non-finite values, or an empty box (x2 <= x1 or y2 <= y1).
    """
    if isinstance(gt_boxes, Tensor):
        if gt_boxes.dim() == 2 and gt_boxes.shape[1] == 4:
            boxes = list(gt_boxes.unsqueeze(1))  # B x (1, 4)
        elif gt_boxes.dim() == 3 and gt_boxes.shape[2] == 4:
            boxes = list(gt_boxes)  # B x (G, 4)
        else:
            raise ValueError(
                f"gt_boxes must have shape (B, 4) or (B, G, 4) in XYXY; got {tuple(gt_boxes.shape)} "
                f"(several boxes per image: pass a list of (n_i, 4) tensors)"
            )
    else:
        boxes = [torch.as_tensor(b) for b in gt_boxes]
        boxes = [b.unsqueeze(0) if b.shape == (4,) else b for b in boxes]  # a single (4,) box -> (1, 4)
    if len(boxes) != batch:
        raise ValueError(
            f"gt_boxes has {len(boxes)} entries but there are {batch} maps: pass one entry per image"
        )
    out = []
    for i, b in enumerate(boxes):
        b = torch.as_tensor(b).detach().float().cpu()
        if b.dim() != 2 or b.shape[1] != 4 or b.shape[0] == 0:
            raise ValueError(f"gt_boxes[{i}] must have shape (n, 4) with n >= 1; got {tuple(b.shape)}")
        if not torch.isfinite(b).all() or ((b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])).any():
            raise ValueError(
                f"gt_boxes[{i}] = {b.tolist()} is not a valid XYXY box: need finite x1 < x2 and y1 < y2 "
                f"(exclusive edges: pixels 0..9 -> (0, 0, 10, 10))"
            )
        out.append(b)
    return out


def best_iou(boxes: Tensor, gt_boxes: BoxesLike) -> Tensor:
    """Per image, the best IoU of its predicted box with any of its ground-truth boxes.

    Args:
        boxes: (B, 4) predicted XYXY boxes (the zero box ``(0, 0, 0, 0)`` means "no box" and scores 0).
        gt_boxes: see :func:`as_box_list`.

    Returns:
        (B,) float32 IoUs in [0, 1].

    >>> best_iou(torch.tensor([[0.0, 0, 10, 10]]), [torch.tensor([[0.0, 0, 5, 10], [0, 0, 10, 10]])]).tolist()
    [1.0]
    """
    if not isinstance(boxes, Tensor) or boxes.dim() != 2 or boxes.shape[1] != 4:
        shape = tuple(boxes.shape) if isinstance(boxes, Tensor) else type(boxes).__name__
        raise ValueError(f"boxes must be a (B, 4) XYXY tensor; got {shape}")
    gts = as_box_list(gt_boxes, boxes.shape[0])
    pred = boxes.detach().float().cpu()
    return torch.stack([iou(pred[i : i + 1], g).amax() for i, g in enumerate(gts)]) if gts else torch.zeros(0)


def topk_correct(logits: Tensor, labels: Tensor, k: int = 1) -> Tensor:
    """(B,) bool: the label is among the ``min(k, C)`` highest logits (ties: lowest class index first).

    >>> topk_correct(torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]]), torch.tensor([2, 2]), k=2).tolist()
    [True, True]
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (B, C); got {tuple(logits.shape)}")
    if labels.shape != (logits.shape[0],):
        raise ValueError(f"labels must have shape (B,) = ({logits.shape[0]},); got {tuple(labels.shape)}")
    top = logits.detach().topk(min(k, logits.shape[1]), dim=1).indices  # (B, k)
    return (top == labels.to(top.device)[:, None]).any(1).cpu()


@dataclass(frozen=True)
class LocalizationResult:
    """Classification and ILSVRC-style localization scores over a split, in %.

    Attributes:
        top1_cls_err, top5_cls_err: classification errors.
        top1_loc_err, top5_loc_err: localization errors (class right AND IoU >= ``iou_threshold``).
        gt_known_loc: GT-known localization ACCURACY (IoU >= ``iou_threshold`` with the true class's box).
        mean_iou: mean best IoU of the true class's box, in [0, 1].
        num_images: images seen.
    """

    top1_cls_err: float
    top5_cls_err: float
    top1_loc_err: float
    top5_loc_err: float
    gt_known_loc: float
    mean_iou: float
    num_images: int


class LocalizationMeter:
    """Accumulates top-1 / top-5 classification and localization errors and GT-known localization.

    Example:
        >>> meter = LocalizationMeter()
        >>> meter.update(torch.tensor([[2.0, 1.0]]), torch.tensor([0]), torch.tensor([[0.0, 0, 4, 4]]),
        ...              torch.tensor([[0.0, 0, 4, 2]]))
        >>> r = meter.compute()
        >>> r.top1_cls_err, r.gt_known_loc, r.top1_loc_err
        (0.0, 100.0, 0.0)
    """

    def __init__(self, iou_threshold: float = 0.5, topk: int = 5) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        self.iou_threshold, self.topk = iou_threshold, topk
        self.reset()

    def reset(self) -> None:
        self._counts = dict.fromkeys(("n", "top1", "topk", "loc", "top1_loc", "topk_loc"), 0)
        self._iou_sum = 0.0

    def update(self, logits: Tensor, labels: Tensor, boxes: Tensor, gt_boxes: BoxesLike) -> None:
        """Add a batch.

        Args:
            logits: (B, C) class scores.
            labels: (B,) int true classes.
            boxes: (B, 4) boxes from the TRUE class's map (e.g. ``largest_component_box(maps[:, 0])`` of
                ``class_activation_maps(model, x, classes=labels)`` upsampled); see the module docstring.
            gt_boxes: see :func:`as_box_list`.
        """
        top1 = topk_correct(logits, labels, 1)
        topk = topk_correct(logits, labels, self.topk)
        if boxes.shape[:1] != labels.shape:
            raise ValueError(
                f"boxes must have shape (B, 4) with B={labels.shape[0]}; got {tuple(boxes.shape)}"
            )
        ious = best_iou(boxes, gt_boxes)  # (B,)
        loc = ious >= self.iou_threshold
        for key, hit in (
            ("top1", top1),
            ("topk", topk),
            ("loc", loc),
            ("top1_loc", top1 & loc),
            ("topk_loc", topk & loc),
        ):
            self._counts[key] += int(hit.sum())
        self._counts["n"] += int(labels.shape[0])
        self._iou_sum += float(ious.double().sum())

    def compute(self) -> LocalizationResult:
        n = self._counts["n"]
        if n == 0:
            raise ValueError("no images: call update() before compute()")

        def pct(key: str) -> float:
            return 100.0 * self._counts[key] / n

        return LocalizationResult(
            top1_cls_err=100.0 - pct("top1"),
            top5_cls_err=100.0 - pct("topk"),
            top1_loc_err=100.0 - pct("top1_loc"),
            top5_loc_err=100.0 - pct("topk_loc"),
            gt_known_loc=pct("loc"),
            mean_iou=self._iou_sum / n,
            num_images=n,
        )


def _as_maps(maps: Tensor) -> Tensor:
    """(B, H, W) or (B, 1, H, W) -> (B, H, W) float, checked (finite, right rank)."""
    if isinstance(maps, Tensor) and maps.dim() == 4:
        if maps.shape[1] != 1:
            raise ValueError(
                f"maps must have shape (B, H, W); got {tuple(maps.shape)}: pick one class's maps with maps[:, k]"
            )
        maps = maps[:, 0]
    check_maps(maps)
    if maps.dim() != 3:
        raise ValueError(
            f"maps must have shape (B, H, W); got {tuple(maps.shape)} (one map: maps.unsqueeze(0))"
        )
    return maps.detach().float().cpu()


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
            check_tau(t)
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
        maps = _as_maps(maps)  # (B, H, W)
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
            image, x1, y1, x2, y2, area = _components_rows(rows[idx] >= tau, idx - idx // (h + 1), h)
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
    """MaxBoxAcc (%) of (B, H, W) maps; see :class:`MaxBoxAccMeter` and the module docstring."""
    meter = MaxBoxAccMeter(step=step, iou_thresholds=(0.5,))
    meter.update(maps, gt_boxes)
    return meter.compute().max_box_acc


def max_box_acc_v2(maps: Tensor, gt_boxes: BoxesLike, step: float = 0.01) -> float:
    """MaxBoxAccV2 (%) of (B, H, W) maps, deltas (0.3, 0.5, 0.7); see :class:`MaxBoxAccMeter`."""
    meter = MaxBoxAccMeter(step=step)
    meter.update(maps, gt_boxes)
    return meter.compute().max_box_acc_v2


@dataclass(frozen=True)
class PxAPResult:
    """PxAP (%) and its precision-recall curve.

    Attributes:
        pxap: area under the PR curve, in %.
        thresholds: (P,) taus, high to low, at which some pixel is predicted positive.
        precision: (P,) pixel precision of ``m >= tau`` at each tau, in [0, 1].
        recall: (P,) pixel recall at each tau, in [0, 1].
        num_pixels: pixels counted (ignored pixels excluded).
    """

    pxap: float
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    num_pixels: int


class PxAPMeter:
    """Accumulates histograms of normalised map values over positive and negative pixels (wsolevaluation).

    Args:
        step: bin width; the tau grid is ``np.arange(0, 1, step)`` plus the edges 1, 2, 3 of the reference.

    Example:
        >>> meter = PxAPMeter()
        >>> mask = torch.zeros(1, 4, 4, dtype=torch.bool)
        >>> mask[0, :2] = True
        >>> meter.update(mask.float(), mask)
        >>> meter.compute().pxap
        100.0
    """

    def __init__(self, step: float = 0.01) -> None:
        self.edges = np.append(cam_thresholds(step), [1.0, 2.0, 3.0])  # bins [0, s), ..., [1, 2), [2, 3)
        self.reset()

    def reset(self) -> None:
        self._pos = np.zeros(self.edges.size - 1, dtype=np.int64)
        self._neg = np.zeros(self.edges.size - 1, dtype=np.int64)

    def _hist(self, values: np.ndarray) -> np.ndarray:
        bins = np.searchsorted(self.edges, values, side="right") - 1  # bin i = [edges[i], edges[i+1])
        return np.bincount(bins, minlength=self.edges.size - 1)

    def update(self, maps: Tensor, masks: Tensor, ignore: Tensor | None = None) -> None:
        """Add a batch.

        Args:
            maps: (B, H, W) or (B, 1, H, W) maps at image resolution; min-max normalised here.
            masks: (B, H, W) bool ground-truth foreground.
            ignore: optional (B, H, W) bool pixels to leave out (wsolevaluation's "ignore" regions).
        """
        norm = normalize(_as_maps(maps)).numpy()  # (B, H, W)
        for name, m in (("masks", masks), ("ignore", ignore)):
            if m is not None and (
                not isinstance(m, Tensor) or m.dtype != torch.bool or m.shape != norm.shape
            ):
                got = f"{m.dtype} {tuple(m.shape)}" if isinstance(m, Tensor) else type(m).__name__
                raise ValueError(
                    f"{name} must be a bool tensor of the maps' shape {norm.shape}; got {got} "
                    f"(use masks > 0.5, and upsample the maps to the mask size)"
                )
        pos = masks.detach().cpu().numpy()
        keep = ~ignore.detach().cpu().numpy() if ignore is not None else np.ones_like(pos)
        self._pos += self._hist(norm[pos & keep])
        self._neg += self._hist(norm[~pos & keep])

    def compute(self) -> PxAPResult:
        num_pos = int(self._pos.sum())
        if num_pos + int(self._neg.sum()) == 0:
            raise ValueError("no pixels: call update() before compute()")
        if num_pos == 0:
            raise ValueError("the masks have no positive pixel, so PxAP is undefined: check the masks")
        tp = self._pos[::-1].cumsum()  # pixels >= tau, tau high to low
        fp = self._neg[::-1].cumsum()
        predicted = tp + fp
        precision = np.divide(tp, predicted, out=np.zeros(tp.size), where=predicted > 0)
        recall = tp / num_pos
        ap = float((precision[1:] * np.diff(recall)).sum()) * 100.0
        defined = predicted > 0
        return PxAPResult(
            pxap=ap,
            thresholds=self.edges[:-1][::-1][defined],
            precision=precision[defined],
            recall=recall[defined],
            num_pixels=int(predicted[-1]),
        )


def pxap(maps: Tensor, masks: Tensor, step: float = 0.01) -> float:
    """PxAP (%) of (B, H, W) maps against (B, H, W) bool masks; see :class:`PxAPMeter`."""
    meter = PxAPMeter(step)
    meter.update(maps, masks)
    return meter.compute().pxap
