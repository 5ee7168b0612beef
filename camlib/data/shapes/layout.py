"""Where the creatures of a multi-object scene go: :class:`MultiConfig`, the overlap bound and the placement.

A scene tries up to :data:`ATTEMPTS` random layouts and keeps the first in which every creature shows and every
pair of boxes overlaps by at most ``max_overlap`` (:func:`box_overlap`); boxes are those of the VISIBLE pixels
(a later creature is painted over an earlier one). A scene none of whose attempts fits gets two creatures, in
the top-left and bottom-right corners: a creature's box is at most its length (``scale * side``, and the scale
is at most 0.5) on each side, so the two never overlap. Used by :mod:`camlib.data.shapes.multi`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from camlib.data.shapes.classes import CREATURES, render
from camlib.data.shapes.config import MAX_CLUTTER
from camlib.data.shapes.draw import profile_boxes
from camlib.data.shapes.rng import uniform
from camlib.data.shapes.scene import _extents, _place

MIN_OBJECTS, MAX_OBJECTS = 2, 3
ATTEMPTS = 32  # random layouts tried per scene before the two-corner layout
PARAMS = 7  # per object: scale, aspect, flip, x, y, texture phases u and v


@dataclass(frozen=True)
class MultiConfig:
    """The knobs of :class:`~camlib.data.shapes.MultiShapes`.

    Attributes:
        objects: ``(lo, hi)`` creatures per scene, drawn uniformly; ``2 <= lo <= hi <= 3``.
        scale_range: ``(lo, hi)`` length of each creature as a fraction of the image side;
            ``0 < lo <= hi <= 0.5`` (three creatures must fit side by side).
        clutter: mean number of clutter items per image, as :class:`~camlib.data.shapes.ShapesConfig`.
        max_overlap: largest allowed overlap of two objects' boxes, as the intersection over the smaller box
            (:func:`box_overlap`), in ``[0, 1]``; 0 keeps the boxes apart.
    """

    objects: tuple[int, int] = (2, 3)
    scale_range: tuple[float, float] = (0.3, 0.45)
    clutter: float = 4.0
    max_overlap: float = 0.1

    def __post_init__(self) -> None:
        if (
            len(self.objects) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in self.objects)
            or not (MIN_OBJECTS <= self.objects[0] <= self.objects[1] <= MAX_OBJECTS)
        ):
            raise ValueError(
                f"objects must be two integers with {MIN_OBJECTS} <= lo <= hi <= {MAX_OBJECTS} (creatures per "
                f"scene), got {self.objects!r}: e.g. objects=(2, 3)"
            )
        lo, hi = self.scale_range
        if not (0 < lo <= hi <= 0.5):
            raise ValueError(
                f"scale_range must satisfy 0 < lo <= hi <= 0.5 (fractions of the image side; three creatures "
                f"share the image), got {self.scale_range!r}: e.g. scale_range=(0.3, 0.45)"
            )
        if not (0 <= self.clutter <= MAX_CLUTTER / 2):
            raise ValueError(
                f"clutter must be between 0 and {MAX_CLUTTER / 2} items per image, got {self.clutter!r}"
            )
        if isinstance(self.max_overlap, bool) or not (0 <= self.max_overlap <= 1):
            raise ValueError(
                f"max_overlap must be a fraction in [0, 1] (intersection over the smaller box), got "
                f"{self.max_overlap!r}: e.g. max_overlap=0.1"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        d = asdict(self)
        d["objects"], d["scale_range"] = list(self.objects), list(self.scale_range)
        return d


def box_overlap(a: Tensor, b: Tensor) -> Tensor:
    """Intersection of XYXY boxes over the area of the smaller one: (..., 4) and (..., 4) -> (...,) in [0, 1].

    >>> box_overlap(torch.tensor([0.0, 0, 10, 10]), torch.tensor([5.0, 0, 25, 10])).item()
    0.5
    """
    wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp_min(0)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return wh[..., 0] * wh[..., 1] / torch.minimum(area_a, area_b).clamp_min(1e-9)


def paint_slots(
    classes: Tensor, u: Tensor, active: Tensor, size: int, scale_range: tuple[float, float]
) -> Tensor:
    """Paint codes of each slot's creature: classes (G, M), u (G, M, 7), active (G, M) -> (G, M, H, W) uint8.

    The codes are those of :func:`camlib.data.shapes.classes.render`; 0 where a slot is inactive.
    """
    g, m = classes.shape
    out = torch.zeros(g, m, size, size, dtype=torch.uint8, device=classes.device)
    for k in range(m):
        cx, cy, half, aspect, flip = _place(
            _extents(CREATURES, classes[:, k]), u[:, k, :5], size, scale_range
        )
        for c, creature in enumerate(CREATURES):
            sel = ((classes[:, k] == c) & active[:, k]).nonzero().squeeze(1)
            if sel.numel():
                gx, gy, gh, ga, gf, pu, pv = (
                    t[sel] for t in (cx, cy, half, aspect, flip, u[:, k, 5], u[:, k, 6])
                )
                out[sel, k] = render(creature, gx, gy, gh, ga, gf, pu * 4, pv * 4, size)
    return out


def visible_masks(paint: Tensor) -> Tensor:
    """(G, M, H, W) paint codes -> bool masks of each slot's pixels that no later slot's creature covers."""
    drawn = paint > 0
    later = torch.zeros_like(drawn[:, 0])
    vis = torch.empty_like(drawn)
    for k in range(drawn.shape[1] - 1, -1, -1):
        vis[:, k] = drawn[:, k] & ~later
        later = later | drawn[:, k]
    return vis


def mask_boxes(masks: Tensor) -> Tensor:
    """(G, M, H, W) bool -> (G, M, 4) XYXY boxes of each mask's extent (NaN rows for empty masks)."""
    g, m = masks.shape[:2]
    flat = masks.flatten(0, 1)  # (G*M, H, W)
    return profile_boxes(flat.any(1), flat.any(2)).view(g, m, 4)


def _fits(boxes: Tensor, active: Tensor, max_overlap: float) -> Tensor:
    """(G,) bool: every active slot shows and every pair of active boxes overlaps by at most ``max_overlap``."""
    ok = ~(torch.isnan(boxes[..., 0]) & active).any(1)
    m = boxes.shape[1]
    for i in range(m):
        for j in range(i + 1, m):
            over = box_overlap(boxes[:, i].nan_to_num(0), boxes[:, j].nan_to_num(0))  # (G,)
            ok &= ~(active[:, i] & active[:, j]) | (over <= max_overlap + 1e-6)
    return ok


def place(
    key: int, idx: Tensor, counts: Tensor, classes: Tensor, size: int, config: MultiConfig, first_stream: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Choose each scene's layout.

    Args:
        key: the scenes' random key; idx: (B,) scene indices; counts: (B,) drawn numbers of objects;
        classes: (B, M) classes of the slots; size: image side; config: the knobs;
        first_stream: the first random stream id the layouts may use (each attempt uses M * 7 after it).

    Returns:
        u (B, M, 7) the chosen layouts' uniforms, counts (B,) (2 for the scenes that fell back to the corners)
        and fallback (B,) bool (the scenes that did).
    """
    b, m = classes.shape
    dev = idx.device
    u = torch.zeros(b, m, PARAMS, device=dev)
    counts = counts.clone()
    todo = torch.ones(b, dtype=torch.bool, device=dev)
    for t in range(ATTEMPTS + 1):
        g = todo.nonzero().squeeze(1)
        if not g.numel():
            break
        streams = [first_stream + t * m * PARAMS + j for j in range(m * PARAMS)]
        ut = uniform(key, idx[g], streams).view(-1, m, PARAMS)  # (G, M, 7)
        if t == ATTEMPTS:  # the fallback: top-left and bottom-right, two creatures
            ut[:, 0, 3:5], ut[:, 1, 3:5] = 0.0, 1.0
            u[g], counts[g] = ut, 2
            return u, counts, todo
        active = torch.arange(m, device=dev)[None, :] < counts[g, None]  # (G, M)
        vis = visible_masks(paint_slots(classes[g], ut, active, size, config.scale_range))
        ok = _fits(mask_boxes(vis), active, config.max_overlap)
        u[g[ok]] = ut[ok]
        todo[g[ok]] = False
    return u, counts, todo
