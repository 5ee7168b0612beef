"""The embedded weakly-labelled dataset: six creatures on textured, cluttered backgrounds, generated in torch.

Each image holds one creature (see :mod:`camlib.data.shapes.classes`) at a random position and scale over a
blotchy two-colour background with clutter blobs and strokes. Every colour (background, clutter, the creature's
three paints) is drawn from one shared palette independently of the class, so colour says nothing about the
label; the class is in the shape, the texture and, for two pairs of twins, one small part. Ground truth: the
object mask (exactly the creature's pixels), its box (exactly the mask's extent) and, for the firefly and the
shark, the box of the discriminative part. Labels are all a model trains on.

A sample is a pure function of ``(seed, split, index)`` (counter-based hashing, see
:mod:`camlib.data.shapes.rng`), identical in any batch, process or device, and splits never share an image.
Boxes are torchvision XYXY in pixels with exclusive right/bottom edges: pixels 0..9 give ``(0, 0, 10, 10)``.

Example:
    >>> ds = Shapes("val", size=8, image_size=64)
    >>> s = ds[0]
    >>> s.image.shape, s.image.dtype, s.mask.shape, ds.class_names[s.label] in ds.class_names
    (torch.Size([3, 64, 64]), torch.float32, torch.Size([64, 64]), True)
    >>> ds.batch([0, 1, 2]).images.shape
    torch.Size([3, 3, 64, 64])
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Protocol

import torch
from torch import Tensor

from camlib.data.sample import Batch, Indices, Sample, SampleDataset, index_tensor
from camlib.data.shapes.classes import CREATURES
from camlib.data.shapes.config import ShapesConfig
from camlib.data.shapes.scene import draw_labels, empty_outputs, render_scene
from camlib.profile import MIN_IMAGE_SIZE, SlowWarning, get_profile

SPLITS = ("train", "val", "test")
SLOW_IMAGE_SIZE = 256  # above this side, drawing slows down steeply: warn
_CHUNK = 64  # __getitem__ generates and caches this many consecutive samples at once
_CACHE_CHUNKS = 16


class Shapes:
    """The synthetic dataset of the course (a :class:`~camlib.data.SampleDataset` that draws whole batches).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``; the splits never share an image.
        size: number of images; default the profile's ``train_size`` / ``val_size`` / ``test_size``.
        image_size: image side in pixels (>= 32); default the profile's ``image_size``. Above 256 px a
            :class:`~camlib.profile.SlowWarning` says that drawing slows down steeply (the course uses 64 / 128).
        seed: non-negative integer; the same ``(seed, split, index)`` always gives the same sample.
        config: difficulty knobs (:class:`ShapesConfig`), default ``ShapesConfig()``.

    Raises:
        ValueError: unknown split, negative size, image side below 32 px, negative seed, wrong config type.
    """

    generates_batches = True  # batch() draws on the device: no DataLoader needed

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        image_size: int | None = None,
        seed: int = 0,
        config: ShapesConfig | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: use one of {list(SPLITS)}")
        profile = get_profile() if size is None or image_size is None else None
        if size is None:
            size = getattr(profile, f"{split}_size")
        if image_size is None:
            image_size = profile.image_size  # type: ignore[union-attr]
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be a non-negative number of images, got {size!r}")
        if not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"image_size must be an integer >= {MIN_IMAGE_SIZE} px (objects need room for their parts), "
                f"got {image_size!r}: use e.g. image_size=64"
            )
        if image_size > SLOW_IMAGE_SIZE:
            warnings.warn(
                f"Shapes(image_size={image_size}) draws slowly: the cost grows faster than the number of pixels "
                f"(over a minute per image at 1,000 px on a laptop CPU); the course uses 64 px (fast profile) "
                f"or 128 px (full): use image_size <= {SLOW_IMAGE_SIZE}",
                SlowWarning,
                stacklevel=2,
            )
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        config = ShapesConfig() if config is None else config
        if not isinstance(config, ShapesConfig):
            raise ValueError(
                f"config must be a ShapesConfig, got {type(config).__name__}: use ShapesConfig(...)"
            )
        self.split, self.size, self.image_size, self.seed, self.config = split, size, image_size, seed, config
        self._cache: OrderedDict[int, Batch] = OrderedDict()
        self._last_index = -2

    # ---- what the dataset is -------------------------------------------------------------------------------
    @property
    def class_names(self) -> list[str]:
        """Names of the classes, indexed by label."""
        return [c.name for c in CREATURES]

    @property
    def num_classes(self) -> int:
        """Number of classes (6)."""
        return len(self.class_names)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return (
            f"Shapes(split={self.split!r}, size={self.size}, image_size={self.image_size}, seed={self.seed}, "
            f"config={self.config})"
        )

    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild the dataset, in plain JSON types (see :meth:`from_spec`)."""
        return {
            "dataset": "Shapes",
            "version": 1,
            "split": self.split,
            "size": self.size,
            "image_size": self.image_size,
            "seed": self.seed,
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_spec(cls, d: dict[str, Any]) -> Shapes:
        """Rebuild a dataset from :meth:`spec`'s dict."""
        if d.get("dataset", "Shapes") != "Shapes":
            raise ValueError(f"not a Shapes spec (dataset={d.get('dataset')!r})")
        return cls(d["split"], d["size"], d["image_size"], d["seed"], ShapesConfig.from_dict(d["config"]))

    # ---- generation --------------------------------------------------------------------------------------
    def _indices(self, indices: Indices) -> Tensor:
        return index_tensor(indices, self.size)

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> Batch:
        """Generate the samples ``indices`` together, in torch, on ``device`` (default CPU).

        Returns:
            :class:`~camlib.data.Batch` with images (B, 3, H, W) float32 in [0, 1], labels (B,) int64,
            boxes (B, 4) float32 XYXY (exclusive edges), masks (B, H, W) bool and part_boxes (B, 4) with NaN
            rows for classes without a discriminative part (``None`` when no sample has one).
        """
        idx = self._indices(indices)
        dev = torch.device(device) if device is not None else torch.device("cpu")
        n, size = idx.numel(), self.image_size
        out = empty_outputs(n, size, dev)
        step = max(1, (256 if dev.type == "cpu" else 16384) * 64 * 64 // (size * size))  # ~cache-sized chunks
        for i in range(0, n, step):
            chunk = tuple(t[i : i + step] for t in out)
            render_scene(self.seed, self.split, idx[i : i + step].to(dev), size, self.config, out=chunk)
        images, labels, boxes, masks, part_boxes = out
        has_part = bool((~torch.isnan(part_boxes[:, 0])).any())
        return Batch(images, labels, boxes, masks, part_boxes if has_part else None)

    def labels(self) -> Tensor:
        """(N,) int64 labels of the whole split, cheaply (no image is drawn)."""
        return draw_labels(self.seed, self.split, torch.arange(self.size), self.num_classes)

    def __getitem__(self, i: int) -> Sample:
        """One :class:`~camlib.data.Sample`; consecutive reads are generated (and cached) a chunk at a time."""
        if not isinstance(i, int) and not (isinstance(i, Tensor) and i.numel() == 1):
            raise TypeError(f"index must be an int, got {type(i).__name__}: use ds.batch(indices) for many")
        i = int(i)
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError(f"index {i} is out of range for a split of {self.size} images")
        chunk = i // _CHUNK
        sequential, self._last_index = self._last_index == i - 1, i
        if chunk in self._cache:
            self._cache.move_to_end(chunk)
            return _detached(self._cache[chunk].sample(i - chunk * _CHUNK))
        if not sequential:  # random access: draw just this sample
            return self.batch([i]).sample(0)
        start = chunk * _CHUNK
        self._cache[chunk] = self.batch(range(start, min(start + _CHUNK, self.size)))
        if len(self._cache) > _CACHE_CHUNKS:
            self._cache.popitem(last=False)
        return _detached(self._cache[chunk].sample(i - start))


def _detached(s: Sample) -> Sample:
    """A copy of a cached sample, so that editing it in place cannot change the cache."""
    clone = [None if t is None else t.clone() for t in (s.box, s.mask, s.part_box)]
    return Sample(s.image.clone(), s.label, *clone)


class _Boxed(Protocol):
    """What :func:`mean_box_size` reads: a length and batches with boxes (``Shapes``, ``MultiShapes``)."""

    def __len__(self) -> int: ...

    def batch(self, indices: Indices) -> Any: ...


def mean_box_size(ds: SampleDataset | _Boxed, n: int = 512) -> tuple[float, float]:
    """Mean (width, height) of the object boxes over the first ``n`` samples (for the centred-box baseline).

    Several objects per image (:class:`~camlib.data.shapes.MultiShapes`, boxes (B, M, 4)): the mean over every
    present creature's box (slots with label -1 are padding).

    Raises:
        ValueError: the dataset has no boxes.
    """
    b = ds.batch(range(min(n, len(ds))))
    if b.boxes is None:
        raise ValueError("the dataset has no boxes, so it has no mean box size")
    boxes = b.boxes[b.labels >= 0] if b.boxes.dim() == 3 else b.boxes  # (N, 4)
    wh = boxes[:, 2:] - boxes[:, :2]  # (N, 2)
    return float(wh[:, 0].mean()), float(wh[:, 1].mean())
