"""The explorer's small plots, drawn with PIL (no matplotlib figure, so nothing leaks and a redraw is ~1 ms):
the IoU-vs-tau curve and the strip of a CAM's channels.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor

from camlib.cam import upsample
from camlib.explorer.render import base_panel, font, titled

#: one colour per model in the curve (the first model first)
CURVE_RGB = ((37, 99, 235), (220, 38, 38), (22, 163, 74), (147, 51, 234))


def _frame(width: int, height: int) -> tuple[int, int, int, int]:
    return 34, width - 8, 8, height - 34  # left, right, top, bottom of the plot area


@functools.lru_cache(maxsize=4)
def _axes(width: int, height: int) -> Image.Image:
    """The curve's empty axes, drawn once (text is the slow part of a PIL drawing)."""
    img = Image.new("RGB", (width, height), "white")
    d, f = ImageDraw.Draw(img), font(11)
    left, right, top, bottom = _frame(width, height)
    for v in (0.0, 0.5, 1.0):  # axes and grid
        y = bottom - v * (bottom - top)
        d.line([(left, y), (right, y)], fill=(200, 200, 200) if v else (0, 0, 0))
        d.text((4, y - 7), f"{v:.1f}", fill=(0, 0, 0), font=f)
    d.line([(left, bottom), (left, top)], fill=(0, 0, 0))
    for t in (0.0, 0.2, 0.5, 1.0):
        d.text((left + t * (right - left) - 8, bottom + 3), f"{t:.1f}", fill=(0, 0, 0), font=f)
    d.text((left + (right - left) // 2 - 4, bottom + 16), "tau", fill=(0, 0, 0), font=f)
    d.text((left + 4, top), "IoU", fill=(0, 0, 0), font=f)
    return img


def curve_panel(
    curves: Sequence[tuple[str, np.ndarray, float]],
    taus: np.ndarray,
    tau: float,
    width: int = 320,
    height: int = 180,
) -> Image.Image:
    """IoU against tau, one line per model, the current tau as a grey line and each model's best tau as a dot.

    Args:
        curves: ``(name, ious (T,), best tau)`` per model.
        taus: (T,) increasing taus in [0, 1].
        tau: the current threshold.
    """
    img = _axes(width, height).copy()
    d, f = ImageDraw.Draw(img), font(11)
    left, right, top, bottom = _frame(width, height)
    span_x, span_y = right - left, bottom - top

    def xy(t: float, v: float) -> tuple[float, float]:
        return left + t * span_x, bottom - v * span_y

    x_now = xy(min(max(tau, 0.0), 1.0), 0)[0]
    d.line([(x_now, top), (x_now, bottom)], fill=(120, 120, 120), width=2)
    for k, (name, ious, best) in enumerate(curves):
        c = CURVE_RGB[k % len(CURVE_RGB)]
        d.line([xy(float(t), float(v)) for t, v in zip(taus, ious, strict=True)], fill=c, width=2)
        bx, by = xy(best, float(ious[int(np.argmin(np.abs(taus - best)))]))
        d.ellipse((bx - 4, by - 4, bx + 4, by + 4), fill=c, outline=(0, 0, 0))
        d.text((right - 118, top + 2 + 13 * k), f"{name}: best tau {best:.2f}", fill=c, font=f)
    return img


def channel_strip(
    image: Tensor,
    parts: Tensor,
    titles: Sequence[str],
    mode: str,
    scale: int,
) -> Image.Image:
    """Maps side by side over the image, on ONE signed scale (red > 0, blue < 0, white 0 at alpha 0.6).

    Args:
        image: (3, H, W) the image.
        parts: (n, h, w) maps (the top channels' ``w_k^c f_k``, the rest, the CAM), upsampled with ``mode``.
        titles: one per map.
        scale: display upscaling (nearest).
    """
    up = upsample(parts[None].float(), (int(image.shape[-2]), int(image.shape[-1])), mode)[0]  # (n, H, W)
    peak = float(up.abs().max())
    signed = (up / peak + 1) / 2 if peak > 0 else up * 0 + 0.5  # (n, H, W) in [0, 1], 0.5 = zero
    panels = [
        titled(base_panel(image, s.numpy(), 0.6, "RdBu_r", scale), t)
        for s, t in zip(signed, titles, strict=True)
    ]
    out = Image.new("RGB", (sum(p.width for p in panels) + 6 * (len(panels) - 1), panels[0].height), "white")
    x = 0
    for p in panels:
        out.paste(p, (x, 0))
        x += p.width + 6
    return out


__all__ = ["CURVE_RGB", "channel_strip", "curve_panel"]
