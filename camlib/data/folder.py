"""Plain image folders, and what every real-photo loader shares: where data lives, reading and resizing.

Real photos are resized to a square ``image_size`` (224 by default, the paper's input side) without
cropping, so that a box scales by ``(S / W, S / H)`` and nothing is cut off (the evaluation protocol of
Choe et al., CVPR 2020, also resizes test images to 224 x 224 without a crop). Boxes are torchvision XYXY in
the resized image's pixels with exclusive right/bottom edges: pixels 0..9 -> ``(0, 0, 10, 10)``.

Where data lives is :func:`camlib.files.data_dir` (``data/``, or ``$CAMLIB_DATA``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from camlib.data.sample import CollatedDataset, Sample

DEFAULT_IMAGE_SIZE = 224
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing; the message says where to put them and how to fetch them.

    Attributes:
        dataset: the dataset's name.
        missing: the expected paths that do not exist.
    """

    def __init__(self, dataset: str, missing: Sequence[Path], how: str) -> None:
        self.dataset = dataset
        self.missing = [Path(p) for p in missing]
        shown = "\n".join(f"  - {p}" for p in self.missing[:6])
        more = f"\n  ... and {len(self.missing) - 6} more" if len(self.missing) > 6 else ""
        super().__init__(f"{dataset}: files not found. Expected:\n{shown}{more}\nHow to get them: {how}")


class ImageFileError(OSError):
    """An image file exists but cannot be decoded (truncated, corrupt, not an image); the message names the
    file and the fix."""


def _read_error(path: Path, exc: Exception) -> ImageFileError:
    return ImageFileError(
        f"{path} cannot be read as an image ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): "
        f"the file is damaged or not an image; replace it (fetch the dataset again) or remove it from the folder"
    )


def load_rgb(path: Path, image_size: int) -> tuple[Tensor, tuple[int, int]]:
    """Read an image file as RGB and resize it to a square.

    Args:
        path: an image file PIL can read (grey, palette and CMYK images are converted to RGB; 16-bit and
            float grey images are scaled by their bit depth, not clipped to white).
        image_size: side S of the output, in pixels.

    Returns:
        ``(image, (W, H))``: the (3, S, S) float32 image in [0, 1] and the file's original width and height.

    Raises:
        DatasetNotFoundError: the file does not exist.
        ImageFileError: it cannot be decoded (a truncated or corrupt file), with the file's path.
    """
    if not Path(path).is_file():
        raise DatasetNotFoundError(
            Path(path).name, [Path(path)], "restore the file, or fetch the dataset again"
        )
    try:
        with Image.open(path) as im:
            return square_tensor(im, image_size), im.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _read_error(Path(path), exc) from exc


def square_tensor(image: Image.Image, image_size: int) -> Tensor:
    """A PIL image as a (3, S, S) float32 tensor in [0, 1], converted to RGB and resized (bilinear, no crop).

    Grey images of more than 8 bits (PIL modes ``I;16``, ``I``, ``F``: 16-bit PNGs, TIFFs) are scaled by
    their depth: 65535 is white for 16 bits (``convert("RGB")`` would clip every value above 255 to white).

    >>> square_tensor(Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16)), 2)[0, 0, 0].item()
    0.5000076293945312
    """
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        grey = np.asarray(image, dtype=np.float32)  # (H, W)
        top = 1.0 if image.mode == "F" and grey.max() <= 1 else 255.0 if grey.max() <= 255 else 65535.0
        scaled = Image.fromarray(np.clip(grey / top, 0, 1).astype(np.float32), mode="F")
        small = np.asarray(scaled.resize((image_size, image_size), Image.Resampling.BILINEAR))  # (S, S)
        return torch.from_numpy(small.copy()).clamp_(0, 1).expand(3, -1, -1).clone()  # (3, S, S)
    rgb = image.convert("RGB").resize((image_size, image_size), Image.Resampling.BILINEAR)
    array = np.asarray(rgb, dtype=np.uint8)  # (S, S, 3)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255)  # (3, S, S)


def load_mask(path: Path, image_size: int, threshold: int) -> Tensor:
    """Read a grey-level annotation image, resize it (nearest) to a square and keep values >= ``threshold``.

    Returns:
        (S, S) bool.

    Raises:
        ImageFileError: the file cannot be decoded, with its path.
    """
    try:
        with Image.open(path) as im:
            grey = im.convert("L").resize((image_size, image_size), Image.Resampling.NEAREST)
    except (OSError, SyntaxError, ValueError) as exc:
        raise _read_error(Path(path), exc) from exc
    return torch.from_numpy(np.asarray(grey) >= threshold)  # (S, S)


def scale_box(box: Sequence[float], size: tuple[int, int], image_size: int) -> Tensor:
    """Scale an XYXY box from an image of ``size = (W, H)`` to a square of side ``image_size``, clamped.

    >>> scale_box([10, 20, 50, 40], (100, 80), 40).tolist()
    [4.0, 10.0, 20.0, 20.0]
    """
    w, h = size
    scale = torch.tensor([image_size / w, image_size / h, image_size / w, image_size / h])
    return (torch.as_tensor(box, dtype=torch.float32) * scale).clamp_(0, image_size)  # (4,)


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


class ImageFolder(CollatedDataset):
    """Your own photos, for CAMs without metrics (there are no boxes).

    Two layouts: class subfolders (``root/<class>/<image>``, as ``torchvision.datasets.ImageFolder``; labels
    are the sorted subfolder names' indices, loose files in ``root`` are ignored), or a flat folder of images
    (every label is ``flat_label``, -1 by default: "no class", and ``class_names`` is empty).

    Each sample is a :class:`~camlib.data.Sample` with the (3, S, S) float32 image in [0, 1], the label, and
    ``box``, ``mask``, ``part_box`` all ``None``.

    Args:
        root: the folder.
        image_size: side S of the square the photos are resized to (no crop).
        flat_label: the label of every image of a flat folder.

    Raises:
        DatasetNotFoundError: ``root`` does not exist or holds no images.
    """

    def __init__(self, root: str | Path, image_size: int = DEFAULT_IMAGE_SIZE, flat_label: int = -1) -> None:
        self.root = Path(root)
        self.image_size = image_size
        how = (
            f"put your images in {self.root}/<class name>/<image>.jpg (or straight in {self.root}); "
            f"readable extensions: {', '.join(IMAGE_EXTENSIONS)}"
        )
        if not self.root.is_dir():
            raise DatasetNotFoundError("image folder", [self.root], how)
        classes = sorted(
            d.name
            for d in self.root.iterdir()
            if d.is_dir() and not d.name.startswith(".") and any(_is_image(f) for f in d.iterdir())
        )
        self.class_names: tuple[str, ...] = tuple(classes)
        if classes:
            self.samples = [
                (f, label)
                for label, name in enumerate(classes)
                for f in sorted((self.root / name).iterdir())
                if _is_image(f)
            ]
        else:
            self.samples = [(f, flat_label) for f in sorted(self.root.iterdir()) if _is_image(f)]
        if not self.samples:
            raise DatasetNotFoundError("image folder", [self.root / "<class>" / "<image>.jpg"], how)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        path, label = self.samples[index]
        image, _ = load_rgb(path, self.image_size)
        return Sample(image, label)
