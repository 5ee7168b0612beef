"""PxAP: pixel average precision of the maps against ground-truth masks over a split, as wsolevaluation.

The definition is in :mod:`camlib.metrics` (which re-exports everything here). Each batch is normalised and
binned in ONE compiled pass (:func:`pixel_histograms`; the kernel and its cold start are described in
:mod:`camlib.metrics.tree`): ~2x faster than normalising with torch and binning two boolean-indexed copies with
``np.searchsorted`` (measured in ``benchmarks/bench_metrics.py``), with the same counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from camlib.metrics.inputs import as_maps, cam_thresholds
from camlib.metrics.tree import SLOTS_PER_CUT, count_le, lookup_table, njit
from camlib.metrics.wsol import normalize_scoremaps

_CONVENTIONS = ("camlib", "wsolevaluation")


@njit
def _histograms(
    maps: np.ndarray, positive: np.ndarray, ignore: np.ndarray, edges: np.ndarray, out: np.ndarray
) -> None:
    """``out[1, i]`` (``out[0, i]``) += positive (negative) pixels whose min-max normalised value lies in
    ``[edges[i], edges[i + 1])``.

    Args:
        maps: (B, N) float32 raw maps, normalised per map as :func:`camlib.cam.normalize` (bit for bit;
            a constant map is all zeros).
        positive: (B, N) bool ground-truth foreground.
        ignore: (B, N) bool pixels to leave out, or (0, 0) for none.
        edges: (E,) float64 sorted bin edges (values compared in float64, as ``np.searchsorted`` does).
        out: (2, E - 1) int64 counts.
    """
    starts = np.empty(SLOTS_PER_CUT * edges.size + 1, dtype=np.int64)
    lo_e, scale = lookup_table(edges, starts)
    for b in range(maps.shape[0]):
        m = maps[b]
        lo, hi = m[0], m[0]
        for p in range(m.size):
            lo = min(lo, m[p])
            hi = max(hi, m[p])
        span = hi - lo
        for p in range(m.size):
            if ignore.shape[0] and ignore[b, p]:
                continue
            v = (m[p] - lo) / span if span > 0 else np.float32(0.0)
            out[1 if positive[b, p] else 0, count_le(v, edges, starts, lo_e, scale) - 1] += 1


def pixel_histograms(
    maps: np.ndarray, masks: np.ndarray, edges: np.ndarray, ignore: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Histograms of the min-max normalised map values over positive and negative pixels, in one pass.

    Args:
        maps: (B, H, W) float32 raw maps.
        masks: (B, H, W) bool ground-truth foreground.
        edges: (E,) sorted bin edges covering [0, 1], e.g. ``PxAPMeter().edges``.
        ignore: optional (B, H, W) bool pixels to leave out.

    Returns:
        ``(positive, negative)``: (E - 1,) int64 pixel counts per bin ``[edges[i], edges[i + 1])``.

    >>> pixel_histograms(np.array([[[0.0, 1, 2, 4]]], np.float32), np.array([[[0, 0, 1, 1]]], bool),
    ...                  np.array([0.0, 0.5, 1.0, 2.0]))
    (array([0, 1, 1]), array([2, 0, 0]))
    """
    b = len(maps)
    values = np.ascontiguousarray(maps, dtype=np.float32).reshape(b, -1)  # (B, N)
    edges = np.asarray(edges, dtype=np.float64)
    if edges[0] > 0 or edges[-1] <= 1:
        raise ValueError(f"edges must cover [0, 1] (normalised values), got {edges[0]} .. {edges[-1]}")
    positive = np.ascontiguousarray(masks, dtype=np.bool_).reshape(b, -1)  # (B, N)
    skip = (
        np.zeros((0, 0), np.bool_)
        if ignore is None
        else np.ascontiguousarray(ignore, np.bool_).reshape(b, -1)
    )
    out = np.zeros((2, edges.size - 1), dtype=np.int64)  # (2, E - 1): negative, positive
    _histograms(values, positive, skip, edges, out)
    return out[1], out[0]


@dataclass(frozen=True)
class PxAPResult:
    """PxAP (%) and its precision-recall curve.

    Attributes:
        pxap: area under the PR curve, in %.
        thresholds: (P,) taus, high to low, at which some pixel is predicted positive.
        precision: (P,) pixel precision of ``m >= tau`` at each tau, in [0, 1].
        recall: (P,) pixel recall at each tau, in [0, 1].
        num_pixels: pixels counted (ignored pixels excluded).
    """

    pxap: float
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    num_pixels: int


class PxAPMeter:
    """Accumulates histograms of normalised map values over positive and negative pixels (wsolevaluation).

    Args:
        step: bin width; the tau grid is ``np.arange(0, 1, step)`` plus the edges 1, 2, 3 of the reference;
            default 0.01 for ``"camlib"``, 0.001 (the reference's ``cam_curve_interval``) for
            ``"wsolevaluation"``.
        convention: ``"camlib"`` normalises in float32 (:func:`camlib.cam.normalize`); ``"wsolevaluation"`` in
            float64 as the reference's ``normalize_scoremap`` (a value next to a bin edge can fall on the other
            side of it; 0.00 points on the shipped models' maps). The bins are the same.

    Example:
        >>> meter = PxAPMeter()
        >>> mask = torch.zeros(1, 4, 4, dtype=torch.bool)
        >>> mask[0, :2] = True
        >>> meter.update(mask.float(), mask)
        >>> meter.compute().pxap
        100.0
    """

    def __init__(self, step: float | None = None, convention: str = "camlib") -> None:
        if convention not in _CONVENTIONS:
            raise ValueError(f"convention must be one of {list(_CONVENTIONS)}, got {convention!r}")
        self.convention = convention
        step = (0.01 if convention == "camlib" else 0.001) if step is None else step
        self.edges = np.append(cam_thresholds(step), [1.0, 2.0, 3.0])  # bins [0, s), ..., [1, 2), [2, 3)
        self.reset()

    def reset(self) -> None:
        self._pos = np.zeros(self.edges.size - 1, dtype=np.int64)
        self._neg = np.zeros(self.edges.size - 1, dtype=np.int64)

    def _hist(self, values: np.ndarray) -> np.ndarray:
        bins = np.searchsorted(self.edges, values, side="right") - 1  # bin i = [edges[i], edges[i+1])
        return np.bincount(bins, minlength=self.edges.size - 1)

    def update(self, maps: Tensor, masks: Tensor, ignore: Tensor | None = None) -> None:
        """Add a batch.

        Args:
            maps: (B, H, W) or (B, 1, H, W) maps at image resolution, on any device; min-max normalised here.
            masks: (B, H, W) bool ground-truth foreground.
            ignore: optional (B, H, W) bool pixels to leave out (wsolevaluation's "ignore" regions).
        """
        if self.convention == "wsolevaluation" and isinstance(maps, Tensor):
            maps = maps.detach().to("cpu", torch.float64)  # one copy, in the reference's float64
        checked = as_maps(maps)  # (B, H, W) float32 on the CPU
        for name, m in (("masks", masks), ("ignore", ignore)):
            if m is not None and (
                not isinstance(m, Tensor) or m.dtype != torch.bool or m.shape != checked.shape
            ):
                got = f"{m.dtype} {tuple(m.shape)}" if isinstance(m, Tensor) else type(m).__name__
                raise ValueError(
                    f"{name} must be a bool tensor of the maps' shape {tuple(checked.shape)}; got {got} "
                    f"(use masks > 0.5, and upsample the maps to the mask size)"
                )
        pos = masks.detach().cpu().numpy()
        skip = ignore.detach().cpu().numpy() if ignore is not None else None
        if self.convention == "camlib":
            p, n = pixel_histograms(checked.numpy(), pos, self.edges, skip)
            self._pos += p
            self._neg += n
            return
        norm = normalize_scoremaps(maps.reshape(checked.shape).numpy())  # (B, H, W) float64
        keep = ~skip if skip is not None else np.ones_like(pos)
        self._pos += self._hist(norm[pos & keep])
        self._neg += self._hist(norm[~pos & keep])

    def compute(self) -> PxAPResult:
        num_pos = int(self._pos.sum())
        if num_pos + int(self._neg.sum()) == 0:
            raise ValueError("no pixels: call update() before compute()")
        if num_pos == 0:
            raise ValueError("the masks have no positive pixel, so PxAP is undefined: check the masks")
        tp = self._pos[::-1].cumsum()  # pixels >= tau, tau high to low
        fp = self._neg[::-1].cumsum()
        predicted = tp + fp
        precision = np.divide(tp, predicted, out=np.zeros(tp.size), where=predicted > 0)
        recall = tp / num_pos
        ap = float((precision[1:] * np.diff(recall)).sum()) * 100.0
        defined = predicted > 0
        return PxAPResult(
            pxap=ap,
            thresholds=self.edges[:-1][::-1][defined],
            precision=precision[defined],
            recall=recall[defined],
            num_pixels=int(predicted[-1]),
        )


def pxap(maps: Tensor, masks: Tensor, step: float = 0.01) -> float:
    """PxAP (%) of (B, H, W) maps against (B, H, W) bool masks; see :class:`PxAPMeter`."""
    meter = PxAPMeter(step)
    meter.update(maps, masks)
    return meter.compute().pxap
