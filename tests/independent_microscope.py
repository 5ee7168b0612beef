"""Right answers to the microscope notebook's checks, written apart from camlib's references (see test_checks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def _peak_histogram(maps: torch.Tensor, grid: int) -> torch.Tensor:
    h, w = maps.shape[-2:]
    out = torch.zeros(grid, grid)
    for m in maps:
        flat = int(m.reshape(-1).argmax())
        y, x = divmod(flat, w)
        out[y // (h // grid), x // (w // grid)] += 1
    return out / len(maps)


def _mass_share(maps: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    shares = []
    for m, b in zip(maps, boxes, strict=True):
        pos = torch.relu(m)
        inside = torch.zeros_like(pos, dtype=torch.bool)
        x1, y1, x2, y2 = (int(v) for v in b)
        inside[y1:y2, x1:x2] = True
        total = pos.sum()
        shares.append(pos[inside].sum() / total if total > 0 else torch.tensor(0.0))
    return torch.stack(shares)


INDEPENDENT: dict[str, Callable[..., Any]] = {
    "check_peak_histogram": _peak_histogram,
    "check_mass_share": _mass_share,
}
