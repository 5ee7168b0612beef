"""Exercise self-checks on boxes: box from a mask, IoU, rescaling a box, the box at a CAM threshold.

Boxes are XYXY ``(x1, y1, x2, y2)`` with exclusive right/bottom edges. The references are computed another way than
the learner would (``torchvision.ops.masks_to_boxes`` / ``box_iou``, scipy's connected components), and each
``Mistake`` names a typical wrong answer (inclusive edges, swapped x/y, a union without the minus ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torchvision.ops as tvops
from torch import Tensor

from camlib.checks.runner import Mistake, run_check

# --- 01 / 07 / 09: boxes -----------------------------------------------------------------------------------


def _box_from_mask(mask: Tensor) -> Tensor:
    box = tvops.masks_to_boxes(mask[None])[0]  # inclusive (x1, y1, x2, y2)
    return box + torch.tensor([0.0, 0.0, 1.0, 1.0])  # exclusive right/bottom edges


def check_box_from_mask(fn: Callable[[Tensor], Tensor]) -> bool:
    """Exercise: ``fn(mask (H, W) bool) -> (4,) XYXY box`` with exclusive right/bottom edges."""
    m1 = torch.zeros(8, 10, dtype=torch.bool)
    m1[2:5, 3:9] = True
    m2 = torch.zeros(6, 6, dtype=torch.bool)
    m2[0, 0] = m2[5, 2] = True
    m3 = torch.ones(4, 7, dtype=torch.bool)
    cases = [(m1,), (m2,), (m3,)]
    mistakes = [
        Mistake(
            lambda m: _box_from_mask(m) - torch.tensor([0.0, 0, 1, 1]),
            "edges are exclusive: x2 = last column + 1",
        ),
        Mistake(
            lambda m: _box_from_mask(m)[[1, 0, 3, 2]],
            "XYXY: x (columns, dim 1) comes first, then y (rows, dim 0)",
        ),
        Mistake(
            lambda m: torch.cat([_box_from_mask(m)[:2], _box_from_mask(m)[2:] - _box_from_mask(m)[:2]]),
            "return corners (x1, y1, x2, y2), not (x, y, width, height)",
        ),
    ]
    return run_check("check_box_from_mask", fn, _box_from_mask, cases, mistakes)


def _iou(a: Tensor, b: Tensor) -> float:
    return float(tvops.box_iou(a[None].float(), b[None].float())[0, 0])


def check_iou(fn: Callable[[Tensor, Tensor], float]) -> bool:
    """Exercise: ``fn(box_a (4,), box_b (4,)) -> IoU`` of two XYXY boxes (exclusive edges)."""
    t = torch.tensor
    cases = [
        (t([0.0, 0, 10, 10]), t([5.0, 5, 15, 15])),
        (t([0.0, 0, 10, 10]), t([0.0, 0, 10, 10])),
        (t([0.0, 0, 4, 4]), t([6.0, 6, 9, 9])),
        (t([2.0, 1, 8, 5]), t([4.0, 0, 6, 9])),
    ]

    def inter(a: Tensor, b: Tensor) -> float:
        w = min(float(a[2]), float(b[2])) - max(float(a[0]), float(b[0]))
        h = min(float(a[3]), float(b[3])) - max(float(a[1]), float(b[1]))
        return w * h

    def area(a: Tensor) -> float:
        return float((a[2] - a[0]) * (a[3] - a[1]))

    mistakes = [
        Mistake(
            lambda a, b: inter(a, b) / (area(a) + area(b)),
            "the union is area_a + area_b MINUS the intersection",
        ),
        Mistake(
            lambda a, b: inter(a, b) / (area(a) + area(b) - inter(a, b)),
            "clamp the overlap at 0 for disjoint boxes",
        ),
        Mistake(lambda a, b: max(inter(a, b), 0.0) / area(a), "divide by the union, not by one box's area"),
    ]
    return run_check("check_iou", fn, _iou, cases, mistakes)


def check_scale_box(fn: Callable[[Tensor, tuple[int, int], tuple[int, int]], Tensor]) -> bool:
    """Exercise: ``fn(box (4,), (H, W) before, (H', W') after resizing) -> the box in the resized image``."""

    def ref(box: Tensor, old: tuple[int, int], new: tuple[int, int]) -> Tensor:
        sy, sx = new[0] / old[0], new[1] / old[1]
        return box * torch.tensor([sx, sy, sx, sy])

    t = torch.tensor
    cases = [(t([10.0, 20, 110, 220]), (400, 200), (100, 100)), (t([0.0, 0, 50, 50]), (50, 100), (224, 224))]
    mistakes = [
        Mistake(
            lambda b, o, n: b * t([n[0] / o[0], n[1] / o[1]] * 2),
            "x scales with the WIDTH, y with the HEIGHT",
        ),
        Mistake(lambda b, o, n: b * (n[0] / o[0]), "width and height may scale differently"),
    ]
    return run_check("check_scale_box", fn, ref, cases, mistakes)


def _largest_component_box(cam: Tensor, tau: float, structure: Any = None) -> Tensor:
    import numpy as np
    from scipy import ndimage

    keep = (cam >= tau).numpy()
    labels, n = ndimage.label(keep, structure=np.ones((3, 3)) if structure is None else structure)
    if n == 0:
        return torch.zeros(4)
    sizes = np.bincount(labels.ravel())[1:]
    return _box_from_mask(torch.from_numpy(labels == 1 + int(sizes.argmax())))


def check_box_at_threshold(fn: Callable[[Tensor, float], Tensor]) -> bool:
    """Exercise (the paper's rule): ``fn(cam (H, W) in [0, 1], tau) -> (4,)`` box of the largest 8-connected
    component of ``cam >= tau``, XYXY with exclusive edges; ``(0, 0, 0, 0)`` when nothing is kept."""
    a = torch.zeros(10, 12)
    a[1:4, 1:4] = 0.9  # 9 pixels
    a[5:9, 6:11] = 0.6  # 20 pixels: the largest above 0.5
    b = torch.zeros(8, 8)
    b[torch.arange(6), torch.arange(6)] = 1.0  # a 6-pixel diagonal: ONE component only with 8-connectivity
    b[0:2, 6:8] = 0.5  # a 4-pixel block
    c = torch.linspace(0, 1, 36).view(6, 6)
    cases = [(a, 0.5), (a, 0.95), (b, 0.5), (c, 0.5)]
    mistakes = [
        Mistake(
            _four, "pixels that touch diagonally are connected: use 8-connectivity (a 3x3 structure of ones)"
        ),
        Mistake(
            lambda m, t: _box_from_mask(m >= t) if bool((m >= t).any()) else torch.zeros(4),
            "keep the LARGEST component only",
        ),
        Mistake(
            lambda m, t: _largest_component_box(m, t) - torch.tensor([0.0, 0, 1, 1]),
            "edges are exclusive: x2 = last column + 1",
        ),
    ]
    return run_check("check_box_at_threshold", fn, _largest_component_box, cases, mistakes)


def _four(cam: Tensor, tau: float) -> Tensor:
    import numpy as np

    return _largest_component_box(cam, tau, structure=np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]))
