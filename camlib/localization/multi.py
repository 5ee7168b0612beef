"""Several objects per image: does each class's map light up its own object?

On a scene of :class:`~camlib.data.shapes.MultiShapes` (2-3 creatures of different classes), each present class
``c`` gets its own map ``M_c`` (CAM of a GAP network, CAM of a GMP network, or the model-free centred prior, the
same map for every class), judged two ways against that class's box:

- **pointing game** (:func:`camlib.metrics.pointing_hits`, the definition of issue 18: Zhang et al., ECCV 2016):
  a hit when the map's maximum lies within the tolerance (``15 * min(H, W) / 224`` px, 4.3 px at 64 px) of a
  pixel of the class's box;
- **mass share**: the share of the map's positive mass inside the class's box,
  ``sum_{(x, y) in box} max(M_c, 0) / sum_{x, y} max(M_c, 0)`` (0 for a map with no positive value).

A map that lights up another creature of the scene misses and puts its mass outside its box; **on another** counts
those misses whose maximum falls on (within the tolerance of) another present creature's box instead. Scores are
per class (over the scenes where that class is present) and overall (every object counts once).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from camlib.cam import get_method, upsample
from camlib.localization.prior import center_prior
from camlib.metrics import pointing_hits
from camlib.metrics.pointing import TOLERANCE


def box_pixels(boxes: Tensor, height: int, width: int) -> Tensor:
    """The pixels of XYXY boxes (exclusive right/bottom edges): (..., 4) -> (..., H, W) bool.

    >>> box_pixels(torch.tensor([1.0, 0.0, 3.0, 1.0]), 2, 4).int().tolist()
    [[0, 1, 1, 0], [0, 0, 0, 0]]
    """
    ys = torch.arange(height, device=boxes.device) + 0.5  # pixel centres, (H,)
    xs = torch.arange(width, device=boxes.device) + 0.5  # (W,)
    b = boxes[..., None, None, :]  # (..., 1, 1, 4)
    inside_x = (xs >= b[..., 0]) & (xs < b[..., 2])  # (..., 1, W)
    inside_y = (ys[:, None] >= b[..., 1]) & (ys[:, None] < b[..., 3])  # (..., H, 1)
    return inside_x & inside_y


def positive_mass_share(maps: Tensor, boxes: Tensor) -> Tensor:
    """Share of each map's positive mass inside its box: maps (B, H, W), boxes (B, 4) -> (B,) in [0, 1].

    ``sum_box max(M, 0) / sum_all max(M, 0)``; a map with no positive value scores 0 (it points nowhere).

    >>> m = torch.zeros(1, 4, 4); m[0, 0, 0], m[0, 3, 3], m[0, 2, 2] = 3.0, 1.0, -5.0
    >>> positive_mass_share(m, torch.tensor([[0.0, 0.0, 2.0, 2.0]])).tolist()
    [0.75]
    """
    if maps.dim() != 3 or boxes.shape != (maps.shape[0], 4):
        raise ValueError(
            f"maps must be (B, H, W) and boxes (B, 4), got {tuple(maps.shape)} and {tuple(boxes.shape)}: "
            f"pass one box per map"
        )
    pos = maps.clamp_min(0)  # (B, H, W)
    inside = (pos * box_pixels(boxes, *maps.shape[-2:])).flatten(1).sum(1)  # (B,)
    total = pos.flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-30), torch.zeros_like(total))


def scene_maps(model: nn.Module, images: Tensor, labels: Tensor, method: str = "cam") -> Tensor:
    """Each slot's class map of each scene, upsampled (bilinear) to the image: (B, M, H, W), raw values.

    Args:
        model: the classifier (CAM needs a GAP or GMP + linear head; see :data:`camlib.cam.METHODS`).
        images: (B, 3, H, W) scenes.
        labels: (B, M) classes of the slots, -1 in padding slots (their maps are zeros).
        method: a name of :data:`camlib.cam.METHODS`.
    """
    if labels.dim() != 2 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"labels must be (B, M) with one row per image, got {tuple(labels.shape)} for {images.shape[0]} "
            f"images: pass a SceneBatch's labels"
        )
    out = get_method(method)(model, images, classes=labels.clamp_min(0))  # maps (B, M, h, w)
    maps = upsample(out.maps.float(), (int(images.shape[-2]), int(images.shape[-1])))  # (B, M, H, W)
    return maps * (labels >= 0)[..., None, None]


def prior_scene_maps(labels: Tensor, height: int, width: int, box_wh: tuple[float, float]) -> Tensor:
    """The centred prior (:func:`~camlib.localization.center_prior`) for every slot: (B, M, H, W).

    >>> prior_scene_maps(torch.tensor([[0, -1]]), 8, 8, (4.0, 4.0)).shape
    torch.Size([1, 2, 8, 8])
    """
    m = center_prior(height, width, box_wh).to(labels.device)  # (H, W)
    return m.expand(*labels.shape, height, width) * (labels >= 0)[..., None, None]


@dataclass(frozen=True)
class ClassScore:
    """One class's scores: objects (scenes where it is present), pointing (%), mass_share (%, the mean) and
    on_other (%: misses whose maximum lies on another present creature's box)."""

    objects: int
    pointing: float
    mass_share: float
    on_other: float


@dataclass(frozen=True)
class MultiObjectScore:
    """The scores of one method on a set of scenes (:func:`score_scene_maps`).

    Attributes:
        method: its name in reports.
        scenes, objects: how many scenes and objects were scored.
        pointing: pointing game over every object, in %.
        mass_share: mean share of a map's positive mass inside its class's box, in %.
        on_other: % of objects whose map misses its own box but points at another present creature's box.
        per_class: class name -> :class:`ClassScore`, for the classes present at least once.
        tolerance: the pointing game's tolerance, in pixels.
    """

    method: str
    scenes: int
    objects: int
    pointing: float
    mass_share: float
    on_other: float
    tolerance: float
    per_class: dict[str, ClassScore] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def score_scene_maps(
    maps: Tensor,
    labels: Tensor,
    boxes: Tensor,
    class_names: list[str],
    method: str,
    tolerance: float | None = None,
) -> MultiObjectScore:
    """Pointing game and mass share of each present class's map against its own box.

    Args:
        maps: (B, M, H, W) map of each slot's class at the image's resolution (any scale: only the argmax and
            the positive part's proportions count).
        labels: (B, M) classes, -1 in padding slots (ignored).
        boxes: (B, M, 4) XYXY boxes of the slots (exclusive edges).
        class_names: names indexed by label.
        method: the name written in the report.
        tolerance: the pointing game's, in pixels; default ``15 * min(H, W) / 224``.

    Raises:
        ValueError: shapes that disagree, no object at all, a label outside ``class_names``.

    >>> maps = torch.zeros(1, 2, 8, 8); maps[0, 0, 1, 1] = 1.0; maps[0, 1, 1, 1] = 1.0  # both peak top-left
    >>> boxes = torch.tensor([[[0.0, 0.0, 3.0, 3.0], [5.0, 5.0, 8.0, 8.0]]])
    >>> s = score_scene_maps(maps, torch.tensor([[0, 1]]), boxes, ["a", "b"], "demo", tolerance=1.0)
    >>> s.pointing, s.per_class["a"].pointing, s.per_class["b"].mass_share
    (50.0, 100.0, 0.0)
    """
    if maps.dim() != 4 or labels.shape != maps.shape[:2] or boxes.shape != (*maps.shape[:2], 4):
        raise ValueError(
            f"maps must be (B, M, H, W), labels (B, M) and boxes (B, M, 4); got {tuple(maps.shape)}, "
            f"{tuple(labels.shape)} and {tuple(boxes.shape)}: pass a SceneBatch's labels and boxes"
        )
    valid = labels >= 0  # (B, M)
    if not valid.any():
        raise ValueError("no object to score: every label is -1 (padding); pass scenes with objects")
    if int(labels.max()) >= len(class_names):
        raise ValueError(
            f"label {int(labels.max())} has no name among {len(class_names)} class_names: pass the dataset's "
            f"class_names"
        )
    h, w = maps.shape[-2:]
    tol = TOLERANCE * min(h, w) if tolerance is None else float(tolerance)
    m, lab, bx = maps[valid], labels[valid], boxes[valid]  # (O, H, W), (O,), (O, 4)
    hits = pointing_hits(m, box_pixels(bx, h, w), tolerance=tol).float()  # (O,)
    share = positive_mass_share(m, bx)  # (O,)
    pix = box_pixels(boxes, h, w) & valid[..., None, None]  # (B, M, H, W)
    others = (pix.sum(1, keepdim=True) - pix.int()).gt(0)[valid]  # (O, H, W) the other present boxes' pixels
    some = others.flatten(1).any(1)  # (O,)
    on_other = torch.zeros_like(hits, dtype=torch.bool)
    if some.any():
        on_other[some] = pointing_hits(m[some], others[some], tolerance=tol)
    on_other = (on_other & (hits == 0)).float()  # (O,)
    per_class = {
        class_names[c]: ClassScore(
            objects=int((lab == c).sum()),
            pointing=100 * float(hits[lab == c].mean()),
            mass_share=100 * float(share[lab == c].mean()),
            on_other=100 * float(on_other[lab == c].mean()),
        )
        for c in sorted(set(lab.tolist()))
    }
    return MultiObjectScore(
        method=method,
        scenes=int(valid.any(1).sum()),
        objects=int(valid.sum()),
        pointing=100 * float(hits.mean()),
        mass_share=100 * float(share.mean()),
        on_other=100 * float(on_other.mean()),
        tolerance=tol,
        per_class=per_class,
    )


def score_beside(
    maps: Tensor,
    labels: Tensor,
    boxes: Tensor,
    class_names: list[str],
    target: str,
    neighbour: str,
    tolerance: float | None = None,
) -> dict[str, MultiObjectScore | None]:
    """``target``'s scores in the scenes where ``neighbour`` is present and in those where it is not.

    For the twins (a firefly is a beetle with a lantern): does the firefly's map still find the firefly when a
    beetle stands beside it? Arguments as :func:`score_scene_maps`; only ``target``'s maps are scored.

    Returns:
        ``{"with": score, "without": score}``, ``None`` where no scene falls in that group.

    Raises:
        ValueError: a class name not in ``class_names``, or ``target == neighbour``.

    >>> maps = torch.zeros(2, 2, 8, 8); maps[:, 0, 1, 1] = 1.0  # class a's map peaks top-left in both scenes
    >>> boxes = torch.tensor([[[0.0, 0, 3, 3], [5, 5, 8, 8]], [[5.0, 5, 8, 8], [0, 0, 3, 3]]])
    >>> out = score_beside(maps, torch.tensor([[0, 1], [0, 2]]), boxes, ["a", "b", "c"], "a", "b", 1.0)
    >>> out["with"].pointing, out["without"].pointing
    (100.0, 0.0)
    """
    for name in (target, neighbour):
        if name not in class_names:
            raise ValueError(f"unknown class {name!r}: use one of {class_names}")
    if target == neighbour:
        raise ValueError(f"target and neighbour are both {target!r}: name two different classes")
    t, n = class_names.index(target), class_names.index(neighbour)
    has_t, has_n = (labels == t).any(1), (labels == n).any(1)  # (B,), (B,)
    only_t = torch.where(labels == t, labels, torch.full_like(labels, -1))  # (B, M) score target's maps only
    out: dict[str, MultiObjectScore | None] = {}
    for key, sel in (("with", has_t & has_n), ("without", has_t & ~has_n)):
        out[key] = (
            score_scene_maps(maps[sel], only_t[sel], boxes[sel], class_names, f"{target} {key} {neighbour}",
                             tolerance)
            if sel.any() else None
        )  # fmt: skip
    return out
