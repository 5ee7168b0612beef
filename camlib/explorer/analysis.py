"""The explorer's questions as pure functions: boxes and IoU at every tau, the channels of a CAM, an erased image,
and the twin classes. No widgets here; :mod:`camlib.explorer.scene` puts them on screen.

Boxes are XYXY in image pixels with exclusive right/bottom edges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from camlib.boxes import iou as box_iou
from camlib.cam import LayerRecord, channel_maps
from camlib.data.shapes.classes import shapes_twins
from camlib.explorer.state import Box
from camlib.metrics import component_boxes_at_thresholds

#: the taus of the IoU-vs-tau curve: 0.00, 0.01, ..., 1.00
CURVE_TAUS = np.round(np.linspace(0.0, 1.0, 101), 2)
COMPONENTS = ("largest", "all")


def twin_table(class_names: Sequence[str], twins: Mapping[str, str] | None = None) -> dict[int, int]:
    """``{class id: its twin's id}`` for the classes named in ``twins`` (default :func:`shapes_twins`).

    >>> twin_table(["beetle", "firefly", "fish", "shark", "turtle", "snail"])
    {1: 0, 0: 1, 3: 2, 2: 3}
    """
    pairs = shapes_twins() if twins is None else dict(twins)
    ids = {n: i for i, n in enumerate(class_names)}
    return {ids[a]: ids[b] for a, b in pairs.items() if a in ids and b in ids}


class TauBoxes(NamedTuple):
    """Boxes of one map at several taus, with their IoU with the ground truth.

    Attributes:
        boxes: (T, 4) float32, the box at each tau (``(0, 0, 0, 0)``: none).
        ious: (T,) float64 IoUs with the ground truth, ``None`` without a ground-truth box.
        counts: (T,) int, the number of components at each tau.
        every: T arrays (n_t, 4), every component's box at each tau.
    """

    boxes: np.ndarray
    ious: np.ndarray | None
    counts: np.ndarray
    every: list[np.ndarray]


def boxes_at(
    ruled: Tensor, taus: Sequence[float] | np.ndarray, gt: Tensor | None, components: str
) -> TauBoxes:
    """The box at each tau of a normalised (H, W) map, from one component tree
    (:func:`camlib.metrics.component_boxes_at_thresholds`).

    ``components="largest"``: the paper's box, the largest connected component of ``m >= tau * max(m)``;
    ``"all"``: MaxBoxAccV2's view, the component whose box has the best IoU with ``gt`` (the largest without ``gt``).

    >>> m = torch.zeros(6, 6); m[1:3, 1:3] = 1.0; m[4:6, 4:6] = 0.5
    >>> tb = boxes_at(m, [0.2, 0.8], torch.tensor([1.0, 1, 3, 3]), "all")
    >>> tb.boxes.tolist(), tb.ious.tolist(), tb.counts.tolist()
    ([[1.0, 1.0, 3.0, 3.0], [1.0, 1.0, 3.0, 3.0]], [1.0, 1.0], [2, 1])
    """
    if components not in COMPONENTS:
        raise ValueError(f"components must be one of {COMPONENTS}, got {components!r}")
    tb = component_boxes_at_thresholds(ruled.detach().float().cpu(), taus)
    counts = np.array([len(b) for b in tb.boxes])
    if gt is None:
        return TauBoxes(tb.largest, None, counts, tb.boxes)
    g = gt.reshape(1, 4).float()
    if components == "largest":
        ious = box_iou(torch.from_numpy(tb.largest), g)[:, 0].double().numpy()  # (T,)
        return TauBoxes(tb.largest, ious, counts, tb.boxes)
    every = np.concatenate([*tb.boxes, np.zeros((1, 4), np.float32)])  # (sum n_t + 1, 4)
    all_ious = box_iou(torch.from_numpy(every), g)[:, 0].double().numpy()
    boxes, ious, start = np.zeros_like(tb.largest), np.zeros(len(counts)), 0
    for t, n in enumerate(counts):
        if n:
            j = start + int(np.argmax(all_ious[start : start + n]))  # first best on ties
            boxes[t], ious[t] = every[j], all_ious[j]
        start += n
    return TauBoxes(boxes, ious, counts, tb.boxes)


def best_tau(ious: np.ndarray, taus: np.ndarray = CURVE_TAUS) -> tuple[float, float]:
    """``(tau, IoU)`` at the curve's maximum (the smallest such tau).

    >>> best_tau(np.array([0.1, 0.7, 0.7, 0.2]), np.array([0.0, 0.1, 0.2, 0.3]))
    (0.1, 0.7)
    """
    i = int(np.argmax(ious))
    return float(taus[i]), float(ious[i])


def square_box(x: int, y: int, size: int, height: int, width: int) -> Box:
    """The square with top-left corner ``(x, y)`` and side ``size``, cut to the image.

    >>> square_box(60, 2, 16, 64, 64)
    (60.0, 2.0, 64.0, 18.0)
    """
    x1, y1 = min(max(int(x), 0), width - 1), min(max(int(y), 0), height - 1)
    s = max(int(size), 1)
    return float(x1), float(y1), float(min(x1 + s, width)), float(min(y1 + s, height))


def erase(image: Tensor, box: Box) -> Tensor:
    """A copy of the (3, H, W) ``image`` whose pixels in ``box`` take the mean colour of its one-pixel border (the
    background); the image itself is not changed.

    >>> img = torch.zeros(3, 4, 4); img[:, 1:3, 1:3] = 1.0
    >>> erase(img, (1.0, 1.0, 3.0, 3.0)).sum().item(), img.sum().item()
    (0.0, 12.0)
    """
    border = torch.cat([image[:, 0], image[:, -1], image[:, :, 0], image[:, :, -1]], dim=1)  # (3, 2H + 2W)
    out = image.clone()
    x1, y1 = int(math.floor(box[0])), int(math.floor(box[1]))
    x2, y2 = int(math.ceil(box[2])), int(math.ceil(box[3]))
    out[:, y1:y2, x1:x2] = border.mean(1)[:, None, None]
    return out


class Decomposition(NamedTuple):
    """A CAM split into channels: ``cam == parts.sum(0) + rest`` (up to float rounding).

    Attributes:
        cam: (h, w) the class's CAM, ``sum_k w_k^c f_k``.
        parts: (k, h, w) ``w_k^c f_k`` of the top channels; ``rest`` (h, w) the sum of all the others.
        top: (k,) channel ids; ``weights`` (k,) their ``w_k^c``; ``scores`` (k,) their part of the logit (the
            pooled ``w_k^c f_k``: mean for GAP, max for GMP); ``rest_score`` the others' part; ``n_rest`` how many.
        logits: (C,) the logits of the same forward pass.
    """

    cam: Tensor
    parts: Tensor
    rest: Tensor
    top: list[int]
    weights: list[float]
    scores: list[float]
    rest_score: float
    n_rest: int
    logits: Tensor


def decompose(model: nn.Module, x: Tensor, cls: int, k: int) -> Decomposition:
    """The CAM of class ``cls`` on one image as its ``k`` top channels plus the rest (Zhou et al., CVPR 2016,
    Sec. 2: ``M_c = sum_k w_k^c f_k``), ranked by their part of the class score.

    Args:
        model: a CAM network (GAP or GMP + one linear layer).
        x: (1, 3, H, W) image.
        cls: the class; k: how many channels to show (at most the number of channels).

    Raises:
        ValueError: a model without a CAM head (its message says to use Grad-CAM).
    """
    seen: dict[str, Tensor] = {}
    pool = ["avg"]

    def weigh(r: LayerRecord) -> Tensor:
        assert r.head is not None
        seen["acts"], pool[0] = r.acts, r.head.pool_kind
        seen["w"] = r.head.linear.weight[r.classes]  # (1, 1, K)
        return seen["w"]

    out = channel_maps(model, x, [cls], weigh, layer="head", relu=False)
    acts, w = seen["acts"][0].float(), seen["w"][0, 0].detach().float()  # (K, h, w), (K,)
    contrib = w[:, None, None] * acts  # (K, h, w)
    pooled = acts.amax((1, 2)) if pool[0] == "max" else acts.mean((1, 2))  # (K,)
    scores = w * pooled  # (K,) each channel's part of the logit
    order = torch.argsort(scores, descending=True, stable=True)
    top, others = order[: max(0, min(k, len(order)))], order[max(0, min(k, len(order))) :]
    return Decomposition(
        out.maps[0, 0],
        contrib[top],
        contrib[others].sum(0),
        top.tolist(),
        w[top].tolist(),
        scores[top].tolist(),
        float(scores[others].sum()),
        len(others),
        out.logits[0],
    )


__all__ = [
    "COMPONENTS",
    "CURVE_TAUS",
    "Decomposition",
    "TauBoxes",
    "best_tau",
    "boxes_at",
    "decompose",
    "erase",
    "shapes_twins",
    "square_box",
    "twin_table",
]
