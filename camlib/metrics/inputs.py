"""What the metrics share: the tau grid and the checks that turn maps and GT boxes into what they count.

Used by :mod:`camlib.metrics` (localization errors), :mod:`camlib.metrics.boxacc` (MaxBoxAcc) and :mod:`camlib.metrics.pxap`
(PxAP); the definitions are in :mod:`camlib.metrics`. Boxes are XYXY in input pixels with exclusive
right/bottom edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from camlib.boxes import validate_maps

BoxesLike = Tensor | Sequence[Tensor]


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


def as_maps(maps: Tensor) -> Tensor:
    """(B, H, W) or (B, 1, H, W) -> (B, H, W) float, checked (finite, right rank)."""
    if isinstance(maps, Tensor) and maps.dim() == 4:
        if maps.shape[1] != 1:
            raise ValueError(
                f"maps must have shape (B, H, W); got {tuple(maps.shape)}: pick one class's maps with maps[:, k]"
            )
        maps = maps[:, 0]
    validate_maps(maps)
    if maps.dim() != 3:
        raise ValueError(
            f"maps must have shape (B, H, W); got {tuple(maps.shape)} (one map: maps.unsqueeze(0))"
        )
    return maps.detach().float().cpu()
