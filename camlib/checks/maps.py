"""Exercise self-checks on maps and masks: CAM for a batch with one einsum, the pointing game, a Pets trimap's box.

Each exercise is a :class:`~camlib.checks.runner.CheckSpec` whose reference uses camlib (``camlib.cam.upsample``,
``camlib.metrics.pointing_hits``, ``camlib.data.pets``) and whose ``Mistake`` s name the typical wrong answers (one class for every image, no
upsampling, the peak read on the low-resolution map, the trimap's border left out ...). ``SPECS`` lists them for
:data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from camlib.cam import normalize, upsample
from camlib.checks.runner import CheckResult, CheckSpec, Mistake
from camlib.data.pets import BORDER, PET, box_from_mask
from camlib.metrics import pointing_hits


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- 05: CAM for a batch and chosen classes ----------------------------------------------------------------


def _maps(f: Tensor, w: Tensor) -> Tensor:
    return torch.einsum("ck,bkhw->bchw", w, f)  # (B, C, h, w): every class


def _cam_batch(f: Tensor, w: Tensor, classes: Tensor, size: tuple[int, int]) -> Tensor:
    m = torch.einsum("bk,bkhw->bhw", w[classes], f)  # (B, h, w): each image's own class
    return upsample(m[:, None], size)[:, 0]  # (B, H, W), bilinear


def _cam_batch_cases() -> list[tuple[Tensor, Tensor, Tensor, tuple[int, int]]]:
    return [
        (  # C == K, so that transposed weights still run
            torch.randn(3, 4, 4, 4, generator=_gen(20)),
            torch.randn(4, 4, generator=_gen(21)),
            torch.tensor([1, 3, 0]),
            (16, 16),
        ),
        (torch.randn(2, 3, 3, 5, generator=_gen(22)), torch.randn(5, 3, generator=_gen(23)), torch.tensor([4, 2]), (12, 20)),
    ]  # fmt: skip


CAM_BATCH = CheckSpec(
    "check_cam_batch",
    _cam_batch,
    _cam_batch_cases(),
    [
        Mistake(
            lambda f, w, c, s: upsample(torch.einsum("k,bkhw->bhw", w[c[0]], f)[:, None], s)[:, 0],
            "each image has its own class: weight[classes] is (B, K), one row of weights per image "
            "(einsum 'bk,bkhw->bhw')",
        ),
        Mistake(
            lambda f, w, c, s: upsample(_maps(f, w), s),
            "return only each image's requested class, (B, H, W), not the maps of every class (B, C, H, W)",
        ),
        Mistake(
            lambda f, w, c, s: torch.einsum("bk,bkhw->bhw", w[c], f),
            "upsample the (B, h, w) maps to the image size: camlib.cam.upsample(maps[:, None], size)[:, 0]",
        ),
        Mistake(
            lambda f, w, c, s: normalize(_cam_batch(f, w, c, s)),
            "return the raw map (logit units): normalisation is a separate step",
        ),
        Mistake(
            lambda f, w, c, s: upsample(torch.einsum("bk,bkhw->bhw", w[:, c].T, f)[:, None], s)[:, 0],
            "weight is (C, K): a class's weights are the ROW weight[c], not the column weight[:, c]",
        ),
        Mistake(
            lambda f, w, c, s: _cam_batch(f, w, c, s).clamp_min(0),
            "the raw CAM has no ReLU: keep the negative evidence",
        ),
        Mistake(
            lambda f, w, c, s: upsample(torch.einsum("bk,bkhw->bhw", w[c], f)[:, None], s, "nearest")[:, 0],
            "upsample bilinearly (camlib.cam.upsample's default), not with nearest neighbours",
        ),
        Mistake(
            lambda f, w, c, s: F.interpolate(
                torch.einsum("bk,bkhw->bhw", w[c], f)[:, None], size=s, mode="bilinear", align_corners=True
            )[:, 0],
            "bilinear with align_corners=False (as camlib.cam.upsample): align_corners=True shifts the map",
        ),
    ],
)


def check_cam_batch(fn: Callable[[Tensor, Tensor, Tensor, tuple[int, int]], Tensor]) -> CheckResult:
    """Exercise: ``fn(features (B, K, h, w), weight (C, K), classes (B,) int64, size (H, W)) -> (B, H, W)``,
    each image's raw CAM for its own class, upsampled bilinearly to the image."""
    return CAM_BATCH.run(fn)


# --- 06: the pointing game ---------------------------------------------------------------------------------


def _hits(peaks: list[tuple[int, int]], boxes: Sequence[Tensor], tol: float, disc: bool = True) -> Tensor:
    """For each image's peak (row, col): within ``tol`` of one of its boxes' pixels?"""
    out = []  # the mistakes' geometry, written apart from camlib.metrics.pointing_hits (the reference)
    for (py, px), b in zip(peaks, boxes, strict=True):
        if py < 0:  # a constant map: no peak to point with
            out.append(False)
            continue
        x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2] - 1, b[:, 3] - 1  # (G,) pixel rows/columns inside
        dx = torch.clamp(torch.maximum(x1 - px, px - x2), min=0)  # (G,) columns to the nearest box pixel
        dy = torch.clamp(torch.maximum(y1 - py, py - y2), min=0)  # (G,)
        near = dx**2 + dy**2 <= tol**2 if disc else torch.maximum(dx, dy) <= tol
        out.append(bool(near.any()))
    return torch.tensor(out)


def _peaks(maps: Tensor) -> list[tuple[int, int]]:
    """The first maximum (row, col) of each (H, W) map in row-major order; (-1, -1) for a constant map."""
    w = maps.shape[-1]
    flat = maps.flatten(1)  # (B, H*W)
    idx = flat.argmax(1).tolist()
    const = (flat.amax(1) == flat.amin(1)).tolist()
    return [(-1, -1) if c else (i // w, i % w) for i, c in zip(idx, const, strict=True)]


def _pointing(maps: Tensor, boxes: Sequence[Tensor], size: tuple[int, int], tolerance: float) -> Tensor:
    up = upsample(maps[:, None], size)[:, 0]  # (B, H, W)
    masks = torch.zeros(up.shape, dtype=torch.bool)  # (B, H, W): the pixels of the image's boxes
    for i, b in enumerate(boxes):
        for x1, y1, x2, y2 in b.long().tolist():
            masks[i, y1:y2, x1:x2] = True
    return pointing_hits(up, masks, tolerance)


def _pointing_cases() -> list[tuple[Tensor, list[Tensor], tuple[int, int], float]]:
    maps = torch.rand(5, 4, 4, generator=_gen(30)) * 0.1  # (B, 4, 4) low-resolution maps, 8x smaller
    maps[0, 2, 1] = maps[1, 1, 2] = maps[2, 3, 3] = maps[3, 0, 0] = 1.0  # the peaks (image 4: constant)
    maps[4] = 0.0  # a map of zeros (a ReLU'd map with no evidence)
    b = torch.tensor
    boxes = [
        b([[16.0, 20.0, 24.0, 30.0]]),  # image 0: the peak (about row 20, col 12) is 4 columns to the left
        b([[0.0, 0.0, 6.0, 6.0], [18.0, 10.0, 26.0, 14.0]]),  # image 1: on the second box only
        b([[0.0, 0.0, 4.0, 4.0]]),  # image 2: far from the peak (28, 28), but (3, 3) on the 4x4 map is inside
        b([[4.0, 4.0, 12.0, 12.0]]),  # image 3: the peak (0, 0) is 4 px from the corner on both axes
        b([[0.0, 0.0, 32.0, 32.0]]),  # image 4: a constant map points nowhere
    ]
    return [(maps, boxes, (32, 32), 5.0), (maps[:2].clone(), boxes[:2], (32, 32), 15.0)]


POINTING = CheckSpec(
    "check_pointing",
    _pointing,
    _pointing_cases(),
    [
        Mistake(
            lambda m, b, s, t: _pointing(m, b, s, 0.0),
            "allow the tolerance: a hit when the peak is within `tolerance` pixels of a box, not only inside it",
        ),
        Mistake(
            lambda m, b, s, t: _hits(_peaks(m), b, t),
            "find the peak on the map upsampled to the image (H, W): the low-resolution map's argmax (row, col) "
            "is not a pixel of the image",
        ),
        Mistake(
            lambda m, b, s, t: _pointing(m, [x[:1] for x in b], s, t),
            "an image may have several GT boxes: a hit on ANY of them counts",
        ),
        Mistake(
            lambda m, b, s, t: _hits(_peaks(upsample(m[:, None], s)[:, 0]), b, t, disc=False),
            "the tolerance is a distance, sqrt(dx**2 + dy**2) <= tolerance (a disc around the peak): a box grown "
            "by `tolerance` on each side also accepts its corners, tolerance * 1.41 away",
        ),
        Mistake(
            lambda m, b, s, t: _pointing(m, b, s, t) | (m.flatten(1).amax(1) == m.flatten(1).amin(1)),
            "a constant map has no maximum to point with: it is a miss",
        ),
    ],
)


def check_pointing(
    fn: Callable[[Tensor, Sequence[Tensor], tuple[int, int], float], Tensor],
) -> CheckResult:
    """Exercise (Zhang et al., 2016): ``fn(maps (B, h, w), boxes [B x (G_i, 4)], size (H, W), tolerance) -> (B,)
    bool``, a hit when the upsampled map's peak is within ``tolerance`` pixels of one of the image's boxes."""
    return POINTING.run(fn)


# --- 10: a box from an Oxford-IIIT Pet trimap --------------------------------------------------------------


def _trimap_box(trimap: Tensor, border_is_object: bool) -> tuple[Tensor, Tensor]:
    mask = (trimap == PET) | (trimap == BORDER) if border_is_object else trimap == PET  # (H, W)
    return mask, box_from_mask(mask)


def _trimap_cases() -> list[tuple[Tensor, bool]]:
    t = torch.full((10, 12), 2, dtype=torch.int64)  # background
    t[2:8, 3:9] = 3  # the border band ...
    t[3:7, 4:8] = 1  # ... around the pet
    t2 = torch.full((6, 6), 2, dtype=torch.int64)  # no pet at all
    t3 = t.clone()
    t3[0, 11] = 3  # a stray border pixel far from the pet
    return [(t, True), (t, False), (t3, True), (t2, True)]


def _inclusive(mask: Tensor) -> Tensor:
    return box_from_mask(mask) - torch.tensor([0.0, 0.0, 1.0, 1.0]) * float(bool(mask.any()))


TRIMAP_BOX = CheckSpec(
    "check_trimap_box",
    _trimap_box,
    _trimap_cases(),
    [
        Mistake(
            lambda t, border: _trimap_box(t, False),
            "with border_is_object=True the border band (value 3) counts as pet: mask = (t == 1) | (t == 3)",
        ),
        Mistake(
            lambda t, border: _trimap_box(t, True),
            "with border_is_object=False only the certain pet pixels (value 1) count",
        ),
        Mistake(
            lambda t, border: (_trimap_box(t, border)[0], _inclusive(_trimap_box(t, border)[0])),
            "edges are exclusive: x2 = last column + 1",
        ),
        Mistake(
            lambda t, border: (t == 2, box_from_mask(t == 2)),
            "the trimap's values are 1 pet, 2 background, 3 border: 2 is the background",
        ),
    ],
)


def check_trimap_box(fn: Callable[[Tensor, bool], tuple[Tensor, Tensor]]) -> CheckResult:
    """Exercise: ``fn(trimap (H, W) int64 in {1, 2, 3}, border_is_object) -> (mask (H, W) bool, box (4,) float)``,
    the pet's mask and its XYXY box with exclusive edges (``(0, 0, 0, 0)`` when there is no pet)."""
    return TRIMAP_BOX.run(fn)


SPECS = (CAM_BATCH, POINTING, TRIMAP_BOX)
