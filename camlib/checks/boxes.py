"""Exercise self-checks on boxes: box from a mask, IoU, rescaling a box, the box at a threshold, the paper's box.

Boxes are XYXY ``(x1, y1, x2, y2)`` with exclusive right/bottom edges. The references are computed another way than
the learner would (``torchvision.ops.masks_to_boxes`` / ``box_iou``, scipy's connected components; the paper's box is ``camlib.boxes.largest_component_box``), and each
``Mistake`` names a typical wrong answer (inclusive edges, swapped x/y, a union without the minus ...). ``SPECS``
lists the checks for :data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torchvision.ops as tvops
from scipy import ndimage
from torch import Tensor

from camlib.boxes import largest_component_box
from camlib.checks.runner import CheckResult, CheckSpec, Mistake

_INCLUSIVE = torch.tensor(
    [0.0, 0.0, 1.0, 1.0]
)  # what exclusive right/bottom edges add to torchvision's boxes

# --- 01 / 07 / 10: boxes -----------------------------------------------------------------------------------


def _box_from_mask(mask: Tensor) -> Tensor:
    box = tvops.masks_to_boxes(mask[None])[0]  # inclusive (x1, y1, x2, y2)
    return box + _INCLUSIVE  # exclusive right/bottom edges


def _mask(h: int, w: int, *pixels: tuple[slice | int, slice | int]) -> Tensor:
    m = torch.zeros(h, w, dtype=torch.bool)
    for rows, cols in pixels:
        m[rows, cols] = True
    return m


BOX_FROM_MASK = CheckSpec(
    "check_box_from_mask",
    _box_from_mask,
    [
        (_mask(8, 10, (slice(2, 5), slice(3, 9))),),
        (_mask(6, 6, (0, 0), (5, 2)),),
        (torch.ones(4, 7, dtype=torch.bool),),
    ],
    [
        Mistake(lambda m: _box_from_mask(m) - _INCLUSIVE, "edges are exclusive: x2 = last column + 1"),
        Mistake(
            lambda m: _box_from_mask(m)[[1, 0, 3, 2]],
            "XYXY: x (columns, dim 1) comes first, then y (rows, dim 0)",
        ),
        Mistake(
            lambda m: torch.cat([_box_from_mask(m)[:2], _box_from_mask(m)[2:] - _box_from_mask(m)[:2]]),
            "return corners (x1, y1, x2, y2), not (x, y, width, height)",
        ),
    ],
)


def check_box_from_mask(fn: Callable[[Tensor], Tensor]) -> CheckResult:
    """Exercise: ``fn(mask (H, W) bool) -> (4,) float XYXY box`` with exclusive right/bottom edges."""
    return BOX_FROM_MASK.run(fn)


def _iou(a: Tensor, b: Tensor) -> float:
    return float(tvops.box_iou(a[None].float(), b[None].float())[0, 0])


def _inter(a: Tensor, b: Tensor) -> float:
    w = min(float(a[2]), float(b[2])) - max(float(a[0]), float(b[0]))
    h = min(float(a[3]), float(b[3])) - max(float(a[1]), float(b[1]))
    return w * h  # NOT clamped: negative widths multiply to a positive "overlap" for disjoint boxes


def _area(a: Tensor) -> float:
    return float((a[2] - a[0]) * (a[3] - a[1]))


_t = torch.tensor
IOU = CheckSpec(
    "check_iou",
    _iou,
    [
        (_t([0.0, 0, 10, 10]), _t([5.0, 5, 15, 15])),
        (_t([0.0, 0, 10, 10]), _t([0.0, 0, 10, 10])),
        (_t([0.0, 0, 4, 4]), _t([6.0, 6, 9, 9])),
        (_t([2.0, 1, 8, 5]), _t([4.0, 0, 6, 9])),
    ],
    [
        Mistake(
            lambda a, b: max(_inter(a, b), 0.0) / (_area(a) + _area(b)),
            "the union is area_a + area_b MINUS the intersection",
        ),
        Mistake(
            lambda a, b: _inter(a, b) / (_area(a) + _area(b) - _inter(a, b)),
            "clamp the overlap at 0 for disjoint boxes",
        ),
        Mistake(lambda a, b: max(_inter(a, b), 0.0) / _area(a), "divide by the union, not by one box's area"),
    ],
)


def check_iou(fn: Callable[[Tensor, Tensor], float]) -> CheckResult:
    """Exercise: ``fn(box_a (4,), box_b (4,)) -> IoU`` (a float) of two XYXY boxes with exclusive edges."""
    return IOU.run(fn)


def _scale_box(box: Tensor, old: tuple[int, int], new: tuple[int, int]) -> Tensor:
    sy, sx = new[0] / old[0], new[1] / old[1]
    return box * torch.tensor([sx, sy, sx, sy])


SCALE_BOX = CheckSpec(
    "check_scale_box",
    _scale_box,
    [(_t([10.0, 20, 110, 220]), (400, 200), (100, 100)), (_t([0.0, 0, 50, 50]), (50, 100), (224, 224))],
    [
        Mistake(
            lambda b, o, n: b * _t([n[0] / o[0], n[1] / o[1]] * 2),
            "x scales with the WIDTH, y with the HEIGHT",
        ),
        Mistake(lambda b, o, n: b * (n[0] / o[0]), "width and height may scale differently"),
        Mistake(
            lambda b, o, n: b * _t([o[1] / n[1], o[0] / n[0]] * 2), "the factor is new / old, not old / new"
        ),
    ],
)


def check_scale_box(fn: Callable[[Tensor, tuple[int, int], tuple[int, int]], Tensor]) -> CheckResult:
    """Exercise: ``fn(box (4,), (H, W) before, (H', W') after resizing) -> the (4,) box in the resized image``."""
    return SCALE_BOX.run(fn)


def _largest_component_box(cam: Tensor, tau: float, structure: Any = None) -> Tensor:
    keep = (cam >= tau).numpy()
    labels, n = ndimage.label(keep, structure=np.ones((3, 3)) if structure is None else structure)
    if n == 0:
        return torch.zeros(4)
    sizes = np.bincount(labels.ravel())[1:]
    return _box_from_mask(torch.from_numpy(labels == 1 + int(sizes.argmax())))


def _four_connected(cam: Tensor, tau: float) -> Tensor:
    return _largest_component_box(cam, tau, structure=np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]))


def _box_at_threshold_cases() -> list[tuple[Tensor, float]]:
    a = torch.zeros(10, 12)
    a[1:4, 1:4] = 0.9  # 9 pixels
    a[5:9, 6:11] = 0.6  # 20 pixels: the largest above 0.5
    b = torch.zeros(8, 8)
    b[torch.arange(6), torch.arange(6)] = 1.0  # a 6-pixel diagonal: ONE component only with 8-connectivity
    b[0:2, 6:8] = 0.5  # a 4-pixel block
    c = torch.linspace(0, 1, 36).view(6, 6)
    d = torch.zeros(6, 6)
    d[1:5, 1:5] = 0.5  # 16 pixels exactly at tau: kept by cam >= tau
    d[0, 5] = 0.9  # one pixel above
    return [(a, 0.5), (a, 0.95), (b, 0.5), (c, 0.5), (d, 0.5)]


BOX_AT_THRESHOLD = CheckSpec(
    "check_box_at_threshold",
    _largest_component_box,
    _box_at_threshold_cases(),
    [
        Mistake(
            _four_connected,
            "pixels that touch diagonally are connected: use 8-connectivity (a 3x3 structure of ones)",
        ),
        Mistake(
            lambda m, t: _box_from_mask(m >= t) if bool((m >= t).any()) else torch.zeros(4),
            "keep the LARGEST component only",
        ),
        Mistake(
            lambda m, t: _largest_component_box(m, t) - _INCLUSIVE * float(bool((m >= t).any())),
            "edges are exclusive: x2 = last column + 1",
        ),
        Mistake(
            lambda m, t: _largest_component_box(m, t + 1e-6) if bool((m > t).any()) else torch.zeros(4),
            "keep the pixels with cam >= tau (a pixel exactly at tau is kept), not only cam > tau",
        ),
    ],
)


def check_box_at_threshold(fn: Callable[[Tensor, float], Tensor]) -> CheckResult:
    """Exercise (the paper's rule): ``fn(cam (H, W) in [0, 1], tau) -> (4,)`` float box of the largest
    8-connected component of ``cam >= tau``, XYXY with exclusive edges; ``(0, 0, 0, 0)`` when nothing is kept."""
    return BOX_AT_THRESHOLD.run(fn)


# --- 07: the paper's rule on a raw map ----------------------------------------------------------------------


def _paper_box_cases() -> list[tuple[Tensor, float]]:
    a = torch.full((10, 12), -2.0)  # a raw CAM: negative evidence around the object
    a[1:4, 1:4] = 3.0  # 9 strong pixels
    a[5:9, 6:11] = 1.0  # 20 weaker pixels: the largest component above 0.2 * 3
    b = torch.full((8, 8), -0.5)
    b[torch.arange(6), torch.arange(6)] = 2.0  # a 6-pixel diagonal: ONE component only with 8-connectivity
    b[0:2, 6:8] = 1.0  # a 4-pixel block
    return [(a, 0.2), (b, 0.2), (a, 0.5), (torch.zeros(5, 5), 0.2), (torch.full((4, 6), -1.0), 0.2)]


def _kept_box(cam: Tensor, keep: float) -> Tensor:
    """The box of ALL pixels >= keep (no components)."""
    return _box_from_mask(cam >= keep) if bool((cam >= keep).any()) else torch.zeros(4)


PAPER_BOX = CheckSpec(
    "check_paper_box",
    lambda cam, fraction: largest_component_box(cam, fraction),
    _paper_box_cases(),
    [
        Mistake(  # before the min-max mistake: on a map of zeros both give the whole image
            lambda m, f: (
                _kept_box(m, f * float(m.max())) if float(m.max()) <= 0 else largest_component_box(m, f)
            ),
            "a map whose max is <= 0 has no positive evidence, hence no box: return (0, 0, 0, 0)",
        ),
        Mistake(
            lambda m, f: _largest_component_box(m, float(m.min() + f * (m.max() - m.min()))),
            "the paper's threshold is a fraction of the MAX (cam >= fraction * cam.max()), not of the min-max "
            "range min + fraction * (max - min)",
        ),
        Mistake(
            lambda m, f: _kept_box(m, f * float(m.max())),
            "keep the LARGEST connected component only, not the box around every kept pixel",
        ),
        Mistake(
            lambda m, f: _four_connected(m, f * float(m.max())),
            "pixels that touch diagonally are connected: use 8-connectivity (a 3x3 structure of ones)",
        ),
        Mistake(
            lambda m, f: largest_component_box(m, f) - _INCLUSIVE * float(bool(m.max() > 0)),
            "edges are exclusive: x2 = last column + 1",
        ),
    ],
)


def check_paper_box(fn: Callable[[Tensor, float], Tensor]) -> CheckResult:
    """Exercise (Zhou et al., Sec. 3.1): ``fn(cam (H, W) raw, fraction) -> (4,)`` float box of the largest
    8-connected component of ``cam >= fraction * cam.max()``, XYXY, exclusive edges; zeros when max <= 0."""
    return PAPER_BOX.run(fn)


SPECS = (BOX_FROM_MASK, IOU, SCALE_BOX, BOX_AT_THRESHOLD, PAPER_BOX)
