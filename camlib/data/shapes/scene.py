"""Composing one image of the synthetic dataset: background, clutter, distractors, the creature, lighting.

The scene is built as a uint8 label map (B, H, W) painted back to front with ``max``: labels
``0..BG_LEVELS-1`` are background blend levels, then one label per clutter item, two per distractor and three
for the creature's paints (base, trim, mark), each later layer numbered above the earlier ones. A per-sample
colour table turns labels into RGB in one gather; a lighting tile (smooth shading and grain, mean 1) multiplies
the result. Every random choice is a stream of :func:`~camlib.data.shapes.rng.uniform`; stream ids are fixed
per purpose, so turning a knob (say, clutter) leaves the creature and the background of each image unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

from camlib.data.shapes.classes import CART, CREATURES, PART_LAYER, Creature, render
from camlib.data.shapes.config import ShapesConfig
from camlib.data.shapes.draw import (
    BG_LEVELS,
    PALETTE,
    TILES,
    fill_rows,
    pixel_centres,
    profile_boxes,
    rotated_ellipse_rows,
    tiles,
)
from camlib.data.shapes.rng import randint, split_key, uniform

BG_CONTRAST = 0.6  # how far the background blends from its first colour towards its second
# stream ids: 0..15 the creature and the background, 16..31 the colour shuffle, then distractors and clutter
_S_LABEL, _S_SCALE, _S_ASPECT, _S_FLIP, _S_X, _S_Y, _S_PU, _S_PV, _S_BG, _S_LIGHT, _S_COUNT = range(11)
_S_COLOURS = 16
_S_DISTRACTOR = 64  # + 16 * d + j
_S_CLUTTER = 128  # + 8 * k + j


def draw_labels(seed: int, split: str, index: Tensor, num_classes: int) -> Tensor:
    """(B,) int64 class labels of samples ``index`` (uniform over the classes)."""
    return randint(uniform(split_key(seed, split), index, [_S_LABEL])[:, 0], num_classes)


def _place(
    creature_ext: Tensor, u: Tensor, size: int, scale_range: tuple[float, float], shrink: float = 1.0
) -> tuple[Tensor, ...]:
    """Frame of each object: (B, 4) extents ``(u0, u1, v0, v1)`` and (B, 6) uniforms -> cx, cy, half, aspect, flip.

    The object lies wholly inside the image: its position is uniform over the positions where it fits.
    """
    lo, hi = scale_range
    half = (lo + (hi - lo) * u[:, 0]) * (size * shrink / 2)  # (B,) pixels per frame unit
    aspect = 0.9 + 0.2 * u[:, 1]
    flip = torch.where(u[:, 2] < 0.5, -1.0, 1.0)
    u0, u1, v0, v1 = creature_ext.unbind(1)
    left = torch.where(flip > 0, u0, -u1) * half  # offset of the left edge from cx (<= 0)
    right = torch.where(flip > 0, u1, -u0) * half
    top, bottom = v0 * half * aspect, v1 * half * aspect
    cx = -left + u[:, 3] * (size - right + left)
    cy = -top + u[:, 4] * (size - bottom + top)
    return cx, cy, half, aspect, flip


def _extents(creatures: tuple[Creature, ...], labels: Tensor) -> Tensor:
    table = torch.tensor([c.extent() for c in creatures], dtype=torch.float32, device=labels.device)  # (C, 4)
    return table[labels]  # (B, 4)


def _clutter(key: int, idx: Tensor, size: int, clutter: float, first_label: int) -> Tensor | None:
    """(B, H, W) uint8 clutter labels (0 where none), or None without clutter; plus colours via streams."""
    kmax = int(2 * clutter + 1e-9)
    if kmax == 0:
        return None
    b = idx.shape[0]
    count = randint(uniform(key, idx, [_S_COUNT])[:, 0], kmax + 1)  # (B,)
    streams = [_S_CLUTTER + 8 * k + j for k in range(kmax) for j in range(7)]
    u = uniform(key, idx, streams).view(b, kmax, 7)  # (B, kmax, 7)
    cx, cy, kind, s1, s2 = (u[..., j] * (size if j < 2 else 1) for j in range(5))
    stroke = kind < 0.5
    ra = torch.where(stroke, 0.10 + 0.14 * s1, 0.04 + 0.08 * s1) * size  # (B, kmax) semi-axis along (c, s)
    rb = torch.where(stroke, (0.015 + 0.012 * s2) * size, ra * (0.45 + 0.55 * s2))
    dx, dy = 2 * u[..., 5] - 1, 2 * u[..., 6] - 1
    norm = torch.sqrt(dx * dx + dy * dy + 1e-6)
    c, s = dx / norm, dy / norm
    y = pixel_centres(size, idx.device)  # (H,)
    lo, hi = rotated_ellipse_rows(y, *(t[..., None] for t in (cx, cy, ra, rb, c, s)))  # (B, kmax, H)
    active = (torch.arange(kmax, device=idx.device) < count[:, None])[..., None]  # (B, kmax, 1)
    lo, hi = torch.where(active, lo, 1.0), torch.where(active, hi, -1.0)
    lab = fill_rows(lo[:, 0], hi[:, 0], size) * first_label  # (B, H, W) uint8
    for k in range(1, kmax):  # later items on top: higher labels
        lab = torch.maximum(lab, fill_rows(lo[:, k], hi[:, k], size) * (first_label + k))
    return lab


def colour_permutation(key: int, idx: Tensor, dev: torch.device) -> tuple[Tensor, Tensor]:
    """The palette (P, 3) and each image's own order of it (B, P), from the colour streams of ``(key, idx)``.

    One draw for single-object images and for scenes (:mod:`camlib.data.shapes.multi`): background, creature and
    mark colours are taken from ``perm`` in both.
    """
    palette = torch.tensor(PALETTE, dtype=torch.float32, device=dev)  # (P, 3)
    streams = list(range(_S_COLOURS, _S_COLOURS + palette.shape[0]))
    return palette, uniform(key, idx, streams).argsort(dim=1, stable=True)  # (B, P)


def empty_outputs(n: int, size: int, device: torch.device) -> tuple[Tensor, ...]:
    """Buffers for ``n`` samples of ``size`` px: images (n, 3, S, S), labels (n,), boxes (n, 4), masks
    (n, S, S) bool, part boxes (n, 4); :func:`render_scene` writes into them (in chunks, for a large batch)."""
    return (
        torch.empty(n, 3, size, size, device=device),
        torch.empty(n, dtype=torch.int64, device=device),
        torch.empty(n, 4, device=device),
        torch.empty(n, size, size, dtype=torch.bool, device=device),
        torch.empty(n, 4, device=device),
    )


def render_scene(
    seed: int, split: str, idx: Tensor, size: int, config: ShapesConfig, out: tuple[Tensor, ...] | None = None
) -> tuple[Tensor, ...]:
    """Generate samples ``idx`` (B,) of one split.

    Args:
        seed, split: which dataset.
        idx: (B,) int64 sample indices, on the device to generate on.
        size: image side.
        config: the difficulty knobs.
        out: optional preallocated (images, labels, boxes, masks, part_boxes) to write into.

    Returns:
        images (B, 3, H, W) float32 in [0, 1], labels (B,) int64, boxes (B, 4) float32, masks (B, H, W) bool,
        part_boxes (B, 4) float32 (NaN rows where the class has no discriminative part).
    """
    dev, b = idx.device, idx.shape[0]
    key = split_key(seed, split)
    u = uniform(key, idx, list(range(16)))  # (B, 16)
    labels = randint(u[:, _S_LABEL], len(CREATURES))
    palette, perm = colour_permutation(key, idx, dev)  # (P, 3), (B, P)
    n_pal = palette.shape[0]

    # background: blend levels from a tile, lighting from another
    levels, luma = tiles(size, dev)
    lab = levels.index_select(0, randint(u[:, _S_BG], TILES))  # (B, H, W) uint8 in 0..BG_LEVELS-1
    light = luma.index_select(0, randint(u[:, _S_LIGHT], TILES))  # (B, H, W)
    bg_a = (palette[perm[:, 0]] + palette[perm[:, 1]]) / 2  # (B, 3)
    bg_b = (palette[perm[:, 2]] + palette[perm[:, 3]]) / 2
    t = torch.arange(BG_LEVELS, device=dev, dtype=torch.float32) * (BG_CONTRAST / (BG_LEVELS - 1))  # (L_bg,)
    colours = [bg_a[:, None] + (bg_b - bg_a)[:, None] * t[None, :, None]]  # (B, L_bg, 3)
    next_label = BG_LEVELS

    # clutter
    clut = _clutter(key, idx, size, config.clutter, next_label)
    if clut is not None:
        kmax = int(2 * config.clutter + 1e-9)
        streams = [_S_CLUTTER + 8 * k + 7 for k in range(kmax)]
        colours.append(palette[randint(uniform(key, idx, streams), n_pal)])  # (B, kmax, 3)
        lab = torch.maximum(lab, clut)
        next_label += kmax

    # distractors (behind the creature)
    cart_ext = torch.tensor(CART.extent(), device=dev).expand(b, 4)
    for d in range(config.distractors):
        ud = uniform(key, idx, [_S_DISTRACTOR + 16 * d + j for j in range(8)])  # (B, 8)
        cx, cy, half, aspect, flip = _place(cart_ext, ud, size, config.scale_range, shrink=0.85)
        paint = render(CART, cx, cy, half, aspect, flip, ud[:, 6] * 4, ud[:, 7] * 4, size) & 3  # (B, H, W)
        lab = torch.maximum(lab, (paint + (next_label - 1)) * (paint > 0).to(torch.uint8))
        colours.append(palette[perm[:, 7 + 2 * d : 9 + 2 * d]])  # (B, 2, 3): base, trim
        next_label += 2

    # the creature, drawn per class
    ext = _extents(CREATURES, labels)
    cx, cy, half, aspect, flip = _place(
        ext, u[:, [_S_SCALE, _S_ASPECT, _S_FLIP, _S_X, _S_Y]], size, config.scale_range
    )
    paint = torch.zeros(b, size, size, dtype=torch.uint8, device=dev)
    for c, creature in enumerate(CREATURES):
        g = (labels == c).nonzero().squeeze(1)
        if g.numel():
            gx, gy, gh, ga, gf, pu, pv = (
                t[g] for t in (cx, cy, half, aspect, flip, u[:, _S_PU], u[:, _S_PV])
            )
            paint.index_copy_(0, g, render(creature, gx, gy, gh, ga, gf, pu * 4, pv * 4, size))
    obj = paint & 3
    lab = torch.maximum(lab, (obj + (next_label - 1)) * (obj > 0).to(torch.uint8))
    colours.append(palette[perm[:, 4:7]])  # (B, 3, 3): base, trim, mark

    if out is None:
        out = empty_outputs(b, size, dev)
    images, out_labels, boxes, masks, part_boxes = out
    table = torch.cat(colours, 1).transpose(1, 2).contiguous()  # (B, 3, L)
    flat = lab.view(b, size * size).to(torch.int64)  # (B, H*W)
    light = light.view(b, size * size)
    for ch in range(
        3
    ):  # one single-channel gather per colour channel (an expanded 3-channel gather is slower)
        torch.mul(torch.gather(table[:, ch], 1, flat), light, out=images[:, ch].view(b, size * size))
    images.clamp_(0, 1)
    out_labels.copy_(labels)
    torch.gt(paint, 0, out=masks)
    cols, rows = paint.amax(1), paint.amax(2)  # (B, W), (B, H) highest paint code per column / row
    boxes.copy_(profile_boxes(cols > 0, rows > 0))
    part_boxes.copy_(profile_boxes(cols >= 4 * PART_LAYER, rows >= 4 * PART_LAYER))
    return out
