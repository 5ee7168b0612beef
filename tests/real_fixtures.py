"""Tiny CUB-200-2011 and Oxford-IIIT Pet folders in the datasets' real on-disk formats (for the real-photo path).

Each photo is a grey background with one coloured rectangle (the "bird" or the "pet"), whose box, segmentation or
trimap is written where the official archives put them. Class 0 is red, class 1 blue, so a model can learn them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = ((210, 40, 40), (40, 60, 210))
CUB_CLASSES = ("001.Black_footed_Albatross", "002.Laysan_Albatross")
PET_CLASSES = ("Abyssinian", "american_bulldog")  # one cat breed, one dog breed


def _photo(i: int, cls: int, w: int = 48, h: int = 40) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A photo and its object's XYXY box (exclusive edges), the object placed by ``i``."""
    rng = np.random.default_rng(i)
    x0, y0 = 4 + (i * 7) % 16, 3 + (i * 5) % 12
    box = (x0, y0, x0 + 20 + i % 5, y0 + 16 + i % 4)
    a = np.clip(rng.normal(128, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    a[box[1] : box[3], box[0] : box[2]] = COLOURS[cls]
    return Image.fromarray(a), box


def write_cub(root: Path, per_class: int = 3, test_per_class: int = 2, segmentations: bool = True) -> Path:
    """``root/CUB_200_2011/...`` (+ ``root/segmentations``) with 2 classes."""
    base = root / "CUB_200_2011"
    lines: dict[str, list[str]] = {"images": [], "labels": [], "split": [], "boxes": []}
    i = 0
    for cls, folder in enumerate(CUB_CLASSES):
        for k in range(per_class + test_per_class):
            i += 1
            rel = f"{folder}/{folder[4:]}_{i:04d}_{100 + i}.jpg"
            photo, box = _photo(i, cls)
            (base / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
            photo.save(base / "images" / rel, quality=95)
            lines["images"].append(f"{i} {rel}")
            lines["labels"].append(f"{i} {cls + 1}")
            lines["split"].append(f"{i} {int(k < per_class)}")
            x0, y0, x1, y1 = box
            lines["boxes"].append(f"{i} {float(x0)} {float(y0)} {float(x1 - x0)} {float(y1 - y0)}")
            if segmentations:
                seg = np.zeros((photo.height, photo.width), dtype=np.uint8)
                seg[y0:y1, x0:x1] = 255
                (root / "segmentations" / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(seg).save((root / "segmentations" / rel).with_suffix(".png"))
    for key, name in (("images", "images"), ("labels", "image_class_labels"), ("split", "train_test_split"),
                      ("boxes", "bounding_boxes")):  # fmt: skip
        (base / f"{name}.txt").write_text("\n".join(lines[key]) + "\n")
    (base / "classes.txt").write_text("".join(f"{k + 1} {c}\n" for k, c in enumerate(CUB_CLASSES)))
    return root


def write_pets(root: Path, per_class: int = 3, test_per_class: int = 2) -> Path:
    """``root/oxford-iiit-pet/{images,annotations}`` with 2 breeds (trimaps: 1 pet, 2 background, 3 border)."""
    base = root / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations" / "trimaps").mkdir(parents=True)
    split_lines: dict[str, list[str]] = {"trainval": [], "test": []}
    i = 0
    for cls, breed in enumerate(PET_CLASSES):
        for k in range(per_class + test_per_class):
            i += 1
            image_id = f"{breed}_{k + 1}"
            photo, (x0, y0, x1, y1) = _photo(i, cls)
            photo.save(base / "images" / f"{image_id}.jpg", quality=95)
            tri = np.full((photo.height, photo.width), 2, dtype=np.uint8)
            tri[y0:y1, x0:x1] = 3
            tri[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1] = 1
            Image.fromarray(tri).save(base / "annotations" / "trimaps" / f"{image_id}.png")
            split = "trainval" if k < per_class else "test"
            split_lines[split].append(f"{image_id} {cls + 1} {cls + 1} 1")
    for split, rows in split_lines.items():
        (base / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    return root
