"""Rasterising for the synthetic dataset: convex shapes as per-row intervals, textures, background tiles.

Every shape drawn here is convex, so each image row meets it in one interval ``[lo, hi]`` of x: the geometry is
computed on (B, H) rows and only the final test ``lo <= x <= hi`` touches all (B, H, W) pixels. Pixel ``(i, j)``
has its centre at ``(x, y) = (j + 0.5, i + 0.5)`` and belongs to a shape when its centre does. Only
correctly-rounded operations (+, -, *, /, sqrt, floor, comparisons) touch per-sample values, never sin/exp,
so a sample's pixels are bit-identical whatever batch (or device) generates them.

Boxes are torchvision XYXY in pixels with exclusive right/bottom edges: pixels 0..9 give ``(0, 0, 10, 10)``.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

#: The colours every class, clutter item and background draws from (RGB in [0, 1]); none belongs to a class.
PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.86, 0.16, 0.14),  # red
    (0.96, 0.56, 0.10),  # orange
    (0.95, 0.86, 0.22),  # yellow
    (0.45, 0.78, 0.20),  # light green
    (0.10, 0.50, 0.22),  # dark green
    (0.10, 0.62, 0.64),  # teal
    (0.45, 0.75, 0.95),  # sky blue
    (0.16, 0.26, 0.78),  # blue
    (0.55, 0.25, 0.72),  # purple
    (0.95, 0.52, 0.72),  # pink
    (0.50, 0.30, 0.14),  # brown
    (0.93, 0.92, 0.88),  # white
    (0.12, 0.12, 0.14),  # black
    (0.55, 0.55, 0.55),  # grey
)

#: Background blend levels: a background pixel has label ``0..BG_LEVELS-1``, a blend of two colours.
BG_LEVELS = 16
TILES = 256  # background / lighting tiles per image size


def pixel_centres(n: int, device: torch.device | str | None = None) -> Tensor:
    """(n,) float32 coordinates of pixel centres, ``0.5, 1.5, ...``.

    >>> pixel_centres(3).tolist()
    [0.5, 1.5, 2.5]
    """
    return torch.arange(n, dtype=torch.float32, device=device) + 0.5


@lru_cache(maxsize=8)
def _row_masks(width: int, device: torch.device) -> Tensor:
    """((W+1)**2, W) uint8 table: row ``a * (W + 1) + b`` is 1 on columns ``a <= j < b``."""
    j = torch.arange(width, device=device)
    a = torch.arange(width + 1, device=device)
    inside = (j >= a[:, None, None]) & (j < a[None, :, None])  # (W+1, W+1, W)
    return inside.to(torch.uint8).reshape(-1, width)


def fill_rows(lo: Tensor, hi: Tensor, width: int) -> Tensor:
    """Mask of the pixels whose centre lies in each row's interval: (..., H) bounds -> (..., H, W) uint8 0/1.

    An empty row has ``lo > hi``. The rows are looked up in a table of all intervals (a copy of W bytes per
    row), several times faster than comparing every pixel with both bounds.

    >>> fill_rows(torch.tensor([[1.0, 3.0]]), torch.tensor([[2.9, 0.0]]), 4).tolist()
    [[[0, 1, 1, 0], [0, 0, 0, 0]]]
    """
    first = (lo - 0.5).ceil().clamp(0, width).to(torch.int64)  # first column whose centre j + 0.5 >= lo
    end = (hi - 0.5).floor().add(1).clamp(0, width).to(torch.int64)  # one past the last with j + 0.5 <= hi
    rows = _row_masks(width, lo.device).index_select(0, (first * (width + 1) + end).reshape(-1))  # (N, W)
    return rows.view(*lo.shape, width)


def ellipse_rows(
    y: Tensor, cx: Tensor | float, cy: Tensor | float, rx: Tensor | float, ry: Tensor | float
) -> tuple[Tensor, Tensor]:
    """Row intervals of axis-aligned ellipses; all arguments broadcast, ``y`` holds the rows' coordinates.

    >>> lo, hi = ellipse_rows(torch.tensor([0.0, 1.0, 2.0]), *torch.tensor([5.0, 1.0, 4.0, 1.0]))
    >>> lo.tolist(), hi.tolist()
    ([5.0, 1.0, 5.0], [5.0, 9.0, 5.0])
    """
    q = (y - cy) / ry
    q2 = q * q
    half = torch.where(q2 <= 1, rx * torch.sqrt((1 - q2).clamp_min(0)), -1.0)
    return cx - half, cx + half


def rotated_ellipse_rows(
    y: Tensor, cx: Tensor, cy: Tensor, ra: Tensor, rb: Tensor, c: Tensor, s: Tensor
) -> tuple[Tensor, Tensor]:
    """Row intervals of ellipses with semi-axis ``ra`` along the unit vector ``(c, s)`` and ``rb`` across it.

    Solves ``A X^2 + 2 B X + C <= 0`` for ``X = x - cx`` on each row; rows that miss the ellipse get ``lo > hi``.

    >>> lo, hi = rotated_ellipse_rows(*torch.tensor([0.0, 0.0, 0.0, 2.0, 1.0, 0.0, 1.0]))
    >>> round(float(lo), 4), round(float(hi), 4)
    (-1.0, 1.0)
    """
    ia, ib = 1 / (ra * ra), 1 / (rb * rb)
    dy = y - cy
    a = c * c * ia + s * s * ib
    b = dy * (c * s) * (ia - ib)
    cc = dy * dy * (s * s * ia + c * c * ib) - 1
    disc = b * b - a * cc
    root = torch.sqrt(disc.clamp_min(0))
    ok = disc >= 0
    lo = torch.where(ok, cx + (-b - root) / a, 1.0)
    hi = torch.where(ok, cx + (-b + root) / a, -1.0)
    return lo, hi


def polygon_rows(y: Tensor, vertices: tuple[tuple[float, float], ...]) -> tuple[Tensor, Tensor]:
    """Row intervals of one convex polygon given by constant vertices (in either winding order).

    Each edge is a half-plane ``n . p <= d``; on a row it bounds x from one side (or empties the row).

    >>> lo, hi = polygon_rows(torch.tensor([0.5, 1.5]), ((0.0, 0.0), (2.0, 0.0), (0.0, 2.0)))
    >>> (lo + 0).tolist(), hi.tolist()  # + 0 turns -0.0 into 0.0
    ([0.0, 0.0], [1.5, 0.5])
    """
    pts = list(vertices)
    area2 = sum(pts[i - 1][0] * pts[i][1] - pts[i][0] * pts[i - 1][1] for i in range(len(pts)))  # shoelace
    sign = 1.0 if area2 > 0 else -1.0  # counter-clockwise: (dy, -dx) points outwards
    lo = torch.full_like(y, -float("inf"))
    hi = torch.full_like(y, float("inf"))
    empty = torch.zeros_like(y, dtype=torch.bool)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True):
        nx, ny = sign * (y1 - y0), -sign * (x1 - x0)  # outward normal for this winding
        d = nx * x0 + ny * y0
        if nx > 0:
            hi = torch.minimum(hi, (d - ny * y) / nx)
        elif nx < 0:
            lo = torch.maximum(lo, (d - ny * y) / nx)
        else:
            empty = empty | (ny * y > d)
    return torch.where(empty, 1.0, lo), torch.where(empty, -1.0, hi)


def parity(t: Tensor) -> Tensor:
    """``floor(t)`` is odd, as bool.

    >>> parity(torch.tensor([0.5, 1.5, -0.5])).tolist()
    [False, True, True]
    """
    return (t.floor().to(torch.int64) & 1).bool()


def profile_boxes(cols: Tensor, rows: Tensor) -> Tensor:
    """XYXY boxes (exclusive edges) from which columns (B, W) and rows (B, H) hold a pixel; NaN if none.

    >>> profile_boxes(torch.tensor([[False, True, True]]), torch.tensor([[True, False]])).tolist()
    [[1.0, 0.0, 3.0, 1.0]]
    """
    c, r = cols.to(torch.uint8), rows.to(torch.uint8)
    x1, x2 = c.argmax(1), cols.shape[1] - c.flip(1).argmax(1)  # first column, one past the last
    y1, y2 = r.argmax(1), rows.shape[1] - r.flip(1).argmax(1)
    boxes = torch.stack([x1, y1, x2, y2], 1).to(torch.float32)  # (B, 4)
    return torch.where(cols.any(1)[:, None], boxes, float("nan"))


@lru_cache(maxsize=4)
def _tiles_cpu(size: int) -> tuple[Tensor, Tensor]:
    """Background-level and lighting tiles for ``size`` px images, made once from a fixed generator."""
    gen = torch.Generator().manual_seed(20160627)  # CVPR 2016
    noise = torch.randn(2, TILES, size, size, generator=gen)
    f = torch.fft.fftfreq(size) * size  # cycles per tile
    r2 = f[:, None] ** 2 + f[None, :] ** 2  # (size, size)
    # background blotches a few per image side; lighting smoother still
    bg = torch.fft.ifft2(torch.fft.fft2(noise[0]) * torch.exp(-r2 / (2 * 2.2**2))).real  # (T, size, size)
    light = torch.fft.ifft2(torch.fft.fft2(noise[1]) * torch.exp(-r2 / (2 * 1.0**2))).real
    bg = (bg - bg.mean((1, 2), keepdim=True)) / bg.std((1, 2), keepdim=True)  # (T, size, size)
    levels = ((torch.special.ndtr(bg) * BG_LEVELS).floor().clamp(0, BG_LEVELS - 1)).to(torch.uint8)
    light = light / light.std((1, 2), keepdim=True)
    grain = torch.rand(TILES, size, size, generator=gen) - 0.5
    luma = 1 + 0.08 * light.clamp(-2.5, 2.5) + 0.10 * grain  # mean 1, roughly 0.75..1.25
    return levels, (luma * 256).round() / 256


def tiles(size: int, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """The tile banks: (TILES, size, size) uint8 background levels and float32 lighting factors (mean 1).

    Tiles are periodic (FFT-filtered noise), quantised, and identical in every process.
    """
    levels, luma = _tiles_cpu(size)
    return levels.to(device), luma.to(device)
