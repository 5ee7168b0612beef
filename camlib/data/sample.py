"""One sample type for every dataset of the course, and its batched form.

Boxes are torchvision XYXY in input pixels with exclusive right/bottom edges: a box over pixel columns 0..9
and rows 0..9 is ``(0, 0, 10, 10)``. Masks are ``bool`` with the object's pixels ``True``. Labels are all a
model ever trains on; boxes, part boxes and masks are for evaluation only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Sample:
    """One image with its weak label and its (evaluation-only) localisation ground truth.

    Attributes:
        image: (3, H, W) float32 in [0, 1].
        label: class index.
        box: (4,) float32 XYXY object box, exclusive edges; ``None`` when the dataset has no boxes.
        mask: (H, W) bool object mask; ``None`` when unknown.
        part_box: (4,) float32 box of the discriminative part, when the class has one; else ``None``.
    """

    image: Tensor
    label: int
    box: Tensor | None = None
    mask: Tensor | None = None
    part_box: Tensor | None = None


@dataclass
class Batch:
    """Samples stacked along a first dimension B.

    Attributes:
        images: (B, 3, H, W) float32.
        labels: (B,) int64.
        boxes: (B, 4) float32, or ``None`` when the dataset has no boxes.
        masks: (B, H, W) bool, or ``None``.
        part_boxes: (B, 4) float32 with NaN rows for samples without a part box, or ``None`` when no sample
            of the batch has one.
    """

    images: Tensor
    labels: Tensor
    boxes: Tensor | None = None
    masks: Tensor | None = None
    part_boxes: Tensor | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """Move every tensor to ``device``."""

        def mv(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return Batch(
            self.images.to(device, non_blocking=non_blocking),
            self.labels.to(device, non_blocking=non_blocking),
            mv(self.boxes),
            mv(self.masks),
            mv(self.part_boxes),
        )

    def sample(self, i: int) -> Sample:
        """The ``i``-th sample of the batch."""
        part = None
        if self.part_boxes is not None and not torch.isnan(self.part_boxes[i]).any():
            part = self.part_boxes[i]
        return Sample(
            self.images[i],
            int(self.labels[i]),
            None if self.boxes is None else self.boxes[i],
            None if self.masks is None else self.masks[i],
            part,
        )


def collate(samples: Sequence[Sample]) -> Batch:
    """Stack samples into a :class:`Batch` (use as a DataLoader's ``collate_fn``).

    >>> s = Sample(torch.zeros(3, 4, 4), 1, torch.tensor([0.0, 0, 2, 2]), torch.zeros(4, 4, dtype=torch.bool))
    >>> b = collate([s, s])
    >>> b.images.shape, b.labels.tolist(), b.part_boxes
    (torch.Size([2, 3, 4, 4]), [1, 1], None)
    """
    if not samples:
        raise ValueError("cannot collate an empty list of samples")
    images = torch.stack([s.image for s in samples])  # (B, 3, H, W)
    labels = torch.tensor([s.label for s in samples], dtype=torch.long)  # (B,)
    boxes = None if any(s.box is None for s in samples) else torch.stack([s.box for s in samples])  # type: ignore[misc]
    masks = None if any(s.mask is None for s in samples) else torch.stack([s.mask for s in samples])  # type: ignore[misc]
    parts = None
    if any(s.part_box is not None for s in samples):
        nan = torch.full((4,), float("nan"))
        parts = torch.stack([s.part_box if s.part_box is not None else nan for s in samples])  # (B, 4)
    return Batch(images, labels, boxes, masks, parts)
