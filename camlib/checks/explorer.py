"""Exercise self-checks of notebook 06: what the explorer's controls compute, written by the learner.

- ``check_iou_curve``: the IoU-vs-τ curve of one map and its best τ (the explorer's curve control). The reference
  takes every τ's box from one component tree (:func:`camlib.metrics.component_boxes_at_thresholds`), not one
  labelling per τ as the learner does.
- ``check_erase_part``: the model's logits and prediction once a box of the image is blanked (the explorer's erase
  control), on a small seeded :class:`camlib.models.GAPNet`.

Boxes are XYXY with exclusive right/bottom edges. ``SPECS`` lists the checks for :data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from camlib.boxes import iou, largest_component_box
from camlib.checks.runner import CheckResult, CheckSpec, Mistake
from camlib.metrics import component_boxes_at_thresholds

# --- the IoU-vs-tau curve and its best tau ------------------------------------------------------------------


def _curve_of(boxes: Tensor, gt: Tensor) -> Tensor:
    """(T,) float32 IoU of each of the (T, 4) boxes with the (4,) GT box (an empty box has IoU 0)."""
    return iou(boxes, gt[None])[:, 0].float()


def _iou_curve(cam: Tensor, gt: Tensor, taus: Tensor) -> tuple[Tensor, float]:
    boxes = torch.from_numpy(component_boxes_at_thresholds(cam, taus.tolist()).largest)  # (T, 4)
    curve = _curve_of(boxes, gt)
    return curve, float(taus[int(curve.argmax())])  # argmax: the first (smallest) tau among equal IoUs


def _per_tau(cam: Tensor, gt: Tensor, taus: Tensor, box: Callable[[Tensor, float], Tensor]) -> Tensor:
    return _curve_of(torch.stack([box(cam, float(t)) for t in taus]), gt)


def _all_pixels_box(cam: Tensor, tau: float) -> Tensor:
    keep = cam >= tau * cam.max()
    if not bool(keep.any()) or float(cam.max()) <= 0:
        return torch.zeros(4)
    ys, xs = torch.nonzero(keep, as_tuple=True)
    return torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()


def _minmax_box(cam: Tensor, tau: float) -> Tensor:
    lo, hi = float(cam.min()), float(cam.max())
    return largest_component_box(cam >= lo + tau * (hi - lo)) if hi > lo else torch.zeros(4)


def _strict_box(cam: Tensor, tau: float) -> Tensor:
    return largest_component_box(cam > tau * cam.max()) if float(cam.max()) > 0 else torch.zeros(4)


def _with_best(curve: Tensor, taus: Tensor, last: bool = False) -> tuple[Tensor, float]:
    best = len(curve) - 1 - int(curve.flip(0).argmax()) if last else int(curve.argmax())
    return curve, float(taus[best])


def _iou_curve_cases() -> list[tuple[Tensor, Tensor, Tensor]]:
    a = torch.full((16, 16), -1.0)  # a raw map: negative evidence around the object
    a[2:6, 2:6] = 3.0  # the object's strong core (16 pixels), inside the GT box
    a[1:8, 1:8].clamp_(min=1.2)  # ... and its weaker extent
    a[10:16, 9:16] = 1.0  # a larger weak blob off the object (42 pixels)
    gt_a = torch.tensor([1.0, 1.0, 8.0, 8.0])
    b = torch.zeros(12, 12)
    b[3:9, 3:9] = 0.5  # a plateau: the same box, hence the same IoU, for every tau up to 0.5
    b[5, 5] = 1.0  # the peak, inside the GT box
    b[0:2, 10:12] = 0.8  # a small far blob
    gt_b = torch.tensor([2.0, 2.0, 9.0, 9.0])
    grid = torch.linspace(0, 1, 21)  # 0, 0.05, ..., 1: the explorer's slider steps
    return [(a, gt_a, grid), (b, gt_b, grid), (a, gt_a, torch.tensor([0.1, 0.2, 0.5, 0.9, 1.0]))]


IOU_CURVE = CheckSpec(
    "check_iou_curve",
    _iou_curve,
    _iou_curve_cases(),
    [
        Mistake(
            lambda m, g, t: _with_best(_iou_curve(m, g, t)[0], t, last=True),
            "on ties take the FIRST (smallest) tau with the best IoU, as argmax does (the app marks that one)",
        ),
        Mistake(
            lambda m, g, t: (_iou_curve(m, g, t)[0], float(_iou_curve(m, g, t)[0].max())),
            "return the tau where the IoU is best, not the best IoU itself",
        ),
        Mistake(
            lambda m, g, t: _with_best(_per_tau(m, g, t, _all_pixels_box), t),
            "box the LARGEST connected component only (the paper's rule), not every pixel above the threshold",
        ),
        Mistake(
            lambda m, g, t: _with_best(_per_tau(m, g, t, _minmax_box), t),
            "the paper's rule keeps m >= tau * max(m), not the min-max threshold min + tau (max - min)",
        ),
        Mistake(
            lambda m, g, t: _with_best(_per_tau(m, g, t, _strict_box), t),
            "keep m >= tau * max(m): at tau = 1 the peak itself is kept (>=, not >)",
        ),
    ],
)


def check_iou_curve(fn: Callable[[Tensor, Tensor, Tensor], tuple[Tensor, float]]) -> CheckResult:
    """Exercise (the explorer's IoU-vs-tau curve): ``fn(cam (H, W) raw, gt_box (4,), taus (T,)) -> (ious (T,),
    best_tau)``: the IoU with the GT box of the paper's box (the largest 8-connected component of
    ``cam >= tau * max(cam)``) at every tau, and the first tau with the best IoU."""
    return IOU_CURVE.run(fn)


# --- erase a part: the logits of the blanked image ----------------------------------------------------------


def _blank(image: Tensor, box: Tensor, fill: Tensor, inclusive: bool = False, swap: bool = False) -> Tensor:
    """A copy of the (3, H, W) image with the box's pixels set to the (3,) ``fill`` colour."""
    x1, y1, x2, y2 = (int(v) for v in box.tolist())
    if swap:
        x1, y1, x2, y2 = y1, x1, y2, x2
    end = 1 if inclusive else 0
    out = image.clone()
    out[:, y1 : y2 + end, x1 : x2 + end] = fill[:, None, None]
    return out


def _logits(model: nn.Module, image: Tensor) -> tuple[Tensor, int]:
    with torch.no_grad():
        z = model(image[None])[0]  # (C,)
    return z, int(z.argmax())


def _erase_part(model: nn.Module, image: Tensor, box: Tensor, fill: Tensor) -> tuple[Tensor, int]:
    return _logits(model, _blank(image, box, fill))


def _outside(image: Tensor, box: Tensor, fill: Tensor) -> Tensor:
    keep = _blank(torch.zeros_like(image), box, torch.ones_like(fill)).bool()  # (3, H, W) True in the box
    return torch.where(keep, image, fill[:, None, None])


def _erase_cases() -> list[tuple[nn.Module, Tensor, Tensor, Tensor]]:
    from camlib.models import GAPNet, NetConfig

    with torch.random.fork_rng(devices=[]):  # building the cases never moves the notebook's random state
        torch.manual_seed(6)
        model = GAPNet(4, NetConfig(widths=(8, 16), downsample=2)).eval()
        images = torch.rand(2, 3, 24, 24)
        for p in model.parameters():  # a random network whose logits move visibly with a few pixels
            p.data.mul_(3.0)
    grey = torch.tensor([0.5, 0.5, 0.5])
    return [
        (model, images[0], torch.tensor([4.0, 2.0, 14.0, 9.0]), grey),  # a wide box: x and y differ
        (model, images[1], torch.tensor([0.0, 10.0, 6.0, 24.0]), torch.tensor([0.2, 0.4, 0.6])),
        (model, images[1], torch.tensor([8.0, 8.0, 8.0, 8.0]), grey),  # an empty box: nothing is erased
    ]


ERASE_PART = CheckSpec(
    "check_erase_part",
    _erase_part,
    _erase_cases(),
    [
        Mistake(
            lambda n, i, b, f: _logits(n, i),
            "run the model on the ERASED image (a copy with the box blanked), not on the original",
        ),
        Mistake(
            lambda n, i, b, f: _logits(n, _blank(i, b, f, swap=True)),
            "XYXY: x1, x2 are COLUMNS (the last dim of a (3, H, W) image), y1, y2 are rows: image[:, y1:y2, x1:x2]",
        ),
        Mistake(
            lambda n, i, b, f: _logits(n, _blank(i, b, f, inclusive=True)),
            "edges are exclusive: the box covers rows y1 .. y2 - 1 and columns x1 .. x2 - 1 (a slice y1:y2)",
        ),
        Mistake(
            lambda n, i, b, f: _logits(n, _blank(i, b, torch.zeros_like(f))),
            "blank the box with the given colour `fill` (one value per channel), not with 0",
        ),
        Mistake(
            lambda n, i, b, f: _logits(n, _outside(i, b, f)),
            "blank the pixels INSIDE the box and keep the rest of the image",
        ),
        Mistake(
            lambda n, i, b, f: (torch.softmax(_erase_part(n, i, b, f)[0], 0), _erase_part(n, i, b, f)[1]),
            "return the logits (the model's output), not softmax probabilities",
        ),
    ],
)


def check_erase_part(fn: Callable[[nn.Module, Tensor, Tensor, Tensor], tuple[Tensor, int]]) -> CheckResult:
    """Exercise (the explorer's erase control): ``fn(model, image (3, H, W), box (4,), fill (3,)) -> (logits (C,),
    predicted class)`` of the model on a copy of the image whose box (XYXY, exclusive edges) is set to ``fill``."""
    return ERASE_PART.run(fn)


SPECS = (IOU_CURVE, ERASE_PART)
