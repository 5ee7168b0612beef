"""The explorer's static fallback: its views as a matplotlib figure (for GitHub, nbval or a printed copy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from camlib.cam import normalization_label
from camlib.explorer.render import class_label
from camlib.explorer.status import rule_text
from camlib.explorer.views import CAMViews, Look
from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR


def snapshot_figure(
    views: CAMViews, shown: Sequence[tuple[int, int | None, float]], look: Look, dpi: int = 100
) -> Figure:
    """A figure of ``(index, cls or None = predicted, tau)`` views of ``views``: one row per image (and class),
    the image once, then each tau's panel of each model.

    Each model's panel says what it predicts (✓ right, ✗ wrong) and the IoU of its box; one colour bar gives the
    map's scale (the normalisation of the box rule, or raw). The figure is a bare
    :class:`matplotlib.figure.Figure` (not registered with pyplot: nothing leaks).

    Raises:
        ValueError: an index not explored, a class out of range or a tau outside [0, 1].
    """
    for i, c, t in shown:
        if i not in views.indices or (c is not None and not 0 <= c < views.num_classes) or not 0 <= t <= 1:
            raise ValueError(
                f"bad view (index={i}, cls={c}, tau={t}): indices must be explored (e.g. {views.indices[:3]}), "
                f"classes in 0..{views.num_classes - 1}, tau in [0, 1]"
            )
    rows: dict[tuple[int, int], list[float]] = {}
    for i, c, t in shown:  # one row per (image, class), its taus in the order given, each once
        taus = rows.setdefault((i, views.predicted(i) if c is None else c), [])
        if float(t) not in taus:
            taus.append(float(t))
    names, models = views.class_names, list(views.models)
    ncols = 1 + len(models) * max(len(t) for t in rows.values())
    h, w = views.image_size
    fig = Figure(figsize=(2.35 * ncols + 0.9, 2.55 * len(rows) + 0.7), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    for r, ((i, cls), taus) in enumerate(rows.items()):
        for ax in axes[r]:
            ax.set_axis_off()
        for k, t in enumerate(taus):
            panels, st = views.view(i, cls, t, look, titles=False)
            cells = [(0, panels[0], f"#{i} · true: {class_label(names, st.label)}")] if k == 0 else []
            for m, (panel, p) in enumerate(zip(panels[1:], st.panels, strict=True)):
                ok = "" if not 0 <= st.label < len(names) else (" ✓" if p.pred == st.label else " ✗")
                iou = "IoU n/a" if p.iou is None else f"IoU {p.iou:.2f}"
                cells.append((1 + k * len(models) + m, panel,
                              f"{p.name} ({p.method}) · τ = {t:.2f}\nmap of {names[cls]} · {iou}\n"
                              f"predicts {names[p.pred]}{ok}"))  # fmt: skip
            for c, panel, title in cells:
                ax = axes[r][c]
                ax.set_axis_on()
                ax.imshow(np.asarray(panel), extent=(0, w, h, 0), interpolation="nearest")
                ax.set_title(title, fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
    _alpha, cmap, _mode, normalised, rule = look
    scale = (
        normalization_label(rule) if normalised else "raw map ÷ the predicted class's peak (< 0 shown as 0)"
    )
    fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap), ax=axes[:, 1:], shrink=0.6, label=scale)
    fig.suptitle(
        f"CAM explorer: {GT_COLOUR} = ground truth, {PRED_COLOUR} = largest region where {rule_text(rule)}, "
        f"{PART_COLOUR} = the part",
        fontsize=10,
    )
    return fig
