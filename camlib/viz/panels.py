"""Multi-panel figures: dataset statistics, rows of samples side by side, grids of small feature or CAM maps.

Like :mod:`camlib.viz`, every function returns a :class:`matplotlib.figure.Figure` built without pyplot (nothing
stays open in pyplot's registry). Boxes are torchvision XYXY in pixels with exclusive right/bottom edges:
pixels 0..9 give ``(0, 0, 10, 10)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from camlib.data.sample import Batch
from camlib.viz.colours import GT_COLOUR, PART_COLOUR
from camlib.viz.figures import ArrayLike, box_patch, image_hwc


def _np(a: ArrayLike | Sequence[float]) -> np.ndarray:
    return a.detach().cpu().double().numpy() if isinstance(a, Tensor) else np.asarray(a, dtype=np.float64)


def plot_dataset_stats(
    class_counts: Sequence[int] | ArrayLike,
    boxes: ArrayLike,
    class_names: Sequence[str],
    image_size: int,
    title: str = "Dataset statistics",
) -> Figure:
    """Images per class (bars) and the distribution of box widths and heights (histograms).

    Args:
        class_counts: (C,) number of images of each class.
        boxes: (N, 4) XYXY object boxes in pixels, exclusive edges (rows with NaN are skipped).
        class_names: C names, in label order.
        image_size: image side in pixels (the histograms span 0..image_size).
        title: figure title.

    Raises:
        ValueError: when the counts and names disagree in length, or ``boxes`` is not (N, 4).
    """
    counts = _np(class_counts).reshape(-1)
    if len(counts) != len(class_names):
        raise ValueError(f"got {len(counts)} class counts for {len(class_names)} class names")
    b = _np(boxes)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) XYXY, got {b.shape}")
    b = b[np.isfinite(b).all(axis=1)]
    wh = b[:, 2:] - b[:, :2]  # (N, 2) widths, heights
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    ax_cls, ax_box = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ax_cls.bar(range(len(counts)), counts, color="C0")
    ax_cls.set_xticks(range(len(counts)), list(class_names), rotation=30)
    ax_cls.set_xlabel("class")
    ax_cls.set_ylabel("images")
    ax_cls.set_title(f"Class balance ({int(counts.sum())} images)")
    bins = list(range(0, image_size + 2, 2))
    ax_box.hist(wh[:, 0], bins=bins, alpha=0.6, label=f"width (mean {wh[:, 0].mean():.1f} px)")
    ax_box.hist(wh[:, 1], bins=bins, alpha=0.6, label=f"height (mean {wh[:, 1].mean():.1f} px)")
    ax_box.set_xlim(0, image_size)
    ax_box.set_xlabel(f"box side (pixels, image is {image_size} px)")
    ax_box.set_ylabel("images")
    ax_box.set_title(f"Object box sizes ({len(b)} images)")
    ax_box.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def show_rows(
    rows: Mapping[str, Batch],
    class_names: Sequence[str] | None = None,
    title: str = "Samples, one row per setting",
    size: float = 1.6,
) -> Figure:
    """One row of images per labelled batch (e.g. the same indices under different dataset settings).

    Each image shows its object box (green) and part box (magenta) and is titled with its class; the row's
    label is written on the left.

    Args:
        rows: row label -> :class:`~camlib.data.Batch` (the rows may have different lengths).
        class_names: label names (default ``class k``).
        title: figure title.
        size: inches per image.

    Raises:
        ValueError: when ``rows`` is empty or a batch is empty.
    """
    if not rows or any(len(b) == 0 for b in rows.values()):
        raise ValueError("rows must map at least one label to a non-empty Batch")
    cols = max(len(b) for b in rows.values())
    fig = Figure(figsize=(size * cols + 0.8, size * len(rows) + 0.7), layout="constrained")
    for r, (label, batch) in enumerate(rows.items()):
        for i in range(len(batch)):
            ax = fig.add_subplot(len(rows), cols, r * cols + i + 1)
            s = batch.sample(i)
            ax.imshow(image_hwc(s.image))
            if s.box is not None:
                ax.add_patch(box_patch(s.box, GT_COLOUR))
            if s.part_box is not None:
                ax.add_patch(box_patch(s.part_box, PART_COLOUR, lw=1.2))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(class_names[s.label] if class_names else f"class {s.label}", fontsize=9)
            if i == 0:
                ax.set_ylabel(label, fontsize=10)
    handles = [
        Line2D([], [], color=GT_COLOUR, lw=2, label="object box"),
        Line2D([], [], color=PART_COLOUR, lw=2, label="part box"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(title)
    return fig


def show_maps(
    maps: ArrayLike,
    titles: Sequence[str] | None = None,
    title: str = "Maps",
    cols: int = 6,
    cmap: str = "viridis",
    annotate: bool = False,
    xlabel: str = "x (map cell)",
    ylabel: str = "y (map cell)",
    size: float = 2.0,
    image: ArrayLike | None = None,
    image_title: str = "input image",
    symmetric: bool = False,
) -> Figure:
    """A grid of small 2-D maps (feature channels, weight magnitudes per position ...), each with a colour bar.

    With ``image``, the first panel shows that image (e.g. the input whose feature maps follow).

    Args:
        maps: (N, h, w) values (each map gets its own colour scale).
        titles: one title per map.
        title: figure title.
        cols: grid columns.
        cmap: a matplotlib colormap name.
        annotate: write each cell's value (only for maps of at most 8 x 8 cells).
        xlabel, ylabel: axis labels of every map.
        size: inches per map.
        image: optional (3, H, W) image in [0, 1] shown first.
        image_title: its title.
        symmetric: centre each map's colour scale on zero (``-max|v| .. max|v|``), for signed values such as
            weights with a diverging colormap (``cmap="coolwarm"``).

    Raises:
        ValueError: when ``maps`` is not (N, h, w) or the titles do not match.
    """
    m = _np(maps)
    if m.ndim != 3 or m.shape[0] < 1:
        raise ValueError(f"maps must have shape (N, h, w), got {m.shape}")
    if titles is not None and len(titles) != m.shape[0]:
        raise ValueError(f"got {len(titles)} titles for {m.shape[0]} maps")
    n, h, w = m.shape
    first = int(image is not None)
    cols = max(1, min(cols, n + first))
    rows = math.ceil((n + first) / cols)
    fig = Figure(
        figsize=((size + 0.55) * cols + 0.6, size * rows + 0.6), layout="constrained"
    )  # + colour bars
    fig.get_layout_engine().set(w_pad=0.1)  # type: ignore[union-attr, call-arg]  # room for colour-bar ticks
    if image is not None:
        ax = fig.add_subplot(rows, cols, 1)
        ax.imshow(image_hwc(image))
        ax.set_title(image_title, fontsize=9)
        ax.set_xlabel("x (pixel)", fontsize=8)
        ax.set_ylabel("y (pixel)", fontsize=8)
        ax.tick_params(labelsize=7)
    for i in range(n):
        ax = fig.add_subplot(rows, cols, first + i + 1)
        lim = float(np.abs(m[i]).max()) or 1.0
        im = ax.imshow(m[i], cmap=cmap, vmin=-lim if symmetric else None, vmax=lim if symmetric else None)
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        if annotate and h * w <= 64:
            mid = (m[i].max() + m[i].min()) / 2
            for y in range(h):
                for x in range(w):
                    v = m[i, y, x]
                    ax.text(x, y, f"{v:.2g}", ha="center", va="center", fontsize=7,
                            color="black" if v > mid else "white")  # fmt: skip
    fig.suptitle(title)
    return fig


__all__ = ["plot_dataset_stats", "show_maps", "show_rows"]
