"""Pretrained ImageNet weights of the backbones the course fine-tunes: pinned, verified, loaded without code.

``python -m camlib prefetch weights`` puts torchvision's ImageNet-1k files into ``data/weights/checkpoints/``
(the folder ``torch.hub`` uses, see :func:`camlib.prefetch.use_weights`). :func:`load_weights` reads one back:
the file's size and sha256 are checked against the pinned values of :data:`camlib.prefetch.REGISTRY` first, and
the file is then read with ``torch.load(weights_only=True)``, which accepts tensors and plain containers only,
so a tampered file can never run code. A missing, truncated or modified file raises
:class:`~camlib.prefetch.PrefetchError` with the command that fixes it.

>>> weights_resource("resnet18").filename
'resnet18-f37072fd.pth'
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from camlib.files import sha256_file
from camlib.prefetch.download import PrefetchError, Resource, destination

_TORCH = "https://download.pytorch.org/models/"
# torchvision's IMAGENET1K_V1 files; a file's name carries the first 8 hex digits of its sha256
# fmt: off
WEIGHTS: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "resnet18", _TORCH + "resnet18-f37072fd.pth", "weights", "checkpoints",
            "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec", None, 46_830_571,
            extract=False, produces=("resnet18-f37072fd.pth",),
        ),
        Resource(
            "resnet50", _TORCH + "resnet50-0676ba61.pth", "weights", "checkpoints",
            "0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a", None, 102_530_333,
            extract=False, produces=("resnet50-0676ba61.pth",),
        ),
        Resource(
            "vgg16", _TORCH + "vgg16-397923af.pth", "weights", "checkpoints",
            "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0", None, 553_433_881,
            extract=False, produces=("vgg16-397923af.pth",),
        ),
    )
}
# fmt: on
#: the backbones the course fine-tunes (torchvision model names), each with its pinned weights in :data:`WEIGHTS`
BACKBONES: tuple[str, ...] = tuple(WEIGHTS)


def weights_resource(arch: str) -> Resource:
    """The :class:`Resource` of a backbone's ImageNet weights.

    Raises:
        PrefetchError: an unknown backbone, naming the known ones.
    """
    if arch not in WEIGHTS:
        raise PrefetchError(f"no pretrained weights for {arch!r}", f"use one of {list(BACKBONES)}")
    return WEIGHTS[arch]


def weights_path(arch: str, data: Path | None = None) -> Path:
    """Where ``prefetch`` puts a backbone's weights: ``data/weights/checkpoints/<file>.pth``."""
    res = weights_resource(arch)
    return destination(res, data=data) / res.filename


def verify_weights(path: Path, resource: Resource) -> Path:
    """``path`` when its size and sha256 are the pinned ones; else :class:`PrefetchError` (nothing is read)."""
    fix = f"fetch it again: python -m camlib prefetch {resource.name} --force"
    if not path.is_file():
        raise PrefetchError(
            f"no {resource.name} weights at {path}",
            f"python -m camlib prefetch {resource.name} (or unpack an offline bundle: prefetch --unpack FILE)",
        )
    size = os.path.getsize(path)
    if resource.size is not None and size != resource.size:
        raise PrefetchError(
            f"{path} has {size:,} bytes, expected {resource.size:,}: the file is truncated or not these weights",
            fix,
        )
    digest = sha256_file(path)
    if resource.sha256 is not None and digest != resource.sha256:
        raise PrefetchError(
            f"{path} fails its sha256 (got {digest[:16]}..., pinned {resource.sha256[:16]}...): the file was "
            "modified or damaged",
            fix,
        )
    return path


def read_state_dict(path: Path, what: str = "weights") -> dict[str, Tensor]:
    """A state dict read with ``torch.load(weights_only=True)`` (no code from the file ever runs).

    Raises:
        PrefetchError: the file is not a readable state dict of tensors (damaged, or it holds objects).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise PrefetchError(
            f"{path} is not a readable state dict ({str(exc).splitlines()[0][:120]})",
            f"fetch the {what} again, or check that the file is what you think it is",
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise PrefetchError(f"{path} holds no state dict of tensors", f"fetch the {what} again")
    return state


def load_weights(arch: str, data: Path | None = None, path: Path | None = None) -> dict[str, Tensor]:
    """A backbone's ImageNet state dict from ``data/weights``, verified against its pinned size and sha256.

    Args:
        arch: ``"resnet18"``, ``"resnet50"`` or ``"vgg16"``.
        data: the data dir (default ``$CAMLIB_DATA`` or the repository's ``data/``).
        path: read this file instead (still checked against the pinned digest).

    Returns:
        ``{parameter name: tensor}`` for ``torchvision.models.<arch>().load_state_dict``.

    Raises:
        PrefetchError: unknown backbone, missing file (names the prefetch command), wrong size (truncated),
            wrong sha256 (modified), or a file that is not a state dict.
    """
    res = weights_resource(arch)
    file = verify_weights(path if path is not None else weights_path(arch, data), res)
    return read_state_dict(file, f"{arch} weights (python -m camlib prefetch {res.name} --force)")
