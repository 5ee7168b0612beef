"""Write boxed samples in CUB-200-2011's on-disk layout, so the real-photo pipeline can run on any boxed data.

``python -m camlib reproduce --dataset cub --root FOLDER`` and :class:`camlib.data.CUB` read exactly what the
official archive holds; :func:`export_cub` writes that layout from a list of :class:`~camlib.data.Sample`
(images as JPEG, the boxes in ``bounding_boxes.txt``, masks as ``segmentations/*.png``). Notebook 10 uses it to run
the real-photo path offline on the embedded creatures when the birds are not on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from camlib.data.sample import Sample


def export_cub(
    samples: Sequence[Sample], class_names: Sequence[str], root: Path, is_train: Sequence[bool]
) -> Path:
    """Write ``root/CUB_200_2011/...`` (and ``root/segmentations`` when every sample has a mask); return ``root``.

    Args:
        samples: images (3, H, W) in [0, 1] with a label and a box (XYXY, exclusive edges).
        class_names: one name per label (the class folders become ``001.<name>``, ...).
        root: the folder to write into (must not hold a ``CUB_200_2011`` folder yet).
        is_train: per sample, the official split's flag (``True``: train, ``False``: test).

    Raises:
        ValueError: a sample without a box, lengths that differ, or an existing dataset at ``root``.

    >>> import tempfile, torch
    >>> s = Sample(torch.zeros(3, 8, 8), 0, torch.tensor([1.0, 2.0, 5.0, 6.0]))
    >>> from camlib.data.cub import CUB
    >>> root = export_cub([s, s], ["bird"], Path(tempfile.mkdtemp()), [True, False])
    >>> CUB(root, "test", image_size=8)[0].box.tolist()
    [1.0, 2.0, 5.0, 6.0]
    """
    if len(samples) != len(is_train):
        raise ValueError(f"{len(samples)} samples but {len(is_train)} split flags: give one flag per sample")
    if any(s.box is None for s in samples):
        raise ValueError("every sample needs a box: CUB's layout holds one box per image")
    base = Path(root) / "CUB_200_2011"
    if base.exists():
        raise ValueError(f"{base} already exists: export into an empty folder")
    folders = [f"{k + 1:03d}.{name.replace(' ', '_')}" for k, name in enumerate(class_names)]
    masks = all(s.mask is not None for s in samples)
    rows: dict[str, list[str]] = {"images": [], "labels": [], "split": [], "boxes": []}
    for i, (s, train) in enumerate(zip(samples, is_train, strict=True), 1):
        rel = f"{folders[s.label]}/{folders[s.label][4:]}_{i:05d}.jpg"
        (base / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        pixels = (s.image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # (H, W, 3)
        Image.fromarray(pixels).save(base / "images" / rel, quality=95)
        x0, y0, x1, y1 = (float(v) for v in s.box)  # type: ignore[union-attr]
        rows["images"].append(f"{i} {rel}")
        rows["labels"].append(f"{i} {s.label + 1}")
        rows["split"].append(f"{i} {int(bool(train))}")
        rows["boxes"].append(f"{i} {x0} {y0} {x1 - x0} {y1 - y0}")
        if masks:
            seg = (Path(root) / "segmentations" / rel).with_suffix(".png")
            seg.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(s.mask.numpy().astype(np.uint8) * 255).save(seg)  # type: ignore[union-attr]
    files = {
        "images": "images",
        "labels": "image_class_labels",
        "split": "train_test_split",
        "boxes": "bounding_boxes",
    }
    for key, name in files.items():
        (base / f"{name}.txt").write_text("\n".join(rows[key]) + "\n")
    (base / "classes.txt").write_text("".join(f"{k + 1} {f}\n" for k, f in enumerate(folders)))
    return Path(root)
