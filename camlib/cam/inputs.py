"""What the map methods accept: a (B, C, H, W) float image batch for the model, and the classes to map.

Shapes used throughout :mod:`camlib.cam`: B images, C classes of the model, K channels of the feature map,
N requested classes per image (the maps are (B, N, h, w)).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

Classes = int | Sequence[int] | Tensor | None


def validate_images(model: nn.Module, x: Tensor) -> None:
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
    """Turn the ``classes`` argument into a (B, N) int64 tensor.

    ``None``: the predicted class of each image (N = 1). ``int``: that class for every image (N = 1).
    A list/tuple of ints: those N classes for every image. A 1-D tensor of length B: one class per image
    (N = 1). A (B, N) tensor: N classes per image.

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
            idx = idx.unsqueeze(1)  # (B,) -> (B, 1)
        elif idx.dim() != 2 or idx.shape[0] != b:
            raise ValueError(
                f"classes tensor must have shape (B,) or (B, N) with B={b}; got {tuple(idx.shape)}"
            )
    elif isinstance(classes, int):
        idx = torch.full((b, 1), classes, dtype=torch.long, device=logits.device)
    else:
        if len(classes) == 0:
            raise ValueError("classes is an empty list: request at least one class")
        idx = torch.tensor(list(classes), dtype=torch.long, device=logits.device).expand(b, -1)  # (B, N)
    bad = idx[(idx < 0) | (idx >= c)]
    if bad.numel():
        raise ValueError(
            f"class index {int(bad[0])} is out of range for a model with {c} classes (valid: 0..{c - 1})"
        )
    return idx
