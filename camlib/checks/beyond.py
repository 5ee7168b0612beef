"""Exercise self-checks of notebook 09 (beyond CAM): Grad-CAM from ``torch.autograd.grad``, and deletion AUC.

``check_grad_cam_autograd`` acts on a model, so it is an :class:`~camlib.checks.observe.ObservedCheckSpec`: the
function gets a private copy of the network and what it returns is compared together with what it leaves behind
(hooks still registered, the model's mode). ``check_deletion_auc``'s reference is
:func:`camlib.metrics.deletion_auc` (zeros as the canvas, trapezoidal rule). ``SPECS`` lists them for
:data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from camlib.checks.observe import (
    NetCase,
    ObservedCheckSpec,
    as_model,
    detached,
    hooks_left,
    mode,
    private_copy,
)
from camlib.checks.runner import CheckResult, CheckSpec, Mistake
from camlib.metrics import deletion_auc
from camlib.models import GAPNet, NetConfig


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- 08: Grad-CAM's channel weights from torch.autograd.grad -----------------------------------------------


def _gapnet(training: bool) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(3)
        return GAPNet(4, NetConfig(widths=(8, 16), downsample=2)).train(training)

    return build


_GRAD_CASES = [
    (NetCase("a small GAPNet (4 classes, seed 3) in eval mode", _gapnet(False)), torch.rand(2, 3, 16, 16, generator=_gen(30)), torch.tensor([1, 3])),
    (NetCase("the same GAPNet in TRAIN mode", _gapnet(True)), torch.rand(3, 3, 16, 16, generator=_gen(31)), torch.tensor([0, 0, 2])),
]  # fmt: skip


def _grad_cam_autograd(
    model: nn.Module,
    images: Tensor,
    classes: Tensor,
    *,
    mean: bool = True,
    relu: bool = True,
    probability: bool = False,
    argmax: bool = False,
    remove: bool = True,
    restore: bool = True,
) -> Tensor:
    """The reference (all switches at their defaults) and, one switch changed at a time, the typical mistakes."""
    seen: dict[str, Tensor] = {}
    features: nn.Module = model.features  # type: ignore[assignment]
    handle = features.register_forward_hook(lambda m, i, out: seen.update(acts=out))
    was_training = model.training
    try:
        model.eval()
        with torch.enable_grad():
            logits = model(images)  # (B, C)
            scores = logits.softmax(1) if probability else logits
            cls = logits.argmax(1) if argmax else classes
            s = scores.gather(1, cls[:, None]).sum()  # each image's class score, summed over the batch
            grads = torch.autograd.grad(s, seen["acts"])[0]  # (B, K, h, w)
    finally:
        if remove:
            handle.remove()
        if restore:
            model.train(was_training)
    alpha = grads.mean(dim=(-2, -1)) if mean else grads.sum(dim=(-2, -1))  # (B, K)
    maps = torch.einsum("bk,bkhw->bhw", alpha, seen["acts"].detach())  # (B, h, w)
    return maps.clamp_min(0) if relu else maps


def _observe_grad_cam(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    model, *rest = as_model(args[0]), *args[1:]
    mine = private_copy(model)
    value = fn(mine, *rest)
    return (
        detached(value),
        f"hooks left on the model: {hooks_left(mine)}",
        f"mode after the call: {mode(mine)}",
    )


GRAD_CAM_AUTOGRAD = ObservedCheckSpec(
    "check_grad_cam_autograd",
    _grad_cam_autograd,
    _GRAD_CASES,
    [
        Mistake(lambda m, x, c: _grad_cam_autograd(m, x, c, relu=False), "Grad-CAM ends with a ReLU"),
        Mistake(
            lambda m, x, c: _grad_cam_autograd(m, x, c, mean=False),
            "alpha is the spatial MEAN of the gradient (the sum is h*w times too large)",
        ),
        Mistake(
            lambda m, x, c: _grad_cam_autograd(m, x, c, probability=True),
            "differentiate the class SCORE (the logit), not its softmax probability",
        ),
        Mistake(
            lambda m, x, c: _grad_cam_autograd(m, x, c, argmax=True),
            "explain the requested classes, not the predicted ones: gather the scores of `classes`",
        ),
        Mistake(
            lambda m, x, c: _grad_cam_autograd(m, x, c, remove=False),
            "the hook is still registered: remove it (handle.remove()) in a `finally:` block",
        ),
        Mistake(
            lambda m, x, c: _grad_cam_autograd(m, x, c, restore=False),
            "the model was left in eval mode: remember model.training and give it back in `finally:`",
        ),
    ],
    observer=_observe_grad_cam,
)


def check_grad_cam_autograd(fn: Callable[[nn.Module, Tensor, Tensor], Tensor]) -> CheckResult:
    """Exercise: ``fn(model, images (B, 3, H, W), classes (B,)) -> (B, h, w)`` Grad-CAM at ``model.features``:
    the activations captured with a hook, ``torch.autograd.grad`` of the class scores with respect to them,
    alpha = their spatial mean, ReLU of the weighted sum; eval mode, the hook removed and the mode given back."""
    return GRAD_CAM_AUTOGRAD.run(fn)


# --- 08: deletion AUC (Petsiuk et al., RISE, BMVC 2018) ----------------------------------------------------


class _PixelSum(nn.Module):
    """p(class 0) = (1 + S) / 6, S = the image's pixel sum (in [0, 4]): curves that can be worked out by hand."""

    def forward(self, x: Tensor) -> Tensor:
        s = x.flatten(1).sum(1)  # (B,)
        return torch.stack([torch.log1p(s), torch.log(5 - s)], 1)  # (B, 2)


def _small_net() -> nn.Module:
    torch.manual_seed(5)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    ).eval()


_DELETION_CASES = [
    (_PixelSum(), torch.tensor([[[[0.1, 0.2], [0.3, 0.4]]]]), torch.tensor([[[0.4, 0.1], [0.2, 0.9]]]), torch.tensor([0]), 1),
    (_PixelSum(), torch.rand(2, 1, 2, 2, generator=_gen(40)) / 2, torch.rand(2, 2, 2, generator=_gen(41)), torch.tensor([0, 1]), 3),
    (_small_net(), torch.rand(2, 3, 6, 6, generator=_gen(42)), torch.rand(2, 6, 6, generator=_gen(43)), torch.tensor([2, 0]), 5),
]  # fmt: skip


def _curves(model: nn.Module, x: Tensor, maps: Tensor, classes: Tensor, step: int, ascending: bool) -> Tensor:
    b, _, h, w = x.shape
    order = maps.flatten(1).argsort(1, descending=not ascending)  # (B, HW)
    probs = []
    for n in [*range(0, h * w, step), h * w]:  # pixels deleted at each point
        keep = torch.ones(b, h * w).scatter_(1, order[:, :n], 0.0).view(b, 1, h, w)
        with torch.no_grad():
            probs.append(model(x * keep).softmax(1).gather(1, classes[:, None])[:, 0])
    return torch.stack(probs, 1)  # (B, S + 1)


def _trapezoid(c: Tensor) -> Tensor:
    return (c.sum(1) - (c[:, 0] + c[:, -1]) / 2) / (c.shape[1] - 1)


def _deletion_auc(model: nn.Module, x: Tensor, maps: Tensor, classes: Tensor, step: int) -> Tensor:
    return deletion_auc(model, x, maps, classes, step=step)


DELETION_AUC = CheckSpec(
    "check_deletion_auc",
    _deletion_auc,
    _DELETION_CASES,
    [
        Mistake(
            lambda m, x, s, c, k: _trapezoid(_curves(m, x, s, c, k, ascending=True)),
            "delete the MOST salient pixels first (argsort descending)",
        ),
        Mistake(
            lambda m, x, s, c, k: _curves(m, x, s, c, k, ascending=False).mean(1),
            "the area is the trapezoidal rule on [0, 1]: (sum - first/2 - last/2) / S, not the mean of the points",
        ),
        Mistake(
            lambda m, x, s, c, k: _trapezoid(_curves(m, x, s, c, k, ascending=False)[:, 1:]),
            "the curve starts at 0 pixels deleted: include the intact image's probability",
        ),
        Mistake(
            lambda m, x, s, c, k: _trapezoid(
                torch.stack(
                    [
                        _curves(m, x, s, c, k, False)[:, i]
                        for i in range(math.ceil(x.shape[-1] * x.shape[-2] / k))
                    ],
                    1,
                )
            ),
            "the last point has EVERY pixel deleted (ceil(HW / step) steps, the last one may be shorter)",
        ),
    ],
)


def check_deletion_auc(fn: Callable[[nn.Module, Tensor, Tensor, Tensor, int], Tensor]) -> CheckResult:
    """Exercise: ``fn(model, images (B, C, H, W), maps (B, H, W), classes (B,), step) -> (B,)`` deletion AUC:
    the class's softmax probability as the most salient pixels are set to 0, ``step`` at a time (0, step, ...,
    all HW pixels), its area by the trapezoidal rule on [0, 1]."""
    return DELETION_AUC.run(fn)


SPECS = (GRAD_CAM_AUTOGRAD, DELETION_AUC)
