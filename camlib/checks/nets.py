"""Exercise self-checks on the network's computations: softmax, accuracy, the head, GAP, the CAM sum, Grad-CAM.

Each exercise is a :class:`~camlib.checks.runner.CheckSpec` (reference, cases, typical mistakes with their
messages) and a ``check_*`` function that grades the learner's function against it (see
:func:`camlib.checks.runner.run_check`). ``SPECS`` lists them for :data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from camlib.cam import normalize
from camlib.checks.runner import CheckResult, CheckSpec, Mistake


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- 00 / 04: logits -> probabilities, accuracy ------------------------------------------------------------

SOFTMAX = CheckSpec(
    "check_softmax",
    lambda z: torch.softmax(z, dim=1),
    [
        (torch.tensor([[1.0, 2.0, 3.0]]),),
        (torch.randn(4, 6, generator=_gen(0)),),
        (torch.tensor([[1000.0, 0.0], [0.0, -1000.0]]),),
    ],
    [
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
    ],
)


def check_softmax(fn: Callable[[Tensor], Tensor]) -> CheckResult:
    """Exercise: ``fn(logits (B, C) float) -> probabilities (B, C)``, rows summing to 1, stable for large logits."""
    return SOFTMAX.run(fn)


def _accuracy(z: Tensor, y: Tensor) -> float:
    return float((z.argmax(dim=1) == y).float().mean() * 100)


ACCURACY = CheckSpec(
    "check_accuracy",
    _accuracy,
    [
        (
            torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.9], [1.0, 0.0, 0.0]]),
            torch.tensor([0, 1, 1, 2]),
        ),
        (torch.randn(10, 5, generator=_gen(1)), torch.arange(10) % 5),
    ],
    [
        Mistake(
            lambda z, y: float((z.argmax(dim=1) == y).float().mean()), "report a percentage: multiply by 100"
        ),
        Mistake(
            lambda z, y: float((z.max(dim=1).values == y).float().mean() * 100),
            "compare the INDEX of the largest logit (argmax) with the label, not its value (max)",
        ),
        Mistake(
            lambda z, y: float((z.argmax(dim=1) == y).sum()),
            "divide the number of correct images by the batch size",
        ),
    ],
)


def check_accuracy(fn: Callable[[Tensor, Tensor], float]) -> CheckResult:
    """Exercise: ``fn(logits (B, C) float, labels (B,) int64) -> accuracy in percent`` (a float in 0..100)."""
    return ACCURACY.run(fn)


# --- 02 / 03: the head -------------------------------------------------------------------------------------

FC_PARAMS = CheckSpec(
    "check_fc_params",
    lambda k, h, w, hidden: k * h * w * hidden + hidden,
    [(128, 4, 4, 256), (128, 16, 16, 256), (3, 1, 1, 2)],
    [
        Mistake(lambda k, h, w, n: k * h * w * n, "a Linear layer also has one bias per output"),
        Mistake(
            lambda k, h, w, n: k * n + n,
            "flattening keeps every position: the input has K*h*w numbers, not K",
        ),
        Mistake(
            lambda k, h, w, n: k * h * w * n + k * h * w,
            "the bias has one entry per OUTPUT (hidden), not per input",
        ),
    ],
)


def check_fc_params(fn: Callable[[int, int, int, int], int]) -> CheckResult:
    """Exercise: ``fn(k, h, w, hidden) -> int``, the parameters of ``nn.Linear(k * h * w, hidden)``."""
    return FC_PARAMS.run(fn)


GAP = CheckSpec(
    "check_gap",
    lambda f: f.mean(dim=(-2, -1)),
    [
        (torch.arange(8.0).view(1, 2, 2, 2),),
        (torch.rand(2, 3, 4, 5, generator=_gen(2)),),
        (torch.rand(3, 1, 7, 3, generator=_gen(3)),),
        (torch.randn(1, 4, 1, 1, generator=_gen(4)),),
    ],
    [
        Mistake(
            lambda f: f.sum(dim=(-2, -1)),
            "the paper writes a sum; camlib (and nn.AdaptiveAvgPool2d) take the mean",
        ),
        Mistake(
            lambda f: f.amax(dim=(-2, -1)), "that is global MAX pooling: average over the positions instead"
        ),
        Mistake(lambda f: f.mean(dim=1), "average over the spatial dims (-2, -1), not over the channels"),
        Mistake(lambda f: f.mean(dim=-1), "average over BOTH spatial dims: dim=(-2, -1)"),
    ],
)


def check_gap(fn: Callable[[Tensor], Tensor]) -> CheckResult:
    """Exercise: global average pooling, ``fn(features (B, K, h, w) float) -> (B, K)``."""
    return GAP.run(fn)


# --- 05: the CAM sum, min-max normalisation ----------------------------------------------------------------


def _cam(f: Tensor, w: Tensor, c: int) -> Tensor:
    return torch.einsum("k,bkhw->bhw", w[c], f)  # (B, h, w)


CAM = CheckSpec(
    "check_cam",
    _cam,
    [
        (torch.randn(2, 4, 3, 3, generator=_gen(7)), torch.randn(4, 4, generator=_gen(8)), 1),  # C == K
        (torch.randn(2, 3, 4, 4, generator=_gen(5)), torch.randn(5, 3, generator=_gen(6)), 2),
    ],
    [
        Mistake(
            lambda f, w, c: _cam(f, w, c).clamp_min(0), "the raw CAM has no ReLU: keep the negative evidence"
        ),
        Mistake(
            lambda f, w, c: normalize(_cam(f, w, c)), "return the raw map: normalisation is a separate step"
        ),
        Mistake(
            lambda f, w, c: torch.einsum("k,bkhw->bhw", w[:, c], f),
            "weight is (C, K): the class's weights are the row weight[c], not the column",
        ),
        Mistake(lambda f, w, c: f.sum(dim=1), "weigh each channel by w_k^c before summing"),
        Mistake(
            lambda f, w, c: _cam(f, w, c).mean(dim=(-2, -1)), "keep the spatial dims: that mean is the logit"
        ),
    ],
)


def check_cam(fn: Callable[[Tensor, Tensor, int], Tensor]) -> CheckResult:
    """Exercise: ``fn(features (B, K, h, w), weight (C, K), c) -> M_c (B, h, w)``, raw (no ReLU, no bias)."""
    return CAM.run(fn)


def _naive_minmax(m: Tensor) -> Tensor:
    lo, hi = m.amin(dim=(-2, -1), keepdim=True), m.amax(dim=(-2, -1), keepdim=True)
    return (m - lo) / (hi - lo)


NORMALIZE = CheckSpec(
    "check_normalize",
    lambda m: normalize(m, "minmax"),
    [
        (torch.tensor([[[1.0, 3.0], [5.0, 9.0]]]),),
        (torch.randn(3, 4, 4, generator=_gen(9)),),
        (torch.full((1, 3, 3), 2.5),),
    ],
    [
        Mistake(
            lambda m: m / m.amax(dim=(-2, -1), keepdim=True),
            "subtract the minimum first: (m - min) / (max - min)",
        ),
        Mistake(
            _naive_minmax, "a constant map has max == min, and 0/0 is NaN: return zeros there (torch.where)"
        ),
        Mistake(
            lambda m: (m - m.min()) / (m.max() - m.min()),
            "normalise each map on its own, not the whole batch",
        ),
    ],
)


def check_normalize(fn: Callable[[Tensor], Tensor]) -> CheckResult:
    """Exercise: min-max normalise each map of ``(B, h, w)`` to [0, 1]; a constant map gives zeros, not NaN."""
    return NORMALIZE.run(fn)


# --- 08: Grad-CAM ------------------------------------------------------------------------------------------


def _grad_cam(acts: Tensor, grads: Tensor) -> Tensor:
    alpha = grads.mean(dim=(-2, -1))  # (B, K)
    return torch.einsum("bk,bkhw->bhw", alpha, acts).clamp_min(0)  # (B, h, w)


GRAD_CAM = CheckSpec(
    "check_grad_cam",
    _grad_cam,
    [
        (torch.rand(1, 3, 4, 4, generator=_gen(10)), torch.randn(1, 3, 4, 4, generator=_gen(11))),
        (torch.rand(2, 5, 3, 6, generator=_gen(12)), torch.randn(2, 5, 3, 6, generator=_gen(13))),
    ],
    [
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
        Mistake(
            lambda a, g: torch.einsum("bk,bkhw->bhw", g.mean(dim=(-2, -1)).clamp_min(0), a),
            "the ReLU comes last, on the weighted sum, not on the channel weights alpha",
        ),
    ],
)


def check_grad_cam(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    """Exercise: ``fn(acts (B, K, h, w), grads (B, K, h, w)) -> ReLU(sum_k alpha_k A_k) (B, h, w)``
    with ``alpha_k = mean_xy grads_k``."""
    return GRAD_CAM.run(fn)


SPECS = (SOFTMAX, ACCURACY, FC_PARAMS, GAP, CAM, NORMALIZE, GRAD_CAM)
