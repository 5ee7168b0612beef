"""Pure rendering for the CAM explorer: map -> display map, overlay + boxes -> PIL panel -> PNG bytes.

No widgets and no matplotlib figures here (so nothing can leak): an update of :mod:`camlib.explorer` is a few
numpy/PIL operations on 64 px images, upscaled with nearest-neighbour for display. Boxes are torchvision XYXY
in image pixels with exclusive right/bottom edges (pixels 0..9 -> ``(0, 0, 10, 10)``); a box drawn at display
scale ``s`` covers display pixels ``x1*s .. x2*s - 1``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from camlib.cam import normalize, upsample
from camlib.explorer.state import ExplorerState, PanelState
from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR, rgb255
from camlib.viz.figures import overlay

#: the course's box colours (:mod:`camlib.viz.colours`) as RGB: ground truth, box from the map, the part
GT_RGB, CAM_RGB, PART_RGB = rgb255(GT_COLOUR), rgb255(PRED_COLOUR), rgb255(PART_COLOUR)
TITLE_HEIGHT = 18


#: how the explorer names the label of an image without one (ImageFolder's flat layout gives -1)
UNLABELLED = "unlabelled"


def class_label(class_names: Sequence[str], c: int) -> str:
    """The name of class ``c``; :data:`UNLABELLED` for a label outside ``0..C-1`` (never wraps to the last class).

    >>> class_label(["cat", "dog"], -1), class_label(["cat", "dog"], 1)
    ('unlabelled', 'dog')
    """
    return class_names[c] if 0 <= c < len(class_names) else UNLABELLED


@dataclass(frozen=True)
class DrawBox:
    """A box to draw: XYXY in image pixels (exclusive edges), an RGB colour and a line width in display px."""

    box: tuple[float, float, float, float]
    color: tuple[int, int, int]
    width: int = 2


def display_map(
    raw: Tensor,
    size: tuple[int, int],
    mode: str = "bilinear",
    normalised: bool = True,
    how: str = "minmax",
) -> Tensor:
    """Upsample a raw (h, w) map to the image's (H, W) and, if ``normalised``, normalise it (``how``: ``"minmax"``
    or ``"max"``, :func:`camlib.cam.normalize`).

    A box at tau keeps the returned map's pixels ``>= tau * max``: on a max-normalised (or raw) map that is the
    paper's rule, on a min-max normalised map Choe et al.'s; the upsampling mode moves it too. Raw maps keep
    their units (logit contributions, may be negative).

    >>> import torch
    >>> display_map(torch.tensor([[0.0, 2.0]]), (1, 4), "nearest").tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    >>> display_map(torch.tensor([[-2.0, 2.0]]), (1, 2), "nearest", how="max").tolist()
    [[0.0, 1.0]]
    """
    up = upsample(raw[None, None].float(), size, mode)[0, 0]  # (1, 1, h, w) -> (H, W)
    return normalize(up, how) if normalised else up


def heat(map_: Tensor, peak: float | None = None) -> np.ndarray:
    """The (H, W) map as colours' input in [0, 1]: clipped ``map / peak`` (``peak`` default: the map's max).

    Values below 0 show as 0. A map whose peak is <= 0 shows as all zeros.

    >>> import torch
    >>> heat(torch.tensor([[-1.0, 1.0, 2.0]])).tolist()
    [[0.0, 0.5, 1.0]]
    """
    m = map_.detach().float().cpu()
    top = float(m.max()) if peak is None else float(peak)
    if not np.isfinite(top) or top <= 0:
        return np.zeros(tuple(m.shape), dtype=np.float32)
    return (m / top).clamp(0.0, 1.0).numpy().astype(np.float32)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] (or uint8) -> uint8."""
    if rgb.dtype == np.uint8:
        return rgb
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def image_rgb(image: Tensor) -> np.ndarray:
    """A (3, H, W) float image in [0, 1] as (H, W, 3) float32."""
    return image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()  # (H, W, 3)


def base_panel(
    image: Tensor, heat_map: np.ndarray | None, alpha: float, cmap: str, scale: int
) -> Image.Image:
    """The image (``heat_map`` None) or its overlay (:func:`camlib.viz.overlay`), upscaled ``scale``x nearest."""
    rgb = image_rgb(image)
    if heat_map is not None:
        rgb = np.asarray(overlay(rgb, heat_map, alpha=alpha, cmap=cmap))
    img = Image.fromarray(to_uint8(rgb[..., :3]))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img


def draw_boxes(panel: Image.Image, boxes: Sequence[DrawBox], scale: int) -> Image.Image:
    """A copy of ``panel`` with the boxes drawn, each on a 1 px dark rim (zero-area "no box" boxes are skipped)."""
    out = panel.copy()
    draw = ImageDraw.Draw(out)
    for b in boxes:
        x1, y1, x2, y2 = (float(v) * scale for v in b.box)
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            continue
        draw.rectangle((x1 - 1, y1 - 1, x2, y2), outline=(0, 0, 0), width=b.width + 2)  # dark rim: contrast
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), outline=b.color, width=b.width)
    return out


@functools.lru_cache(maxsize=8)
def font(size: int = 12) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's default font at ``size`` px, loaded once (loading it costs more than drawing a panel)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def titled(panel: Image.Image, title: str) -> Image.Image:
    """``panel`` with a white strip of :data:`TITLE_HEIGHT` px above it holding ``title``."""
    out = Image.new("RGB", (panel.width, panel.height + TITLE_HEIGHT), "white")
    out.paste(_title_strip(panel.width, title), (0, 0))
    out.paste(panel, (0, TITLE_HEIGHT))
    return out


@functools.lru_cache(maxsize=256)
def _title_strip(width: int, title: str) -> Image.Image:
    """The white title strip, drawn once per (width, title): text is the slow part of a PIL drawing."""
    strip = Image.new("RGB", (width, TITLE_HEIGHT), "white")
    ImageDraw.Draw(strip).text((3, 2), title, fill=(0, 0, 0), font=font())
    return strip


def compose(panels: Sequence[Image.Image], gap: int = 8) -> Image.Image:
    """Panels side by side on white, ``gap`` px apart, top-aligned."""
    if not panels:
        raise ValueError("compose needs at least one panel")
    width = sum(p.width for p in panels) + gap * (len(panels) - 1)
    out = Image.new("RGB", (width, max(p.height for p in panels)), "white")
    x = 0
    for p in panels:
        out.paste(p, (x, 0))
        x += p.width + gap
    return out


def png_bytes(img: Image.Image, compress_level: int = 1) -> bytes:
    """PNG-encode ``img`` (fast, lossless compression level 1)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def box_tuple(box: Tensor | None) -> tuple[float, float, float, float] | None:
    """A (4,) box tensor as a plain tuple of floats (``None`` stays ``None``, a NaN box becomes ``None``)."""
    if box is None:
        return None
    vals = [float(v) for v in box.detach().cpu().reshape(-1)[:4]]
    return None if any(v != v for v in vals) else (vals[0], vals[1], vals[2], vals[3])


__all__ = [
    "CAM_RGB",
    "ExplorerState",
    "PanelState",
    "GT_RGB",
    "PART_RGB",
    "DrawBox",
    "base_panel",
    "box_tuple",
    "compose",
    "display_map",
    "draw_boxes",
    "heat",
    "image_rgb",
    "png_bytes",
    "titled",
    "to_uint8",
]
