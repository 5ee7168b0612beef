"""Training and evaluation: device choice, seeding, the training loop, accuracy on a split.

One loop for every setting of the course: a laptop CPU (channels_last, float32), a GPU (channels_last, bf16
autocast, or fp16 with a gradient scaler where bf16 is missing), and ``torchrun`` with DistributedDataParallel
(``gloo`` on CPU, ``nccl`` on GPU), without code changes. Batches come from :mod:`camlib.train.batches` (drawn on
the device for the embedded dataset, a DataLoader otherwise), devices and seeds from :mod:`camlib.train.device`, the
``torchrun`` collectives from :mod:`camlib.train.distributed`; the ``train`` / ``evaluate`` commands are in
:mod:`camlib.train.cli`.

>>> lr_factor(0, 4, schedule="constant")
1.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from camlib.data.sample import Sample, SampleDataset, as_dataset
from camlib.train import distributed as D
from camlib.train.batches import Pregenerated, iter_batches, should_pregenerate
from camlib.train.device import autocast, autocast_dtype, seed_everything, select_device, synchronize
from camlib.train.evaluation import evaluate


@dataclass(frozen=True)
class EpochStats:
    """What one epoch of :func:`fit` measured.

    Attributes:
        epoch: 1-based epoch number.
        train_loss: mean cross-entropy over the epoch's training images (while the weights moved).
        train_acc: training accuracy over the epoch, in percent.
        val_acc: accuracy on the validation split after the epoch, in percent (NaN without a validation split).
        images_per_s: training images per second over all ranks (validation excluded).
        seconds: wall seconds of the epoch's training phase (validation excluded).
        val_loss: mean cross-entropy on the validation split (NaN without one).
    """

    epoch: int
    train_loss: float
    train_acc: float
    val_acc: float
    images_per_s: float
    seconds: float
    val_loss: float = float("nan")


class History(list[EpochStats]):
    """The per-epoch :class:`EpochStats` of a :func:`fit` call, oldest first (a plain ``list``)."""

    def to_dicts(self) -> list[dict[str, float]]:
        """Plain dicts, e.g. for JSON or a checkpoint."""
        return [asdict(s) for s in self]

    @property
    def train_seconds(self) -> float:
        """Total seconds spent in training phases."""
        return sum(s.seconds for s in self)


def _steps_per_epoch(n: int, world: int, batch_size: int) -> int:
    per_rank = n - n % world if world > 1 else n
    return max(1, -(-(per_rank // world) // batch_size))


def lr_factor(step: int, total_steps: int, warmup_frac: float = 0.25, schedule: str = "cosine") -> float:
    """Multiplier of the peak learning rate at ``step`` (0-based) of ``total_steps``.

    ``"cosine"``: a linear warm-up over the first ``warmup_frac`` of the steps, then a cosine decay to 0 (the
    shape of a one-cycle schedule, without its division by zero on very short runs). ``"constant"``: 1.

    >>> [round(lr_factor(s, 8, 0.25), 3) for s in range(8)]
    [0.5, 1.0, 0.933, 0.75, 0.5, 0.25, 0.067, 0.0]
    """
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}: use 'cosine' or 'constant'")
    warm = max(1, round(warmup_frac * total_steps))
    if step < warm:
        return (step + 1) / warm
    progress = min(1.0, (step - warm + 1) / max(1, total_steps - warm))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def train_mode(model: nn.Module) -> nn.Module:
    """``model.train()``, except for frozen BatchNorm layers, which stay in eval mode.

    A BatchNorm layer whose weight and bias do not require gradients belongs to a frozen part of the network (a
    linear probe on fixed features, a fine-tune of the head only). In train mode it would still normalise with the
    batch's statistics and overwrite its running statistics, so the "frozen" features would change. BatchNorm without
    affine parameters follows the model.

    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2))
    >>> _ = net[1].requires_grad_(False)
    >>> [m.training for m in train_mode(net)]
    [True, False, True, True]
    """
    model.train()
    for m in model.modules():
        own = list(m.parameters(recurse=False))
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and own and not any(p.requires_grad for p in own):
            m.eval()
    return model


def fit(
    model: nn.Module,
    train_data: SampleDataset | Sequence[Sample],
    val_data: SampleDataset | Sequence[Sample] | None = None,
    *,
    epochs: int,
    batch_size: int,
    lr: float = 3e-3,
    weight_decay: float = 5e-4,
    device: str | torch.device | None = None,
    seed: int = 0,
    amp: bool | None = None,
    channels_last: bool | None = None,
    progress: bool = True,
    schedule: str = "cosine",
    warmup_frac: float = 0.25,
    label_smoothing: float = 0.0,
    pregenerate: bool | None = None,
    num_workers: int = 0,
    on_epoch: Callable[[EpochStats, nn.Module], None] | None = None,
    batch_transform: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> History:
    """Train ``model`` in place with AdamW and a warm-up + cosine schedule; return the per-epoch history.

    Under ``torchrun`` the model is wrapped in DistributedDataParallel and each rank trains on a disjoint slice
    of the same seeded permutation; the counters are summed over the ranks and the ranks end bit-identical.

    Args:
        model: maps (B, 3, H, W) float32 images to (B, C) logits. Moved to ``device``; left in eval mode.
            Parameters with ``requires_grad=False`` are not trained, and frozen BatchNorm layers keep their running
            statistics (see :func:`train_mode`): freeze ``model.features`` for a linear probe.
        train_data: a :class:`~camlib.data.SampleDataset` (one that ``generates_batches`` takes the fast path),
            or a list of samples.
        val_data: evaluated after every epoch when given.
        epochs: passes over ``train_ds``.
        batch_size: images per step and per rank.
        lr: peak learning rate.
        weight_decay: AdamW decoupled weight decay (not applied to biases and BatchNorm weights).
        device: ``"cpu"``, ``"cuda"``, ``"mps"`` or ``None`` for :func:`select_device`.
        seed: seeds the shuffling, dropout and everything :func:`seed_everything` seeds.
        amp: autocast (bf16, else fp16 with a gradient scaler); ``None`` = on for CUDA only.
        channels_last: NHWC memory format; ``None`` = on for CUDA and CPU (the gain on a CPU depends on the machine).
        progress: show ``tqdm.auto`` progress bars (rank 0 only).
        schedule: ``"cosine"`` (warm-up then cosine decay, see :func:`lr_factor`) or ``"constant"``.
        warmup_frac: fraction of the steps spent warming up.
        label_smoothing: passed to the cross-entropy.
        pregenerate: draw a ``batch``-capable split once and keep it (``None``: when it fits, see
            :func:`should_pregenerate`); ``False`` draws every batch afresh on the device.
        num_workers: DataLoader workers for datasets without ``batch``.
        on_epoch: called as ``on_epoch(stats, model)`` after each epoch, outside the timed phase.
        batch_transform: applied to every TRAINING batch (never to validation) as ``(images, labels) -> (images,
            targets)``; targets are (B,) class indices or (B, C) class probabilities (a WSOL augmentation of
            :mod:`camlib.train.wsol`: Hide-and-Seek, CutMix). Training accuracy counts the original labels.

    Returns:
        A :class:`History` of :class:`EpochStats`.
    """
    train_ds = as_dataset(train_data)
    val_ds = None if val_data is None else as_dataset(val_data)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got epochs={epochs}, batch_size={batch_size}")
    dev = select_device(device)
    dinfo = D.init_distributed(dev)
    seed_everything(seed)
    use_amp = dev.type == "cuda" if amp is None else amp
    use_cl = dev.type in ("cuda", "cpu") if channels_last is None else channels_last
    model.to(dev)
    if use_cl:
        model.to(memory_format=torch.channels_last)
    net: nn.Module = model
    if dinfo.world_size > 1:
        net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)

    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )
    steps = _steps_per_epoch(len(train_ds), dinfo.world_size, batch_size)
    lr_factor(0, 1, warmup_frac, schedule)  # validate the schedule name before any work
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: lr_factor(i, epochs * steps, warmup_frac, schedule)
    )
    scaler = torch.amp.GradScaler(dev.type, enabled=use_amp and autocast_dtype(dev) == torch.float16)
    gen = torch.Generator().manual_seed(seed)
    show = progress and dinfo.is_main

    def source(ds: SampleDataset) -> SampleDataset:
        generated = getattr(ds, "generates_batches", False)
        keep = should_pregenerate(ds, dev) if pregenerate is None else pregenerate and generated
        return Pregenerated(ds, dev, progress=show) if keep else ds

    train_src = source(train_ds)
    val_src = None if val_ds is None else source(val_ds)
    history = History()
    for epoch in range(1, epochs + 1):
        perm = D.shard(torch.randperm(len(train_ds), generator=gen), dinfo.rank, dinfo.world_size)
        train_mode(model)
        sums = torch.zeros(3, dtype=torch.float64, device=dev)  # loss * n, correct, n
        synchronize(dev)
        t0 = time.perf_counter()
        bar = tqdm(total=len(perm), desc=f"epoch {epoch}/{epochs}", unit="img", disable=not show, leave=True)
        for step, (images, labels) in enumerate(iter_batches(train_src, perm, batch_size, dev, num_workers)):
            targets = labels
            if batch_transform is not None:
                images, targets = batch_transform(images, labels)  # targets (B,) or (B, C)
            if use_cl:
                images = images.contiguous(memory_format=torch.channels_last)
            with autocast(dev, use_amp):
                logits = net(images)  # (B, C)
            loss = F.cross_entropy(logits.float(), targets, label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            n = labels.shape[0]
            correct = (logits.argmax(1) == labels).sum()
            sums += torch.stack([loss.detach().double() * n, correct.double(), sums.new_tensor(n)])
            bar.update(n)
            if show and step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        synchronize(dev)
        seconds = time.perf_counter() - t0
        D.broadcast_state(model)  # ranks share parameters; their BatchNorm statistics drift: take rank 0's
        total_loss, total_correct, total_n = D.all_reduce_sum(sums.tolist(), dev)
        val = {"accuracy": float("nan"), "loss": float("nan")}
        if val_src is not None:
            val = evaluate(model, val_src, batch_size=max(256, batch_size), device=dev, amp=use_amp)
        stats = EpochStats(
            epoch=epoch,
            train_loss=total_loss / max(total_n, 1),
            train_acc=100.0 * total_correct / max(total_n, 1),
            val_acc=float(val["accuracy"]),
            images_per_s=total_n / seconds if seconds > 0 else float("nan"),
            seconds=seconds,
            val_loss=float(val["loss"]),
        )
        bar.set_postfix(
            loss=f"{stats.train_loss:.3f}", acc=f"{stats.train_acc:.1f}", val=f"{stats.val_acc:.1f}"
        )
        bar.close()
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats, model)
    if use_cl:
        model.to(memory_format=torch.contiguous_format)
    model.eval()
    return history
