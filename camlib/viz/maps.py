"""CAM figures: a grid of maps (rows of images, columns of maps) with boxes; BoxAcc against tau with marked taus.

Like :mod:`camlib.viz`, every function returns a :class:`matplotlib.figure.Figure` built without pyplot. Boxes
are torchvision XYXY in image pixels with exclusive right/bottom edges: pixels 0..9 give ``(0, 0, 10, 10)``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR
from camlib.viz.curves import plot_box_acc_taus
from camlib.viz.figures import (
    ArrayLike,
    box_patch,
    boxes_of,
    image_hwc,
    overlay,
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
    notes: Sequence[Sequence[str | None]] | None = None,
    value_label: str | None = None,
    part_label: str = "part box (ground truth)",
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
            ``part_label`` names them in the legend (e.g. another small box of interest: a planted mark).
        pred_boxes: optional R x K nested sequence of (n, 4) predicted boxes (white, dashed), ``None`` cells
            allowed.
        mode: ``"overlay"`` or ``"map"``.
        show_image: add a first column with the plain image.
        title: figure title.
        cmap: colormap (default ``"jet"`` for overlays, ``"viridis"`` for maps).
        alpha: weight of the coloured map in an overlay.
        size: inches per panel.
        notes: optional R x K nested sequence of texts written under each map (``None`` cells allowed), e.g.
            the predicted class with ✓ / ✗ (:func:`camlib.viz.verdict`).
        value_label: what the maps' values are, e.g. ``camlib.cam.normalization_label("max")``. Overlays: one
            colour bar of the [0, 1] scale with this label; ``mode="map"``: the label of the last column's bars.

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
    for what, nested in (("pred_boxes", pred_boxes), ("notes", notes)):
        if nested is not None and (len(nested) != rows or any(len(p) != cols for p in nested)):
            raise ValueError(f"{what} must be a {rows} x {cols} nested sequence (None cells allowed)")
    cmap = cmap or ("jet" if mode == "overlay" else "viridis")
    first = int(show_image)
    ncols = cols + first
    bars = (0.5 * cols if mode == "map" else 0) + (
        0.9 if value_label is not None and mode == "overlay" else 0
    )
    fig = Figure(figsize=(size * ncols + bars + 0.4, size * rows + 0.8),
                 layout="constrained")  # fmt: skip
    if mode == "map":  # colour-bar ticks can change once the layout has shrunk the bars: leave them some room
        fig.get_layout_engine().set(w_pad=0.1)  # type: ignore[union-attr, call-arg]
    for r, img in enumerate(imgs):
        h, w = img.shape[:2]
        extent = (-0.5, w - 0.5, h - 0.5, -0.5)  # pixel-centred, like imshow of the image
        panels: list[tuple[Any, str, Any, str | None]] = [(None, "image", None, None)] if show_image else []
        panels += [(grid[r][k], col_titles[k], pred_boxes[r][k] if pred_boxes else None,
                    notes[r][k] if notes else None) for k in range(cols)]  # fmt: skip
        for c, (m, name, preds, note) in enumerate(panels):
            ax = fig.add_subplot(rows, ncols, r * ncols + c + 1)
            if m is None:
                ax.imshow(img)
            elif mode == "overlay":
                ax.imshow(overlay(img, m, alpha=alpha, cmap=cmap))
            else:
                im = ax.imshow(np.squeeze(_np(m)), cmap=cmap, extent=extent, interpolation="nearest")
                bar = fig.colorbar(im, ax=ax, shrink=0.75)
                if value_label is not None and c == len(panels) - 1:
                    bar.set_label(value_label, fontsize=9)
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
                ax.set_title(name, fontsize=10)
            if (
                note
            ):  # wrapped to the panel's width: a wider label would push the colour bars out of the figure
                ax.set_xlabel("\n".join(textwrap.wrap(note, max(12, int(size * 10)))), fontsize=9)
            if c == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[r], fontsize=10)
    handles = []
    if boxes is not None:
        handles.append(Line2D([], [], color=GT_COLOUR, lw=2, label="object box (ground truth)"))
    if part_boxes is not None:
        handles.append(Line2D([], [], color=PART_COLOUR, lw=2, label=part_label))
    if pred_boxes is not None:
        handles.append(Line2D([], [], color="grey", lw=2, ls="--", label="box from the map (white, dashed)"))
    if handles:
        wide = fig.get_figwidth() >= 2.7 * len(handles)  # one row of entries, or one entry per row
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles) if wide else 1, frameon=False,
                   fontsize=9)  # fmt: skip
    if value_label is not None and mode == "overlay":
        fig.colorbar(
            ScalarMappable(Normalize(0.0, 1.0), cmap), ax=fig.axes, shrink=0.8, pad=0.01, label=value_label
        )
    fig.suptitle(title)
    return fig


__all__ = ["plot_box_acc_taus", "show_map_grid"]
