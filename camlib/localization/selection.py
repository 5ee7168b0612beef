"""Thresholds chosen on the boxed validation split, never on test (Choe et al., CVPR 2020)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from camlib.data.sample import Sample, SampleDataset
from camlib.localization.loop import LocalizationReport, localize


@dataclass(frozen=True)
class TauChoice:
    """A box threshold chosen on a boxed validation split by :func:`select_tau`.

    Attributes:
        tau: the threshold on the MIN-MAX normalised map (keep ``m >= tau``), in [0, 1].
        box_acc: BoxAcc(tau, 0.5) with the largest component's box on the split it was chosen on, in %.
        split: the split it was chosen on (always ``"val"``).
        num_images: how many images of that split were used.
        method: the map method it was chosen for.
        how: the normalisation the threshold applies to (``"minmax"``).
    """

    tau: float
    box_acc: float
    split: str
    num_images: int
    method: str
    how: str = "minmax"


def tau_choice(report: LocalizationReport, split: str = "val") -> TauChoice:
    """The threshold with the best BoxAcc(tau, 0.5) of the largest component in ``report`` (the first on ties)."""
    r = report.box_acc
    curve = r.box_acc_largest[r.iou_thresholds.index(0.5)]  # (T,) BoxAcc(tau, 0.5), largest component
    best = int(curve.argmax())
    return TauChoice(
        round(float(r.thresholds[best]), 4), float(curve[best]), split, r.num_images, report.method
    )


def select_tau(
    model: nn.Module,
    val_ds: SampleDataset | Sequence[Sample],
    method: str | None = None,
    *,
    batch_size: int = 250,
    device: str | torch.device = "cpu",
    upsample_mode: str = "bilinear",
    limit: int | None = None,
    step: float = 0.01,
) -> TauChoice:
    """Choose the box threshold on the boxed VALIDATION split: the best BoxAcc(tau, 0.5), largest component.

    Choe et al. (CVPR 2020) show that a threshold tuned on the test images flatters a method; they choose it on a
    few held-out images with boxes. The threshold applies to min-max normalised maps, as the BoxAcc curves it is
    read from; pass it to :func:`localize` as ``chosen_tau`` to measure the test split with it.

    Args:
        model, method, batch_size, device, upsample_mode, limit, step: as :func:`localize`.
        val_ds: a dataset whose ``split`` is ``"val"`` (e.g. ``Shapes(split="val")`` or
            ``camlib.zoo.dataset(name, "val")``).

    Example (choose the threshold on validation, report on test):
        >>> from camlib.data.shapes import Shapes
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2))
        >>> choice = select_tau(net, Shapes("val", size=8, image_size=32))
        >>> rep = localize(net, Shapes("test", size=8, image_size=32), chosen_tau=choice.tau)
        >>> rep.chosen_tau == choice.tau and rep.loc_chosen is not None
        True

    Raises:
        ValueError: ``val_ds`` is not a validation split (test, train, or a dataset that does not say); nothing
            is read from it.
    """
    split = getattr(val_ds, "split", None)
    if split != "val":
        got = (
            f"the {split!r} split"
            if split is not None
            else "a dataset that does not say its split (no .split)"
        )
        raise ValueError(
            f"select_tau chooses the threshold on a boxed VALIDATION split, never on test; got {got}. Pass the "
            f"model's validation split, e.g. camlib.zoo.dataset(name, 'val') or Shapes(split='val', ...)"
        )
    report = localize(
        model, val_ds, method, batch_size=batch_size, device=device, upsample_mode=upsample_mode, limit=limit,
        step=step,
    )  # fmt: skip
    return tau_choice(report, "val")
