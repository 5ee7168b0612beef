"""Right answers written another way than the references, for the checks of camlib.checks.maps and .metrics.

``tests/test_checks.py`` adds :data:`INDEPENDENT` to its own table (every check must pass one). Each is written
from the exercise's docstring with other tools than the reference (brute force over pixels, numpy, torchvision).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.ops as tvops
from scipy import ndimage


def cam_batch(f: torch.Tensor, w: torch.Tensor, classes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    maps = (w[classes][:, :, None, None] * f).sum(1, keepdim=True)  # (B, 1, h, w)
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)[:, 0]


def pointing(
    maps: torch.Tensor, boxes: Sequence[torch.Tensor], size: tuple[int, int], tol: float
) -> torch.Tensor:
    """Brute force: every pixel of every box, against the first peak of the upsampled map."""
    up = F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    out = []
    for m, b in zip(up, boxes, strict=True):
        if float(m.max()) == float(m.min()):
            out.append(False)
            continue
        py, px = np.unravel_index(int(m.argmax()), tuple(m.shape))
        pixels = [
            (y, x) for x1, y1, x2, y2 in b.long().tolist() for y in range(y1, y2) for x in range(x1, x2)
        ]
        out.append(any((y - py) ** 2 + (x - px) ** 2 <= tol**2 for y, x in pixels))
    return torch.tensor(out)


def _extent(mask: torch.Tensor) -> torch.Tensor:
    if not mask.any():
        return torch.zeros(4)
    return tvops.masks_to_boxes(mask[None])[0] + torch.tensor([0.0, 0, 1, 1])


def trimap_box(t: torch.Tensor, border_is_object: bool) -> tuple[torch.Tensor, torch.Tensor]:
    mask = t != 2 if border_is_object else t == 1  # values are 1, 2, 3 only
    return mask, _extent(mask)


def _largest(keep: np.ndarray) -> torch.Tensor:
    labels, n = ndimage.label(keep, structure=ndimage.generate_binary_structure(2, 2))
    if n == 0:
        return torch.zeros(4)
    sizes = [(labels == i).sum() for i in range(1, n + 1)]
    return _extent(torch.from_numpy(labels == 1 + int(np.argmax(sizes))))


def paper_box(cam: torch.Tensor, fraction: float) -> torch.Tensor:
    peak = float(cam.max())
    return _largest((cam >= fraction * peak).numpy()) if peak > 0 else torch.zeros(4)


def _curve(maps: torch.Tensor, gt: Sequence[torch.Tensor], taus: torch.Tensor, delta: float) -> np.ndarray:
    curve = []
    for tau in taus.tolist():
        hits = 0
        for m, g in zip(maps, gt, strict=True):
            box = paper_box(m, tau)  # min-max maps: max 1, so tau * max = tau
            hits += int(float(tvops.box_iou(box[None], g.float()).max()) >= delta)
        curve.append(100.0 * hits / len(maps))
    return np.array(curve)


def box_acc(maps: torch.Tensor, gt: Sequence[torch.Tensor], taus: torch.Tensor, delta: float) -> Any:
    curve = _curve(maps, gt, taus, delta)
    return torch.from_numpy(curve).float(), float(curve.max())


def choose_tau(
    m: torch.Tensor, g: Sequence[torch.Tensor], taus: torch.Tensor, test_at: Any
) -> tuple[float, float]:
    tau = float(taus[int(np.argmax(_curve(m, g, taus, 0.5)))])  # np.argmax: the first best
    return tau, test_at(tau)


INDEPENDENT: dict[str, Callable[..., Any]] = {
    "check_cam_batch": cam_batch,
    "check_pointing": pointing,
    "check_trimap_box": trimap_box,
    "check_paper_box": paper_box,
    "check_box_acc": box_acc,
    "check_choose_tau": choose_tau,
}
