"""MaxBoxAcc and MaxBoxAccV2 (Choe et al., CVPR 2020): BoxAcc(tau, delta) over a split, both in one pass.

The definitions are in :mod:`camlib.metrics` (which re-exports everything here); how BoxAcc at every tau
comes from one component tree per map is in :mod:`camlib.metrics.sweep` and :mod:`camlib.metrics.tree`, and
the reference code's convention in :mod:`camlib.metrics.wsol`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from camlib.boxes import validate_tau
from camlib.metrics.inputs import BoxesLike, as_box_list, as_maps, cam_thresholds
from camlib.metrics.sweep import box_acc_counts
from camlib.metrics.wsol import normalize_scoremaps, require_cv2, wsol_box_acc_counts

#: the two conventions of :class:`MaxBoxAccMeter`, and the tau grid step each defaults to
CONVENTIONS = {"camlib": 0.01, "wsolevaluation": 0.001}
_CHUNK_PIXELS = 1 << 22  # pixels per kernel call: bounds the per-batch copies (float64 maps: 32 MB)


@dataclass(frozen=True)
class BoxAccResult:
    """MaxBoxAcc, MaxBoxAccV2 and the BoxAcc curves behind them (all in %).

    Attributes:
        max_box_acc: max over tau of BoxAcc(tau, 0.5), largest component only.
        max_box_acc_v2: mean over ``iou_thresholds`` of max over tau of BoxAcc(tau, delta), all components.
        iou_thresholds: the deltas, e.g. (0.3, 0.5, 0.7).
        thresholds: (T,) the tau grid.
        box_acc: (D, T) BoxAcc(tau, delta) with every component's box (V2), one row per delta.
        box_acc_largest: (D, T) the same with the largest component's box only (V1).
        best_tau: per delta, the tau that maximises ``box_acc`` (the first one on ties).
        num_images: images seen.
        convention: ``"camlib"`` or ``"wsolevaluation"`` (see :class:`MaxBoxAccMeter`).
    """

    max_box_acc: float
    max_box_acc_v2: float
    iou_thresholds: tuple[float, ...]
    thresholds: np.ndarray
    box_acc: np.ndarray
    box_acc_largest: np.ndarray
    best_tau: tuple[float, ...]
    num_images: int
    convention: str = "camlib"


class MaxBoxAccMeter:
    """Accumulates BoxAcc(tau, delta) for MaxBoxAcc AND MaxBoxAccV2, at every tau from one pass per map.

    Both metrics threshold the same normalised maps at the same taus, so one meter serves both. The masks at
    all taus are nested, so their components form one tree per map (:mod:`camlib.metrics.tree`): the cost
    hardly depends on the number of taus (1,000 cost about what 100 do), and the counts are exactly those of
    thresholding and labelling once per tau. Streaming: memory is the (D, T) counters plus one batch.

    **Conventions.** ``"camlib"`` (the default) is the definition in :mod:`camlib.metrics`;
    ``"wsolevaluation"`` reproduces clovaai/wsolevaluation's ``BoxEvaluator`` count for count (needs OpenCV:
    ``pip install 'camlib[wsol]'``; give it maps resized as the reference does,
    :func:`camlib.metrics.wsol.resize_cams`). The differences, with their effect in points
    (``benchmarks/bench_conventions.py``: MaxBoxAccV2 of the CAMs of the true class on the first 500 test
    images, shipped ``gap`` model, then ``gmp``; each row moves from camlib's convention towards the
    reference's, in this order, so the rows add up to the total: +2.13 for ``gap`` (78.67 -> 80.80), +0.20
    for ``gmp`` (71.53 -> 71.73); MaxBoxAcc +1.00 and -0.40):

    ==  ======================================  =======================================  ================
    #   wsolevaluation                          camlib                                   effect (points)
    ==  ======================================  =======================================  ================
    1   CAMs resized with float64 ``cv2.resize   :func:`camlib.cam.upsample`, bilinear    -0.07, -2.27
        (INTER_CUBIC)`` (can overshoot)          by default
    2   tau grid step 0.001 (1,000 taus; the     step 0.01 (100 taus)                     +0.13, +0.20
        command line of evaluation.py: 0.01)
    3   8-bit: ``u8 = trunc(255 m)``, kept if    float32 ``m >= tau``                     -0.07, -0.07
        ``u8 > int(tau * max(u8))``; tau 0
        keeps ``m >= 1/255``, not every pixel
    4   "+1" inclusive IoU: predicted boxes      exclusive edges, exact: a box over       +2.13, +2.27
        ``(x, y, min(x + w, W - 1), min(y + h,   columns 0..9 is (0, ..., 10, ...)
        H - 1))`` one pixel too wide/tall
        except at the right/bottom edge; GT
        boxes truncated to ints and +1 too
    5   V2 boxes ALL contours of                 one box per 8-connected component        +0.00, +0.07
        ``findContours(RETR_TREE)``: holes too
        (a hole adds its border's box)
    6   largest = max ``cv2.contourArea``        largest = most pixels; ties to the       V1: 0.00, 0.00
        (polygon through border-pixel centres:   first in raster order
        0 for lines; ties: OpenCV's order)
    7   an empty mask scores the box             an empty mask has no box (IoU 0)         0.00, 0.00
        ``[0, 0, 0, 0]`` (one pixel for "+1")
    8   float64 min-max normalisation and IoU,   float32 normalisation and IoU, vs        part of row 3
        vs ``delta``                             ``float32(delta)``                       (not split)
    ==  ======================================  =======================================  ================

    Not a difference: both count an image at tau when its best box has IoU >= delta; MaxBoxAcc (V1) is a
    separate run of the reference with ``multi_contour_eval=False``, here the same pass gives both.

    Args:
        step: spacing of the tau grid ``np.arange(0, 1, step)``; default 0.01 for ``"camlib"`` and 0.001 (the
            reference's ``cam_curve_interval``) for ``"wsolevaluation"``; ignored when ``thresholds`` is given.
        iou_thresholds: the deltas of V2; must include 0.5 (MaxBoxAcc's delta).
        thresholds: an explicit tau grid, values in [0, 1].
        convention: ``"camlib"`` or ``"wsolevaluation"``.
        workers: threads counting shares of each batch in camlib's convention (the kernel releases the GIL);
            default: torch's thread count (``torch.get_num_threads()``). The counts do not depend on it.

    Raises:
        ImportError: ``convention="wsolevaluation"`` without OpenCV (the message says what to install).

    Example:
        >>> m = torch.zeros(1, 8, 8)
        >>> m[0, 2:6, 2:6] = 1.0
        >>> meter = MaxBoxAccMeter()
        >>> meter.update(m, torch.tensor([[2.0, 2, 6, 6]]))
        >>> meter.compute().max_box_acc_v2
        100.0
    """

    def __init__(
        self,
        step: float | None = None,
        iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
        thresholds: Sequence[float] | None = None,
        convention: str = "camlib",
        workers: int | None = None,
    ) -> None:
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {sorted(CONVENTIONS)}, got {convention!r}")
        if convention == "wsolevaluation":
            require_cv2()  # fail here, not after the first batch
        self.convention = convention
        if thresholds is None:
            taus = cam_thresholds(CONVENTIONS[convention] if step is None else step)
        else:
            taus = np.asarray(thresholds, dtype=np.float64)
        if taus.ndim != 1 or taus.size == 0:
            raise ValueError("thresholds must be a non-empty 1-D sequence of taus in [0, 1]")
        for t in taus.tolist():
            validate_tau(t)
        self.thresholds = taus
        self.iou_thresholds = tuple(float(d) for d in iou_thresholds)
        if not self.iou_thresholds or any(not 0.0 < d <= 1.0 for d in self.iou_thresholds):
            raise ValueError(f"iou_thresholds must be values in (0, 1], got {iou_thresholds}")
        if 0.5 not in self.iou_thresholds:
            raise ValueError(f"iou_thresholds must include 0.5 (MaxBoxAcc's delta), got {iou_thresholds}")
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ValueError(
                f"workers must be a whole number >= 1 (or None: torch's thread count), got {workers!r}"
            )
        self.workers = workers
        self.reset()

    def reset(self) -> None:
        shape = (len(self.iou_thresholds), self.thresholds.size)  # (D, T)
        self._correct_all = np.zeros(shape, dtype=np.int64)
        self._correct_largest = np.zeros(shape, dtype=np.int64)
        self._count = 0

    def update(self, maps: Tensor, gt_boxes: BoxesLike) -> None:
        """Add a batch.

        Args:
            maps: (B, H, W) or (B, 1, H, W) maps at IMAGE resolution (upsample first), any range, on any
                device (copied to the CPU once); min-max normalised here. ``"wsolevaluation"`` works in
                float64 as the reference does, ``"camlib"`` in float32.
            gt_boxes: boxes in the maps' pixels; see :func:`camlib.metrics.as_box_list`.
        """
        if self.convention == "wsolevaluation" and isinstance(maps, Tensor):
            maps = maps.detach().to("cpu", torch.float64)  # one copy, in the reference's float64
        checked = as_maps(maps)  # (B, H, W) float32 on the CPU
        b, h, w = checked.shape
        gts = _gt_arrays(gt_boxes, b, w, h)  # (B, G, 4) array, or B (G_i, 4) arrays
        if self.convention == "camlib":
            values = checked.numpy()  # (B, H, W) float32
        else:  # float64, not rounded to float32 first
            values = maps.reshape(b, h, w).numpy()
        chunk = max(1, _CHUNK_PIXELS // (h * w))
        for s in range(0, b, chunk):
            part, boxes = values[s : s + chunk], gts[s : s + chunk]
            if self.convention == "camlib":
                workers = torch.get_num_threads() if self.workers is None else self.workers
                hits = box_acc_counts(part, boxes, self.thresholds, self.iou_thresholds, workers)
            else:  # resize_bbox's int() truncation
                ints = [np.trunc(g).astype(np.int64) for g in boxes]
                hits = wsol_box_acc_counts(
                    normalize_scoremaps(part), ints, self.thresholds, self.iou_thresholds
                )
            self._correct_all += hits[0]
            self._correct_largest += hits[1]
        self._count += b

    def compute(self) -> BoxAccResult:
        if self._count == 0:
            raise ValueError("no maps: call update() before compute()")
        acc_all = 100.0 * self._correct_all / self._count  # (D, T)
        acc_largest = 100.0 * self._correct_largest / self._count  # (D, T)
        d50 = self.iou_thresholds.index(0.5)
        return BoxAccResult(
            max_box_acc=float(acc_largest[d50].max()),
            max_box_acc_v2=float(acc_all.max(1).mean()),
            iou_thresholds=self.iou_thresholds,
            thresholds=self.thresholds.copy(),
            box_acc=acc_all,
            box_acc_largest=acc_largest,
            best_tau=tuple(float(self.thresholds[i]) for i in acc_all.argmax(1)),
            num_images=self._count,
            convention=self.convention,
        )


def _gt_arrays(gt_boxes: BoxesLike, b: int, w: int, h: int) -> np.ndarray | list[np.ndarray]:
    """The GT boxes checked (:func:`camlib.metrics.as_box_list`) and inside the W x H maps, as a (B, G, 4)
    float32 array when given as one tensor (checked in a few vectorised operations: a batch of 1,000 would
    otherwise cost ~0.2 s of per-image checks), else as a list of B (G_i, 4) arrays."""
    boxes: np.ndarray | list[np.ndarray]
    if (
        isinstance(gt_boxes, Tensor)
        and gt_boxes.dim() in (2, 3)
        and gt_boxes.shape[-1] == 4
        and len(gt_boxes) == b
    ):
        g = gt_boxes.detach().to("cpu", torch.float32).reshape(b, -1, 4)  # (B, G, 4)
        valid = (
            g.numel()
            and torch.isfinite(g).all()
            and (g[..., 2] > g[..., 0]).all()
            and (g[..., 3] > g[..., 1]).all()
        )
        boxes = g.numpy() if valid else [x.numpy() for x in as_box_list(gt_boxes, b)]  # as_box_list raises
    else:
        boxes = [x.numpy() for x in as_box_list(gt_boxes, b)]
    flat = boxes.reshape(-1, 4) if isinstance(boxes, np.ndarray) else np.concatenate(boxes)  # (N, 4)
    if (flat[:, 2] > w).any() or (flat[:, 3] > h).any() or (flat[:, :2] < 0).any():
        i = next(
            i
            for i, g in enumerate(boxes)
            if (g[:, 2] > w).any() or (g[:, 3] > h).any() or (g[:, :2] < 0).any()
        )
        raise ValueError(
            f"gt_boxes[{i}] = {boxes[i].tolist()} lies outside the {w}x{h} map: upsample the maps to the image "
            f"size first (camlib.cam.upsample(maps, size)) or rescale the boxes"
        )
    return boxes


def max_box_acc(maps: Tensor, gt_boxes: BoxesLike, step: float = 0.01) -> float:
    """MaxBoxAcc (%) of (B, H, W) maps; see :class:`MaxBoxAccMeter` and :mod:`camlib.metrics`."""
    meter = MaxBoxAccMeter(step=step, iou_thresholds=(0.5,))
    meter.update(maps, gt_boxes)
    return meter.compute().max_box_acc


def max_box_acc_v2(maps: Tensor, gt_boxes: BoxesLike, step: float = 0.01) -> float:
    """MaxBoxAccV2 (%) of (B, H, W) maps, deltas (0.3, 0.5, 0.7); see :class:`MaxBoxAccMeter`."""
    meter = MaxBoxAccMeter(step=step)
    meter.update(maps, gt_boxes)
    return meter.compute().max_box_acc_v2
