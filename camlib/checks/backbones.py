"""Exercise self-check of a forward hook on a torchvision ResNet: capture layer4's feature maps, leave no trace.

The exercise acts on a model, so it is an :class:`~camlib.checks.observe.ObservedCheckSpec` check: the function
gets a private copy of the network, and what it returns is compared together with what it leaves behind (hooks
still registered, the model's mode, its weights and BatchNorm statistics). The network is torchvision's ResNet-18,
built without downloading anything (``weights=None``, seeded) when the check first runs. ``SPECS`` lists it for
:data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
import torchvision
from torch import Tensor, nn

from camlib.checks.observe import (
    NetCase,
    ObservedCheckSpec,
    as_model,
    changed,
    detached,
    hooks_left,
    mode,
    private_copy,
)
from camlib.checks.runner import CheckResult, Mistake

# --- 03: a forward hook on a torchvision ResNet ------------------------------------------------------------


def _resnet18(training: bool) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return torchvision.models.resnet18(weights=None).train(training)

    return build


_gen = torch.Generator().manual_seed(21)
_RESNET_CASES = [
    (NetCase("torchvision resnet18(weights=None), seed 0, in eval mode", _resnet18(False)), torch.rand(2, 3, 64, 64, generator=_gen)),
    (NetCase("torchvision resnet18(weights=None), seed 0, in TRAIN mode", _resnet18(True)), torch.rand(3, 3, 64, 64, generator=_gen)),
]  # fmt: skip


def _capture(
    model: nn.Module,
    images: Tensor,
    layer: str = "layer4",
    *,
    remove: bool = True,
    restore: bool = True,
    evaluate: bool = True,
    no_grad: bool = True,
) -> Tensor:
    """The reference (all switches on) and, one switch off at a time, the typical mistakes."""
    captured: list[Tensor] = []
    handle = getattr(model, layer).register_forward_hook(lambda m, i, out: captured.append(out))
    was_training = model.training
    try:
        if evaluate:
            model.eval()
        with torch.no_grad() if no_grad else nullcontext():
            model(images)
    finally:
        if remove:
            handle.remove()
        if restore:
            model.train(was_training)
    return captured[0]  # (B, 512, h, w) for layer4


def _observe_capture(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    model, *rest = as_model(args[0]), *args[1:]
    mine = private_copy(model)
    value = fn(mine, *rest)
    if not isinstance(value, Tensor):
        return (value, "", "", "", "")
    return (
        detached(value),
        f"autograd graph: {'kept (requires_grad=True)' if value.requires_grad else 'none'}",
        f"hooks left on the model: {hooks_left(mine)}",
        f"mode after the call: {mode(mine)}",
        f"weights and BatchNorm statistics: {'changed' if changed(model, mine) else 'unchanged'}",
    )


CAPTURE = ObservedCheckSpec(
    "check_capture_features",
    _capture,
    _RESNET_CASES,
    [
        Mistake(
            lambda m, x: _capture(m, x, "layer3"),
            "that is layer3 (256 channels): hook model.layer4, the last conv stage (512 channels)",
        ),
        Mistake(
            lambda m, x: _capture(m, x, "avgpool"),
            "that is the output of avgpool, (B, 512, 1, 1): hook layer4, whose output is the map before pooling",
        ),
        Mistake(
            lambda m, x: _capture(m, x, remove=False),
            "the hook is still registered: remove it (handle.remove()) in a `finally:` block, or every later "
            "forward pass runs it again",
        ),
        Mistake(
            lambda m, x: _capture(m, x, restore=False),
            "the model was left in eval mode: remember model.training first and give it back in `finally:` "
            "(model.train(was_training))",
        ),
        Mistake(
            lambda m, x: _capture(m, x, evaluate=False),
            "switch to eval mode (model.eval()) before the forward pass: in train mode BatchNorm normalises with "
            "the batch's statistics and updates its running statistics, so the call changed the model",
        ),
        Mistake(
            lambda m, x: _capture(m, x, no_grad=False),
            "run the forward pass under torch.no_grad() (or keep output.detach()): the captured map still holds "
            "the whole autograd graph of the forward pass",
        ),
    ],
    observer=_observe_capture,
)


def check_capture_features(fn: Callable[[nn.Module, Tensor], Tensor]) -> CheckResult:
    """Exercise: ``fn(model, images (B, 3, H, W)) -> (B, 512, H/32, W/32)``, a torchvision ResNet's layer4 output
    captured with a forward hook, in eval mode without gradients; the hook removed and the model's mode given
    back, even if the forward pass fails (two ResNet-18s, ``weights=None``, one in eval and one in train mode)."""
    return CAPTURE.run(fn)


SPECS = (CAPTURE,)
