"""Feeding batches to the device: generated on it, kept on it, or read through a DataLoader.

A dataset that ``generates_batches`` (the embedded :class:`~camlib.data.shapes.Shapes`) draws its images
directly on the device with ``batch(indices, device)``, so a GPU never waits for a DataLoader;
:class:`Pregenerated` keeps a whole split there when it fits. The photo datasets
(:class:`~camlib.data.CollatedDataset`) go through a ``DataLoader`` with :func:`~camlib.data.collate`, whose
workers decode files off the training thread.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from camlib.data.sample import Batch, Indices, Sample, SampleDataset, collate, index_tensor


def iter_batches(
    ds: SampleDataset, indices: Tensor, batch_size: int, device: torch.device, num_workers: int = 0
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(images (B, 3, H, W) float32, labels (B,) int64)`` on ``device`` for ``indices``, in order.

    Datasets that ``generates_batches`` draw each batch on the device; others are read by a ``DataLoader``
    over a :class:`~torch.utils.data.Subset` with :func:`~camlib.data.collate`.
    """
    if getattr(ds, "generates_batches", False):
        for chunk in indices.split(batch_size):
            b = ds.batch(chunk, device=device)
            yield b.images.to(device, non_blocking=True), b.labels.to(device, non_blocking=True)
        return
    subset: Subset[Sample] = Subset(ds, indices.tolist())  # type: ignore[arg-type]  # a map-style dataset
    loader: DataLoader[Sample] = DataLoader(
        subset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    for b in loader:
        yield b.images.to(device, non_blocking=True), b.labels.to(device, non_blocking=True)


class Pregenerated:
    """A dataset's images and labels generated once and kept (on the device), indexed like the dataset.

    The embedded dataset draws every image from scratch; keeping a split costs ``N * 3 * H * W * 4`` bytes
    (295 MB for 6,000 images of 64 px) and saves drawing it again every epoch. See :func:`should_pregenerate`.
    """

    generates_batches = True

    def __init__(
        self, ds: SampleDataset, device: torch.device, batch_size: int = 1024, progress: bool = False
    ) -> None:
        idx = torch.arange(len(ds))
        name = getattr(ds, "split", "data")
        bar = tqdm(total=len(ds), desc=f"generating {name}", unit="img", disable=not progress, leave=False)
        images, labels = [], []
        for x, y in iter_batches(ds, idx, batch_size, device):
            images.append(x)
            labels.append(y)
            bar.update(len(y))
        bar.close()
        self.split = name
        self.class_names = list(ds.class_names)
        self.images = torch.cat(images)  # (N, 3, H, W)
        self.labels = torch.cat(labels)  # (N,)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> Sample:
        return self.batch([index]).sample(0)

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> Batch:
        """Images and labels of ``indices`` (on the device they were generated on)."""
        idx = index_tensor(indices, len(self)).to(self.images.device)
        return Batch(self.images[idx], self.labels[idx])


def should_pregenerate(ds: SampleDataset, device: torch.device) -> bool:
    """Keep a generated split in memory when it fits: up to 2 GiB of RAM, or a quarter of a GPU's memory."""
    if not getattr(ds, "generates_batches", False) or len(ds) == 0 or isinstance(ds, Pregenerated):
        return False
    side = getattr(ds, "image_size", None)
    per_image = 3 * side * side if isinstance(side, int) else ds[0].image.numel()
    limit = 2 * 1024**3
    if device.type == "cuda":
        limit = torch.cuda.get_device_properties(device).total_memory // 4
    return len(ds) * per_image * 4 <= limit
