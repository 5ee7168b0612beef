"""Exercise self-checks of the first notebooks: the CAM identity (00), boxes of a batch of masks (01), the FC head's
parameters (02).

Each is a :class:`~camlib.checks.runner.CheckSpec` (reference, cases, typical mistakes with their messages) and a
``check_*`` function; ``SPECS`` lists them for :data:`camlib.checks.CATALOGUE`. The references are computed another
way than the exercise asks (torchvision's ``masks_to_boxes``, camlib's ``FCNet``), so a right answer written the
natural way is compared with an independent one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision.ops as tvops
from torch import Tensor

from camlib.checks.runner import CheckResult, CheckSpec, Mistake
from camlib.models import FCNet, NetConfig, count_parameters


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- 00: the CAM identity S_c = mean_xy M_c + b_c ---------------------------------------------------------


def _maps(f: Tensor, w: Tensor) -> Tensor:
    return torch.einsum("ck,bkhw->bchw", w, f)  # (B, C, h, w)


def _scores(f: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    return _maps(f, w), f.mean(dim=(-2, -1)) @ w.T + b  # the GAP head's logits, computed without the maps


CAM_SCORES = CheckSpec(
    "check_cam_scores",
    _scores,
    [
        (
            torch.randn(2, 3, 3, 3, generator=_gen(40)),
            torch.randn(3, 3, generator=_gen(41)),
            torch.randn(3, generator=_gen(42)),
        ),
        (
            torch.randn(1, 4, 2, 5, generator=_gen(43)),
            torch.randn(6, 4, generator=_gen(44)),
            torch.randn(6, generator=_gen(45)),
        ),
    ],  # fmt: skip
    [
        Mistake(
            lambda f, w, b: (_maps(f, w), _maps(f, w).mean(dim=(-2, -1))),
            "add the bias: S_c = mean M_c + b_c",
        ),
        Mistake(
            lambda f, w, b: (_maps(f, w), _maps(f, w).sum(dim=(-2, -1)) + b),
            "the score is the MEAN of the map (the network pools with a mean); the paper's sum is h*w times larger",
        ),
        Mistake(
            lambda f, w, b: (_maps(f, w), _maps(f, w).amax(dim=(-2, -1)) + b),
            "that is the map's max (what GMP would pool): a GAP network's score is the map's mean",
        ),
        Mistake(
            lambda f, w, b: (_maps(f, w.T), _maps(f, w.T).mean(dim=(-2, -1)) + b),
            "weight is (C, K): class c's weights are the row weight[c], so M_c = sum_k weight[c, k] f_k",
        ),
        Mistake(
            lambda f, w, b: (_maps(f, w).clamp_min(0), _maps(f, w).clamp_min(0).mean(dim=(-2, -1)) + b),
            "no ReLU: the raw maps keep their negative evidence, and only then does their mean give the score",
        ),
    ],
)


def check_cam_scores(fn: Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]) -> CheckResult:
    """Exercise: ``fn(features (B, K, h, w), weight (C, K), bias (C,)) -> (maps (B, C, h, w), scores (B, C))``: the
    raw CAM of every class and the class scores rebuilt from them, ``mean_xy M_c + b_c``."""
    return CAM_SCORES.run(fn)


# --- 01: the boxes of a batch of masks ---------------------------------------------------------------------

_EXCLUSIVE = torch.tensor([0.0, 0.0, 1.0, 1.0])


def _boxes(masks: Tensor) -> Tensor:
    return tvops.masks_to_boxes(masks) + _EXCLUSIVE  # (N, 4), torchvision's edges are inclusive


def _masks_cases() -> list[tuple[Tensor]]:
    a = torch.zeros(3, 6, 8, dtype=torch.bool)
    a[0, 1:4, 2:7] = True  # a block
    a[1, 5, 7] = True  # one pixel in the bottom right corner: x2 = 8 = W, y2 = 6 = H
    a[2, 0, 0] = a[2, 4, 3] = True  # two pixels: the box spans both
    b = torch.rand(4, 9, 7, generator=_gen(46)) > 0.8
    b[:, 4, 3] = True  # every mask has a True pixel
    return [(a,), (b,), (torch.ones(1, 5, 5, dtype=torch.bool),)]


def _swap_xy(boxes: Tensor) -> Tensor:
    return boxes[:, [1, 0, 3, 2]]


BATCH_BOXES = CheckSpec(
    "check_batch_boxes",
    _boxes,
    _masks_cases(),
    [
        Mistake(
            lambda m: _boxes(m) - _EXCLUSIVE, "edges are exclusive: x2 = last column + 1, y2 = last row + 1"
        ),
        Mistake(
            lambda m: _swap_xy(_boxes(m)),
            "XYXY: x (the columns, dim 2 of (N, H, W)) comes first, then y (rows)",
        ),
        Mistake(
            lambda m: torch.cat([_boxes(m)[:, :2], _boxes(m)[:, 2:] - _boxes(m)[:, :2]], dim=1),
            "return corners (x1, y1, x2, y2), not (x, y, width, height)",
        ),
        Mistake(
            lambda m: _boxes(m.any(dim=0, keepdim=True)).expand(m.shape[0], 4),
            "one box per mask: reduce over each mask's own rows and columns, not over the whole batch",
        ),
    ],
)


def check_batch_boxes(fn: Callable[[Tensor], Tensor]) -> CheckResult:
    """Exercise: ``fn(masks (N, H, W) bool) -> (N, 4) float``, the XYXY box of each mask with exclusive right and
    bottom edges; every mask has at least one True pixel."""
    return BATCH_BOXES.run(fn)


# --- 02: the parameters of an FC head ----------------------------------------------------------------------


def _fc_head(k: int, grid: int, hidden: tuple[int, ...], c: int) -> int:
    with torch.device("meta"):  # shapes only: VGG's 4096-unit head needs no memory
        net = FCNet(c, NetConfig(widths=(k,), downsample=1), hidden=hidden, grid=grid)
    return count_parameters(net.classifier)


def _layers(
    k: int, grid: int, hidden: tuple[int, ...], c: int, *, bias: int = 1, chained: bool = True
) -> int:
    widths = [k * grid * grid, *hidden, c]
    ins = widths[:-1] if chained else [widths[0]] * (len(widths) - 1)
    return sum(i * o + bias * o for i, o in zip(ins, widths[1:], strict=True))


FC_HEAD = CheckSpec(
    "check_fc_head_params",
    _fc_head,
    [(128, 4, (256, 256), 6), (512, 7, (4096, 4096), 1000), (3, 1, (), 2), (16, 2, (8,), 5)],
    [
        Mistake(
            lambda k, g, h, c: _layers(k, g, h, c, bias=0), "every Linear layer also has one bias per output"
        ),
        Mistake(
            lambda k, g, h, c: _layers(k, g, h, c, chained=False),
            "each layer reads the previous layer's output: only the first reads the flattened map",
        ),
        Mistake(
            lambda k, g, h, c: _layers(k, g, h, c) - (h[-1] if h else k * g * g) * c - c,
            "count the last layer too, the one from the last hidden width to the num_classes scores",
        ),
        Mistake(
            lambda k, g, h, c: _layers(k, 1, h, c),
            "flattening keeps every position: the first layer reads k*grid*grid numbers, not k",
        ),
    ],
)


def check_fc_head_params(fn: Callable[[int, int, tuple[int, ...], int], int]) -> CheckResult:
    """Exercise: ``fn(k, grid, hidden, num_classes) -> int``, the parameters of an FC head like ``FCNet``'s: flatten
    (k, grid, grid), then ``Linear`` layers of widths ``hidden``, then one to ``num_classes`` (biases included)."""
    return FC_HEAD.run(fn)


SPECS = (CAM_SCORES, BATCH_BOXES, FC_HEAD)
