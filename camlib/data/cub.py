"""CUB-200-2011 (Wah et al., 2011): 11,788 photos of 200 bird species, one box each; the WSOL benchmark.

Read from the official archive's layout::

    <root>/CUB_200_2011/images.txt               "<id> <class dir>/<file>.jpg"
    <root>/CUB_200_2011/image_class_labels.txt   "<id> <class 1..200>"
    <root>/CUB_200_2011/train_test_split.txt     "<id> <1 train | 0 test>"
    <root>/CUB_200_2011/bounding_boxes.txt       "<id> <x> <y> <width> <height>"   (floats, pixels)
    <root>/CUB_200_2011/classes.txt              "<class 1..200> <nnn.Class_name>"
    <root>/CUB_200_2011/images/<class dir>/<file>.jpg
    <root>/segmentations/<class dir>/<file>.png  (optional, a separate download: grey levels 0..255)

A box ``x y w h`` becomes XYXY ``(x, y, x + w, y + h)`` with exclusive edges, scaled to the resized square.
The segmentations average several annotators; a pixel is bird when its grey level is at least
``mask_threshold`` (0.5 of 255 by default).
"""

from __future__ import annotations

import math
from pathlib import Path

from camlib.data.folder import (
    DEFAULT_IMAGE_SIZE,
    DatasetNotFoundError,
    load_mask,
    load_rgb,
    scale_box,
)
from camlib.data.sample import CollatedDataset, Sample
from camlib.files import data_dir

CUB_URL = "https://data.caltech.edu/records/65de6-vp158"
CUB_MASKS_URL = "https://data.caltech.edu/records/w9d68-gec53"
FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt", "classes.txt")


_RESTORE = "restore the file from CUB_200_2011.tgz (`python -m camlib prefetch cub --force`)"


def _table(path: Path, form: str = "<id> ...", numbers: int = 0) -> dict[int, list[str]]:
    """``{id: [fields...]}`` of a whitespace-separated CUB metadata file.

    Args:
        path: the file.
        form: what a line looks like, quoted in errors.
        numbers: how many fields after the id must be finite numbers (a box: 4).

    Raises:
        ValueError: a malformed line, named as ``path:line`` with the expected form and the fix.
    """
    rows: dict[int, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            try:
                values = [float(v) for v in fields[1 : 1 + numbers]]
                if len(values) < numbers or not all(math.isfinite(v) for v in values):
                    raise ValueError
                rows[int(fields[0])] = fields[1:]
            except ValueError:
                raise ValueError(
                    f"{path}:{number}: expected '{form}', got {line.strip()!r}: {_RESTORE}"
                ) from None
    return rows


def class_name(folder: str) -> str:
    """A readable species name from a CUB class folder.

    >>> class_name("001.Black_footed_Albatross")
    'Black footed Albatross'
    """
    return folder.split(".", 1)[-1].replace("_", " ")


class CUB(CollatedDataset):
    """CUB-200-2011 with its boxes, and its masks when the segmentations are present.

    Each sample: image (3, S, S) float32 in [0, 1] (resized to a square, no crop), label in 0..199
    (``class_names[label]``), box (4,) float32 XYXY in the resized image's pixels with exclusive edges,
    mask (S, S) bool or ``None``, ``part_box`` ``None``.

    Args:
        root: the folder that holds ``CUB_200_2011/`` (and ``segmentations/``); default ``data/cub``.
        split: ``"train"`` (5,994 photos), ``"test"`` (5,794) or ``"all"``.
        image_size: side S of the output square, in pixels (224 by default).
        masks: load the segmentations: ``None`` when they are present, ``True`` requires them, ``False`` never.
        mask_threshold: fraction of 255 at and above which a pixel of a segmentation is bird.
        download: fetch the archives (~1.2 GB) into ``root`` first, when they are missing.

    Raises:
        DatasetNotFoundError: files are missing and ``download`` is false; the message lists the expected
            paths and how to fetch them.
        ValueError: an unknown split, or a malformed metadata line (file and line number named).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        image_size: int = DEFAULT_IMAGE_SIZE,
        masks: bool | None = None,
        mask_threshold: float = 0.5,
        download: bool = False,
    ) -> None:
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
        self.root = Path(root) if root is not None else data_dir() / "cub"
        self.split = split
        self.image_size = image_size
        self.threshold = round(mask_threshold * 255)
        base = self.root / "CUB_200_2011"
        needed = [base / name for name in FILES] + [base / "images"]
        seg_dir = self.root / "segmentations"
        if download and not (all(p.exists() for p in needed) and (masks is not True or seg_dir.is_dir())):
            from camlib.prefetch import fetch_group  # lazy: only when asked to download

            fetch_group("cub", root=self.root)
        how = (
            "run `python -m camlib prefetch cub` (or pass download=True), or download CUB_200_2011.tgz from "
            f"{CUB_URL} and extract it into {self.root}"
        )
        missing = [p for p in needed if not p.exists()]
        if missing:
            raise DatasetNotFoundError("CUB-200-2011", missing, how)
        if masks is True and not seg_dir.is_dir():
            raise DatasetNotFoundError(
                "CUB-200-2011 segmentations",
                [seg_dir],
                f"run `python -m camlib prefetch cub`, or download segmentations.tgz from {CUB_MASKS_URL} "
                f"and extract it into {self.root}; or pass masks=None to go without",
            )
        self.seg_dir = seg_dir if (masks is None and seg_dir.is_dir()) or masks is True else None

        paths = _table(base / "images.txt", "<id> <class dir>/<file>.jpg")
        labels = _table(base / "image_class_labels.txt", "<id> <class 1..200>", numbers=1)
        is_train = _table(base / "train_test_split.txt", "<id> <1 train | 0 test>", numbers=1)
        boxes = _table(base / "bounding_boxes.txt", "<id> <x> <y> <width> <height>", numbers=4)
        folders = {
            i: f[0] for i, f in _table(base / "classes.txt", "<class 1..200> <nnn.Class_name>").items()
        }
        self.class_folders: tuple[str, ...] = tuple(folders[i] for i in sorted(folders))
        self.class_names: tuple[str, ...] = tuple(class_name(f) for f in self.class_folders)
        keep = {"train": ("1",), "test": ("0",), "all": ("0", "1")}[split]
        self.items: list[tuple[str, int, tuple[float, float, float, float]]] = []
        for i in sorted(paths):
            if i not in labels or i not in is_train or i not in boxes:
                raise ValueError(
                    f"CUB image id {i} ({paths[i][0]}) lacks a label, split or box line in {base}: {_RESTORE}"
                )
            if is_train[i][0] in keep:
                x, y, w, h = (float(v) for v in boxes[i][:4])
                self.items.append((paths[i][0], int(labels[i][0]) - 1, (x, y, x + w, y + h)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        relative, label, box = self.items[index]
        image, size = load_rgb(self.root / "CUB_200_2011" / "images" / relative, self.image_size)
        mask = None
        if self.seg_dir is not None:
            seg = (self.seg_dir / relative).with_suffix(".png")
            if not seg.is_file():
                raise DatasetNotFoundError(
                    "CUB-200-2011 segmentations",
                    [seg],
                    "extract segmentations.tgz again, or pass masks=False",
                )
            mask = load_mask(seg, self.image_size, self.threshold)  # (S, S)
        return Sample(image, label, scale_box(box, size, self.image_size), mask, None)
