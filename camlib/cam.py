"""Class activation maps (Zhou et al., CVPR 2016) and Grad-CAM (Selvaraju et al., ICCV 2017).

For a network whose last conv features f_k(x, y) are globally average-pooled into one linear layer,

    S_c = sum_k w_k^c mean_xy f_k(x, y) + b_c,     M_c(x, y) = sum_k w_k^c f_k(x, y),

so ``S_c = mean_xy M_c + b_c`` exactly. :func:`class_activation_maps` returns the raw ``M_c`` (no ReLU, no
normalisation) with the logits of the same forward pass. Grad-CAM weighs the channels by the spatial mean of
the gradient instead; on a GAP network that is w_k^c / (h w), so Grad-CAM = ReLU(M_c) / (h w).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Classes = int | Sequence[int] | Tensor | None
_GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


class CAMOutput(NamedTuple):
    """What the map functions return.

    Attributes:
        maps: (B, K, h, w) float maps, one per requested class, at the resolution of the feature map.
        logits: (B, C) logits of the same forward pass.
        classes: (B, K) int64, the class of each map.
    """

    maps: Tensor
    logits: Tensor
    classes: Tensor


@dataclass(frozen=True)
class CAMHead:
    """The global pooling and the single linear layer that make a model a CAM network."""

    pool: nn.Module
    linear: nn.Linear

    @property
    def pool_kind(self) -> str:
        return "avg" if isinstance(self.pool, nn.AdaptiveAvgPool2d) else "max"


def find_cam_head(model: nn.Module) -> CAMHead:
    """Find the global pooling layer and the one linear layer after it.

    Works for :class:`camlib.models.GAPNet`, gapified VGG/AlexNet and torchvision ResNets: anything whose
    last global pooling (``AdaptiveAvgPool2d(1)`` or ``AdaptiveMaxPool2d(1)``) feeds exactly one ``nn.Linear``.

    Raises:
        ValueError: the model has no global pooling, or an MLP after it; the message says to use
            :func:`camlib.models.gapify` or :func:`grad_cam`.
    """
    modules = list(model.modules())
    pools = [
        i for i, m in enumerate(modules) if isinstance(m, _GLOBAL_POOLS) and m.output_size in (1, (1, 1))
    ]
    name = type(model).__name__
    fix = "convert it with camlib.models.gapify(model, num_classes), or use camlib.cam.grad_cam(model, x)"
    if not pools:
        other = [m for m in modules if isinstance(m, _GLOBAL_POOLS)]
        seen = f" (it pools to {other[-1].output_size}, then flattens into FC layers)" if other else ""
        raise ValueError(
            f"{name} has no global pooling before its classifier{seen}, so CAM is undefined: {fix}"
        )
    after = [m for m in modules[pools[-1] + 1 :] if isinstance(m, nn.Linear)]
    if len(after) != 1:
        raise ValueError(
            f"{name} has {len(after)} linear layers after its global pooling; CAM needs exactly one "
            f"(GAP -> linear -> softmax): {fix}"
        )
    return CAMHead(pool=modules[pools[-1]], linear=after[0])


@contextmanager
def capture(module: nn.Module, what: Literal["input", "output"] = "output") -> Iterator[dict[str, Tensor]]:
    """Record a module's input or output during the ``with`` block; the hook is removed even on error.

    >>> store = {}
    >>> lin = nn.Linear(2, 3)
    >>> with capture(lin, "input") as store:
    ...     _ = lin(torch.ones(1, 2))
    >>> store["value"].shape, len(lin._forward_hooks)
    (torch.Size([1, 2]), 0)
    """
    store: dict[str, Tensor] = {}

    def hook(_m: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        store["value"] = inputs[0] if what == "input" else output

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def check_input(model: nn.Module, x: Tensor) -> None:
    """Raise a ``ValueError`` that names the fix when ``x`` is not a (B, C, H, W) float batch for ``model``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        hint = " (a single image: use x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(f"x must have shape (B, C, H, W); got {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a float tensor (images in [0, 1]); got {x.dtype}: use x.float() / 255")
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is not None and x.shape[1] != conv.in_channels:
        fix = " (grayscale: x.expand(-1, 3, -1, -1))" if x.shape[1] == 1 and conv.in_channels == 3 else ""
        raise ValueError(
            f"the model expects {conv.in_channels} input channels, x has {x.shape[1]} "
            f"(shape {tuple(x.shape)}, expected (B, {conv.in_channels}, H, W)){fix}"
        )


def resolve_classes(classes: Classes, logits: Tensor) -> Tensor:
    """Turn the ``classes`` argument into a (B, K) int64 tensor.

    ``None``: the predicted class of each image (K = 1). ``int``: that class for every image (K = 1).
    A list/tuple of ints: those K classes for every image. A 1-D tensor of length B: one class per image
    (K = 1). A (B, K) tensor: K classes per image.

    >>> resolve_classes([0, 2], torch.zeros(3, 4)).tolist()
    [[0, 2], [0, 2], [0, 2]]
    >>> resolve_classes(torch.tensor([1, 3]), torch.zeros(2, 4)).tolist()
    [[1], [3]]
    """
    b, c = logits.shape
    if classes is None:
        idx = logits.argmax(dim=1, keepdim=True)  # (B, 1)
    elif isinstance(classes, Tensor):
        idx = classes.to(device=logits.device, dtype=torch.long)
        if idx.dim() == 0:
            idx = idx.expand(b).unsqueeze(1)
        elif idx.dim() == 1:
            if idx.shape[0] != b:
                raise ValueError(
                    f"a 1-D classes tensor gives one class per image and needs length {b}, got {idx.shape[0]}; "
                    f"pass a list to request the same classes for every image"
                )
            idx = idx.unsqueeze(1)
        elif idx.dim() != 2 or idx.shape[0] != b:
            raise ValueError(
                f"classes tensor must have shape (B,) or (B, K) with B={b}; got {tuple(idx.shape)}"
            )
    elif isinstance(classes, int):
        idx = torch.full((b, 1), classes, dtype=torch.long, device=logits.device)
    else:
        if len(classes) == 0:
            raise ValueError("classes is an empty list: request at least one class")
        idx = torch.tensor(list(classes), dtype=torch.long, device=logits.device).expand(b, -1)
    bad = idx[(idx < 0) | (idx >= c)]
    if bad.numel():
        raise ValueError(
            f"class index {int(bad[0])} is out of range for a model with {c} classes (valid: 0..{c - 1})"
        )
    return idx


def class_activation_maps(model: nn.Module, x: Tensor, classes: Classes = None) -> CAMOutput:
    """Raw class activation maps ``M_c = sum_k w_k^c f_k`` and the logits, in ONE forward pass.

    Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016, Eq. 2. No ReLU, no
    normalisation, no upsampling: on a GAP network ``maps.mean((-2, -1)) + bias[classes] == logits[classes]``.
    The model should be in ``eval()`` mode (BatchNorm statistics); gradients are not tracked.

    Args:
        model: a network with global pooling and one linear layer (see :func:`find_cam_head`).
        x: (B, C, H, W) float images.
        classes: see :func:`resolve_classes`; default the predicted class.

    Returns:
        :class:`CAMOutput` with maps (B, K, h, w), logits (B, num_classes) and classes (B, K).

    Raises:
        ValueError: wrong input shape or channels, class out of range, or a model without a GAP+linear head.

    Example:
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
        >>> class_activation_maps(net, torch.rand(2, 3, 32, 32), classes=[0, 5]).maps.shape
        torch.Size([2, 2, 16, 16])
    """
    head = find_cam_head(model)
    check_input(model, x)
    with torch.no_grad():
        with capture(head.pool, "input") as store:
            logits = model(x)  # (B, C)
        feats = store["value"]  # (B, K_f, h, w)
        idx = resolve_classes(classes, logits)  # (B, K)
        weights = head.linear.weight[idx].to(feats.dtype)  # (C, K_f)[idx] -> (B, K, K_f)
        maps = torch.einsum("bnk,bkhw->bnhw", weights, feats)  # (B, K, h, w)
    return CAMOutput(maps.float(), logits.float(), idx)


def default_target_layer(model: nn.Module) -> nn.Module:
    """The last conv stage: ``model.features`` (course models, VGG, AlexNet) or ``model.layer4`` (ResNet)."""
    for name in ("features", "layer4"):
        layer = getattr(model, name, None)
        if isinstance(layer, nn.Module):
            return layer
    raise ValueError(
        f"cannot guess the last conv stage of {type(model).__name__}: pass target_layer=<the module whose "
        f"output is the last conv map>"
    )


def grad_cam(
    model: nn.Module, x: Tensor, classes: Classes = None, target_layer: nn.Module | None = None
) -> CAMOutput:
    """Grad-CAM: ``ReLU(sum_k alpha_k^c A_k)`` with ``alpha_k^c = mean_xy dS_c/dA_k(x, y)``.

    Selvaraju et al., "Grad-CAM", ICCV 2017. Works for any CNN (FC heads included); on a GAP network it
    equals ``ReLU(CAM) / (h * w)``. Gradients come from ``torch.autograd.grad``; parameters get no ``.grad``.

    Args:
        model: any CNN classifier.
        x: (B, C, H, W) float images.
        classes: see :func:`resolve_classes`; default the predicted class.
        target_layer: module whose output A is weighed (default :func:`default_target_layer`).

    Returns:
        :class:`CAMOutput` with non-negative maps (B, K, h, w).

    Example:
        >>> from camlib.models import FCNet, NetConfig
        >>> net = FCNet(6, NetConfig(widths=(8, 16), downsample=2), hidden=(32,), grid=2).eval()
        >>> grad_cam(net, torch.rand(1, 3, 32, 32)).maps.shape
        torch.Size([1, 1, 16, 16])
    """
    check_input(model, x)
    layer = target_layer if target_layer is not None else default_target_layer(model)
    with torch.enable_grad(), capture(layer, "output") as store:
        logits = model(x)  # (B, C)
        acts = store["value"]  # (B, K_f, h, w)
        idx = resolve_classes(classes, logits.detach())  # (B, K)
        scores = logits.gather(1, idx)  # (B, K)
        grads = [
            torch.autograd.grad(scores[:, j].sum(), acts, retain_graph=j < idx.shape[1] - 1)[0]
            for j in range(idx.shape[1])
        ]  # K x (B, K_f, h, w)
    alpha = torch.stack([g.mean(dim=(-2, -1)) for g in grads], dim=1)  # (B, K, K_f)
    maps = F.relu(torch.einsum("bnk,bkhw->bnhw", alpha, acts.detach()))  # (B, K, h, w)
    return CAMOutput(maps.float(), logits.detach().float(), idx)


def upsample(maps: Tensor, size: int | tuple[int, int], mode: str = "bilinear") -> Tensor:
    """Resize (B, K, h, w) maps to (B, K, H, W): ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.

    >>> upsample(torch.ones(1, 2, 4, 4), 16).shape
    torch.Size([1, 2, 16, 16])
    """
    if maps.dim() != 4:
        raise ValueError(f"maps must have shape (B, K, h, w); got {tuple(maps.shape)}")
    if mode not in ("nearest", "bilinear", "bicubic"):
        raise ValueError(f"mode must be 'nearest', 'bilinear' or 'bicubic', got {mode!r}")
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if mode == "nearest":
        return F.interpolate(maps, size=hw, mode="nearest")
    return F.interpolate(maps, size=hw, mode=mode, align_corners=False)


def normalize(maps: Tensor, how: str = "minmax") -> Tensor:
    """Scale each map to [0, 1] over its last two dims.

    ``"minmax"``: (M - min) / (max - min). ``"max"``: ReLU(M) / max (the released code's convention).
    A constant map (or, for ``"max"``, one with no positive value) becomes all zeros, never NaN.

    Raises:
        ValueError: if a map contains NaN or inf (check the model's weights and inputs).

    >>> normalize(torch.tensor([[[1.0, 3.0]]])).tolist()
    [[[0.0, 1.0]]]
    >>> normalize(torch.full((1, 2, 2), 5.0)).sum().item()
    0.0
    """
    if maps.dim() < 2:
        raise ValueError(f"maps must have at least 2 dims (..., h, w); got {tuple(maps.shape)}")
    if not torch.isfinite(maps).all():
        raise ValueError("maps contain NaN or inf: check the model's weights and the input images")
    flat = maps.flatten(-2)  # (..., h*w)
    if how == "minmax":
        lo = flat.min(-1, keepdim=True).values
        span = flat.max(-1, keepdim=True).values - lo
        out = torch.where(span > 0, (flat - lo) / span.clamp_min(torch.finfo(flat.dtype).tiny), 0.0)
    elif how == "max":
        pos = flat.clamp_min(0)
        hi = pos.max(-1, keepdim=True).values
        out = torch.where(hi > 0, pos / hi.clamp_min(torch.finfo(flat.dtype).tiny), 0.0)
    else:
        raise ValueError(f"how must be 'minmax' or 'max', got {how!r}")
    return out.view_as(maps)
