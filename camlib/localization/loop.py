"""The localization loop: a model, a map method and a boxed dataset -> every metric, in one pass."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from camlib.boxes import largest_component_box
from camlib.cam import default_method, get_method, normalize, upsample
from camlib.data.sample import Batch, Sample, SampleDataset, as_dataset
from camlib.metrics import BoxAccResult, LocalizationMeter, LocalizationResult, MaxBoxAccMeter, PxAPMeter

#: the paper's box rule: keep the pixels above 20% of the map's max (Zhou et al., CVPR 2016, Sec. 3.1)
PAPER_TAU = 0.2
#: the authors' released code thresholds an 8-bit heatmap at 20, 100 and 110 out of 255
RELEASED_CODE_TAUS = (20 / 255, 100 / 255, 110 / 255)


@dataclass(frozen=True)
class LocalizationReport:
    """Everything :func:`localize` measured (percentages in 0..100).

    Attributes:
        method: the map method (a name of :data:`camlib.cam.METHODS`, or ``"center"`` for the prior).
        loc: classification errors, top-1/top-5 localization errors and GT-known localization at ``tau``.
        box_acc: MaxBoxAcc, MaxBoxAccV2 and the BoxAcc(tau, delta) curves.
        pxap: PxAP against the masks (``None`` when the dataset has no masks).
        tau: the fixed threshold of ``loc``, a fraction of the max of the max-normalised map (the paper's rule).
        loc_chosen: the same errors with the min-max threshold ``chosen_tau`` (``None`` when none was given).
        chosen_tau: the min-max threshold chosen on validation (see :func:`select_tau`), or ``None``.
    """

    method: str
    loc: LocalizationResult
    box_acc: BoxAccResult
    pxap: float | None
    tau: float
    loc_chosen: LocalizationResult | None = None
    chosen_tau: float | None = None

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
        if self.loc_chosen is not None and self.chosen_tau is not None:
            out["chosen_tau"] = self.chosen_tau
            out["top1_loc_err_chosen_tau"] = self.loc_chosen.top1_loc_err
            out["gt_known_loc_chosen_tau"] = self.loc_chosen.gt_known_loc
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
    """The meters of a localization report, updated together (a second loc meter for a chosen tau)."""

    def __init__(self, step: float, chosen: bool = False) -> None:
        self.loc, self.boxacc, self.px = LocalizationMeter(), MaxBoxAccMeter(step=step), PxAPMeter(step=step)
        self.chosen = LocalizationMeter() if chosen else None
        self.has_masks = True

    def update(
        self, logits: Tensor, batch: Batch, maps: Tensor, boxes: Tensor, chosen_boxes: Tensor | None = None
    ) -> None:
        assert batch.boxes is not None
        self.loc.update(logits, batch.labels, boxes, batch.boxes)
        if self.chosen is not None and chosen_boxes is not None:
            self.chosen.update(logits, batch.labels, chosen_boxes, batch.boxes)
        self.boxacc.update(maps, batch.boxes)
        if batch.masks is not None:
            self.px.update(maps, batch.masks)
        else:
            self.has_masks = False

    def report(self, method: str, tau: float, chosen_tau: float | None = None) -> LocalizationReport:
        pxap = self.px.compute().pxap if self.has_masks else None
        chosen = None if self.chosen is None else self.chosen.compute()
        return LocalizationReport(
            method, self.loc.compute(), self.boxacc.compute(), pxap, tau, chosen, chosen_tau
        )


def localize(
    model: nn.Module,
    ds: SampleDataset | Sequence[Sample],
    method: str | None = None,
    *,
    batch_size: int = 250,
    device: str | torch.device = "cpu",
    tau: float = PAPER_TAU,
    chosen_tau: float | None = None,
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
        chosen_tau: also measure top-1/GT-known loc with boxes of the largest component of the MIN-MAX normalised
            map above this threshold (the one :func:`select_tau` chose on validation; the same normalisation
            as the BoxAcc curves it was chosen on).
        upsample_mode: how maps are resized to the image (``"bilinear"``, ``"bicubic"``, ``"nearest"``).
        limit: measure only the first ``limit`` images.
        step: spacing of the MaxBoxAcc threshold grid.

    Returns:
        A :class:`LocalizationReport`.
    """
    name = default_method(model) if method is None else method
    fn = get_method(name)
    dev = torch.device(device)
    meters = _Meters(step, chosen=chosen_tau is not None)
    for batch in _batches(ds, batch_size, dev, limit):
        out = fn(model, batch.images, batch.labels)  # maps (B, 1, h', w') of the true class
        h, w = batch.images.shape[-2:]
        maps = out.maps if out.maps.shape[-2:] == (h, w) else upsample(out.maps, (h, w), upsample_mode)
        maps = maps[:, 0]  # (B, H, W)
        chosen = None
        if chosen_tau is not None:  # min-max normalised: the max is 1, so m >= tau * max is m >= tau
            chosen = largest_component_box(normalize(maps, "minmax"), chosen_tau)  # (B, 4)
        meters.update(out.logits, batch, maps, largest_component_box(maps, tau), chosen)
    return meters.report(name, tau, chosen_tau)


def localization_metrics(
    model: nn.Module, data: SampleDataset | Sequence[Sample], *, batch_size: int, device: torch.device
) -> dict[str, Any]:
    """The localization metrics ``python -m camlib evaluate`` adds (when the dataset has boxes)."""
    ds = as_dataset(data)
    if not len(ds) or ds.batch([0]).boxes is None:
        return {}
    report = localize(model, ds, batch_size=batch_size, device=device)
    return {"localization_method": report.method, **report.summary()}
