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

What lives where:

- :mod:`camlib.boxacc`: MaxBoxAcc and MaxBoxAccV2 (:class:`MaxBoxAccMeter`, :func:`max_box_acc`,
  :func:`max_box_acc_v2`, :class:`BoxAccResult`).
- :mod:`camlib.pxap`: PxAP (:class:`PxAPMeter`, :func:`pxap`, :class:`PxAPResult`).
- :mod:`camlib.metric_inputs`: what they share: the tau grid (:func:`cam_thresholds`) and the checks of maps
  and ground-truth boxes (:func:`as_box_list`).
- here: top-k classification and ILSVRC localization errors (:func:`topk_correct`, :func:`best_iou`,
  :class:`LocalizationMeter`); every name above is importable from here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from camlib.boxacc import BoxAccResult, MaxBoxAccMeter, max_box_acc, max_box_acc_v2
from camlib.boxes import iou
from camlib.metric_inputs import BoxesLike, as_box_list, cam_thresholds
from camlib.pxap import PxAPMeter, PxAPResult, pxap


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


__all__ = [
    "BoxAccResult",
    "BoxesLike",
    "LocalizationMeter",
    "LocalizationResult",
    "MaxBoxAccMeter",
    "PxAPMeter",
    "PxAPResult",
    "as_box_list",
    "best_iou",
    "cam_thresholds",
    "max_box_acc",
    "max_box_acc_v2",
    "pxap",
    "topk_correct",
]
