"""Weakly-supervised localization of a model over a dataset: maps -> boxes -> every metric, in one pass.

One loop serves ``python -m camlib evaluate`` (through :func:`checkpoint_metrics`), ``python -m camlib
reproduce`` and the notebooks. A *method* turns ``(model, images, labels)`` into maps of the TRUE class
(B, 1, h, w): the CAM, Grad-CAM, gradient saliency, or the model-free centred-box prior. Top-1 localization
needs the predicted class's map only when the prediction is right, and then it IS the true class's map, so
the true class's map gives every metric (see :mod:`camlib.metrics`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from camlib.boxes import largest_component_box
from camlib.cam import class_activation_maps, find_cam_head, grad_cam, upsample
from camlib.data.sample import Batch
from camlib.metrics import BoxAccResult, LocalizationMeter, LocalizationResult, MaxBoxAccMeter, PxAPMeter
from camlib.saliency import gradient_saliency

MapFn = Callable[[nn.Module, Tensor, Tensor], Tensor]

#: the paper's box rule: keep the pixels above 20% of the map's max (Zhou et al., Sec. 4.1)
PAPER_TAU = 0.2
#: the authors' released code thresholds an 8-bit heatmap at 20, 100 and 110 out of 255
RELEASED_CODE_TAUS = (20 / 255, 100 / 255, 110 / 255)


def _cam(model: nn.Module, x: Tensor, labels: Tensor) -> Tensor:
    return class_activation_maps(model, x, classes=labels).maps  # (B, 1, h, w)


def _grad_cam(model: nn.Module, x: Tensor, labels: Tensor) -> Tensor:
    return grad_cam(model, x, classes=labels).maps  # (B, 1, h, w)


def _saliency(model: nn.Module, x: Tensor, labels: Tensor) -> Tensor:
    return gradient_saliency(model, x, classes=labels).maps  # (B, 1, H, W)


METHODS: dict[str, MapFn] = {"cam": _cam, "gradcam": _grad_cam, "saliency": _saliency}


def default_method(model: nn.Module) -> str:
    """``"cam"`` for a model with a GAP/GMP + linear head, else ``"gradcam"``."""
    try:
        find_cam_head(model)
    except ValueError:
        return "gradcam"
    return "cam"


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
        method: the map method (``"cam"``, ``"gradcam"``, ``"saliency"``, ``"center"``).
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


def _batches(ds: Any, batch_size: int, device: torch.device, limit: int | None) -> Any:
    n = len(ds) if limit is None else min(limit, len(ds))
    for start in range(0, n, batch_size):
        idx = list(range(start, min(start + batch_size, n)))
        if hasattr(ds, "batch"):
            yield ds.batch(idx, device=device)
        else:
            from camlib.data.sample import collate

            yield collate([ds[i] for i in idx]).to(device)


def localize(
    model: nn.Module | None,
    ds: Any,
    method: str | None = None,
    *,
    batch_size: int = 250,
    device: str | torch.device = "cpu",
    tau: float = PAPER_TAU,
    upsample_mode: str = "bilinear",
    box_wh: tuple[float, float] | None = None,
    classifier: nn.Module | None = None,
    limit: int | None = None,
    step: float = 0.01,
) -> LocalizationReport:
    """Measure a map method's localization on a dataset with boxes (and masks for PxAP).

    Args:
        model: the network whose maps are measured (``None`` for ``method="center"``), in eval mode.
        ds: a dataset of :class:`~camlib.data.Sample` with boxes (``Shapes``, ``OxfordPets``, ``CUB``).
        method: ``"cam"``, ``"gradcam"``, ``"saliency"`` or ``"center"``; default :func:`default_method`.
        batch_size: images per forward pass.
        device: where to run.
        tau: the fixed threshold of the paper's box rule (fraction of the max) for top-1/GT-known loc.
        upsample_mode: how maps are resized to the image (``"bilinear"``, ``"bicubic"``, ``"nearest"``).
        box_wh: mean (width, height) of the objects, for ``"center"`` (required there).
        classifier: the model whose logits score classification for ``"center"`` (default: none, errors = 100).
        limit: measure only the first ``limit`` images.
        step: spacing of the MaxBoxAcc threshold grid.

    Returns:
        A :class:`LocalizationReport`.
    """
    dev = torch.device(device)
    if method is None:
        if model is None:
            raise ValueError("pass a model, or method='center' for the model-free baseline")
        method = default_method(model)
    if method == "center" and box_wh is None:
        raise ValueError(
            "method='center' needs box_wh=(mean width, mean height), e.g. from the training split"
        )
    if method not in METHODS and method != "center":
        raise ValueError(f"unknown method {method!r}: use one of {sorted(METHODS) + ['center']}")
    scorer = classifier if method == "center" else model
    loc, boxacc, px = LocalizationMeter(), MaxBoxAccMeter(step=step), PxAPMeter(step=step)
    has_masks = True
    for batch in _batches(ds, batch_size, dev, limit):
        assert isinstance(batch, Batch)
        if batch.boxes is None:
            raise ValueError(
                "the dataset has no boxes: localization cannot be measured (use CAMs without metrics)"
            )
        x, labels = batch.images, batch.labels
        h, w = x.shape[-2:]
        if method == "center":
            assert box_wh is not None
            maps = center_prior(h, w, box_wh).to(dev).expand(len(labels), h, w)  # (B, H, W)
            boxes = center_box(h, w, box_wh).to(dev).expand(len(labels), 4)  # (B, 4)
        else:
            assert model is not None
            raw = METHODS[method](model, x, labels)  # (B, 1, h', w')
            maps = upsample(raw, (h, w), upsample_mode)[:, 0] if raw.shape[-2:] != (h, w) else raw[:, 0]
            boxes = largest_component_box(maps, tau)  # (B, 4)
        if scorer is not None:
            with torch.no_grad():
                logits = scorer(x).float()
        else:
            logits = torch.zeros(len(labels), int(labels.max()) + 2, device=dev)
            logits[:, -1] = 1.0  # a dummy class that is never right
        loc.update(logits, labels, boxes, batch.boxes)
        boxacc.update(maps, batch.boxes)
        if batch.masks is not None:
            px.update(maps, batch.masks)
        else:
            has_masks = False
    return LocalizationReport(
        method, loc.compute(), boxacc.compute(), px.compute().pxap if has_masks else None, tau
    )


def checkpoint_metrics(model: nn.Module, ds: Any, *, batch_size: int, device: torch.device) -> dict[str, Any]:
    """The localization metrics ``python -m camlib evaluate`` adds (when the dataset has boxes)."""
    if not len(ds) or getattr(ds[0], "box", None) is None:
        return {}
    report = localize(model, ds, batch_size=batch_size, device=device)
    return {"localization_method": report.method, **report.summary()}
