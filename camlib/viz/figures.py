"""Figures of the course: sample grids with boxes, CAM overlays, learning curves.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing is left open in
pyplot's figure registry (no leak, no ``plt.show()``); Jupyter displays a returned figure, ``fig.savefig`` writes it.
Boxes are torchvision XYXY in pixels with exclusive right/bottom edges: pixels 0..9 give ``(0, 0, 10, 10)``;
with ``imshow``'s default pixel-centred extent such a box is drawn from -0.5 to 9.5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from camlib.data.sample import Batch, SampleDataset, as_dataset, collate
from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR

ArrayLike = Tensor | np.ndarray


def box_patch(
    box: Sequence[float] | ArrayLike,
    colour: str = GT_COLOUR,
    lw: float = 1.5,
    *,
    outline: bool = True,
    **kw: Any,
) -> Rectangle:
    """A matplotlib rectangle outlining the pixels of an exclusive-edge XYXY box.

    With ``outline`` (default) the line gets a thin black rim, so a white or lime box stays visible on a
    bright map or image; ``path_effects=`` in ``kw`` replaces it.

    >>> r = box_patch([0, 0, 10, 5])
    >>> r.get_xy(), r.get_width(), r.get_height()
    ((-0.5, -0.5), 10.0, 5.0)
    """
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    if outline and "path_effects" not in kw:
        kw["path_effects"] = [patheffects.withStroke(linewidth=lw + 1.6, foreground="black")]
    return Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=lw, **kw)


def image_hwc(image: ArrayLike) -> np.ndarray:
    """(3, H, W) or (H, W, 3) image -> (H, W, 3) float64 numpy in [0, 1]."""
    a = (
        image.detach().cpu().float().numpy()
        if isinstance(image, Tensor)
        else np.asarray(image, dtype=np.float64)
    )
    if a.ndim != 3:
        raise ValueError(f"image must have shape (3, H, W) or (H, W, 3), got {a.shape}")
    if a.shape[0] == 3 and a.shape[-1] != 3:
        a = a.transpose(1, 2, 0)  # (3, H, W) -> (H, W, 3)
    return np.clip(a.astype(np.float64), 0.0, 1.0)


def overlay(image: ArrayLike, cam_map: ArrayLike, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a normalised map over an image: ``(1 - alpha) * image + alpha * cmap(map)``.

    Args:
        image: (3, H, W) (or (H, W, 3)) float in [0, 1].
        cam_map: (H, W) map already normalised to [0, 1] (values outside are clipped), e.g. from
            ``camlib.cam.normalize(camlib.cam.upsample(maps, H))``.
        alpha: weight of the coloured map, in [0, 1].
        cmap: a matplotlib colormap name.

    Returns:
        (H, W, 3) float64 array in [0, 1].

    >>> overlay(np.zeros((3, 2, 2)), np.ones((2, 2)), alpha=1.0, cmap="gray").tolist()[0][0]
    [1.0, 1.0, 1.0]
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    img = image_hwc(image)
    m = cam_map.detach().cpu().float().numpy() if isinstance(cam_map, Tensor) else np.asarray(cam_map, float)
    m = np.squeeze(m)
    if m.shape != img.shape[:2]:
        raise ValueError(
            f"cam_map has shape {m.shape} but the image is {img.shape[:2]}: upsample the map to the image size "
            f"first (camlib.cam.upsample)"
        )
    heat = colormaps[cmap](np.clip(np.nan_to_num(m), 0.0, 1.0))[..., :3]  # (H, W, 3)
    return (1.0 - alpha) * img + alpha * heat


def _grid(n: int, cols: int, size: float, title: str) -> tuple[Figure, list[Axes]]:
    """A titled figure with ``n`` image axes on a grid of ``cols`` columns (no spare axes)."""
    if n < 1:
        raise ValueError("nothing to show: pass at least one image")
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(size * cols, size * rows + 0.6), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(title)
    return fig, axes


def _as_batch(data: Batch | SampleDataset | Sequence[Any], n: int, indices: Sequence[int] | None) -> Batch:
    idx = list(indices) if indices is not None else list(range(min(n, len(data))))
    if isinstance(data, Batch):
        return collate([data.sample(i) for i in idx])
    return as_dataset(data).batch(idx)


def show_samples(
    data: Any,
    n: int = 16,
    cols: int = 8,
    indices: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    size: float = 1.6,
) -> Figure:
    """A grid of samples titled with their class, the object box in one colour and the part box in another.

    Args:
        data: a dataset (``Shapes`` or any map-style dataset of ``Sample``) or a :class:`~camlib.data.Batch`.
        n: how many samples (the first ``n``) when ``indices`` is not given.
        cols: grid columns.
        indices: which samples to show.
        class_names: label names; default ``data.class_names`` when the dataset has them.
        title: figure title.
        size: inches per image.
    """
    batch = _as_batch(data, n, indices)
    names = list(class_names) if class_names is not None else getattr(data, "class_names", None)
    fig, axes = _grid(len(batch), cols, size, title or "Samples: object box and discriminative-part box")
    drew_box = drew_part = False
    for i, ax in enumerate(axes):
        s = batch.sample(i)
        ax.imshow(image_hwc(s.image), interpolation="nearest")
        if s.box is not None:
            ax.add_patch(box_patch(s.box, GT_COLOUR))
            drew_box = True
        if s.part_box is not None:
            ax.add_patch(box_patch(s.part_box, PART_COLOUR, lw=1.2))
            drew_part = True
        ax.set_title(names[s.label] if names else f"class {s.label}", fontsize=9)
    handles = [Line2D([], [], color=GT_COLOUR, lw=2, label="object box")] if drew_box else []
    if drew_part:
        handles.append(Line2D([], [], color=PART_COLOUR, lw=2, label="part box"))
    if handles:  # no legend for datasets without boxes (an image folder)
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    return fig


def boxes_of(boxes: Any, i: int) -> list[np.ndarray]:
    """The i-th entry of ``boxes`` as a list of (4,) boxes: (B, 4) arrays or a per-image list of (k, 4)."""
    if boxes is None:
        return []
    item = boxes[i]
    a = item.detach().cpu().numpy() if isinstance(item, Tensor) else np.asarray(item, dtype=np.float64)
    a = a.reshape(-1, 4)
    return [b for b in a if np.isfinite(b).all()]


def show_cams(
    images: ArrayLike,
    maps: ArrayLike,
    boxes: Any = None,
    pred_boxes: Any = None,
    titles: Sequence[str] | None = None,
    cols: int = 8,
    alpha: float = 0.5,
    cmap: str = "jet",
    title: str = "Class activation maps",
    size: float = 1.8,
    value_label: str | None = None,
) -> Figure:
    """A grid of CAM overlays with ground-truth (green) and predicted (white) boxes.

    Args:
        images: (B, 3, H, W) in [0, 1].
        maps: (B, H, W) (or (B, 1, H, W)) maps normalised to [0, 1] at the image size.
        boxes: optional (B, 4) ground-truth boxes, XYXY exclusive; NaN rows are skipped.
        pred_boxes: optional (B, 4) or a length-B list of (k, 4) predicted boxes.
        titles: one title per image (e.g. :func:`camlib.viz.prediction_titles`: the predicted class, ✓ / ✗).
        value_label: when given, one colour bar for the maps' [0, 1] scale with this label, e.g.
            ``camlib.cam.normalization_label("minmax")``.
    """
    b = len(images)
    if len(maps) != b:
        raise ValueError(f"got {b} images but {len(maps)} maps: pass one map per image")
    if titles is not None and len(titles) != b:
        raise ValueError(f"got {len(titles)} titles for {b} images")
    fig, axes = _grid(b, cols, size, title)
    for i, ax in enumerate(axes):
        m = maps[i]
        ax.imshow(
            overlay(images[i], m[0] if m.ndim == 3 else m, alpha=alpha, cmap=cmap), interpolation="nearest"
        )
        for box in boxes_of(boxes, i):
            ax.add_patch(box_patch(box, GT_COLOUR))
        for box in boxes_of(pred_boxes, i):
            ax.add_patch(box_patch(box, PRED_COLOUR, linestyle="--"))
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    handles = []
    if boxes is not None:
        handles.append(Line2D([], [], color=GT_COLOUR, lw=2, label="ground truth"))
    if pred_boxes is not None:
        handles.append(Line2D([], [], color="grey", lw=2, ls="--", label="predicted (white)"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    if value_label is not None:
        fig.colorbar(
            ScalarMappable(Normalize(0.0, 1.0), cmap), ax=axes, shrink=0.8, pad=0.01, label=value_label
        )
    return fig


def _field(record: Any, name: str) -> float | None:
    v = record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
    return None if v is None else float(v)


def plot_history(history: Sequence[Any], title: str = "Learning curves") -> Figure:
    """Loss and accuracy per epoch from a list of per-epoch records (objects or dicts).

    Each record has ``epoch``, ``train_loss``, ``train_acc``, ``val_acc`` (any may be missing or None), and
    optionally ``images_per_s`` and ``seconds``, which go into the title.
    """
    if not history:
        raise ValueError("history is empty: train for at least one epoch first")
    epochs = [_field(r, "epoch") for r in history]
    xs = [float(i + 1) if e is None else e for i, e in enumerate(epochs)]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax_loss, ax_acc = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for ax, fields, ylabel in (
        (ax_loss, ("train_loss", "val_loss"), "cross-entropy loss"),
        (ax_acc, ("train_acc", "val_acc"), "accuracy (%)"),
    ):
        for f in fields:
            pts = [(x, v) for x, r in zip(xs, history, strict=True) if (v := _field(r, f)) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=f.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    ax_loss.set_title("Loss")
    ax_acc.set_title("Accuracy")
    secs = [s for r in history if (s := _field(r, "seconds")) is not None]
    ips = [s for r in history if (s := _field(r, "images_per_s")) is not None]
    extra = []
    if secs:
        extra.append(f"{sum(secs):.0f} s")
    if ips:
        extra.append(f"{np.mean(ips):.0f} images/s")
    fig.suptitle(title + (f" ({', '.join(extra)})" if extra else ""))
    return fig


__all__ = ["box_patch", "overlay", "plot_history", "show_cams", "show_samples"]
