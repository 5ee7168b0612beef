"""The model-free baseline: a centred box of the mean size, and maps whose level sets are centred boxes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from camlib.cam import evaluation
from camlib.data.sample import Sample, SampleDataset
from camlib.localization.loop import LocalizationReport, _batches, _Meters

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
