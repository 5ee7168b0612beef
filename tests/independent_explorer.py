"""Right answers written another way than the references, for the checks of camlib.checks.explorer (notebook 06).

``tests/test_checks.py`` adds :data:`INDEPENDENT` to its own table (every check must pass one). Each is written
from the exercise's docstring with other tools than the reference (scipy labelling once per tau, a mask product).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torchvision.ops as tvops
from scipy import ndimage


def iou_curve(cam: torch.Tensor, gt: torch.Tensor, taus: torch.Tensor) -> tuple[torch.Tensor, float]:
    """scipy's labelling at every tau, torchvision's IoU; the first best tau by a plain loop."""
    ious = []
    for t in taus.tolist():
        keep = (cam >= t * cam.max()).numpy() if float(cam.max()) > 0 else np.zeros(cam.shape, bool)
        labels, n = ndimage.label(keep, structure=np.ones((3, 3)))
        if n == 0:
            ious.append(0.0)
            continue
        sizes = [(labels == k).sum() for k in range(1, n + 1)]
        part = torch.from_numpy(labels == 1 + int(np.argmax(sizes)))
        box = tvops.masks_to_boxes(part[None]) + torch.tensor([0.0, 0, 1, 1])
        ious.append(float(tvops.box_iou(box, gt[None].float())[0, 0]))
    best = 0
    for k, v in enumerate(ious):
        if v > ious[best]:
            best = k
    return torch.tensor(ious), float(taus[best])


def erase_part(
    model: torch.nn.Module, image: torch.Tensor, box: torch.Tensor, fill: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """A 0/1 mask of the box mixes the image and the fill colour; the model runs on the mixed copy."""
    h, w = image.shape[-2:]
    x1, y1, x2, y2 = box.tolist()
    cols, rows = torch.arange(w)[None, :], torch.arange(h)[:, None]
    inside = ((cols >= x1) & (cols < x2) & (rows >= y1) & (rows < y2)).float()  # (H, W)
    erased = image * (1 - inside) + fill.view(3, 1, 1) * inside
    with torch.inference_mode():
        logits = model(erased.unsqueeze(0)).squeeze(0)
    return logits.clone(), int(torch.argmax(logits))


def first_disagreement(show: Callable[..., Any], indices: Sequence[int]) -> int:
    """The app's older control names (rule=...), and the IoU-free comparison of the two boxes."""
    for i in indices:
        paper = torch.tensor(show(index=i, rule="max").panels[0].box)
        choe = torch.tensor(show(index=i, rule="minmax").panels[0].box)
        if not torch.equal(paper, choe):
            return int(i)
    return -1


INDEPENDENT: dict[str, Callable[..., Any]] = {
    "check_iou_curve": iou_curve,
    "check_erase_part": erase_part,
    "check_first_disagreement": first_disagreement,
}
