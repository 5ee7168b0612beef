"""Exercise self-check of a training step with mixed precision: autocast, the gradient scaler, the step's order.

The step acts on a model and an optimizer, so it is an :class:`~camlib.checks.observe.ObservedCheckSpec`: each
function (the learner's, the reference, every typical mistake) gets a private copy of the model carrying the
gradients a previous step left behind (so that a missing ``zero_grad`` shows), a new SGD optimizer on that copy
and a new gradient scaler that has scaled a loss before (as in every step but the first); it is graded on the loss it returns, the model's weights and BatchNorm statistics after the
step and the mode it leaves the model in.

Decided (and said in the exercise): the step puts the model in train mode and leaves it there, as a training
loop's step does (``camlib.train.fit`` switches to eval only to validate). The cases run on the CPU with bfloat16
autocast; the scaler is disabled in two of them (bf16 needs none: ``fit`` enables it only for fp16 on GPUs) and
enabled in one, so that a step that bypasses it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camlib.checks.observe import NetCase, ObservedCheckSpec, Recipe, as_model, mode, private_copy
from camlib.checks.runner import CheckResult, Mistake
from camlib.models import GAPNet, NetConfig

STALE_GRAD = 0.05  # the gradient a previous step left on every parameter


def _step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    images: Tensor,
    labels: Tensor,
    *,
    train: bool = True,
    zero: bool = True,
    amp: bool = True,
    scaled: bool = True,
    step_first: bool = False,
    return_scaled: bool = False,
    loss_in_bf16: bool = False,
) -> float:
    """The reference (all switches at their default) and, one switch changed at a time, the typical mistakes."""
    if train:
        model.train()
    if zero:
        optimizer.zero_grad(set_to_none=True)
    with torch.autocast(images.device.type, dtype=torch.bfloat16) if amp else nullcontext():
        logits = model(images)  # (B, C), bfloat16 under autocast
        loss = F.cross_entropy(logits.float(), labels)
    if loss_in_bf16:  # the loss computed after the autocast block, on the bfloat16 logits
        loss = F.cross_entropy(logits, labels)
    if step_first:
        scaler.step(optimizer)
        scaler.update()
    backward = scaler.scale(loss) if scaled else loss
    backward.backward()
    if not step_first:
        scaler.step(optimizer)
        scaler.update()
    return float((scaler.scale(loss) if return_scaled else loss).detach())


def _model(training: bool) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).train(training)

    return build


_SGD = Recipe(
    "torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)",
    lambda model: torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9),
)


def _scaler(enabled: bool) -> Recipe:
    def make() -> torch.amp.GradScaler:
        scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, enabled=enabled)
        scaler.scale(
            torch.ones(())
        )  # it has scaled a loss before (its scale exists), as in every step but the first
        return scaler

    text = "GradScaler('cpu', init_scale=1024)" if enabled else "GradScaler('cpu', enabled=False)"
    return Recipe(text, make)


def _cases() -> list[tuple[Any, ...]]:
    gen = torch.Generator().manual_seed(30)
    net = "GAPNet(6, NetConfig(widths=(8, 16), downsample=2)), seed 0"

    def batch(n: int) -> tuple[Tensor, Tensor]:
        return torch.rand(n, 3, 16, 16, generator=gen), torch.randint(0, 6, (n,), generator=gen)

    return [
        (NetCase(f"{net}, train mode", _model(True)), _SGD, _scaler(False), *batch(8)),
        (NetCase(f"{net}, EVAL mode", _model(False)), _SGD, _scaler(False), *batch(8)),
        (NetCase(f"{net}, train mode", _model(True)), _SGD, _scaler(True), *batch(6)),
    ]


def _observe_step(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    model, optimizer, scaler, *rest = args
    mine = private_copy(as_model(model))
    for p in mine.parameters():
        p.grad = torch.full_like(p, STALE_GRAD)
    value = fn(mine, optimizer.make(mine), scaler.make(), *rest)
    if isinstance(value, Tensor) and value.numel() == 1:
        value = float(value.detach())
    state = torch.cat(
        [t.detach().flatten().float() for t in mine.state_dict().values() if t.is_floating_point()]
    )
    return (value, state, f"mode after the step: {mode(mine)}")


STEP = ObservedCheckSpec(
    "check_amp_step",
    _step,
    _cases(),
    [
        Mistake(
            lambda *a: _step(*a, zero=False),
            "call optimizer.zero_grad() first: backward ADDS to the gradients already there (the previous "
            "step's), so they accumulate",
        ),
        Mistake(
            lambda *a: _step(*a, step_first=True),
            "the optimizer steps AFTER backward: stepping first applies the gradients of no step (or of the "
            "previous one), and this step's gradients are never used",
        ),
        Mistake(
            lambda *a: _step(*a, amp=False),
            "run the forward pass and the loss under torch.autocast(images.device.type, dtype=torch.bfloat16): "
            "without it everything runs in float32",
        ),
        Mistake(
            lambda *a: _step(*a, loss_in_bf16=True),
            "compute the loss inside the autocast block (or on logits.float()): outside it, cross-entropy on "
            "the bfloat16 logits runs in bfloat16 and loses precision",
        ),
        Mistake(
            lambda *a: _step(*a, train=False),
            "put the model in train mode (model.train()) at the start of the step: in eval mode BatchNorm uses "
            "its running statistics and never updates them, and dropout is off",
        ),
        Mistake(
            lambda *a: _step(*a, scaled=False),
            "backpropagate the SCALED loss, scaler.scale(loss).backward(): scaler.step() divides the gradients "
            "by the scale, so after a plain loss.backward() they are far too small",
        ),
        Mistake(
            lambda *a: _step(*a, return_scaled=True),
            "return the loss itself (float(loss)), not the scaled loss that went into backward",
        ),
    ],
    observer=_observe_step,
)


def check_amp_step(
    fn: Callable[[nn.Module, torch.optim.Optimizer, torch.amp.GradScaler, Tensor, Tensor], float],
) -> CheckResult:
    """Exercise: ``fn(model, optimizer, scaler, images (B, 3, H, W), labels (B,) int64) -> the loss (float)``, one
    mixed-precision step: train mode, zero_grad, forward + cross-entropy under bf16 autocast, scaled backward,
    ``scaler.step``, ``scaler.update``."""
    return STEP.run(fn)


SPECS = (STEP,)
