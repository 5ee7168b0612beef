"""Weakly-supervised localization of a model over a dataset: maps -> boxes -> every metric, in one pass.

One loop serves ``python -m camlib evaluate`` (through :func:`localization_metrics`), ``python -m camlib
reproduce`` and the notebooks. A *method* is a name of the registry :data:`camlib.cam.METHODS` (CAM, Grad-CAM,
gradient saliency, ...); it maps the TRUE class of each image, and the logits of that same forward pass score
the classification. The model-free centred-box prior has its own entry point, :func:`localize_center_prior`.
Top-1 localization needs the predicted class's map only when the prediction is right, and then it IS the true
class's map, so the true class's map gives every metric (see :mod:`camlib.metrics`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from camlib.boxes import largest_component_box
from camlib.cam import default_method, evaluation, get_method, upsample
from camlib.data.sample import Batch, Sample, SampleDataset, as_dataset
from camlib.metrics import BoxAccResult, LocalizationMeter, LocalizationResult, MaxBoxAccMeter, PxAPMeter

#: the paper's box rule: keep the pixels above 20% of the map's max (Zhou et al., CVPR 2016, Sec. 3.1)
PAPER_TAU = 0.2
#: the authors' released code thresholds an 8-bit heatmap at 20, 100 and 110 out of 255
RELEASED_CODE_TAUS = (20 / 255, 100 / 255, 110 / 255)
#: the name of the model-free baseline of :func:`localize_center_prior` in reports
CENTER = "center"


def center_prior(height: int, width: int, box_wh: tuple[float, float]) -> Tensor:
    """A model-free map whose level sets are centred boxes with the mean box's aspect ratio: (H, W) in [0, 1].

    Thresholding it at any tau gives a centred box; one tau gives exactly the centred mean-size box. It is the
    baseline every localization method must beat: it knows where objects are on average, nothing else.

    >>> m = center_prior(4, 4, (2.0, 2.0))
    >>> (m >= m.max() * 0.99).nonzero().tolist()
    [[1, 1], [1, 2], [2, 1], [2, 2]]
    """
    ys = torch.arange(height, dtype=torch.float32) + 0.5 - height / 2  # pixel centres, (H,)
    xs = torch.arange(width, dtype=torch.float32) + 0.5 - width / 2  # (W,)
    half_w, half_h = max(box_wh[0], 1.0) / 2, max(box_wh[1], 1.0) / 2
    dist = torch.maximum(xs.abs()[None, :] / half_w, ys.abs()[:, None] / half_h)  # (H, W); 1 on the mean box
    return 1.0 - dist / dist.max()


def center_box(height: int, width: int, box_wh: tuple[float, float]) -> Tensor:
    """The centred box of size ``box_wh`` (clipped to the image), XYXY with exclusive edges: (4,).

    >>> center_box(64, 64, (32.0, 16.0)).tolist()
    [16.0, 24.0, 48.0, 40.0]
    """
    bw, bh = min(box_wh[0], width), min(box_wh[1], height)
    x1, y1 = round((width - bw) / 2), round((height - bh) / 2)
    return torch.tensor([x1, y1, x1 + round(bw), y1 + round(bh)], dtype=torch.float32)


@dataclass(frozen=True)
class LocalizationReport:
    """Everything :func:`localize` measured (percentages in 0..100).

    Attributes:
        method: the map method (a name of :data:`camlib.cam.METHODS`, or ``"center"`` for the prior).
        loc: classification errors, top-1/top-5 localization errors and GT-known localization at ``tau``.
        box_acc: MaxBoxAcc, MaxBoxAccV2 and the BoxAcc(tau, delta) curves.
        pxap: PxAP against the masks (``None`` when the dataset has no masks).
        tau: the fixed threshold (fraction of the map's max) used for ``loc``.
    """

    method: str
    loc: LocalizationResult
    box_acc: BoxAccResult
    pxap: float | None
    tau: float

    def summary(self) -> dict[str, float]:
        """The headline numbers as plain floats (for JSON and tables)."""
        out = {
            "top1_cls_err": self.loc.top1_cls_err,
            "top1_loc_err": self.loc.top1_loc_err,
            "gt_known_loc": self.loc.gt_known_loc,
            "max_box_acc": self.box_acc.max_box_acc,
            "max_box_acc_v2": self.box_acc.max_box_acc_v2,
        }
        for d, row in zip(self.box_acc.iou_thresholds, self.box_acc.box_acc, strict=True):
            out[f"max_box_acc_delta_{d:g}"] = float(row.max())
        if self.pxap is not None:
            out["pxap"] = self.pxap
        return {k: round(float(v), 2) for k, v in out.items()}


def _batches(
    data: SampleDataset | Sequence[Sample], batch_size: int, device: torch.device, limit: int | None
) -> Iterator[Batch]:
    ds = as_dataset(data)
    n = len(ds) if limit is None else min(limit, len(ds))
    for start in range(0, n, batch_size):
        batch = ds.batch(range(start, min(start + batch_size, n)), device=device)
        if batch.boxes is None:
            raise ValueError(
                "the dataset has no boxes: localization cannot be measured (use CAMs without metrics)"
            )
        yield batch


class _Meters:
    """The three meters of a localization report, updated together."""

    def __init__(self, step: float) -> None:
        self.loc, self.boxacc, self.px = LocalizationMeter(), MaxBoxAccMeter(step=step), PxAPMeter(step=step)
        self.has_masks = True

    def update(self, logits: Tensor, batch: Batch, maps: Tensor, boxes: Tensor) -> None:
        assert batch.boxes is not None
        self.loc.update(logits, batch.labels, boxes, batch.boxes)
        self.boxacc.update(maps, batch.boxes)
        if batch.masks is not None:
            self.px.update(maps, batch.masks)
        else:
            self.has_masks = False

    def report(self, method: str, tau: float) -> LocalizationReport:
        pxap = self.px.compute().pxap if self.has_masks else None
        return LocalizationReport(method, self.loc.compute(), self.boxacc.compute(), pxap, tau)


def localize(
    model: nn.Module,
    ds: SampleDataset | Sequence[Sample],
    method: str | None = None,
    *,
    batch_size: int = 250,
    device: str | torch.device = "cpu",
    tau: float = PAPER_TAU,
    upsample_mode: str = "bilinear",
    limit: int | None = None,
    step: float = 0.01,
) -> LocalizationReport:
    """Measure a map method's localization on a dataset with boxes (and masks for PxAP), in one pass.

    Each batch costs what the method costs (one forward pass for CAM): the method's own logits score the
    classification.

    Args:
        model: the network whose maps are measured.
        ds: a :class:`~camlib.data.SampleDataset` with boxes (``Shapes``, ``OxfordPets``, ``CUB``).
        method: a name of :data:`camlib.cam.METHODS`; default :func:`camlib.cam.default_method`.
        batch_size: images per forward pass.
        device: where to run.
        tau: the fixed threshold of the paper's box rule (fraction of the max) for top-1/GT-known loc.
        upsample_mode: how maps are resized to the image (``"bilinear"``, ``"bicubic"``, ``"nearest"``).
        limit: measure only the first ``limit`` images.
        step: spacing of the MaxBoxAcc threshold grid.

    Returns:
        A :class:`LocalizationReport`.
    """
    name = default_method(model) if method is None else method
    fn = get_method(name)
    dev = torch.device(device)
    meters = _Meters(step)
    for batch in _batches(ds, batch_size, dev, limit):
        out = fn(model, batch.images, batch.labels)  # maps (B, 1, h', w') of the true class
        h, w = batch.images.shape[-2:]
        maps = out.maps if out.maps.shape[-2:] == (h, w) else upsample(out.maps, (h, w), upsample_mode)
        maps = maps[:, 0]  # (B, H, W)
        meters.update(out.logits, batch, maps, largest_component_box(maps, tau))
    return meters.report(name, tau)


def localize_center_prior(
    ds: SampleDataset | Sequence[Sample],
    box_wh: tuple[float, float],
    classifier: nn.Module | None = None,
    *,
    batch_size: int = 250,
    device: str | torch.device = "cpu",
    limit: int | None = None,
    step: float = 0.01,
) -> LocalizationReport:
    """The model-free baseline: the centred box of the mean size, and :func:`center_prior` maps.

    Args:
        ds: a dataset with boxes.
        box_wh: mean (width, height) of the objects, e.g. from the training split
            (:func:`camlib.data.shapes.mean_box_size`).
        classifier: the model whose logits score classification (default: none, every error is 100%).
        batch_size, device, limit, step: as :func:`localize`.
    """
    dev = torch.device(device)
    meters = _Meters(step)
    for batch in _batches(ds, batch_size, dev, limit):
        n, (h, w) = len(batch), batch.images.shape[-2:]
        maps = center_prior(h, w, box_wh).to(dev).expand(n, h, w)  # (B, H, W)
        boxes = center_box(h, w, box_wh).to(dev).expand(n, 4)  # (B, 4)
        if classifier is not None:
            with evaluation(classifier), torch.no_grad():
                logits = classifier(batch.images).float()
        else:
            logits = torch.zeros(n, int(batch.labels.max()) + 2, device=dev)
            logits[:, -1] = 1.0  # a dummy class that is never right
        meters.update(logits, batch, maps, boxes)
    return meters.report(CENTER, 0.0)


def localization_metrics(
    model: nn.Module, data: SampleDataset | Sequence[Sample], *, batch_size: int, device: torch.device
) -> dict[str, Any]:
    """The localization metrics ``python -m camlib evaluate`` adds (when the dataset has boxes)."""
    ds = as_dataset(data)
    if not len(ds) or ds.batch([0]).boxes is None:
        return {}
    report = localize(model, ds, batch_size=batch_size, device=device)
    return {"localization_method": report.method, **report.summary()}
