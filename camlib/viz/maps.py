"""CAM figures: a grid of maps (rows of images, columns of maps) with boxes; BoxAcc against tau with marked taus.

Like :mod:`camlib.viz`, every function returns a :class:`matplotlib.figure.Figure` built without pyplot. Boxes
are torchvision XYXY in image pixels with exclusive right/bottom edges: pixels 0..9 give ``(0, 0, 10, 10)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR
from camlib.viz.figures import (
    ArrayLike,
    box_patch,
    boxes_of,
    image_hwc,
    overlay,
    plot_box_acc_curves,
)


def _np(a: ArrayLike) -> np.ndarray:
    return a.detach().cpu().double().numpy() if isinstance(a, Tensor) else np.asarray(a, dtype=np.float64)


def show_map_grid(
    images: ArrayLike,
    maps: ArrayLike | Sequence[Sequence[ArrayLike]],
    col_titles: Sequence[str],
    row_titles: Sequence[str] | None = None,
    boxes: Any = None,
    part_boxes: Any = None,
    pred_boxes: Sequence[Sequence[Any]] | None = None,
    *,
    mode: str = "overlay",
    show_image: bool = True,
    title: str = "Maps",
    cmap: str | None = None,
    alpha: float = 0.5,
    size: float = 1.9,
) -> Figure:
    """Rows of images, columns of maps: overlays (maps in [0, 1]) or the maps alone with colour bars.

    Args:
        images: (R, 3, H, W) images in [0, 1], one per row.
        maps: (R, K, h, w) maps, or a nested R x K sequence of (h, w) maps (sizes may differ per cell).
            ``mode="overlay"``: each map must be at the image size and in [0, 1] (values outside are clipped).
            ``mode="map"``: any values and size; the map is stretched over the image's pixel extent and drawn
            with its own colour bar, so a 16x16 map and its 64x64 upsampling share the same axes.
        col_titles: K column titles (one per map column).
        row_titles: R row labels, written on the left.
        boxes: optional (R, 4) ground-truth object boxes (green); NaN rows are skipped.
        part_boxes: optional (R, 4) discriminative-part boxes (magenta); NaN rows are skipped.
        pred_boxes: optional R x K nested sequence of (n, 4) predicted boxes (white, dashed), ``None`` cells
            allowed.
        mode: ``"overlay"`` or ``"map"``.
        show_image: add a first column with the plain image.
        title: figure title.
        cmap: colormap (default ``"jet"`` for overlays, ``"viridis"`` for maps).
        alpha: weight of the coloured map in an overlay.
        size: inches per panel.

    Raises:
        ValueError: when the numbers of images, maps and titles disagree, or ``mode`` is unknown.
    """
    if mode not in ("overlay", "map"):
        raise ValueError(f"mode must be 'overlay' or 'map', got {mode!r}")
    imgs = [image_hwc(images[i]) for i in range(len(images))]
    rows = len(imgs)
    grid = [[maps[r][k] for k in range(len(maps[r]))] for r in range(len(maps))]
    if rows == 0 or len(grid) != rows:
        raise ValueError(f"got {rows} images but {len(grid)} rows of maps: pass one row of maps per image")
    cols = len(col_titles)
    if any(len(row) != cols for row in grid):
        raise ValueError(f"every row needs {cols} maps (one per column title), got {[len(r) for r in grid]}")
    if row_titles is not None and len(row_titles) != rows:
        raise ValueError(f"got {len(row_titles)} row titles for {rows} rows")
    if pred_boxes is not None and (len(pred_boxes) != rows or any(len(p) != cols for p in pred_boxes)):
        raise ValueError(f"pred_boxes must be a {rows} x {cols} nested sequence (None cells allowed)")
    cmap = cmap or ("jet" if mode == "overlay" else "viridis")
    first = int(show_image)
    ncols = cols + first
    fig = Figure(figsize=(size * ncols + (0.5 * cols if mode == "map" else 0) + 0.4, size * rows + 0.8),
                 layout="constrained")  # fmt: skip
    for r, img in enumerate(imgs):
        h, w = img.shape[:2]
        extent = (-0.5, w - 0.5, h - 0.5, -0.5)  # pixel-centred, like imshow of the image
        panels: list[tuple[Any, str, Any]] = [(None, "image", None)] if show_image else []
        panels += [(grid[r][k], col_titles[k], pred_boxes[r][k] if pred_boxes else None) for k in range(cols)]
        for c, (m, name, preds) in enumerate(panels):
            ax = fig.add_subplot(rows, ncols, r * ncols + c + 1)
            if m is None:
                ax.imshow(img)
            elif mode == "overlay":
                ax.imshow(overlay(img, m, alpha=alpha, cmap=cmap))
            else:
                im = ax.imshow(np.squeeze(_np(m)), cmap=cmap, extent=extent, interpolation="nearest")
                fig.colorbar(im, ax=ax, shrink=0.75)
            for box in boxes_of(boxes, r):
                ax.add_patch(box_patch(box, GT_COLOUR))
            for box in boxes_of(part_boxes, r):
                ax.add_patch(box_patch(box, PART_COLOUR, lw=1.2))
            if preds is not None:
                for box in _np(preds).reshape(-1, 4):
                    ax.add_patch(box_patch(box, PRED_COLOUR, linestyle="--"))
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            if c == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[r], fontsize=9)
    handles = []
    if boxes is not None:
        handles.append(Line2D([], [], color=GT_COLOUR, lw=2, label="object box (ground truth)"))
    if part_boxes is not None:
        handles.append(Line2D([], [], color=PART_COLOUR, lw=2, label="part box (ground truth)"))
    if pred_boxes is not None:
        handles.append(Line2D([], [], color="grey", lw=2, ls="--", label="box from the map (white)"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=8)
    fig.suptitle(title)
    return fig


def plot_box_acc_taus(
    results: Mapping[str, Any],
    taus: Mapping[str, float],
    title: str = "BoxAcc against the CAM threshold",
) -> Figure:
    """:func:`camlib.viz.plot_box_acc_curves` with vertical lines at named thresholds.

    Args:
        results: label -> ``camlib.metrics.BoxAccResult`` (see :func:`camlib.viz.plot_box_acc_curves`).
        taus: line label -> tau in [0, 1], e.g. ``{"paper: 0.2": 0.2, "released code: 20/255": 20 / 255}``;
            each gets a grey line style, listed in a legend below the panels (the curves' legend goes to the
            right of the panels).
        title: figure title.

    Raises:
        ValueError: when a tau is outside [0, 1].
    """
    bad = {k: v for k, v in taus.items() if not 0.0 <= float(v) <= 1.0}
    if bad:
        raise ValueError(f"taus are fractions of the max and must be in [0, 1], got {bad}")
    fig = plot_box_acc_curves(results, title=title)
    styles = (":", "-.", (0, (5, 2)), (0, (1, 3)), (0, (3, 1, 1, 1)))
    panels = [ax for ax in fig.axes if ax.get_xlabel()]
    legend = panels[0].get_legend()
    if legend is not None:  # the curves' legend moves beside the panels, where it hides no curve
        legend.remove()
        fig.legend(
            *panels[0].get_legend_handles_labels(), loc="outside right upper", fontsize=7, frameon=False
        )
    handles = []
    for k, (label, tau) in enumerate(taus.items()):
        ls = styles[k % len(styles)]
        for ax in panels:
            ax.axvline(float(tau), color="0.35", lw=1.1, ls=ls)
        handles.append(Line2D([], [], color="0.35", lw=1.1, ls=ls, label=label))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=8)
    return fig


__all__ = ["plot_box_acc_taus", "show_map_grid"]
