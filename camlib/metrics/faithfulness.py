"""Does the model's score follow the map? Deletion and insertion (RISE), Average Drop and Increase in Confidence.

Two families of perturbation metrics, both scored with the softmax probability of the explained class:

* **Deletion / insertion** (Petsiuk, Das, Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
  Models", BMVC 2018, Sec. 4.1): pixels are removed from the image (set to a canvas, zeros) — or inserted into a
  blurred copy — in the order of the map, most salient first, ``step`` pixels at a time; the probability after
  each step draws a curve over the fraction of pixels changed, and its area (trapezoidal rule on [0, 1]) is the
  score. Deletion: lower is better (the probability collapses quickly); insertion: higher is better. RISE's
  step is 224 pixels of a 224-px image (one row's worth: ``H`` steps); the insertion canvas blurs with an 11-px
  Gaussian of sigma 5 at 224 px, here scaled to the image (sigma ``5 H / 224``, kernel ``2 ceil(sigma) + 1``,
  reflected edges).
* **Average Drop / Increase in Confidence** (Chattopadhay et al., "Grad-CAM++", WACV 2018, Sec. 5.1.1): the image
  is multiplied by the min-max normalised map (the "explanation map"); with ``Y`` the probability on the image and
  ``O`` on the explanation map, Average Drop = ``mean max(0, Y - O) / Y`` and Increase in Confidence =
  ``mean [Y < O]``, both in %. Lower drop and higher increase are better.

Maps are (B, H, W) at the image's resolution (upsample first); classes (B,) one per image. The model runs in
eval mode without gradients; its own mode comes back afterwards.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn
from torchvision.transforms.functional import gaussian_blur

from camlib.cam import evaluation, normalize, validate_images


def auc(curves: Tensor) -> Tensor:
    """Area under curves sampled at the equally spaced fractions 0, 1/S, ..., 1: (..., S+1) -> (...).

    The trapezoidal rule, as RISE's code: ``(sum - first / 2 - last / 2) / S``.

    >>> auc(torch.tensor([1.0, 0.5, 0.0])).item()
    0.5
    >>> auc(torch.tensor([[1.0, 1.0], [0.0, 1.0]])).tolist()
    [1.0, 0.5]
    """
    if curves.dim() < 1 or curves.shape[-1] < 2:
        raise ValueError(f"curves need at least 2 points on their last dim, got shape {tuple(curves.shape)}")
    return (curves.sum(-1) - (curves[..., 0] + curves[..., -1]) / 2) / (curves.shape[-1] - 1)


def blurred(x: Tensor, sigma: float | None = None) -> Tensor:
    """RISE's insertion canvas: ``x`` blurred by a Gaussian (default sigma ``5 H / 224``), reflected edges.

    >>> blurred(torch.ones(1, 3, 8, 8)).allclose(torch.ones(1, 3, 8, 8))
    True
    """
    s = 5.0 * x.shape[-2] / 224 if sigma is None else float(sigma)
    if not s > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    k = min(2 * math.ceil(s) + 1, 2 * ((min(x.shape[-2:]) - 1) // 2) + 1)  # odd, and smaller than the image
    return gaussian_blur(x, [k, k], [s, s]) if k > 1 else x.clone()


def _checked(model: nn.Module, x: Tensor, maps: Tensor, classes: Tensor) -> tuple[Tensor, Tensor]:
    """(maps (B, H, W) float, classes (B,) int64), or a ValueError that names the fix."""
    validate_images(model, x)
    b, _, h, w = x.shape
    if not isinstance(maps, Tensor) or maps.shape != (b, h, w):
        got = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise ValueError(
            f"maps must be (B, H, W) = {(b, h, w)}, one per image at the image's size; got {got}: take "
            f"out.maps[:, 0] and camlib.cam.upsample it to the image first"
        )
    if not torch.isfinite(maps).all():
        raise ValueError("maps contain NaN or inf: check the model's weights and the input images")
    cls = torch.as_tensor(classes, device=x.device)
    if cls.shape != (b,) or cls.dtype.is_floating_point or cls.dtype == torch.bool:
        raise ValueError(f"classes must be B = {b} integer class indices (one per image), got {cls.tolist()}")
    return maps.float(), cls.long()


def _probabilities(model: nn.Module, images: Tensor, cls: Tensor, batch_size: int) -> Tensor:
    """Softmax probability of ``cls[i]`` for ``images[i]``: (n, C_in, H, W), (n,) -> (n,)."""
    out = []
    with evaluation(model), torch.no_grad():
        for s in range(0, images.shape[0], batch_size):
            logits = model(images[s : s + batch_size])  # (n, C)
            out.append(logits.float().softmax(-1).gather(1, cls[s : s + batch_size, None])[:, 0])
    return torch.cat(out)


def perturbation_curves(
    model: nn.Module,
    x: Tensor,
    maps: Tensor,
    classes: Tensor,
    mode: Literal["deletion", "insertion"],
    *,
    step: int | None = None,
    canvas: Tensor | None = None,
    batch_size: int = 256,
) -> Tensor:
    """RISE's deletion or insertion curves: the class probability as the map's pixels change, most salient first.

    Args:
        model: the classifier.
        x: (B, C_in, H, W) images.
        maps: (B, H, W) saliency at the image's resolution (only their order matters; ties keep pixel order).
        classes: (B,) the explained class of each image.
        mode: ``"deletion"``: pixels go from the image to the canvas (default zeros); ``"insertion"``: from the
            canvas (default :func:`blurred`) to the image.
        step: pixels changed per step (default ``W``: RISE's 224 pixels of a 224-px image); S = ceil(HW / step).
        canvas: (B, C_in, H, W) what deleted pixels become / inserted pixels start from.
        batch_size: perturbed images per forward pass.

    Returns:
        (B, S + 1) probabilities at 0, step, 2 step, ... pixels changed (the last point: all of them).
    """
    m, cls = _checked(model, x, maps, classes)
    b, _, h, w = x.shape
    step = w if step is None else step
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be a positive number of pixels, got {step!r}")
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    if canvas is None:
        canvas = torch.zeros_like(x) if mode == "deletion" else blurred(x)
    elif canvas.shape != x.shape:
        raise ValueError(f"canvas must have the images' shape {tuple(x.shape)}, got {tuple(canvas.shape)}")
    start, finish = (x, canvas) if mode == "deletion" else (canvas, x)
    order = m.flatten(1).argsort(dim=1, descending=True, stable=True)  # (B, HW): most salient first
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(h * w).expand(b, -1))  # (B, HW)
    rank = rank.view(b, 1, h, w)
    points = math.ceil(h * w / step) + 1
    probs = []
    for s in range(0, points * b, batch_size):  # the (S + 1) * B perturbed images, batch_size per pass
        pair = torch.arange(s, min(s + batch_size, points * b), device=x.device)  # (n,) = point * B + image
        img, done = pair % b, (pair // b) * step  # (n,) image, (n,) pixels changed at that point
        changed = rank[img] < done[:, None, None, None]  # (n, 1, H, W)
        probs.append(
            _probabilities(model, torch.where(changed, finish[img], start[img]), cls[img], batch_size)
        )
    return torch.cat(probs).view(points, b).T  # (S + 1, B) -> (B, S + 1)


def deletion_auc(
    model: nn.Module,
    x: Tensor,
    maps: Tensor,
    classes: Tensor,
    *,
    step: int | None = None,
    canvas: Tensor | None = None,
    batch_size: int = 256,
) -> Tensor:
    """(B,) area under the deletion curves (lower is better); see :func:`perturbation_curves`.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> deletion_auc(net, torch.rand(3, 1, 2, 2), torch.rand(3, 2, 2), torch.tensor([0, 1, 0])).shape
        torch.Size([3])
    """
    curves = perturbation_curves(
        model, x, maps, classes, "deletion", step=step, canvas=canvas, batch_size=batch_size
    )
    return auc(curves)


def insertion_auc(
    model: nn.Module,
    x: Tensor,
    maps: Tensor,
    classes: Tensor,
    *,
    step: int | None = None,
    canvas: Tensor | None = None,
    batch_size: int = 256,
) -> Tensor:
    """(B,) area under the insertion curves (higher is better); see :func:`perturbation_curves`."""
    curves = perturbation_curves(
        model, x, maps, classes, "insertion", step=step, canvas=canvas, batch_size=batch_size
    )
    return auc(curves)


def confidence_change(
    model: nn.Module, x: Tensor, maps: Tensor, classes: Tensor, *, batch_size: int = 256
) -> tuple[Tensor, Tensor]:
    """Per image: the drop ``max(0, Y - O) / Y`` and whether the confidence increased (``Y < O``).

    ``Y`` is the class probability on the image, ``O`` on the explanation map ``x * minmax(map)``
    (Chattopadhay et al., WACV 2018, Sec. 5.1.1).

    Returns:
        ``(drop, increase)``: (B,) floats in [0, 1] and (B,) bools.
    """
    m, cls = _checked(model, x, maps, classes)
    explanation = x * normalize(m, "minmax")[:, None]  # (B, C_in, H, W) * (B, 1, H, W)
    both = _probabilities(model, torch.cat([x, explanation]), torch.cat([cls, cls]), batch_size)
    y, o = both.chunk(2)  # (B,), (B,)
    return (y - o).clamp_min(0) / y.clamp_min(torch.finfo(y.dtype).tiny), y < o


def average_drop_increase(
    model: nn.Module, x: Tensor, maps: Tensor, classes: Tensor, *, batch_size: int = 256
) -> tuple[float, float]:
    """Average Drop % and Increase in Confidence % over the batch (Chattopadhay et al., WACV 2018, Eq. 20-21).

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> drop, inc = average_drop_increase(net, torch.rand(3, 1, 2, 2), torch.rand(3, 2, 2), torch.tensor([0, 1, 0]))
        >>> 0 <= drop <= 100 and 0 <= inc <= 100
        True
    """
    drop, increase = confidence_change(model, x, maps, classes, batch_size=batch_size)
    return 100 * float(drop.mean()), 100 * float(increase.float().mean())
