"""Oxford-IIIT Pet (Parkhi et al., CVPR 2012): 37 cat and dog breeds, with a pixel trimap per photo.

Read through :class:`torchvision.datasets.OxfordIIITPet`, laid out on disk as::

    <root>/oxford-iiit-pet/images/<Breed_name>_<n>.jpg
    <root>/oxford-iiit-pet/annotations/trimaps/<Breed_name>_<n>.png     (1 pet, 2 background, 3 border)
    <root>/oxford-iiit-pet/annotations/trainval.txt, test.txt          ("<image id> <class 1..37> <species> <breed id>")

The trimap's third value marks a thin "not classified" band along the pet's outline. By default it counts as
pet: the true outline runs inside that band, so leaving it out shrinks every box by a few pixels on each
side and cuts off fur, ears and tails. ``border_is_object=False`` keeps only the certain pet pixels.
The box is the mask's extent, computed on the resized mask so that box and mask always agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.ops import masks_to_boxes

from camlib.data.folder import DEFAULT_IMAGE_SIZE, DatasetNotFoundError, ImageFileError, square_tensor
from camlib.data.sample import CollatedDataset, Sample
from camlib.files import data_dir

PETS_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/"
PET, BACKGROUND, BORDER = 1, 2, 3  # trimap values


def box_from_mask(mask: Tensor) -> Tensor:
    """The extent of a (H, W) bool mask as an XYXY box with exclusive edges; ``(0, 0, 0, 0)`` when empty.

    >>> m = torch.zeros(6, 8, dtype=torch.bool)
    >>> m[1:4, 2:7] = True
    >>> box_from_mask(m).tolist()
    [2.0, 1.0, 7.0, 4.0]
    """
    if not mask.any():
        return torch.zeros(4)
    box = masks_to_boxes(mask[None])[0]  # (4,) inclusive max index
    return box + torch.tensor([0.0, 0.0, 1.0, 1.0])


class OxfordPets(CollatedDataset):
    """Oxford-IIIT Pet with masks and boxes from the trimaps.

    Each sample: image (3, S, S) float32 in [0, 1] (the photo resized to a square, no crop), label in
    0..36 (``class_names[label]``, e.g. ``"Abyssinian"``), mask (S, S) bool (the pet), box (4,) float32 XYXY
    in the resized image's pixels with exclusive edges (the mask's extent), ``part_box`` ``None``.

    Args:
        root: the folder that holds ``oxford-iiit-pet/``; default ``data/pets`` (see
            :func:`camlib.files.data_dir`).
        split: ``"trainval"`` (3,680 photos) or ``"test"`` (3,669).
        image_size: side S of the output square, in pixels (224 by default).
        border_is_object: count the trimap's border band as pet (see the module docstring).
        download: fetch the two archives (~800 MB) into ``root`` first, when they are missing.

    Raises:
        DatasetNotFoundError: files are missing and ``download`` is false; the message lists the expected
            paths and the commands that fetch them.
        ValueError: an unknown split.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "trainval",
        image_size: int = DEFAULT_IMAGE_SIZE,
        border_is_object: bool = True,
        download: bool = False,
    ) -> None:
        if split not in ("trainval", "test"):
            raise ValueError(f"split must be 'trainval' or 'test', not {split!r}")
        self.root = Path(root) if root is not None else data_dir() / "pets"
        self.split = split
        self.image_size = image_size
        self.border_is_object = border_is_object
        base = self.root / "oxford-iiit-pet"
        needed = [base / "images", base / "annotations" / "trimaps", base / "annotations" / f"{split}.txt"]
        if download and not all(p.exists() for p in needed):
            from camlib.prefetch import fetch_group  # lazy: only when asked to download

            fetch_group("pets", root=self.root)
        missing = [p for p in needed if not p.exists()]
        if missing:
            raise DatasetNotFoundError(
                "Oxford-IIIT Pet",
                missing,
                "run `python -m camlib prefetch pets` (or pass download=True), or download images.tar.gz and "
                f"annotations.tar.gz from {PETS_URL} and extract both into {base}",
            )
        from torchvision.datasets import OxfordIIITPet  # imported here: torchvision.datasets takes seconds

        self._tv = OxfordIIITPet(self.root, split=split, target_types=("category", "segmentation"))
        self.class_names: tuple[str, ...] = tuple(self._tv.classes)

    def __len__(self) -> int:
        return len(self._tv)

    def __getitem__(self, index: int) -> Sample:
        try:
            photo, (label, trimap) = self._tv[index]
        except (OSError, SyntaxError, ValueError) as exc:  # a truncated or corrupt photo or trimap
            files = [
                str(p[index]) for p in (getattr(self._tv, "_images", []), getattr(self._tv, "_segs", []))
            ]
            raise ImageFileError(
                f"{' or '.join(files) or f'image {index}'} cannot be read ({str(exc).splitlines()[0]}): the file "
                f"is damaged; fetch the dataset again (`python -m camlib prefetch pets --force`)"
            ) from exc
        image = square_tensor(photo, self.image_size)  # (3, S, S)
        with trimap:
            tri = trimap.resize((self.image_size, self.image_size), Image.Resampling.NEAREST)
        values = torch.from_numpy(np.asarray(tri).astype(np.int64))  # (S, S) in {1, 2, 3}
        mask = (values == PET) | (values == BORDER) if self.border_is_object else values == PET  # (S, S)
        return Sample(image, int(label), box_from_mask(mask), mask, None)
