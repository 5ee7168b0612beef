"""Top-k classification and ILSVRC-style localization errors over a split (definitions: :mod:`camlib.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from camlib.boxes import iou
from camlib.metrics.inputs import BoxesLike, as_box_list


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
        self._counts = dict.fromkeys(("n", "top1", "topk", "loc", "top1_loc", "topk_loc", "hits"), 0)
        self._iou_sum = 0.0
        self._extent = [0.0, 0.0]  # the largest coordinate of the predicted boxes, of the ground-truth boxes

    def _check_scale(self, boxes: Tensor, gts: list[Tensor], ious: Tensor) -> None:
        """Refuse boxes in map pixels against ground truth in image pixels (maps not upsampled): after 8 images,
        every predicted box within half the ground truth's extent and not one localised (IoU >= 0.5)."""
        pred = max(self._extent[0], float(boxes.max()) if boxes.numel() else 0.0)
        gt = max(self._extent[1], max(float(g.max()) for g in gts) if gts else 0.0)
        hits = self._counts["hits"] + int((ious >= 0.5).sum())
        if self._counts["n"] + int(boxes.shape[0]) >= 8 and hits == 0 and 0 < pred <= gt / 2:
            raise ValueError(
                f"the predicted boxes all lie within [0, {pred:g}] px while the ground-truth boxes reach {gt:g} "
                f"px, and none localises its object: the boxes were probably taken from maps at the feature "
                f"map's resolution. Upsample the maps to the image first: camlib.cam.upsample(maps, (H, W))"
            )
        self._extent, self._counts["hits"] = [pred, gt], hits

    def update(self, logits: Tensor, labels: Tensor, boxes: Tensor, gt_boxes: BoxesLike) -> None:
        """Add a batch.

        Args:
            logits: (B, C) class scores.
            labels: (B,) int true classes.
            boxes: (B, 4) boxes from the TRUE class's map (e.g. ``largest_component_box(maps[:, 0])`` of
                ``class_activation_maps(model, x, classes=labels)`` upsampled); see the module docstring.
            gt_boxes: see :func:`as_box_list`.

        Raises:
            ValueError: bad shapes or boxes, or boxes in map pixels against ground truth in image pixels (the
                maps were not upsampled; detected once 8 images are in).
        """
        top1 = topk_correct(logits, labels, 1)
        topk = topk_correct(logits, labels, self.topk)
        if boxes.shape[:1] != labels.shape:
            raise ValueError(
                f"boxes must have shape (B, 4) with B={labels.shape[0]}; got {tuple(boxes.shape)}"
            )
        ious = best_iou(boxes, gt_boxes)  # (B,)
        self._check_scale(boxes.detach().float().cpu(), as_box_list(gt_boxes, boxes.shape[0]), ious)
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
            raise ValueError(
                "no images were measured (an empty dataset, or limit=0?): measure at least one image, i.e. call "
                "update() with a batch before compute()"
            )

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
