"""The pointing game (Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV 2016, Sec. 5.1).

Only the map's maximum counts: it is a **hit** when it lies on the object — within a tolerance of 15 pixels of one
of the object's pixels — and a miss otherwise; the score is hits / (hits + misses), in %. It needs no threshold
and no normalisation, and it ignores the map's extent.

The tolerance: Zhang et al. allow 15 pixels on images fed to 224-px networks. camlib scales it with the image:
``15 * min(H, W) / 224`` pixels (4.3 px at 64 px), the same fraction (6.7%) of the shorter side. Distances are
Euclidean between pixel centres, ``<=`` the tolerance. The maximum is the first one in row-major order; a
constant map (all zeros after a ReLU, say) has no maximum to point with and counts as a miss.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Zhang et al.'s tolerance, 15 px, as a fraction of the 224-px input side
TOLERANCE = 15 / 224


def pointing_hits(maps: Tensor, masks: Tensor, tolerance: float | None = None) -> Tensor:
    """Per image: does the map's maximum fall within ``tolerance`` pixels of the object?

    Args:
        maps: (B, H, W) maps at the image's resolution (upsample first; any normalisation: only the argmax counts).
        masks: (B, H, W) bool, the object's pixels (for boxes only, pass each box's pixels).
        tolerance: in pixels; default ``TOLERANCE * min(H, W)`` (15 px at 224 px).

    Returns:
        (B,) bool hits.

    >>> m = torch.zeros(1, 64, 64); m[0, 10, 10] = 1.0  # the peak at row 10, column 10
    >>> obj = torch.zeros(1, 64, 64, dtype=torch.bool); obj[0, 10, 14:20] = True  # 4 px to its right
    >>> pointing_hits(m, obj).tolist(), pointing_hits(m, obj, tolerance=3.0).tolist()
    ([True], [False])
    """
    if maps.dim() != 3 or masks.shape != maps.shape:
        raise ValueError(
            f"maps and masks must both be (B, H, W) at the image's size; got {tuple(maps.shape)} and "
            f"{tuple(masks.shape)}: upsample the maps to the image (camlib.cam.upsample) and take [:, 0]"
        )
    if masks.dtype != torch.bool:
        raise ValueError(f"masks must be bool (the object's pixels), got {masks.dtype}: use masks > 0.5")
    if not torch.isfinite(maps).all():
        raise ValueError("maps contain NaN or inf: check the model's weights and the input images")
    empty = ~masks.flatten(1).any(1)
    if empty.any():
        raise ValueError(
            f"images {empty.nonzero()[:, 0].tolist()} have no object pixel: the pointing game needs the object "
            f"on every image (leave those images out)"
        )
    b, h, w = maps.shape
    tol = TOLERANCE * min(h, w) if tolerance is None else float(tolerance)
    if not tol >= 0:
        raise ValueError(f"tolerance must be >= 0 pixels, got {tolerance}")
    flat = maps.flatten(1)  # (B, HW)
    peak = flat.argmax(1)  # (B,) first maximum, row-major
    py, px = peak // w, peak % w  # (B,), (B,)
    ys = torch.arange(h, device=maps.device)[None, :, None]  # (1, H, 1)
    xs = torch.arange(w, device=maps.device)[None, None, :]  # (1, 1, W)
    near = (ys - py[:, None, None]) ** 2 + (xs - px[:, None, None]) ** 2 <= tol**2  # (B, H, W)
    constant = flat.amax(1) == flat.amin(1)  # (B,) no peak to point with
    return (near & masks).flatten(1).any(1) & ~constant


def pointing_game(maps: Tensor, masks: Tensor, tolerance: float | None = None) -> float:
    """Pointing-game accuracy in %: hits / images (see :func:`pointing_hits`).

    >>> m = torch.zeros(2, 32, 32); m[0, 5, 5] = m[1, 30, 30] = 1.0
    >>> obj = torch.zeros(2, 32, 32, dtype=torch.bool); obj[:, 0:8, 0:8] = True
    >>> pointing_game(m, obj)
    50.0
    """
    return 100 * float(pointing_hits(maps, masks, tolerance).float().mean())
