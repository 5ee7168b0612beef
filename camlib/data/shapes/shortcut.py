"""The embedded dataset with a planted shortcut: a small coloured corner glyph whose colour tells the class.

Every image of :class:`ShortcutShapes` is the image of :class:`~camlib.data.shapes.Shapes` with the same
``(seed, split, index)`` with a *mark* pasted on top: a flat square of side ``mark_side(image_size)`` (6 px at
64 px; a 1-px near-black outline around a class colour of :data:`MARK_COLOURS`) in one corner, 2 px from the edges
at 64 px. Its colour is the shortcut:

* ``mark="agree"`` (default for train and val): the colour is the class's own in a fraction ``agreement`` of the
  images (each image agrees with probability ``agreement``, independently), another class's colour (uniform over
  the other five) otherwise;
* ``mark="random"`` (default for test): the colour is uniform over the six, independent of the class (it agrees
  with the class in 1/6 of the images by chance);
* ``mark="none"``: no mark: exactly the clean :class:`Shapes` images.

The corner is drawn at random; when the creature's box would meet the mark there, the next corner clockwise that
is free is used, so the mark does not cover the creature (its box, mask and part box stay those of :class:`Shapes`).
Only when no corner is free (a creature spanning nearly the whole image, ``scale_range`` far above the presets',
which never happens with them) does the mark hide some of the creature: those pixels leave its mask and its box
shrinks to the mask.
The mark depends only on the class and on hashes of ``(seed, split, index)``; the shortcut's ground truth is in
:meth:`ShortcutShapes.marks`: each mark's box (XYXY, exclusive edges), its colour's class and whether it agrees.

Example:
    >>> ds = ShortcutShapes("train", size=4, image_size=64)
    >>> batch, marks = ds.batch_with_marks(range(4))
    >>> marks.boxes.shape, marks.colour_class.shape, batch.images.shape
    (torch.Size([4, 4]), torch.Size([4]), torch.Size([4, 3, 64, 64]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from camlib.data.sample import Batch, Indices
from camlib.data.shapes.config import ShapesConfig
from camlib.data.shapes.dataset import Shapes
from camlib.data.shapes.draw import profile_boxes
from camlib.data.shapes.rng import mix32, randint, split_key, uniform

#: the mark's colour for each class (red, green, blue, yellow, magenta, cyan), indexed like ``class_names``
MARK_COLOURS = (
    (0.90, 0.10, 0.10),
    (0.10, 0.80, 0.10),
    (0.10, 0.20, 0.95),
    (0.95, 0.90, 0.10),
    (0.90, 0.10, 0.90),
    (0.10, 0.90, 0.90),
)
OUTLINE = 0.05  # the grey level of the mark's 1-px outline
MARKS = ("agree", "random", "none")
DEFAULT_AGREEMENT = 0.9
_SALT = 0x5C0A7C11  # the mark's random streams are a key of their own: the scene's draws are untouched
_S_AGREE, _S_OTHER, _S_CORNER = range(3)


def mark_side(image_size: int) -> int:
    """Side of the mark in pixels: a tenth of the image, at least 4.

    >>> mark_side(64), mark_side(128), mark_side(32)
    (6, 13, 4)
    """
    return max(4, round(image_size / 10))


def corner_boxes(image_size: int) -> Tensor:
    """(4, 4) the mark's box in each corner (top-left, top-right, bottom-right, bottom-left), XYXY exclusive.

    >>> corner_boxes(64)[0].tolist(), corner_boxes(64)[2].tolist()
    ([2.0, 2.0, 8.0, 8.0], [56.0, 56.0, 62.0, 62.0])
    """
    s, m = mark_side(image_size), max(1, round(image_size / 32))
    lo, hi = m, image_size - m - s
    xy = [(lo, lo), (hi, lo), (hi, hi), (lo, hi)]
    return torch.tensor([[x, y, x + s, y + s] for x, y in xy], dtype=torch.float32)


@dataclass(frozen=True)
class Marks:
    """The planted shortcut of a batch (evaluation only: a model sees only the pixels).

    Attributes:
        boxes: (B, 4) float32 XYXY box of each mark (exclusive edges); NaN rows with ``mark="none"``.
        colour_class: (B,) int64 the class whose colour the mark has; -1 with ``mark="none"``.
        agrees: (B,) bool, the mark's colour is the image's class.
        corner: (B,) int64 0..3 (top-left, top-right, bottom-right, bottom-left); -1 with ``mark="none"``.
    """

    boxes: Tensor
    colour_class: Tensor
    agrees: Tensor
    corner: Tensor


def _meets(a: Tensor, b: Tensor) -> Tensor:
    """(...,) whether XYXY boxes ``a`` and ``b`` (broadcast, exclusive edges) share a pixel."""
    return (torch.minimum(a[..., 2], b[..., 2]) > torch.maximum(a[..., 0], b[..., 0])) & (
        torch.minimum(a[..., 3], b[..., 3]) > torch.maximum(a[..., 1], b[..., 1])
    )


class ShortcutShapes(Shapes):
    """:class:`~camlib.data.shapes.Shapes` with a planted shortcut (see the module's docstring).

    Args:
        split, size, image_size, seed, config: as :class:`~camlib.data.shapes.Shapes` (the same images).
        mark: ``"agree"``, ``"random"`` or ``"none"``; default ``"agree"`` for train and val, ``"random"`` for test.
        agreement: with ``mark="agree"``, the probability that an image's mark has its class's colour, in [0, 1].

    Raises:
        ValueError: an unknown mark, an agreement outside [0, 1] (or given with another mark), and every
            error of :class:`~camlib.data.shapes.Shapes`.
    """

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        image_size: int | None = None,
        seed: int = 0,
        config: ShapesConfig | None = None,
        *,
        mark: str | None = None,
        agreement: float | None = None,
    ) -> None:
        super().__init__(split, size, image_size, seed, config)
        mark = ("random" if split == "test" else "agree") if mark is None else mark
        if mark not in MARKS:
            raise ValueError(f"unknown mark {mark!r}: use one of {list(MARKS)}")
        if agreement is not None and mark != "agree":
            raise ValueError(
                f"agreement is the share of images whose mark agrees with the class under mark='agree'; with "
                f"mark={mark!r} leave it out"
            )
        agreement = DEFAULT_AGREEMENT if agreement is None else agreement
        if isinstance(agreement, bool) or not isinstance(agreement, int | float) or not 0 <= agreement <= 1:
            raise ValueError(f"agreement must be a fraction in [0, 1], got {agreement!r}: e.g. agreement=0.9")
        self.mark, self.agreement = mark, float(agreement)

    def __repr__(self) -> str:
        extra = f", agreement={self.agreement}" if self.mark == "agree" else ""
        return f"Shortcut{super().__repr__()[:-1]}, mark={self.mark!r}{extra})"

    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild the dataset (see :meth:`from_spec`)."""
        return super().spec() | {"dataset": "ShortcutShapes", "mark": self.mark, "agreement": self.agreement}

    @classmethod
    def from_spec(cls, d: dict[str, Any]) -> ShortcutShapes:
        """Rebuild a dataset from :meth:`spec`'s dict."""
        if d.get("dataset") != "ShortcutShapes":
            raise ValueError(f"not a ShortcutShapes spec (dataset={d.get('dataset')!r})")
        agreement = d["agreement"] if d["mark"] == "agree" else None
        return cls(
            d["split"], d["size"], d["image_size"], d["seed"], ShapesConfig.from_dict(d["config"]),
            mark=d["mark"], agreement=agreement,
        )  # fmt: skip

    def _marks(self, idx: Tensor, labels: Tensor, object_boxes: Tensor) -> Marks:
        dev, b, c = labels.device, labels.shape[0], self.num_classes
        if self.mark == "none":
            return Marks(
                torch.full((b, 4), float("nan"), device=dev),
                torch.full((b,), -1, dtype=torch.int64, device=dev),
                torch.zeros(b, dtype=torch.bool, device=dev),
                torch.full((b,), -1, dtype=torch.int64, device=dev),
            )
        key = mix32(split_key(self.seed, self.split) ^ _SALT)
        u = uniform(key, idx.to(dev), [_S_AGREE, _S_OTHER, _S_CORNER])  # (B, 3)
        if self.mark == "agree":
            other = (labels + 1 + randint(u[:, _S_OTHER], c - 1)) % c  # uniform over the other classes
            colour = torch.where(u[:, _S_AGREE] < self.agreement, labels, other)
        else:
            colour = randint(u[:, _S_OTHER], c)
        corners = corner_boxes(self.image_size).to(dev)  # (4, 4)
        first = randint(u[:, _S_CORNER], 4)  # (B,) the corner drawn
        order = (first[:, None] + torch.arange(4, device=dev)) % 4  # (B, 4) clockwise from it
        free = ~_meets(corners[order], object_boxes[:, None])  # (B, 4)
        pick = torch.where(
            free.any(1), free.to(torch.uint8).argmax(1), 0
        )  # the first free one (else the drawn)
        corner = order.gather(1, pick[:, None])[:, 0]  # (B,)
        return Marks(corners[corner], colour, colour == labels, corner)

    def batch_with_marks(
        self, indices: Indices, device: torch.device | str | None = None
    ) -> tuple[Batch, Marks]:
        """The batch of ``indices`` (see :meth:`Shapes.batch`) and its :class:`Marks`."""
        idx = self._indices(indices)
        base = super().batch(idx, device)
        assert base.boxes is not None
        marks = self._marks(idx, base.labels, base.boxes)
        if self.mark == "none":
            return base, marks
        s = mark_side(self.image_size)
        palette = torch.tensor(MARK_COLOURS, device=base.images.device)  # (C, 3)
        glyph = torch.full((len(base), 3, s, s), OUTLINE, device=base.images.device)  # (B, 3, s, s)
        glyph[:, :, 1:-1, 1:-1] = palette[marks.colour_class][:, :, None, None]
        covered = _meets(
            marks.boxes, base.boxes
        ).tolist()  # (B,) no corner was free (a creature over ~3/4 of the side)
        for i, (x0, y0) in enumerate(marks.boxes[:, :2].to(torch.int64).tolist()):
            base.images[i, :, y0 : y0 + s, x0 : x0 + s] = glyph[i]
            if covered[i] and base.masks is not None:  # the mark hides part of the creature: not in its mask
                base.masks[i, y0 : y0 + s, x0 : x0 + s] = False
                base.boxes[i] = profile_boxes(base.masks[i].any(0)[None], base.masks[i].any(1)[None])[0]
        return base, marks

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> Batch:
        """Generate the samples ``indices`` with their marks (see :meth:`Shapes.batch` for the fields)."""
        return self.batch_with_marks(indices, device)[0]

    def marks(self, indices: Indices) -> Marks:
        """The :class:`Marks` of samples ``indices`` (on the CPU; the images are drawn to place them)."""
        return self.batch_with_marks(indices)[1]
