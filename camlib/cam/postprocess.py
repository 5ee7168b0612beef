"""After a method: resize maps to the image, and normalise them.

The course's vocabulary (every figure, box and slider says which one it uses):

* **raw**: the map as a method returns it, signed, at the feature map's resolution.
* **max-normalised** (``how="max"``): ``ReLU(M) / max(M)``, the paper's rule "keep what is above 20% of the max".
* **min-max normalised** (``how="minmax"``): per map to [0, 1], the convention of Choe et al.'s MaxBoxAcc/V2
  and PxAP.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

UPSAMPLE_MODES = ("nearest", "bilinear", "bicubic")
NORMALIZATIONS = ("minmax", "max")

#: the one vocabulary, as every figure, box and slider of the course words it (``"raw"``: not normalised)
NORMALIZATION_LABELS = {
    "raw": "raw map",
    "max": "max-normalised (÷ max)",
    "minmax": "min–max normalised",
}


def normalization_label(how: str, tau: float | None = None) -> str:
    """How figures name a normalisation, with its box rule at ``tau`` when given.

    >>> normalization_label("max")
    'max-normalised (÷ max)'
    >>> normalization_label("minmax", 0.2)
    'min–max normalised, box: m ≥ min + 0.20 (max − min)'
    >>> print(normalization_label("max", 0.2))
    max-normalised (÷ max), box: m ≥ 0.20 × max (the paper's 20% rule)
    """
    if how not in NORMALIZATION_LABELS:
        raise ValueError(f"how must be one of {tuple(NORMALIZATION_LABELS)}, got {how!r}")
    if tau is None:
        return NORMALIZATION_LABELS[how]
    rule = f"m ≥ min + {tau:.2f} (max − min)" if how == "minmax" else f"m ≥ {tau:.2f} × max"
    paper = " (the paper's 20% rule)" if how != "minmax" and abs(tau - 0.2) < 1e-9 else ""
    return f"{NORMALIZATION_LABELS[how]}, box: {rule}{paper}"


def upsample(maps: Tensor, size: int | tuple[int, int], mode: str = "bilinear") -> Tensor:
    """Resize (B, N, h, w) maps to (B, N, H, W): ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.

    >>> upsample(torch.ones(1, 2, 4, 4), 16).shape
    torch.Size([1, 2, 16, 16])
    """
    if maps.dim() != 4:
        raise ValueError(f"maps must have shape (B, N, h, w); got {tuple(maps.shape)}")
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if mode == "nearest":
        return F.interpolate(maps, size=hw, mode="nearest")
    return F.interpolate(maps, size=hw, mode=mode, align_corners=False)


def normalize(maps: Tensor, how: str = "minmax") -> Tensor:
    """Scale each map to [0, 1] over its last two dims (the names of :data:`NORMALIZATION_LABELS`).

    ``"minmax"``: (M - min) / (max - min) (Choe et al.). ``"max"``: ReLU(M) / max (the paper's 20%-of-max rule).
    Thresholding the max-normalised map at τ keeps ``M >= τ max(M)``, the same pixels as the raw map; the
    min-max normalised map at τ keeps ``M >= min + τ (max - min)``, more pixels when ``min < 0``.
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
