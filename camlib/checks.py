"""Exercise self-checks: run a learner's function against the reference on several cases, name the mistake.

Each ``check_*`` function takes the learner's function, runs it on a handful of cases (including edge cases),
compares with camlib's reference, prints one verdict line, and returns ``True`` when every case matches. When a
case fails, the learner's output is compared with the typical wrong answers of that exercise (a mean over the
wrong axis, inclusive box edges, a forgotten bias ...) so the hint names what is wrong.

>>> check_gap(lambda f: f.mean(dim=(-2, -1)))
✅ check_gap: correct on 4 cases.
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torchvision.ops as tvops
from torch import Tensor

from camlib.cam import normalize


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: how to compute it and the hint shown when the learner's output matches it."""

    compute: Callable[..., Any]
    hint: str


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, Tensor):
        if not isinstance(a, Tensor):
            try:
                a = torch.as_tensor(a, dtype=b.dtype)
            except (TypeError, ValueError, RuntimeError):
                return False
        return a.shape == b.shape and bool(
            torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5, equal_nan=True)
        )
    if isinstance(b, float):
        try:
            return abs(float(a) - b) <= 1e-4 * max(1.0, abs(b))
        except (TypeError, ValueError):
            return False
    if isinstance(b, tuple):
        return (
            isinstance(a, (tuple, list))
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(a == b)


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}" + (
            f" = {value.tolist()}" if value.numel() <= 8 else ""
        )
    return repr(value)


def run_check(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple[Any, ...]],
    mistakes: Sequence[Mistake] = (),
    verbose: bool = True,
) -> bool:
    """Compare ``fn(*case)`` with ``reference(*case)`` on every case; print a verdict and a hint.

    Returns:
        True when all cases match.
    """
    for i, case in enumerate(cases):
        expected = reference(*case)
        try:
            got = fn(*[c.clone() if isinstance(c, Tensor) else c for c in case])
        except Exception as exc:  # the learner's code raised: show it as a hint, not a traceback
            msg = f"❌ {name}: case {i + 1} raised {type(exc).__name__}: {exc}"
            if verbose:
                print(msg)
            return False
        if _same(got, expected):
            continue
        hint = next((m.hint for m in mistakes if _same(got, m.compute(*case))), None)
        if (
            hint is None
            and isinstance(expected, Tensor)
            and isinstance(got, Tensor)
            and got.shape != expected.shape
        ):
            hint = f"the shape is {tuple(got.shape)} but should be {tuple(expected.shape)}"
        msg = f"❌ {name}: case {i + 1} gave {_describe(got)}, expected {_describe(expected)}."
        if hint:
            msg += f"\n   Hint: {hint}"
        if verbose:
            print(msg)
        return False
    if verbose:
        print(f"✅ {name}: correct on {len(cases)} cases.")
    return True


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- 00 / 04: logits -> probabilities, accuracy ------------------------------------------------------------


def check_softmax(fn: Callable[[Tensor], Tensor]) -> bool:
    """Exercise: ``fn(logits (B, C)) -> probabilities (B, C)``, each row summing to 1, stable for large logits."""
    cases = [
        (torch.tensor([[1.0, 2.0, 3.0]]),),
        (torch.randn(4, 6, generator=_gen(0)),),
        (torch.tensor([[1000.0, 0.0], [0.0, -1000.0]]),),
    ]
    mistakes = [
        Mistake(
            lambda z: torch.softmax(z, dim=0),
            "normalise over the classes (dim=1), not over the batch (dim=0)",
        ),
        Mistake(
            lambda z: z.exp() / z.exp().sum(), "divide each row by its own sum: .sum(dim=1, keepdim=True)"
        ),
        Mistake(
            lambda z: z / z.sum(dim=1, keepdim=True), "exponentiate first: softmax is exp(z) / sum(exp(z))"
        ),
        Mistake(
            lambda z: z.exp() / z.exp().sum(dim=1, keepdim=True),
            "exp(1000) overflows to inf and inf/inf is NaN: subtract each row's max before exp",
        ),
    ]
    return run_check("check_softmax", fn, lambda z: torch.softmax(z, dim=1), cases, mistakes)


def check_accuracy(fn: Callable[[Tensor, Tensor], float]) -> bool:
    """Exercise: ``fn(logits (B, C), labels (B,)) -> accuracy in percent`` (a float in 0..100)."""
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.9], [1.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 2])

    def ref(z: Tensor, y: Tensor) -> float:
        return float((z.argmax(dim=1) == y).float().mean() * 100)

    cases = [(logits, labels), (torch.randn(10, 5, generator=_gen(1)), torch.arange(10) % 5)]
    mistakes = [
        Mistake(
            lambda z, y: float((z.argmax(dim=1) == y).float().mean()), "report a percentage: multiply by 100"
        ),
        Mistake(
            lambda z, y: (
                float((z.argmax(dim=0)[: len(y)] == y).float().mean() * 100) if z.shape[1] >= len(y) else -1.0
            ),
            "take the argmax over the classes (dim=1)",
        ),
        Mistake(
            lambda z, y: float((z.argmax(dim=1) == y).sum()),
            "divide the number of correct images by the batch size",
        ),
    ]
    return run_check("check_accuracy", fn, ref, cases, mistakes)


# --- 02 / 03: the head -------------------------------------------------------------------------------------


def check_fc_params(fn: Callable[[int, int, int, int], int]) -> bool:
    """Exercise: parameters of ``nn.Linear`` on flattened (K, h, w) features with ``hidden`` outputs."""

    def ref(k: int, h: int, w: int, hidden: int) -> int:
        return k * h * w * hidden + hidden

    cases = [(128, 4, 4, 256), (128, 16, 16, 256), (3, 1, 1, 2)]
    mistakes = [
        Mistake(lambda k, h, w, n: k * h * w * n, "a Linear layer also has one bias per output"),
        Mistake(
            lambda k, h, w, n: k * n + n,
            "flattening keeps every position: the input has K*h*w numbers, not K",
        ),
    ]
    return run_check("check_fc_params", fn, ref, cases, mistakes)


def check_gap(fn: Callable[[Tensor], Tensor]) -> bool:
    """Exercise: global average pooling, ``fn(features (B, K, h, w)) -> (B, K)``."""
    cases = [
        (torch.arange(8.0).view(1, 2, 2, 2),),
        (torch.rand(2, 3, 4, 5, generator=_gen(2)),),
        (torch.rand(3, 1, 7, 3, generator=_gen(3)),),
        (torch.randn(1, 4, 1, 1, generator=_gen(4)),),
    ]
    mistakes = [
        Mistake(
            lambda f: f.sum(dim=(-2, -1)),
            "the paper writes a sum; camlib (and nn.AdaptiveAvgPool2d) take the mean",
        ),
        Mistake(
            lambda f: f.amax(dim=(-2, -1)), "that is global MAX pooling: average over the positions instead"
        ),
        Mistake(lambda f: f.mean(dim=1), "average over the spatial dims (-2, -1), not over the channels"),
        Mistake(lambda f: f.mean(dim=-1), "average over BOTH spatial dims: dim=(-2, -1)"),
    ]
    return run_check("check_gap", fn, lambda f: f.mean(dim=(-2, -1)), cases, mistakes)


# --- 05: the CAM sum ---------------------------------------------------------------------------------------


def check_cam(fn: Callable[[Tensor, Tensor, int], Tensor]) -> bool:
    """Exercise: ``fn(features (B, K, h, w), weight (C, K), c) -> M_c (B, h, w)``, raw (no ReLU, no bias)."""

    def ref(f: Tensor, w: Tensor, c: int) -> Tensor:
        return torch.einsum("k,bkhw->bhw", w[c], f)  # (B, h, w)

    square = (torch.randn(2, 4, 3, 3, generator=_gen(7)), torch.randn(4, 4, generator=_gen(8)), 1)  # C == K
    cases = [square, (torch.randn(2, 3, 4, 4, generator=_gen(5)), torch.randn(5, 3, generator=_gen(6)), 2)]
    mistakes = [
        Mistake(
            lambda f, w, c: ref(f, w, c).clamp_min(0), "the raw CAM has no ReLU: keep the negative evidence"
        ),
        Mistake(
            lambda f, w, c: normalize(ref(f, w, c)), "return the raw map: normalisation is a separate step"
        ),
        Mistake(
            lambda f, w, c: torch.einsum("k,bkhw->bhw", w[:, c], f) if w.shape[0] == w.shape[1] else None,
            "weight is (C, K): the class's weights are the row weight[c], not the column",
        ),
        Mistake(lambda f, w, c: f.sum(dim=1), "weigh each channel by w_k^c before summing"),
        Mistake(
            lambda f, w, c: ref(f, w, c).mean(dim=(-2, -1)), "keep the spatial dims: that mean is the logit"
        ),
    ]
    return run_check("check_cam", fn, ref, cases, mistakes)


def check_normalize(fn: Callable[[Tensor], Tensor]) -> bool:
    """Exercise: min-max normalise each map of (B, h, w) to [0, 1]; a constant map gives zeros, not NaN."""
    cases = [
        (torch.tensor([[[1.0, 3.0], [5.0, 9.0]]]),),
        (torch.randn(3, 4, 4, generator=_gen(9)),),
        (torch.full((1, 3, 3), 2.5),),
    ]

    def naive(m: Tensor) -> Tensor:
        lo, hi = m.amin(dim=(-2, -1), keepdim=True), m.amax(dim=(-2, -1), keepdim=True)
        return (m - lo) / (hi - lo)

    mistakes = [
        Mistake(
            lambda m: m / m.amax(dim=(-2, -1), keepdim=True),
            "subtract the minimum first: (m - min) / (max - min)",
        ),
        Mistake(naive, "a constant map has max == min, and 0/0 is NaN: return zeros there (torch.where)"),
        Mistake(
            lambda m: (m - m.min()) / (m.max() - m.min()),
            "normalise each map on its own, not the whole batch",
        ),
    ]
    return run_check("check_normalize", fn, lambda m: normalize(m, "minmax"), cases, mistakes)


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


def check_grad_cam(fn: Callable[[Tensor, Tensor], Tensor]) -> bool:
    """Exercise: ``fn(acts (B, K, h, w), grads (B, K, h, w)) -> ReLU(sum_k alpha_k A_k) (B, h, w)``
    with ``alpha_k = mean_xy grads_k``."""

    def ref(acts: Tensor, grads: Tensor) -> Tensor:
        alpha = grads.mean(dim=(-2, -1))  # (B, K)
        return torch.einsum("bk,bkhw->bhw", alpha, acts).clamp_min(0)  # (B, h, w)

    cases = [
        (torch.rand(1, 3, 4, 4, generator=_gen(10)), torch.randn(1, 3, 4, 4, generator=_gen(11))),
        (torch.rand(2, 5, 3, 6, generator=_gen(12)), torch.randn(2, 5, 3, 6, generator=_gen(13))),
    ]
    mistakes = [
        Mistake(
            lambda a, g: torch.einsum("bk,bkhw->bhw", g.mean(dim=(-2, -1)), a), "Grad-CAM ends with a ReLU"
        ),
        Mistake(
            lambda a, g: (a * g).sum(1).clamp_min(0),
            "weigh each channel by its MEAN gradient, not pixel by pixel",
        ),
        Mistake(
            lambda a, g: torch.einsum("bk,bkhw->bhw", g.sum(dim=(-2, -1)), a).clamp_min(0),
            "alpha is the spatial MEAN of the gradient (the sum is h*w times too large)",
        ),
    ]
    return run_check("check_grad_cam", fn, ref, cases, mistakes)
