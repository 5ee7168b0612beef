"""One sample type for every dataset of the course, its batched form, and the protocol every dataset follows.

Boxes are torchvision XYXY in input pixels with exclusive right/bottom edges: a box over pixel columns 0..9
and rows 0..9 is ``(0, 0, 10, 10)``. Masks are ``bool`` with the object's pixels ``True``. Labels are all a
model ever trains on; boxes, part boxes and masks are for evaluation only.

A dataset of the course (:class:`SampleDataset`) has a length, ``class_names``, ``ds[i] -> Sample`` and
``ds.batch(indices, device) -> Batch``. The embedded dataset generates a batch at once on the device; the photo
datasets derive from :class:`CollatedDataset`, whose ``batch`` collates ``ds[i]``; :class:`SampleList` makes a
dataset of a plain list of samples.

``DataLoader(dataset)`` works without a ``collate_fn``: importing this module adds :class:`Sample` to torch's
default collate map (``torch.utils.data._utils.collate.default_collate_fn_map``), so a batch of samples
becomes a :class:`Batch`, as with ``collate_fn=collate`` (torch's default would fail on a dataclass).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.utils.data import Dataset

Indices = Sequence[int] | Tensor | range


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


def _collate_samples(batch: Sequence[Sample], *, collate_fn_map: object = None) -> Batch:
    return collate(batch)


try:  # DataLoader(dataset) without collate_fn=collate: a batch of Samples becomes a Batch
    from torch.utils.data._utils.collate import default_collate_fn_map

    default_collate_fn_map.setdefault(Sample, _collate_samples)
except ImportError:  # pragma: no cover - an older torch: DataLoader needs collate_fn=camlib.data.collate
    pass


def index_tensor(indices: Indices, size: int) -> Tensor:
    """``indices`` as a (B,) int64 CPU tensor, each checked to be an integer in ``0..size-1``.

    >>> index_tensor(range(3), 5).tolist()
    [0, 1, 2]
    """
    if isinstance(indices, Tensor):
        if indices.is_floating_point() or indices.dtype == torch.bool:
            raise TypeError(
                f"indices must be integers, got a {indices.dtype} tensor: use .long() on whole numbers"
            )
        idx = indices.detach().reshape(-1).to("cpu", torch.int64)
    else:
        try:
            idx = torch.tensor([operator.index(i) for i in indices], dtype=torch.int64)
        except TypeError as exc:
            raise TypeError(
                f"indices must be integers (e.g. range(8) or [0, 3]), got {list(indices)!r}"
            ) from exc
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= size):
        bad = int(idx[(idx < 0) | (idx >= size)][0])
        raise IndexError(f"index {bad} is out of range for a split of {size} images (0..{size - 1})")
    return idx


@runtime_checkable
class SampleDataset(Protocol):
    """What every dataset of the course offers (``Shapes``, ``OxfordPets``, ``CUB``, ``ImageFolder``, ...)."""

    @property
    def class_names(self) -> Sequence[str]: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> Batch: ...


class CollatedDataset(Dataset[Sample]):
    """Base of the datasets read sample by sample (photos): ``batch`` collates ``self[i]``.

    Attributes:
        generates_batches: ``False``: the training loop reads such a dataset through a ``DataLoader`` (workers
            decode files in parallel); a dataset that draws whole batches on the device sets it ``True``.
    """

    generates_batches: ClassVar[bool] = False
    class_names: Sequence[str] = ()

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Sample:
        raise NotImplementedError

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> Batch:
        """The samples ``indices`` collated into one :class:`Batch` on ``device`` (default CPU)."""
        idx = index_tensor(indices, len(self)).tolist()
        return collate([self[i] for i in idx]).to(device if device is not None else "cpu")


class SampleList(CollatedDataset):
    """A list of :class:`Sample` as a dataset (what the explorer and the figures accept from a learner).

    >>> ds = SampleList([Sample(torch.zeros(3, 4, 4), 0), Sample(torch.ones(3, 4, 4), 1)], ["a", "b"])
    >>> len(ds), ds.batch([1]).labels.tolist(), ds.class_names
    (2, [1], ['a', 'b'])
    """

    def __init__(self, samples: Sequence[Sample], class_names: Sequence[str] | None = None) -> None:
        bad = next((type(s).__name__ for s in samples if not isinstance(s, Sample)), None)
        if bad is not None:
            raise TypeError(f"a sample list holds camlib.data.Sample objects, got a {bad}")
        self.samples = list(samples)
        self.class_names = list(class_names) if class_names is not None else []  # []: not known

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]


def as_dataset(data: SampleDataset | Sequence[Sample]) -> SampleDataset:
    """``data`` itself when it is a course dataset, a :class:`SampleList` for a list of samples.

    Raises:
        TypeError: for anything else, naming what is accepted.
    """
    if isinstance(data, SampleDataset):
        return data
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes, Tensor)):
        return SampleList(data)
    raise TypeError(
        f"expected a course dataset (len, class_names, ds[i], ds.batch(indices)) or a list of Samples, "
        f"got {type(data).__name__}: wrap your data in camlib.data.SampleList(samples, class_names)"
    )
