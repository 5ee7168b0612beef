"""Accuracy of a model on a split: top-1, top-k and the loss, all-reduced over ``torchrun`` ranks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from camlib.data.sample import Sample, SampleDataset, as_dataset
from camlib.train import distributed as D
from camlib.train.batches import iter_batches
from camlib.train.device import autocast, is_channels_last


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: SampleDataset | Sequence[Sample],
    batch_size: int = 256,
    device: str | torch.device | None = None,
    *,
    amp: bool | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Classification metrics of ``model`` on every item of ``ds``.

    Under an initialised process group each rank evaluates a disjoint slice and the sums are all-reduced, so
    every rank must call it. The model runs in eval mode; afterwards every module gets its own mode back (a
    linear probe's frozen BatchNorm stays in eval mode).

    Args:
        model: maps (B, 3, H, W) images to (B, C) logits.
        data: a :class:`~camlib.data.SampleDataset`, or a list of samples.
        batch_size: images per forward pass.
        device: where to run (``None``: the device of the model's parameters).
        amp: autocast; ``None`` = on for CUDA only.
        progress: show a progress bar.

    Returns:
        ``{"accuracy": top-1 %, "top5_accuracy": top-k % with k = min(5, C), "loss": mean cross-entropy,
        "n": images}``.
    """
    ds = as_dataset(data)
    model = D.unwrap(model)
    first = next(model.parameters(), None)
    dev = (
        torch.device(device)
        if device is not None
        else (first.device if first is not None else torch.device("cpu"))
    )
    use_amp = dev.type == "cuda" if amp is None else amp
    use_cl = is_channels_last(model)
    dinfo = D.info()
    idx = torch.arange(
        dinfo.rank, len(ds), dinfo.world_size
    )  # this rank's images; all of them for one process
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=dev)  # loss sum, top-1 correct, top-k correct, n
    bar = tqdm(total=len(idx), desc="evaluate", unit="img", disable=not (progress and dinfo.is_main))
    try:
        for images, labels in iter_batches(ds, idx, batch_size, dev):
            if use_cl:
                images = images.contiguous(memory_format=torch.channels_last)
            with autocast(dev, use_amp):
                logits = model(images).float()  # (B, C)
            k = min(5, logits.shape[1])
            topk = logits.topk(k, dim=1).indices  # (B, k)
            sums += torch.stack(
                [
                    F.cross_entropy(logits, labels, reduction="sum").double(),
                    (topk[:, 0] == labels).sum().double(),
                    (topk == labels[:, None]).any(1).sum().double(),
                    sums.new_tensor(labels.shape[0]),
                ]
            )
            bar.update(labels.shape[0])
    finally:
        bar.close()
        for m, training in modes:
            m.training = training
    loss, top1, topk_correct, n = D.all_reduce_sum(sums.tolist(), dev)
    n_safe = max(n, 1.0)
    return {
        "accuracy": 100.0 * top1 / n_safe,
        "top5_accuracy": 100.0 * topk_correct / n_safe,
        "loss": loss / n_safe,
        "n": n,
    }
