"""Exercise self-checks of the microscope notebook: find a planted shortcut with the maps, then measure it.

- ``check_peak_histogram``: where a set of maps peak, as shares of a grid of cells (the reference:
  :func:`camlib.localization.shortcut.peak_histogram`).
- ``check_mass_share``: the share of each map's positive mass inside a box (the reference:
  :func:`camlib.localization.positive_mass_share`).

Boxes are XYXY with exclusive right/bottom edges. ``SPECS`` lists the checks for :data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from camlib.checks.runner import CheckResult, CheckSpec, Mistake
from camlib.localization.multi import positive_mass_share
from camlib.localization.shortcut import peak_histogram


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- where the maps peak ------------------------------------------------------------------------------------


def _hist(rows: Tensor, cols: Tensor, grid: int, h: int, w: int) -> Tensor:
    cells = (rows * grid // h) * grid + cols * grid // w
    return (cells.bincount(minlength=grid * grid).float() / len(rows)).reshape(grid, grid)


def _last_peak(maps: Tensor, grid: int) -> Tensor:
    """The LAST maximum in row-major order instead of the first."""
    h, w = maps.shape[-2:]
    flat = maps.flatten(1)
    idx = flat.shape[1] - 1 - flat.flip(1).argmax(1)
    return _hist(idx // w, idx % w, grid, h, w)


def _unravel_by_height(maps: Tensor, grid: int) -> Tensor:
    """The flat index split by the map's HEIGHT (rows = idx // H): right only for square maps."""
    h, w = maps.shape[-2:]
    idx = maps.flatten(1).argmax(1)
    return _hist((idx // h).clamp_max(h - 1), idx % h, grid, h, w)


def _peak_cases() -> list[tuple[Tensor, int]]:
    a = torch.rand(6, 8, 8, generator=_gen(40))
    a[0, 0, 7] = a[1, 0, 6] = a[2, 7, 0] = a[3, 1, 1] = a[4, 6, 7] = 2.0  # peaks in four cells of a 2x2 grid
    b = torch.rand(5, 6, 12, generator=_gen(41))  # not square: rows and columns differ
    b[0, 5, 11] = b[1, 0, 11] = b[2, 5, 1] = 3.0
    c = torch.zeros(3, 4, 4)  # ties: a plateau per map (the first maximum counts)
    c[0, 1:3, 1:3] = 1.0
    c[1, :, 3] = 1.0
    c[2, 3, :] = 1.0
    return [(a, 2), (b, 3), (c, 2), (a, 4)]


PEAK_HISTOGRAM = CheckSpec(
    "check_peak_histogram",
    peak_histogram,
    _peak_cases(),
    [
        Mistake(
            lambda m, g: peak_histogram(m, g).T,
            "rows and columns are swapped: cell [r, c] is row band r (from the flat index: idx // W) and column "
            "band c (idx % W)",
        ),
        Mistake(
            lambda m, g: peak_histogram(m, g) * len(m),
            "return shares of the maps (the counts divided by the number of maps), so that the cells sum to 1",
        ),
        Mistake(
            lambda m, g: peak_histogram(-m, g),
            "that is where the maps are LOWEST: take the argmax, not the argmin",
        ),
        Mistake(
            _last_peak,
            "on ties take the FIRST maximum in row-major order, as flatten(1).argmax(1) does",
        ),
        Mistake(
            _unravel_by_height,
            "unravel the flat index with the map's WIDTH: row = idx // W, column = idx % W (your split used H)",
        ),
    ],
)


def check_peak_histogram(fn: Callable[[Tensor, int], Tensor]) -> CheckResult:
    """Exercise: ``fn(maps (B, H, W), grid) -> (grid, grid)`` the share of maps whose first maximum falls in each
    cell of a grid x grid partition of the image."""
    return PEAK_HISTOGRAM.run(fn)


# --- the share of the positive mass in a box ------------------------------------------------------------------


def _share(
    maps: Tensor, boxes: Tensor, *, relu: bool = True, inclusive: bool = False, swap: bool = False
) -> Tensor:
    out = []
    for m, (x1, y1, x2, y2) in zip(maps, boxes.long().tolist(), strict=True):
        m = m.clamp_min(0) if relu else m
        if swap:
            x1, y1, x2, y2 = y1, x1, y2, x2
        e = 1 if inclusive else 0
        total = float(m.sum())
        out.append(float(m[y1 : y2 + e, x1 : x2 + e].sum()) / total if total != 0 else 0.0)
    return torch.tensor(out)


def _mean_inside(maps: Tensor, boxes: Tensor) -> Tensor:
    out = []
    for m, (x1, y1, x2, y2) in zip(maps, boxes.long().tolist(), strict=True):
        out.append(float(m.clamp_min(0)[y1:y2, x1:x2].mean()))
    return torch.tensor(out)


def _nan_when_empty(maps: Tensor, boxes: Tensor) -> Tensor:
    pos = maps.clamp_min(0)
    ref = positive_mass_share(maps, boxes)
    return torch.where(pos.flatten(1).sum(1) > 0, ref, torch.full_like(ref, float("nan")))


def _mass_cases() -> list[tuple[Tensor, Tensor]]:
    a = torch.randn(4, 10, 14, generator=_gen(50))  # signed maps: negative evidence too, not square
    box_a = torch.tensor(
        [[2.0, 1.0, 7.0, 4.0], [0.0, 0.0, 14.0, 10.0], [9.0, 5.0, 14.0, 10.0], [3.0, 6.0, 5.0, 9.0]]
    )
    b = torch.zeros(2, 8, 8)
    b[0, 1, 1], b[0, 6, 2] = 3.0, 1.0  # 3/4 of the mass at (row 1, col 1)
    b[1] = -1.0  # no positive value: scores 0
    box_b = torch.tensor([[0.0, 0.0, 3.0, 3.0], [0.0, 0.0, 8.0, 8.0]])
    return [(a, box_a), (b, box_b)]


MASS_SHARE = CheckSpec(
    "check_mass_share",
    positive_mass_share,
    _mass_cases(),
    [
        Mistake(
            lambda m, b: _share(m, b, relu=False),
            "count only the POSITIVE mass: clamp the map at 0 (max(M, 0)) before summing, inside and in total",
        ),
        Mistake(
            lambda m, b: _share(m, b, inclusive=True),
            "box edges are exclusive: the box covers rows y1 .. y2 - 1 and columns x1 .. x2 - 1 (m[y1:y2, x1:x2])",
        ),
        Mistake(
            lambda m, b: _share(m, b, swap=True),
            "a box is (x1, y1, x2, y2): x indexes COLUMNS, so the box's pixels are m[y1:y2, x1:x2]",
        ),
        Mistake(
            _mean_inside,
            "return the SHARE of the map's positive mass inside the box (inside sum / total sum), not the mean "
            "value inside",
        ),
        Mistake(
            _nan_when_empty,
            "a map with no positive value points nowhere: return 0 for it, not 0 / 0 = NaN",
        ),
    ],
)


def check_mass_share(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    """Exercise: ``fn(maps (B, H, W), boxes (B, 4) XYXY) -> (B,)`` the share of each map's positive mass inside
    its box (0 for a map with no positive value)."""
    return MASS_SHARE.run(fn)


SPECS = (PEAK_HISTOGRAM, MASS_SHARE)
