"""PxAP: pixel average precision of the maps against ground-truth masks over a split, as wsolevaluation.

The definition is in :mod:`camlib.metrics` (which re-exports everything here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from camlib.cam import normalize
from camlib.metrics.inputs import as_maps, cam_thresholds


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
        step: bin width; the tau grid is ``np.arange(0, 1, step)`` plus the edges 1, 2, 3 of the reference.

    Example:
        >>> meter = PxAPMeter()
        >>> mask = torch.zeros(1, 4, 4, dtype=torch.bool)
        >>> mask[0, :2] = True
        >>> meter.update(mask.float(), mask)
        >>> meter.compute().pxap
        100.0
    """

    def __init__(self, step: float = 0.01) -> None:
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
            maps: (B, H, W) or (B, 1, H, W) maps at image resolution; min-max normalised here.
            masks: (B, H, W) bool ground-truth foreground.
            ignore: optional (B, H, W) bool pixels to leave out (wsolevaluation's "ignore" regions).
        """
        norm = normalize(as_maps(maps)).numpy()  # (B, H, W)
        for name, m in (("masks", masks), ("ignore", ignore)):
            if m is not None and (
                not isinstance(m, Tensor) or m.dtype != torch.bool or m.shape != norm.shape
            ):
                got = f"{m.dtype} {tuple(m.shape)}" if isinstance(m, Tensor) else type(m).__name__
                raise ValueError(
                    f"{name} must be a bool tensor of the maps' shape {norm.shape}; got {got} "
                    f"(use masks > 0.5, and upsample the maps to the mask size)"
                )
        pos = masks.detach().cpu().numpy()
        keep = ~ignore.detach().cpu().numpy() if ignore is not None else np.ones_like(pos)
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
