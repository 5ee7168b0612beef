"""Scenes of several creatures: 2 or 3 objects of DIFFERENT classes per image, each with its box, mask and part box.

The single-object images of :class:`~camlib.data.shapes.Shapes` teach a network the classes; these scenes ask
whether each class's map then lights up its own creature (the paper's Fig. 4: the top-5 classes' maps of one
image). A scene has the same background, clutter, palette and lighting as a :class:`Shapes` image; then its
creatures are painted one after the other (a later one on top). Ground truth per object: its **visible** pixels
(the mask), their extent (the box) and the visible pixels of its discriminative part (the part box, NaN when the
class has none or it is hidden).

Placement (:mod:`camlib.data.shapes.layout`): each scene tries random layouts and keeps the first in which every
creature shows and every pair of boxes overlaps by at most ``max_overlap`` (the intersection over the smaller
box); a scene none of whose attempts fits gets two creatures in opposite corners. Every draw is a counter-based
stream, so the same ``(seed, split, index)`` always gives the same scene, in any batch; scenes draw streams of
their own: scene ``i`` is unrelated to ``Shapes`` image ``i``.

Example:
    >>> ds = MultiShapes("test", size=4, image_size=64)
    >>> b = ds.batch([0, 1])
    >>> b.images.shape, b.labels.shape, b.boxes.shape, b.masks.shape
    (torch.Size([2, 3, 64, 64]), torch.Size([2, 3]), torch.Size([2, 3, 4]), torch.Size([2, 3, 64, 64]))
    >>> s = ds[0]
    >>> len(set(s.labels.tolist())) == len(s.labels) == s.boxes.shape[0]  # distinct classes
    True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from camlib.data.sample import Indices, index_tensor
from camlib.data.shapes.classes import CREATURES, PART_LAYER
from camlib.data.shapes.dataset import SPLITS
from camlib.data.shapes.draw import BG_LEVELS, TILES, tiles
from camlib.data.shapes.layout import MAX_OBJECTS, MultiConfig, mask_boxes, paint_slots, place, visible_masks
from camlib.data.shapes.rng import mix32, randint, split_key, uniform
from camlib.data.shapes.scene import BG_CONTRAST, _clutter, colour_permutation
from camlib.profile import MIN_IMAGE_SIZE, get_profile

_SALT = 0x3C6EF372  # scenes draw streams of their own key
# stream ids: the count, the class order, background and lighting, layouts; colours (16..) and clutter are
# scene.py's (colour_permutation, _clutter)
_S_COUNT, _S_CLASSES, _S_BG, _S_LIGHT, _S_LAYOUT = 0, 1, 8, 9, 1024


class SceneBatch(NamedTuple):
    """Scenes generated together; M = :data:`MAX_OBJECTS` slots per scene, slot ``k >= counts[i]`` is padding.

    Attributes:
        images: (B, 3, H, W) float32 in [0, 1].
        labels: (B, M) int64 classes, distinct within a scene; -1 in padding slots.
        boxes: (B, M, 4) float32 XYXY boxes of the visible pixels (exclusive edges); NaN in padding slots.
        masks: (B, M, H, W) bool visible pixels of each object; all False in padding slots.
        part_boxes: (B, M, 4) float32 boxes of the visible discriminative part; NaN where there is none.
        counts: (B,) int64 objects per scene.
        fallback: (B,) bool, the scenes whose random layouts all failed the overlap bound (two creatures in
            opposite corners instead).
    """

    images: Tensor
    labels: Tensor
    boxes: Tensor
    masks: Tensor
    part_boxes: Tensor
    counts: Tensor
    fallback: Tensor


class Scene(NamedTuple):
    """One scene of n objects: image (3, H, W), labels (n,), boxes (n, 4), masks (n, H, W), part_boxes (n, 4)."""

    image: Tensor
    labels: Tensor
    boxes: Tensor
    masks: Tensor
    part_boxes: Tensor


def generate(seed: int, split: str, idx: Tensor, size: int, config: MultiConfig) -> SceneBatch:
    """Generate scenes ``idx`` (B,) of one split (see the module's docstring); everything on ``idx.device``."""
    dev, b, m = idx.device, idx.shape[0], MAX_OBJECTS
    key = mix32(split_key(seed, split) ^ _SALT)
    lo, hi = config.objects
    counts = lo + randint(uniform(key, idx, [_S_COUNT])[:, 0], hi - lo + 1)  # (B,)
    classes = uniform(key, idx, list(range(_S_CLASSES, _S_CLASSES + len(CREATURES)))).argsort(
        dim=1, stable=True
    )[:, :m]  # (B, M)

    u, counts, fallback = place(key, idx, counts, classes, size, config, _S_LAYOUT)  # (B, M, 7), (B,), (B,)
    active = torch.arange(m, device=dev)[None, :] < counts[:, None]  # (B, M)
    paint = paint_slots(classes, u, active, size, config.scale_range)  # (B, M, H, W)
    masks = visible_masks(paint)

    # the image: background, clutter, then each creature's three paints (later slots on top)
    palette, perm = colour_permutation(key, idx, dev)  # (P, 3), (B, P)
    n_pal = palette.shape[0]
    levels, luma = tiles(size, dev)
    lab = levels.index_select(0, randint(uniform(key, idx, [_S_BG])[:, 0], TILES))  # (B, H, W) uint8
    light = luma.index_select(0, randint(uniform(key, idx, [_S_LIGHT])[:, 0], TILES)).view(
        b, size * size
    )  # (B, HW)
    bg_a = (palette[perm[:, 0]] + palette[perm[:, 1]]) / 2  # (B, 3)
    bg_b = (palette[perm[:, 2]] + palette[perm[:, 3]]) / 2
    t_bg = torch.arange(BG_LEVELS, device=dev, dtype=torch.float32) * (BG_CONTRAST / (BG_LEVELS - 1))
    colours = [bg_a[:, None] + (bg_b - bg_a)[:, None] * t_bg[None, :, None]]  # (B, L_bg, 3)
    next_label = BG_LEVELS
    clut = _clutter(key, idx, size, config.clutter, next_label)
    if clut is not None:
        kmax = int(2 * config.clutter + 1e-9)
        streams = [128 + 8 * k + 7 for k in range(kmax)]  # scene.py's clutter colour streams
        colours.append(palette[randint(uniform(key, idx, streams), n_pal)])  # (B, kmax, 3)
        lab = torch.maximum(lab, clut)
        next_label += kmax
    for k in range(m):
        obj = paint[:, k] & 3  # (B, H, W) colour 1..3, 0 off the creature
        lab = torch.maximum(lab, (obj + (next_label + 3 * k - 1)) * (obj > 0).to(torch.uint8))
        colours.append(palette[perm[:, 4 + 3 * k : 7 + 3 * k]])  # (B, 3, 3): base, trim, mark
    table = torch.cat(colours, 1).transpose(1, 2).contiguous()  # (B, 3, L)
    flat = lab.view(b, size * size).to(torch.int64)  # (B, HW)
    images = torch.stack([torch.gather(table[:, ch], 1, flat) * light for ch in range(3)], 1)
    images = images.view(b, 3, size, size).clamp_(0, 1)

    boxes = mask_boxes(masks)  # (B, M, 4)
    parts = mask_boxes(masks & (paint >= 4 * PART_LAYER))
    labels = torch.where(active, classes, -1)
    return SceneBatch(images, labels, boxes, masks, parts, counts, fallback)


class MultiShapes:
    """Scenes of 2-3 creatures of different classes (see the module's docstring); deterministic per index.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: number of scenes; default the profile's ``{split}_size``.
        image_size: image side in pixels (>= 32); default the profile's (the shipped models take 64 px).
        seed: non-negative integer; the same ``(seed, split, index)`` always gives the same scene.
        config: :class:`MultiConfig`, default ``MultiConfig()``.

    Raises:
        ValueError: unknown split, negative size, image side below 32 px, negative seed, wrong config type.
    """

    def __init__(
        self,
        split: str = "test",
        size: int | None = None,
        image_size: int | None = None,
        seed: int = 0,
        config: MultiConfig | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: use one of {list(SPLITS)}")
        size = getattr(get_profile(), f"{split}_size") if size is None else size
        image_size = get_profile().image_size if image_size is None else image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be a non-negative number of scenes, got {size!r}: e.g. size=200")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"image_size must be an integer >= {MIN_IMAGE_SIZE} px, got {image_size!r}: use the size the "
                f"model was trained at (64 px for the shipped checkpoints)"
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        config = MultiConfig() if config is None else config
        if not isinstance(config, MultiConfig):
            raise ValueError(
                f"config must be a MultiConfig, got {type(config).__name__}: use MultiConfig(...)"
            )
        self.split, self.size, self.image_size, self.seed, self.config = split, size, image_size, seed, config

    @property
    def class_names(self) -> list[str]:
        """Names of the classes, indexed by label (those of :class:`~camlib.data.shapes.Shapes`)."""
        return [c.name for c in CREATURES]

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return (
            f"MultiShapes(split={self.split!r}, size={self.size}, image_size={self.image_size}, "
            f"seed={self.seed}, config={self.config})"
        )

    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild the scenes, in plain JSON types."""
        return {"dataset": "MultiShapes", "version": 1, "split": self.split, "size": self.size,
                "image_size": self.image_size, "seed": self.seed, "config": self.config.to_dict()}  # fmt: skip

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> SceneBatch:
        """Generate the scenes ``indices`` together on ``device`` (default CPU): a :class:`SceneBatch`."""
        idx = index_tensor(indices, self.size).to(device if device is not None else "cpu")
        return generate(self.seed, self.split, idx, self.image_size, self.config)

    def __getitem__(self, i: int) -> Scene:
        """Scene ``i`` (negative indices count from the end) with its objects only, no padding."""
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"index must be an int, got {type(i).__name__}: use ds.batch(indices) for many")
        j = i + self.size if i < 0 else i
        if not 0 <= j < self.size:
            raise IndexError(f"index {i} is out of range for {self.size} scenes")
        b = self.batch([j])
        n = int(b.counts[0])
        return Scene(b.images[0], b.labels[0, :n], b.boxes[0, :n], b.masks[0, :n], b.part_boxes[0, :n])
