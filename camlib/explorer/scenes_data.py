"""Several-object scenes in the explorer: a :class:`~camlib.data.shapes.MultiShapes` (or a list of its scenes) as
the explorer's images, and what a view needs per (scene, class).

A scene has 2-3 creatures of different classes, each with its own box and part box; it has no single true class
(its label is -1, "unlabelled"). The view of class ``c`` uses ``c``'s own box as the ground truth (IoU, the
IoU-vs-tau curve, "all components") and ``c``'s part box (twin difference, erase), draws the other creatures'
boxes faint, and plays the pointing game of :mod:`camlib.localization.multi` (does the map's maximum fall within
``15 * min(H, W) / 224`` px of ``c``'s box?). A class absent from the scene has no box, so no IoU.
Boxes are XYXY in image pixels, exclusive right/bottom edges.

Example:
    >>> from camlib.data.shapes import MultiShapes
    >>> ss = SceneSet(MultiShapes("test", size=2, image_size=32))
    >>> b = ss.batch([0, 1])
    >>> b.labels.tolist(), b.boxes is None, len(ss.present(0)) >= 2
    ([-1, -1], True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from camlib.data.sample import Batch, Indices, Sample, SampleDataset, index_tensor
from camlib.data.shapes.classes import CREATURES
from camlib.data.shapes.multi import MultiShapes, Scene
from camlib.localization.multi import box_pixels
from camlib.metrics import pointing_hits
from camlib.metrics.pointing import TOLERANCE

#: what the explorer accepts as its images: a course dataset, a list of samples, or several-object scenes
ExplorerData = SampleDataset | Sequence[Sample] | MultiShapes | Sequence[Scene]


class Truth(NamedTuple):
    """The ground truth of one view: the chosen class's box and part box (``None``: none), the other creatures'
    boxes (drawn faint), and the classes present (``None`` for a single-object image)."""

    box: Tensor | None
    part: Tensor | None
    others: list[Tensor]
    present: tuple[int, ...] | None


class SceneSet:
    """A :class:`~camlib.data.SampleDataset` view of several-object scenes, for the explorer.

    ``batch(indices)`` gives the images with label -1 and no box (a scene has no single class); the objects of
    every scene that went through ``batch`` are kept, for :meth:`truth` and :meth:`present`.

    Args:
        scenes: a :class:`~camlib.data.shapes.MultiShapes`, or a sequence of its scenes (``ds[i]``).
        class_names: the names of the classes; default the dataset's (those of ``Shapes``).
    """

    def __init__(
        self, scenes: MultiShapes | Sequence[Scene], class_names: Sequence[str] | None = None
    ) -> None:
        self._source = scenes
        self._names = list(class_names or [c.name for c in CREATURES])
        self._objects: dict[
            int, tuple[Tensor, Tensor, Tensor]
        ] = {}  # index -> labels (n,), boxes, parts (n, 4)

    @property
    def class_names(self) -> list[str]:
        """Names of the classes, indexed by label."""
        return self._names

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> Sample:
        b = self.batch([index])
        return Sample(b.images[0], -1)

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> Batch:
        """The scenes ``indices`` as an unlabelled :class:`~camlib.data.Batch` (B, 3, H, W); objects kept."""
        idx = index_tensor(indices, len(self)).tolist()
        if isinstance(self._source, MultiShapes):
            sb = self._source.batch(idx)
            images = sb.images
            for j, i in enumerate(idx):
                n = int(sb.counts[j])
                self._objects[i] = (sb.labels[j, :n], sb.boxes[j, :n], sb.part_boxes[j, :n])
        else:
            scenes = [self._source[i] for i in idx]
            images = torch.stack([s.image for s in scenes]) if scenes else torch.zeros(0, 3, 1, 1)
            for i, s in zip(idx, scenes, strict=True):
                self._objects[i] = (s.labels, s.boxes, s.part_boxes)
        labels = torch.full((len(idx),), -1, dtype=torch.int64)
        return Batch(images, labels).to(device if device is not None else "cpu")

    def present(self, index: int) -> tuple[int, ...]:
        """The classes of scene ``index``, in painting order."""
        return tuple(int(c) for c in self._objects[index][0])

    def truth(self, index: int, cls: int) -> Truth:
        """The chosen class's box and part box in scene ``index`` (``None`` when absent) and the others' boxes."""
        labels, boxes, parts = self._objects[index]
        mine = (labels == cls).nonzero().flatten().tolist()
        others = [boxes[k] for k in range(len(labels)) if k not in mine]
        if not mine:
            return Truth(None, None, others, self.present(index))
        return Truth(boxes[mine[0]], parts[mine[0]], others, self.present(index))

    def part_classes(self) -> str:
        """The names of the classes that have a part box in a kept scene, e.g. ``"firefly and shark"``."""
        have = sorted(
            {
                int(c)
                for lab, _, p in self._objects.values()
                for c, b in zip(lab, p, strict=True)
                if not b[0].isnan()
            }
        )
        names = [self._names[c] for c in have]
        return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names) or "no class"


def as_scenes(dataset: Any) -> SceneSet | None:
    """A :class:`SceneSet` for a :class:`MultiShapes`, a :class:`SceneSet` or a non-empty list of its scenes;
    ``None`` for anything else (single-object data).

    >>> as_scenes([]) is None
    True
    """
    if isinstance(dataset, SceneSet):
        return dataset
    if isinstance(dataset, MultiShapes):
        return SceneSet(dataset)
    if isinstance(dataset, Sequence) and len(dataset) > 0 and isinstance(dataset[0], Scene):
        return SceneSet(dataset)
    return None


def ground_truth(scenes: SceneSet | None, data: Batch, row: int, index: int, cls: int) -> Truth:
    """The ground truth of the view of class ``cls`` on explored image ``index`` (row ``row`` of ``data``): a
    scene's chosen-class box (:meth:`SceneSet.truth`), else the image's own box and part box."""
    if scenes is not None:
        return scenes.truth(index, cls)
    box = data.boxes[row] if data.boxes is not None else None
    part = data.part_boxes[row] if data.part_boxes is not None else None
    return Truth(box, part, [], None)


def points_in(m: Tensor, box: Tensor) -> bool:
    """The pointing game on one (H, W) map: is its maximum within ``15 * min(H, W) / 224`` px of ``box``'s pixels
    (:func:`camlib.metrics.pointing_hits`, the tolerance of :func:`camlib.localization.multi.score_scene_maps`)?

    >>> m = torch.zeros(64, 64); m[10, 10] = 1.0
    >>> points_in(m, torch.tensor([12.0, 12, 30, 30])), points_in(m, torch.tensor([40.0, 40, 60, 60]))
    (True, False)
    """
    h, w = m.shape
    pix = box_pixels(box.reshape(1, 4).float(), h, w)  # (1, H, W)
    return bool(pointing_hits(m[None].float(), pix, tolerance=TOLERANCE * min(h, w))[0])


def scene_class_options(
    p: Tensor, class_names: Sequence[str], present: Sequence[int]
) -> list[tuple[str, int]]:
    """Every class, by the first model's probability ``p`` (C,), the present ones marked.

    >>> scene_class_options(torch.tensor([0.2, 0.7, 0.1]), ["a", "b", "c"], [0, 2])
    [('b · 70.0%', 1), ('a · 20.0% · in the scene', 0), ('c · 10.0% · in the scene', 2)]
    """
    order = torch.argsort(p, descending=True, stable=True).tolist()
    return [
        (f"{class_names[c]} · {float(p[c]):.1%}{' · in the scene' if c in present else ''}", int(c))
        for c in order
    ]


__all__ = [
    "ExplorerData",
    "SceneSet",
    "Truth",
    "as_scenes",
    "ground_truth",
    "points_in",
    "scene_class_options",
]
