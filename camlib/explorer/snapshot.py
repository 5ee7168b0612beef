"""The explorer's static fallback: its views as a matplotlib figure (for GitHub, nbval or a printed copy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from camlib.explorer.render import class_label
from camlib.explorer.views import CAMViews, Look
from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR


def snapshot_figure(
    views: CAMViews, shown: Sequence[tuple[int, int | None, float]], look: Look, dpi: int = 100
) -> Figure:
    """A figure of ``(index, cls or None = predicted, tau)`` views of ``views``, one row each.

    The figure is a bare :class:`matplotlib.figure.Figure` (not registered with pyplot: nothing leaks).

    Raises:
        ValueError: an index not explored, a class out of range or a tau outside [0, 1].
    """
    for i, c, t in shown:
        if i not in views.indices or (c is not None and not 0 <= c < views.num_classes) or not 0 <= t <= 1:
            raise ValueError(
                f"bad view (index={i}, cls={c}, tau={t}): indices must be explored (e.g. {views.indices[:3]}), "
                f"classes in 0..{views.num_classes - 1}, tau in [0, 1]"
            )
    ncols = 1 + len(views.models)
    h, w = views.image_size
    fig = Figure(figsize=(2.3 * ncols, 2.5 * len(shown)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(shown), ncols, squeeze=False)
    for r, (i, c, t) in enumerate(shown):
        cls = views.predicted(i) if c is None else c
        panels, st = views.view(i, cls, t, look, titles=False)
        titles = [f"#{i} · true: {class_label(views.class_names, st.label)}"] + [
            f"{p.name} · {views.class_names[cls]} · τ={t:.2f}\n"
            + ("IoU n/a" if p.iou is None else f"IoU = {p.iou:.2f}")
            for p in st.panels
        ]
        for ax, panel, title in zip(axes[r], panels, titles, strict=True):
            ax.imshow(np.asarray(panel), extent=(0, w, h, 0), interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.set_xlabel("x (pixels)", fontsize=7)
            ax.set_ylabel("y (pixels)", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle(
        f"CAM explorer: {GT_COLOUR} = ground truth, {PRED_COLOUR} = box of the paper's rule at τ, "
        f"{PART_COLOUR} = the part",
        fontsize=9,
    )
    return fig
