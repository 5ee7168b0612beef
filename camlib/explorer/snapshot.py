"""The explorer's static fallback: its views as a matplotlib figure (for GitHub, nbval or a printed copy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from camlib.cam import normalization_label
from camlib.explorer.render import class_label
from camlib.explorer.scene import Look, Scene
from camlib.explorer.status import rule_text
from camlib.explorer.views import CAMViews
from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR


def snapshot_figure(
    views: CAMViews,
    shown: Sequence[tuple[int, int | None, float]],
    look: Look,
    dpi: int = 100,
    current: Scene | None = None,
) -> Figure:
    """A figure of ``(index, cls or None = predicted, tau)`` views of ``views``: one row per image (and class),
    the image once, then each tau's panel of each model; with ``current`` (a scene with the lesson's extras: the
    IoU-vs-tau curve, the channels, a twin difference, an erased part), a last row shows it as the app does.

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
    strip = current is not None and current.channels is not None
    n_rows = len(rows) + (current is not None) + strip
    fig = Figure(figsize=(2.35 * ncols + 0.9, 2.55 * n_rows + 0.7), dpi=dpi, layout="constrained")
    grid = fig.add_gridspec(n_rows, ncols)
    axes = np.array([[fig.add_subplot(grid[r, c]) for c in range(ncols)] for r in range(n_rows - strip)])
    for r, ((i, cls), taus) in enumerate(rows.items()):
        for ax in axes[r]:
            ax.set_axis_off()
        for k, t in enumerate(taus):
            panels, st = views.view(i, cls, t, look, titles=False)
            what = f"true: {class_label(names, st.label)}"
            what = "scene: " + ", ".join(names[c] for c in st.present) if st.present else what
            cells = [(0, panels[0], f"#{i} · {what}")] if k == 0 else []
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
    if current is not None:
        _current_row(axes[-1], current, names)
        if strip and current.channels is not None and current.state.channels is not None:
            ax = fig.add_subplot(grid[-1, :])  # the channel strip is wide: a row of its own
            ax.imshow(np.asarray(current.channels), interpolation="nearest")
            ch = current.state.channels
            ax.set_title(
                f"channels of {ch.model} for {names[ch.cls]}: the top {len(ch.top)}, the rest, = CAM",
                fontsize=9,
            )
            ax.set_xticks([])
            ax.set_yticks([])
    cmap, rule = look.cmap, look.rule
    scale = (
        normalization_label(look.norm)
        if look.norm != "raw"
        else "raw map ÷ the predicted class's peak (< 0 shown as 0)"
    )
    bar_axes = axes[: len(rows), 1:]
    fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap), ax=bar_axes, shrink=0.6, label=scale)
    fig.suptitle(
        f"CAM explorer: {GT_COLOUR} = ground truth, {PRED_COLOUR} = largest region where {rule_text(rule)}, "
        f"{PART_COLOUR} = the part",
        fontsize=10,
    )
    return fig


def _current_row(axes: Sequence[Any], sc: Scene, names: Sequence[str]) -> None:
    """The app's current view with its extras: the erased image or the twin map, the curve, the channels."""
    s = sc.state
    cells = [(np.asarray(sc.panels[1 if len(sc.panels) > 1 else 0]), "now: " + _extras_title(s, names))]
    if sc.curve is not None:
        best = " · ".join(f"{p.name} best τ {p.best_tau:.2f}" for p in s.panels if p.best_tau is not None)
        cells.append((np.asarray(sc.curve), f"IoU vs τ ({best})"))
    for ax in axes:
        ax.set_axis_off()
    for ax, (img, title) in zip(axes, cells, strict=False):
        ax.set_axis_on()
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])


def _extras_title(s: Any, names: Sequence[str]) -> str:
    p = s.panels[0]
    bits = [f"#{s.index} · {p.name} ({p.method})"]
    if s.twin is not None:
        bits.append(f"{names[s.cls]} − {names[s.twin]}")
    if s.erased is not None:
        bits.append(f"{s.erase} erased → predicts {names[s.erased.preds[0]]}")
    return "\n".join([" · ".join(bits), f"IoU {p.iou:.2f}" if p.iou is not None else "IoU n/a"])
