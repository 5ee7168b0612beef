"""What the map methods accept: a (B, C, H, W) float image batch for the model, and the classes to map.

Shapes used throughout :mod:`camlib.cam`: B images, C classes of the model, K channels of the feature map,
N requested classes per image (the maps are (B, N, h, w)).

``classes`` means one thing whatever its container (an int, a list, a tuple, a NumPy array or a tensor), and
never depends on the batch size by accident. Like NumPy broadcasting against (B, N):

* ``None``: the predicted class of each image (N = 1).
* a scalar (``3``, ``np.int64(3)``, ``torch.tensor(3)``): that class for every image (N = 1).
* 1-D, length B: ONE class per image (N = 1), as torchcam's ``class_idx``; length 1 is the same class for all.
* 2-D, shape (B, N): N classes per image; shape (1, N): the same N classes for every image
  (``[[0, 2]]``, or ``[list(range(C))]`` for every class).

Anything else is refused with the fix: a 1-D list of another length (it would silently change meaning when B
equals its length), floats (``2.7`` is not a class), booleans (``True`` is not class 1), strings (a class
*name*: look its index up in ``class_names``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

Classes = int | Sequence[int] | Sequence[Sequence[int]] | Tensor | np.ndarray | None


def validate_images(model: nn.Module, x: Tensor) -> None:
    """Raise an error that names the fix when ``x`` is not a (B, C, H, W) batch ``model`` can run.

    Checked: the type, the shape, a float dtype equal to the model's, the device of the model, the number of
    input channels, and finite pixels (NaN or inf pixels would give NaN maps labelled class 0).

    Raises:
        TypeError: ``x`` is not a tensor.
        ValueError: wrong shape, dtype, device, channels, or NaN/inf pixels.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        hint = " (a single image: use x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(f"x must have shape (B, C, H, W); got {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a float tensor (images in [0, 1]); got {x.dtype}: use x.float() / 255")
    if x.shape[0] == 0:
        raise ValueError("x holds no image (B = 0): pass at least one image")
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    if param is not None and param.device != x.device:
        raise ValueError(
            f"x is on {x.device} but the model is on {param.device}: move one of them, e.g. "
            f"x.to({str(param.device)!r})"
        )
    if param is not None and param.dtype != x.dtype:
        cast = {torch.float32: "x.float()", torch.float64: "x.double()", torch.float16: "x.half()"}
        fix = cast.get(param.dtype, f"x.to({param.dtype})")
        raise ValueError(f"x is {x.dtype} but the model's weights are {param.dtype}: use {fix}")
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is not None and x.shape[1] != conv.in_channels:
        fix = " (grayscale: x.expand(-1, 3, -1, -1))" if x.shape[1] == 1 and conv.in_channels == 3 else ""
        raise ValueError(
            f"the model expects {conv.in_channels} input channels, x has {x.shape[1]} "
            f"(shape {tuple(x.shape)}, expected (B, {conv.in_channels}, H, W)){fix}"
        )
    lo, hi = torch.aminmax(x)  # one pass without a mask (NaN propagates): ~15x cheaper than isfinite(x)
    if not (torch.isfinite(lo) and torch.isfinite(hi)):
        bad = ~torch.isfinite(x)
        images = torch.nonzero(bad.flatten(1).any(1)).flatten().tolist()
        raise ValueError(
            f"x has {int(bad.sum())} NaN or inf values (in images {images[:5]}): maps of such images mean "
            f"nothing; check how the images were made (a division by zero when normalising?) or drop them"
        )


def _as_index_tensor(classes: object, device: torch.device) -> Tensor:
    """``classes`` (not ``None``) as an int64 tensor of its own shape, or a TypeError naming the fix."""
    if isinstance(classes, (str, bytes)) or (
        isinstance(classes, Sequence) and any(isinstance(c, (str, bytes)) for c in classes)
    ):
        raise TypeError(
            f"classes must be class indices (ints), got the string {classes!r}: look a name up in the "
            f"dataset's class_names, e.g. classes=ds.class_names.index('fish')"
        )
    if isinstance(classes, Tensor):
        t = classes.detach()
    else:
        try:
            arr = np.asarray(classes)
        except ValueError:  # ragged nested lists
            raise ValueError(
                f"classes {classes!r} is ragged: every image needs the same number of classes N; "
                f"pass a (B, N) tensor"
            ) from None
        if arr.dtype == object:
            raise TypeError(f"classes must be integers, got {classes!r}")
        t = torch.from_numpy(arr.copy()) if arr.size else torch.zeros(arr.shape, dtype=torch.long)
    if t.dtype == torch.bool or isinstance(classes, bool):
        raise TypeError(
            f"classes must be integer class indices, got booleans ({classes!r}): True would mean class 1; "
            f"for a mask of classes use torch.nonzero(mask).flatten()"
        )
    if t.is_floating_point() or t.is_complex():
        raise TypeError(
            f"classes must be integer class indices, got {t.dtype} values ({classes!r}): a float is not a "
            f"class; use integers (e.g. labels.long() if they are whole numbers)"
        )
    return t.to(device=device, dtype=torch.long)


def resolve_classes(classes: Classes, logits: Tensor) -> Tensor:
    """Turn the ``classes`` argument into a (B, N) int64 tensor (the rules are in the module docstring).

    Raises:
        TypeError: strings, floats, booleans.
        ValueError: a shape that does not broadcast to (B,) or (B, N) (the message names the fix), an empty
            request, or a class outside 0..C-1.

    >>> resolve_classes(torch.tensor([1, 3]), torch.zeros(2, 4)).tolist()
    [[1], [3]]
    >>> resolve_classes([1, 3], torch.zeros(2, 4)).tolist()
    [[1], [3]]
    >>> resolve_classes([[0, 2]], torch.zeros(3, 4)).tolist()
    [[0, 2], [0, 2], [0, 2]]
    >>> resolve_classes(np.int64(2), torch.zeros(2, 4)).tolist()
    [[2], [2]]
    """
    b, c = logits.shape
    if classes is None:
        return logits.argmax(dim=1, keepdim=True)  # (B, 1)
    if isinstance(classes, numbers.Integral) and not isinstance(classes, bool):
        idx = torch.full((b, 1), int(classes), dtype=torch.long, device=logits.device)
    else:
        idx = _as_index_tensor(classes, logits.device)
        if idx.numel() == 0:
            raise ValueError("classes is empty: request at least one class (or None for the predicted one)")
        if idx.dim() == 0:
            idx = idx.expand(b, 1)  # one class for every image
        elif idx.dim() == 1 and idx.shape[0] in (1, b):
            idx = idx.expand(b).unsqueeze(1)  # (B,) one class per image -> (B, 1)
        elif idx.dim() == 2 and idx.shape[0] in (1, b):
            idx = idx.expand(b, -1)  # (1, N) or (B, N) -> (B, N)
        elif idx.dim() == 1:
            vals = idx.tolist()
            raise ValueError(
                f"classes has {len(vals)} values for a batch of {b} images: a 1-D classes gives ONE class per "
                f"image, so it needs {b} values. For the same classes on every image nest it: "
                f"classes=[{vals}] (shape (1, N))"
            )
        else:
            raise ValueError(
                f"classes of shape {tuple(idx.shape)} does not fit a batch of {b} images: use (B,) for one "
                f"class per image, (B, N) or (1, N) for N classes per image"
            )
    bad = idx[(idx < 0) | (idx >= c)]
    if bad.numel():
        raise ValueError(
            f"class index {int(bad[0])} is out of range for a model with {c} classes (valid: 0..{c - 1})"
        )
    return idx.contiguous()
