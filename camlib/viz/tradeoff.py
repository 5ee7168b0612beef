"""The trade-off figure: accuracy and localization against training epochs, with the maps of the same images.

Built without pyplot, like every figure of :mod:`camlib.viz`. The curves show the mean over seeds with the
spread (min to max) shaded and every seed as a dot; beneath them, one row per model: the map of the TRUE class of
the same images, min-max normalised per image (the normalisation of MaxBoxAcc and MaxBoxAccV2), with the
predicted class (✓ right, ✗ wrong). Boxes are XYXY in image pixels with exclusive right/bottom edges.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from camlib.cam import normalize
from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR
from camlib.viz.figures import box_patch, boxes_of, image_hwc, overlay

_OUTLINE = [patheffects.withStroke(linewidth=3.2, foreground="black")]  # boxes stay visible on bright maps
RIGHT, WRONG = "#1a7f37", "#cf222e"


@dataclass(frozen=True)
class MapRow:
    """One row of maps beneath the curves: one model's maps of the figure's images.

    Attributes:
        label: what the row is, e.g. ``"3 epochs, seed 0"`` (written on the left).
        maps: (N, H, W) maps of the true class at image resolution, any range (min-max normalised here).
        predicted: N predicted classes.
        pred_boxes: optional (N, 4) boxes taken from the maps (drawn dashed, white with a black outline).
    """

    label: str
    maps: Tensor
    predicted: Sequence[int]
    pred_boxes: Tensor | None = None


def _curves(ax: Axes, values: Mapping[int, Sequence[float]], colour: str, label: str) -> None:
    xs = sorted(values)
    means = [statistics.fmean(values[x]) for x in xs]
    seeds = max(len(values[x]) for x in xs)
    if seeds > 1:
        ax.fill_between(xs, [min(values[x]) for x in xs], [max(values[x]) for x in xs], color=colour,
                        alpha=0.2, lw=0, label="spread of the seeds (min–max)")  # fmt: skip
        for x in xs:
            ax.plot([x] * len(values[x]), values[x], "o", ms=3.5, color=colour, alpha=0.55, mec="none")
    label_line = f"mean of {seeds} seeds" if seeds > 1 else "one seed (no spread measured)"
    ax.plot(xs, means, "-o", color=colour, lw=2, ms=5, label=label_line)
    ax.set_xticks(xs)
    ax.set_xlabel("training epochs (each budget its own run and schedule)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)


def plot_tradeoff(
    curves: Mapping[str, Mapping[int, Sequence[float]]],
    images: Tensor,
    labels: Sequence[int],
    class_names: Sequence[str],
    rows: Sequence[MapRow],
    *,
    boxes: Tensor | None = None,
    part_boxes: Tensor | None = None,
    marks: Mapping[str, int] | None = None,
    method: str = "CAM",
    title: str = "Accuracy and localization against training epochs (validation split)",
    cmap: str = "jet",
    alpha: float = 0.5,
) -> Figure:
    """Curves of metrics against epochs (mean and spread over seeds), and beneath them rows of maps.

    Args:
        curves: panel label (e.g. ``"val accuracy (%)"``) -> epochs -> the values of every seed.
        images: (N, 3, H, W) images in [0, 1]: the columns of the map rows.
        labels: N true classes.
        class_names: names of the classes.
        rows: one :class:`MapRow` per model.
        boxes: optional (N, 4) ground-truth object boxes (green).
        part_boxes: optional (N, 4) discriminative-part boxes (magenta); NaN rows are skipped.
        marks: optional name -> epochs, drawn as labelled vertical lines on every panel (e.g. the selection).
        method: the map method's name, for the labels.
        title: the figure's title.
        cmap, alpha: colormap and weight of the map in the overlays.

    Raises:
        ValueError: when the numbers of images, labels and maps disagree.
    """
    n = len(images)
    if n == 0 or len(labels) != n or any(r.maps.shape[0] != n or len(r.predicted) != n for r in rows):
        raise ValueError(
            f"every row needs one map and one prediction per image ({n} images, {len(labels)} labels)"
        )
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:purple")
    width = max(10.0, 2.2 * n + 1.8)
    fig = Figure(figsize=(width, 3.6 + 2.2 * (len(rows) + 1)), layout="constrained")
    halves = np.asarray(fig.subfigures(2, 1, height_ratios=[3.6, 2.2 * (len(rows) + 1)]))
    top, bottom = halves[0], halves[1]
    panels = top.subplots(1, len(curves), squeeze=False)[0]
    for k, (ax, (label, values)) in enumerate(zip(panels, curves.items(), strict=True)):
        _curves(ax, values, colours[k % len(colours)], label)
        by_epochs: dict[int, list[str]] = {}
        for name, epochs in (marks or {}).items():
            by_epochs.setdefault(int(epochs), []).append(name)
        last = max(values)
        for j, (epochs, names) in enumerate(sorted(by_epochs.items())):
            ax.axvline(epochs, color="0.3", ls=(":", "--", "-.")[j % 3], lw=1.2)
            ax.annotate(
                " = ".join(names),
                (epochs, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(-4 if epochs == last else 4, -14 - 13 * j),
                textcoords="offset points",
                ha="right" if epochs == last else "left",
                fontsize=9,
                color="0.15",
            )
        ax.set_title(label.split(" (")[0])
        ax.legend(fontsize=8, loc="best")
    top.suptitle(title, fontsize=12)
    grid = bottom.subplots(len(rows) + 1, n, squeeze=False)
    for c in range(n):
        img = image_hwc(images[c])
        h, w = img.shape[:2]
        for r in range(len(rows) + 1):
            ax = grid[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.imshow(img)
                ax.set_title(f"true: {class_names[labels[c]]}", fontsize=10)
            else:
                row = rows[r - 1]
                m = normalize(row.maps[c : c + 1].detach().float().cpu(), "minmax")[0]  # (H, W) in [0, 1]
                ax.imshow(overlay(img, m.numpy(), alpha=alpha, cmap=cmap))
                pred = int(row.predicted[c])
                ok = pred == int(labels[c])
                ax.set_title(f"pred: {class_names[pred]} {'✓' if ok else '✗'}", fontsize=10,
                             color=RIGHT if ok else WRONG)  # fmt: skip
                if row.pred_boxes is not None:
                    for b in boxes_of(row.pred_boxes, c):
                        ax.add_patch(box_patch(b, PRED_COLOUR, lw=1.6, linestyle="--", path_effects=_OUTLINE))
            for b in boxes_of(boxes, c):
                ax.add_patch(box_patch(b, GT_COLOUR, lw=1.6, path_effects=_OUTLINE))
            for b in boxes_of(part_boxes, c):
                ax.add_patch(box_patch(b, PART_COLOUR, lw=1.3, path_effects=_OUTLINE))
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            if c == 0:
                ax.set_ylabel("image" if r == 0 else rows[r - 1].label, fontsize=10)
    sm = ScalarMappable(Normalize(0.0, 1.0), cmap)
    bottom.colorbar(sm, ax=[grid[r][c] for r in range(1, len(rows) + 1) for c in range(n)], shrink=0.8,
                    label=f"{method} of the true class, min–max normalised per image")  # fmt: skip
    handles = [Line2D([], [], color=GT_COLOUR, lw=2, label="object box (ground truth)")]
    if part_boxes is not None and np.isfinite(np.asarray(part_boxes, dtype=float)).any():
        handles.append(Line2D([], [], color=PART_COLOUR, lw=2, label="part box (ground truth)"))
    if any(r.pred_boxes is not None for r in rows):
        handles.append(Line2D([], [], color="0.4", lw=2, ls="--", label="box from the map (white, dashed)"))
    bottom.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=9)
    bottom.suptitle(f"The same validation images: {method} of the true class after each budget", fontsize=11)
    return fig


__all__ = ["MapRow", "plot_tradeoff"]
