"""Three WSOL methods that try to spread a CAM over the whole object, on the course's training loop.

* **Hide-and-Seek** (Singh & Lee, ICCV 2017): each training image is cut into a grid of ``patch x patch`` cells and
  every cell is hidden with probability ``p``, its pixels replaced by the dataset's mean colour, so the network
  cannot rely on the most discriminative part alone. Training only: at test time every image is whole.
* **CutMix** (Yun et al., ICCV 2019): a box of area ratio ``1 - lambda`` (``lambda ~ Beta(alpha, alpha)``) from
  another image of the batch is pasted in; the target mixes the two labels by the area ACTUALLY pasted (the box is
  clipped at the border, which shrinks it).
* **ADL**, attention-based dropout (Choe & Shim, CVPR 2019): a layer inserted in the backbone. Its attention is the
  channel mean of the feature map; at each training step it multiplies the features either by the drop mask
  ``attention < gamma * max(attention)`` (per image; with probability ``drop_rate``) or by the importance map
  ``sigmoid(attention)``. The identity in eval mode, so the trained network's CAM is computed as usual.

HaS and CutMix are batch transforms ``(images, labels) -> (images, targets)`` that :func:`camlib.train.fit` applies to
training batches only (its ``batch_transform``); targets are class indices (B,) or class probabilities (B, C).
ADL is an ``nn.Module`` that :func:`insert_adl` places in a copy of the model. :mod:`camlib.train.wsol_run` builds
either for a name of :data:`WSOL_METHODS`, trains method x seed, and chooses the epoch and threshold on validation.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camlib.data.sample import Sample, SampleDataset, as_dataset

#: the methods :func:`camlib.train.wsol_run.prepare` knows: plain CAM (no change), Hide-and-Seek, CutMix, ADL
WSOL_METHODS = ("cam", "has", "cutmix", "adl")
BatchTransform = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(seed)


def patch_grid(size: tuple[int, int], patch: int) -> tuple[int, int]:
    """Cells of a ``patch``-pixel grid over an image of ``size = (H, W)`` (partial cells at the right/bottom count).

    >>> patch_grid((64, 64), 16), patch_grid((64, 60), 16)
    ((4, 4), (4, 4))
    """
    return math.ceil(size[0] / patch), math.ceil(size[1] / patch)


def hide_patches(
    images: Tensor, patch: int, p: float, fill: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Hide-and-Seek's hiding: every ``patch x patch`` cell hidden with probability ``p``, filled with ``fill``.

    Args:
        images: (B, 3, H, W) float. Not changed.
        patch: cell side in pixels (>= 1); cells at the right/bottom edge may be partial.
        p: probability of hiding a cell, in [0, 1] (Singh & Lee use 0.5).
        fill: (3,) the colour of a hidden cell (the training set's mean, as the paper prescribes).
        generator: a seeded CPU generator for reproducible draws (default: torch's global one).

    Returns:
        (B, 3, H, W) the images with hidden cells, and the (B, gh, gw) bool grid of hidden cells.

    >>> x = torch.ones(1, 3, 4, 4)
    >>> y, hidden = hide_patches(x, 2, 1.0, torch.zeros(3))
    >>> float(y.sum()), hidden.tolist()
    (0.0, [[[True, True], [True, True]]])
    """
    if not isinstance(patch, int) or patch < 1:
        raise ValueError(f"patch must be a positive number of pixels, got {patch!r}: e.g. patch=16")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p is a probability of hiding a cell, in [0, 1], got {p!r}: Singh & Lee use 0.5")
    b, c, h, w = images.shape
    gh, gw = patch_grid((h, w), patch)
    hidden = torch.rand(b, gh, gw, generator=generator) < p  # (B, gh, gw) on the CPU
    hidden = hidden.to(images.device)
    pixel = hidden.repeat_interleave(patch, 1).repeat_interleave(patch, 2)[:, :h, :w]  # (B, H, W)
    colour = fill.to(images.device, images.dtype).view(1, c, 1, 1)  # (1, 3, 1, 1)
    return torch.where(pixel[:, None], colour, images), hidden


class HideAndSeek(nn.Module):
    """Hide-and-Seek as a batch transform (Singh & Lee, ICCV 2017): see :func:`hide_patches`.

    Args:
        fill: (3,) the training images' mean colour (see :func:`mean_colour`).
        patch: cell side in pixels (Singh & Lee try 16 to 56 px cells on 224 px images; 16 px is a quarter of
            the course's 64 px images, as 56 px is of 224).
        p: probability of hiding each cell.
        seed: seeds the draws (``None``: torch's global generator).

    In eval mode it returns its inputs unchanged (the paper hides patches at training time only).
    """

    def __init__(self, fill: Tensor, patch: int = 16, p: float = 0.5, seed: int | None = 0) -> None:
        super().__init__()
        if fill.numel() != 3:
            raise ValueError(
                f"fill is one RGB colour (3 values), got shape {tuple(fill.shape)}: use mean_colour(ds)"
            )
        hide_patches(
            torch.zeros(1, 3, 1, 1), patch, p, fill
        )  # the settings are checked now, not mid-training
        self.fill, self.patch, self.p = fill.detach().reshape(3).clone(), patch, p
        self.generator = _generator(seed)

    def forward(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        if not self.training:
            return images, labels
        return hide_patches(images, self.patch, self.p, self.fill, self.generator)[0], labels


def cutmix_box(size: tuple[int, int], lam: float, centre: tuple[int, int]) -> tuple[int, int, int, int]:
    """CutMix's box: sides ``int(side * sqrt(1 - lam))`` centred at pixel ``centre = (cx, cy)``, clipped to the image.

    As the authors' ``rand_bbox`` (Yun et al., ICCV 2019, Sec. 3.1): the box spans ``c - cut // 2 .. c + cut // 2``
    on each axis, then is clipped. Returns XYXY with exclusive right/bottom edges.

    >>> cutmix_box((10, 10), 0.75, (5, 5)), cutmix_box((10, 10), 0.75, (0, 9))
    ((3, 3, 7, 7), (0, 7, 2, 10))
    """
    h, w = size
    cut = math.sqrt(1.0 - lam)
    cw, ch = int(w * cut), int(h * cut)
    cx, cy = centre
    x0, x1 = min(max(cx - cw // 2, 0), w), min(max(cx + cw // 2, 0), w)
    y0, y1 = min(max(cy - ch // 2, 0), h), min(max(cy + ch // 2, 0), h)
    return x0, y0, x1, y1


def cutmix(
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    alpha: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, tuple[int, int, int, int]]:
    """CutMix one batch: paste a box of a shuffled copy of the batch, mix the labels by the pasted area.

    Args:
        images: (B, 3, H, W). Not changed.
        labels: (B,) int64 class indices.
        num_classes: C.
        alpha: the Beta(alpha, alpha) that ``lambda`` is drawn from (> 0; Yun et al. use 1).
        generator: a seeded CPU generator (default: torch's global one).

    Returns:
        The mixed images (B, 3, H, W), the targets (B, C) float (``w * onehot(y) + (1 - w) * onehot(y[perm])``,
        ``w`` = 1 - pasted area / image area, after clipping), and the pasted box XYXY.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0 (lambda ~ Beta(alpha, alpha)), got {alpha!r}: e.g. 1.0")
    b, _, h, w = images.shape
    draw = int(torch.randint(0, 2**62, (), generator=generator))  # numpy's Beta, seeded from torch's stream
    lam = float(np.random.default_rng(draw).beta(alpha, alpha))
    cx, cy = int(torch.randint(w, (), generator=generator)), int(torch.randint(h, (), generator=generator))
    perm = torch.randperm(b, generator=generator).to(images.device)  # (B,)
    x0, y0, x1, y1 = cutmix_box((h, w), lam, (cx, cy))
    mixed = images.clone()
    mixed[:, :, y0:y1, x0:x1] = images[perm, :, y0:y1, x0:x1]
    kept = 1.0 - (x1 - x0) * (y1 - y0) / (w * h)  # the ratio actually kept, after clipping
    onehot = F.one_hot(labels, num_classes).to(images.dtype)  # (B, C)
    return mixed, kept * onehot + (1.0 - kept) * onehot[perm], (x0, y0, x1, y1)


class CutMix(nn.Module):
    """CutMix as a batch transform (Yun et al., ICCV 2019): see :func:`cutmix`.

    Args:
        num_classes: C.
        alpha: Beta(alpha, alpha) of the kept area ratio.
        prob: probability of mixing a batch (1: every batch).
        seed: seeds the draws (``None``: torch's global generator).

    In eval mode, or when a batch is not mixed, it returns the labels as (B,) indices.
    """

    def __init__(self, num_classes: int, alpha: float = 1.0, prob: float = 1.0, seed: int | None = 0) -> None:
        super().__init__()
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob is the probability of mixing a batch, in [0, 1], got {prob!r}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha!r}: Yun et al. use 1.0")
        self.num_classes, self.alpha, self.prob = num_classes, alpha, prob
        self.generator = _generator(seed)

    def forward(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        if not self.training or float(torch.rand((), generator=self.generator)) >= self.prob:
            return images, labels
        mixed, targets, _ = cutmix(images, labels, self.num_classes, self.alpha, self.generator)
        return mixed, targets


def adl_drop_mask(attention: Tensor, gamma: float) -> Tensor:
    """ADL's drop mask: 1 where ``attention < gamma * max(attention)`` of the same image, else 0.

    Args:
        attention: (B, 1, h, w) the channel mean of a feature map.
        gamma: the drop threshold, a fraction of each image's maximum.

    Returns:
        (B, 1, h, w) float 0/1.

    >>> adl_drop_mask(torch.tensor([[[[1.0, 0.5, 0.8, 0.9]]]]), 0.8).tolist()
    [[[[0.0, 1.0, 0.0, 0.0]]]]
    """
    peak = attention.flatten(1).amax(1).view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    return (attention < gamma * peak).to(attention.dtype)


class ADL(nn.Module):
    """Attention-based dropout layer (Choe & Shim, CVPR 2019).

    ``A = mean_k f_k`` (B, 1, h, w); in training the output is ``f * D`` with probability ``drop_rate`` (the drop
    mask :func:`adl_drop_mask`, hiding the most active region) and ``f * sigmoid(A)`` otherwise (one choice per
    batch, as in clovaai/wsolevaluation); in eval mode it returns its input. It has no parameters.

    Args:
        drop_rate: probability of applying the drop mask at a training step.
        gamma: the drop threshold, a fraction of each image's maximum (Choe & Shim tune both per backbone; the
            defaults 0.75 and 0.8 are those of clovaai/wsolevaluation's ADL).
        seed: seeds the choice (``None``: torch's global generator, which :func:`camlib.train.fit` seeds).

    >>> adl = ADL().eval(); x = torch.rand(2, 4, 3, 3); adl(x) is x
    True
    """

    def __init__(self, drop_rate: float = 0.75, gamma: float = 0.8, seed: int | None = None) -> None:
        super().__init__()
        if not 0.0 <= drop_rate <= 1.0 or not 0.0 <= gamma <= 1.0:
            raise ValueError(
                f"drop_rate and gamma must be in [0, 1], got {drop_rate}, {gamma}: e.g. 0.75, 0.8"
            )
        self.drop_rate, self.gamma = drop_rate, gamma
        self.generator = _generator(seed)
        self.last_choice: str | None = None  # "drop" or "importance": what the last training step used

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        attention = x.mean(1, keepdim=True)  # (B, 1, h, w)
        drop = float(torch.rand((), generator=self.generator)) < self.drop_rate
        self.last_choice = "drop" if drop else "importance"
        selected = adl_drop_mask(attention, self.gamma) if drop else torch.sigmoid(attention)
        return x * selected  # (B, K, h, w), a new tensor


def adl_positions(features: nn.Sequential) -> list[int]:
    """Where :func:`insert_adl` puts ADL by default: after the last max-pooling and after every later ReLU.

    On the course's trunk (four blocks, two poolings) that is after pool 2 and after the ReLUs of blocks 3 and 4,
    as Choe et al.'s code (clovaai/wsolevaluation) places it in VGG-16 after pool3, conv4_3 and conv5_3.
    """
    layers = list(features)
    pools = [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)]
    start = pools[-1] if pools else -1
    later = [i for i in range(start + 1, len(layers)) if isinstance(layers[i], nn.ReLU)]
    return ([start] if pools else []) + later


def insert_adl(
    model: nn.Module, positions: Sequence[int] | None = None, drop_rate: float = 0.75, gamma: float = 0.8
) -> nn.Module:
    """A COPY of ``model`` with :class:`ADL` after the layers ``positions`` of ``model.features``.

    Each chosen layer ``l`` (a parameter-free layer: ReLU or pooling) becomes ``Sequential(l, ADL())``, so the
    copy's ``state_dict`` has exactly the keys of ``model``'s and its weights load into a plain model (ADL is the
    identity at test time). ``model`` itself, its mode and its weights are left as they were.

    Raises:
        ValueError: no ``features`` Sequential, a position out of range or on a layer with parameters.
    """
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential):
        raise ValueError(
            f"insert_adl needs a model with a `features` nn.Sequential (the course's GAPNet), got "
            f"{type(model).__name__}: insert camlib.train.wsol.ADL() in your backbone yourself"
        )
    where = adl_positions(features) if positions is None else list(positions)
    for i in where:
        if not 0 <= i < len(features) or any(True for _ in features[i].parameters()):
            raise ValueError(
                f"ADL goes after a parameter-free layer of model.features (0..{len(features) - 1}); layer {i} "
                f"is out of range or has parameters: use positions from adl_positions(model.features)"
            )
    new = copy.deepcopy(model)
    trunk: nn.Sequential = new.features  # type: ignore[assignment]  # a copy of `features`, checked above
    for i in where:
        trunk[i] = nn.Sequential(trunk[i], ADL(drop_rate, gamma))
    return new.train(model.training)


def mean_colour(data: SampleDataset | Sequence[Sample], n: int = 512) -> Tensor:
    """(3,) the mean colour of the first ``n`` images (Hide-and-Seek's fill)."""
    ds = as_dataset(data)
    images = ds.batch(range(min(n, len(ds)))).images  # (B, 3, H, W)
    return images.mean((0, 2, 3))
