"""Fine-tuning a pretrained backbone on photos: the CAM network, the boxed validation split, checkpoints.

The paper's fine-grained experiment (Zhou et al., CVPR 2016, Sec. 4) fine-tunes an ImageNet network on CUB-200;
Choe et al. (CVPR 2020) measure CAM there with MaxBoxAccV2, choosing the threshold on a few boxed held-out
images. This module builds the network and trains it:

- :func:`backbone_net`: a torchvision ResNet with its own GAP head (a new ``fc``), or a VGG converted with
  :func:`camlib.models.gapify` (14x14 maps at 224 px), as a :class:`~camlib.models.GlobalPoolNet` whose
  ``features`` start with the ImageNet normalisation, so it takes the course's images in [0, 1].
- :func:`split_off_val`: a boxed validation split carved out of the training images (CUB and Pets ship none).
- :func:`finetune`: :func:`camlib.train.fit` (AMP and channels_last on CUDA, DataLoader workers with pinned
  memory) and a checkpoint whose sha256 is written beside it; :func:`load_finetuned` checks it and reads the
  file with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor, nn

import camlib
from camlib.data.sample import CollatedDataset, Sample, SampleDataset
from camlib.files import atomic_write, check_destination, sha256_file
from camlib.models import GlobalPoolNet, gapify
from camlib.train.loop import History, fit

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FORMAT = "camlib-finetuned"


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel: images in [0, 1] -> what an ImageNet network was trained on.

    >>> [round(v, 3) for v in Normalize()(torch.ones(1, 3, 2, 2))[0, :, 0, 0].tolist()]
    [2.249, 2.429, 2.64]
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        super().__init__()
        self.mean: Tensor
        self.std: Tensor
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std  # (B, 3, H, W)


def backbone_net(
    arch: str, num_classes: int, state_dict: dict[str, Tensor] | None = None, width: int = 1024
) -> GlobalPoolNet:
    """A CAM network on a torchvision backbone, with ImageNet weights when ``state_dict`` is given.

    Args:
        arch: ``"resnet18"``, ``"resnet50"`` (their own GAP head, a new ``fc``) or ``"vgg16"`` (gapified: conv5_3
            + a 3x3 conv with ``width`` units + GAP + linear, Zhou et al. Sec. 3.1).
        num_classes: C.
        state_dict: torchvision's ImageNet weights (``camlib.prefetch.load_weights(arch)``); ``None``: random.
        width: channels of the conv layer gapify adds to VGG.

    Returns:
        A :class:`~camlib.models.GlobalPoolNet` taking (B, 3, H, W) images in [0, 1].

    Raises:
        ValueError: an unknown ``arch``, or weights that do not fit it (the names of the first mismatches).
    """
    if arch not in ("resnet18", "resnet50", "vgg16"):
        raise ValueError(f"unknown backbone {arch!r}: use 'resnet18', 'resnet50' or 'vgg16'")
    tv = getattr(torchvision.models, arch)(weights=None)
    if state_dict is not None:
        missing, unexpected = tv.load_state_dict(state_dict, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"these weights are not {arch}'s: missing {missing[:3]}, unexpected {unexpected[:3]}: fetch them "
                f"with python -m camlib prefetch {arch}"
            )
    if arch.startswith("resnet"):
        layers = [tv.conv1, tv.bn1, tv.relu, tv.maxpool, tv.layer1, tv.layer2, tv.layer3, tv.layer4]
        return GlobalPoolNet(nn.Sequential(Normalize(), *layers), tv.fc.in_features, num_classes)
    net = gapify(tv, num_classes, width)
    assert isinstance(net, GlobalPoolNet)
    net.features = nn.Sequential(Normalize(), *net.features.children())
    return net


class Split(CollatedDataset):
    """Some images of a photo dataset as a named split (``"train"``, ``"val"``), optionally flipped at random.

    Args:
        base: the dataset (``CUB``, ``OxfordPets``, ...).
        indices: its images in this split.
        split: the name (``select_tau`` takes only ``"val"``).
        flip: flip each image left-right with probability 1/2 (training only: boxes and masks are not flipped).
    """

    def __init__(self, base: SampleDataset, indices: Sequence[int], split: str, flip: bool = False) -> None:
        self.base, self.indices, self.split, self.flip = base, list(indices), split, flip
        self.class_names = list(base.class_names)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Sample:
        s = self.base[self.indices[index]]
        if self.flip and random.random() < 0.5:  # noqa: S311 -- augmentation, not security
            return Sample(s.image.flip(-1), s.label)
        return s


def labels_of(ds: SampleDataset) -> list[int]:
    """Every image's label, read from the metadata when the dataset has it (no image decoded)."""
    items = getattr(ds, "items", None)  # CUB: (path, label, box)
    if isinstance(items, list):
        return [int(it[1]) for it in items]
    tv = getattr(ds, "_tv", None)  # OxfordPets wraps torchvision's dataset, which keeps the labels
    if tv is not None and hasattr(tv, "_labels"):
        return [int(v) for v in tv._labels]
    return [ds[i].label for i in range(len(ds))]


def split_off_val(ds: SampleDataset, per_class: int, seed: int = 0) -> tuple[Split, Split]:
    """``(train, val)``: ``per_class`` images of each class (chosen with ``seed``) become the boxed validation
    split, as the held-out boxed images Choe et al. (CVPR 2020) choose hyper-parameters on; the rest train.

    Raises:
        ValueError: ``per_class`` < 1, or a class with no image left to train on.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels_of(ds)):
        by_class.setdefault(y, []).append(i)
    rng = random.Random(seed)
    val: list[int] = []
    for y in sorted(by_class):
        members = by_class[y]
        if len(members) <= per_class:
            raise ValueError(
                f"class {y} has {len(members)} training image(s): none would be left after taking {per_class} "
                "for validation; lower per_class"
            )
        val += rng.sample(members, per_class)
    chosen = set(val)
    train = [i for i in range(len(ds)) if i not in chosen]
    return Split(ds, train, "train", flip=True), Split(ds, sorted(val), "val")


def finetune(
    model: nn.Module,
    train: SampleDataset,
    val: SampleDataset | None,
    out: Path,
    *,
    record: dict[str, Any],
    force: bool = False,
    **fit_kwargs: Any,
) -> tuple[History, Path]:
    """Train ``model`` with :func:`camlib.train.fit`, then save it to ``out`` with its sha256 beside it.

    Args:
        model: from :func:`backbone_net`.
        train, val: the splits (``val`` is evaluated after every epoch).
        out: the checkpoint file; checked BEFORE training (an existing file needs ``force``).
        record: what rebuilds the model and says how it was made: ``arch``, ``num_classes``, ``class_names``,
            ``dataset``, ``image_size``, ``pretrained``, ``command``, ...
        force: replace an existing checkpoint.
        **fit_kwargs: ``epochs``, ``batch_size``, ``lr``, ``device``, ``num_workers``, ``amp``, ...

    Returns:
        ``(history, out)``; ``out.with_suffix(".sha256")`` holds the file's digest in ``sha256sum`` form.
    """
    check_destination(out, force=force, how="--force")
    history = fit(model, train, val, **fit_kwargs)
    save_finetuned(model, out, {**record, "history": history.to_dicts()}, force=force)
    return history, out


def save_finetuned(model: nn.Module, out: Path, record: dict[str, Any], force: bool = False) -> Path:
    """Write ``{"format", "state_dict", **record}`` atomically, and ``out.sha256`` with the file's digest."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "camlib_version": camlib.__version__, "created": time.time(), **record}
    payload["state_dict"] = state
    atomic_write(out, lambda tmp: torch.save(payload, tmp), force=force, how="--force")
    digest = sha256_file(out)
    side = out.with_suffix(".sha256")
    atomic_write(side, lambda tmp: tmp.write_text(f"{digest}  {out.name}\n"), force=True)
    return out


def load_finetuned(path: Path, sha256: str | None = None) -> tuple[GlobalPoolNet, dict[str, Any]]:
    """The network and record of :func:`save_finetuned`, verified against ``sha256`` (default: the ``.sha256``
    file beside it) and read with ``torch.load(weights_only=True)``.

    Raises:
        ValueError: no digest to check, a digest that does not match (the file changed), or not such a file.
    """
    side = path.with_suffix(".sha256")
    want = sha256 or (side.read_text().split()[0] if side.is_file() else None)
    if want is None:
        raise ValueError(f"{path} has no {side.name} beside it: pass sha256=..., or train it again (--force)")
    got = sha256_file(path)
    if got != want.strip().lower():
        raise ValueError(
            f"{path} fails its sha256 ({got[:12]}... != {want[:12]}...): train it again (--force)"
        )
    meta = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fine-tuned camlib checkpoint (no format {FORMAT!r})")
    net = backbone_net(meta["arch"], int(meta["num_classes"]), width=int(meta.get("width", 1024)))
    net.load_state_dict(meta.pop("state_dict"))
    return net.eval(), meta
