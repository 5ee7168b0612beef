"""Right answers to notebook 09's exercises written another way than camlib.checks.beyond's references."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn


def grad_cam_autograd(model: nn.Module, images: Tensor, classes: Tensor) -> Tensor:
    """Grad-CAM with torch.autograd.grad, the activations kept by a hook that stores them in a list."""
    kept: list[Tensor] = []
    handle = model.features.register_forward_hook(lambda m, i, out: kept.append(out))
    training = model.training
    model.eval()
    try:
        logits = model(images)  # (B, C)
        score = logits[torch.arange(len(classes)), classes].sum()
        (grads,) = torch.autograd.grad(score, kept[0])  # (B, K, h, w)
    finally:
        handle.remove()
        model.train(training)
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1)
    return (weights * kept[0].detach()).sum(1).relu()  # (B, h, w)


def deletion_auc(model: nn.Module, x: Tensor, maps: Tensor, classes: Tensor, step: int) -> Tensor:
    """Deletion AUC one image at a time, the pixels zeroed in place on a copy, the area by torch.trapezoid."""
    out = []
    for img, m, c in zip(x, maps, classes, strict=True):
        h, w = m.shape
        order = m.flatten().argsort(descending=True).tolist()
        cur, probs = img.clone(), []
        counts = list(range(0, h * w, step)) + [h * w]
        done = 0
        for n in counts:
            for p in order[done:n]:
                cur[:, p // w, p % w] = 0.0
            done = n
            with torch.no_grad():
                probs.append(model(cur[None]).softmax(1)[0, c])
        ys = torch.stack(probs)
        out.append(torch.trapezoid(ys, dx=1.0 / (len(ys) - 1)))
    return torch.stack(out)


INDEPENDENT: dict[str, Callable[..., Any]] = {
    "check_grad_cam_autograd": grad_cam_autograd,
    "check_deletion_auc": deletion_auc,
}
