"""BoxAcc against the CAM threshold: one panel per IoU threshold, one colour per method, marked thresholds.

Like :mod:`camlib.viz`, every function returns a :class:`matplotlib.figure.Figure` built without pyplot.
The curves threshold the **min-max normalised** maps (Choe et al., CVPR 2020: the convention of MaxBoxAcc and
MaxBoxAccV2); a curve's peak is what MaxBoxAcc reports, its value at a marked tau what a fixed-threshold
evaluation reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from camlib.cam import normalization_label

#: how the marked thresholds are drawn, in order: solid black first (the paper's), then grey, each distinct
TAU_STYLES = (
    ("black", "-"),
    ("0.5", "-."),
    ("0.5", (0, (7, 3))),
    ("0.5", ":"),
    ("0.5", (0, (4, 1, 1, 1, 1, 1))),
)


def plot_box_acc_curves(
    results: Mapping[str, Any],
    title: str = "BoxAcc against the CAM threshold",
    taus: Mapping[str, float] | None = None,
) -> Figure:
    """BoxAcc(tau, delta) curves, one panel per IoU threshold delta, one colour per method.

    Thick pale solid lines: every component's box (the best one counts; MaxBoxAccV2's rule); thin dark dashed
    lines on top: the largest component's box only (the paper's). The legend names each method once (with its
    MaxBoxAccV2 when the result has it) and each line style once; marked taus are vertical lines, each in its
    own style.

    Args:
        results: label -> a ``camlib.metrics.BoxAccResult`` (or any object with ``iou_thresholds`` (D,),
            ``thresholds`` (T,), ``box_acc`` (D, T) and optionally ``box_acc_largest`` (D, T), in %).
        title: figure title.
        taus: optional line label -> tau in [0, 1] (on the min-max normalised map) to mark, e.g.
            ``{"paper: 0.2": 0.2, "released code: 20/255": 20 / 255}``; at most 5.

    Raises:
        ValueError: ``results`` empty, a tau outside [0, 1], or more than 5 taus.
    """
    if not results:
        raise ValueError("results is empty: pass {label: BoxAccResult}")
    taus = dict(taus or {})
    bad = {k: v for k, v in taus.items() if not 0.0 <= float(v) <= 1.0}
    if bad:
        raise ValueError(
            f"taus are fractions (of the min-max normalised map) and must be in [0, 1], got {bad}"
        )
    if len(taus) > len(TAU_STYLES):
        raise ValueError(f"at most {len(TAU_STYLES)} marked taus can be told apart, got {len(taus)}")
    deltas = list(next(iter(results.values())).iou_thresholds)
    fig = Figure(figsize=(3.1 * len(deltas) + 2.6, 3.7), layout="constrained")
    axes = [fig.add_subplot(1, len(deltas), j + 1) for j in range(len(deltas))]
    method_handles, has_largest = [], False
    for k, (label, res) in enumerate(results.items()):
        c = f"C{k % 10}"  # the default colour cycle
        xs = np.asarray(res.thresholds, dtype=np.float64)
        largest = getattr(res, "box_acc_largest", None)
        has_largest |= largest is not None
        for j, ax in enumerate(axes):
            ax.plot(xs, np.asarray(res.box_acc)[j], color=c, lw=3.0, alpha=0.45, zorder=2)
            if largest is not None:
                ax.plot(xs, np.asarray(largest)[j], color=c, lw=1.4, ls=(0, (4, 2)), zorder=3)
        v2 = getattr(res, "max_box_acc_v2", None)
        name = label if v2 is None else f"{label} (MaxBoxAccV2 {float(v2):.1f})"
        method_handles.append(Line2D([], [], color=c, lw=3.0, label=name))
    for k, tau in enumerate(taus.values()):
        colour, ls = TAU_STYLES[k]
        for ax in axes:
            ax.axvline(float(tau), color=colour, lw=1.3, ls=ls, zorder=4)
    for j, ax in enumerate(axes):
        ax.set_title(f"IoU ≥ {deltas[j]:g}")
        ax.set_xlabel("τ")
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", ".25", ".5", ".75", "1"])
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        if j:
            ax.tick_params(labelleft=False)
    axes[0].set_ylabel("BoxAcc (% of images)")
    fig.supxlabel(f"CAM threshold τ on the {normalization_label('minmax')} map (Choe et al.)", fontsize=10)
    style_handles = [Line2D([], [], color="C0", lw=3.0, alpha=0.45, label="every component (MaxBoxAccV2)")]
    if has_largest:
        style_handles.append(
            Line2D([], [], color="C0", lw=1.4, ls=(0, (4, 2)), label="largest component (paper)")
        )
    tau_handles = [
        Line2D([], [], color=TAU_STYLES[k][0], lw=1.3, ls=TAU_STYLES[k][1], label=f"τ: {label}")
        for k, label in enumerate(taus)
    ]

    def header(text: str) -> Line2D:
        return Line2D([], [], color="none", label=text)

    handles = [header("method (colour)"), *method_handles, header("box (line)"), *style_handles]
    handles += [header("marked τ"), *tau_handles] if tau_handles else []
    legend = fig.legend(
        handles=handles, loc="outside right upper", fontsize=9, frameon=False, handlelength=2.6
    )
    for text in legend.get_texts():
        if text.get_text() in {h.get_label() for h in handles if h.get_color() == "none"}:
            text.set_fontweight("bold")
    fig.suptitle(title)
    return fig


def plot_box_acc_taus(
    results: Mapping[str, Any],
    taus: Mapping[str, float],
    title: str = "BoxAcc against the CAM threshold",
) -> Figure:
    """:func:`plot_box_acc_curves` with vertical lines at named thresholds (``taus``: label -> tau in [0, 1]).

    Raises:
        ValueError: when a tau is outside [0, 1].
    """
    return plot_box_acc_curves(results, title=title, taus=taus)


__all__ = ["TAU_STYLES", "plot_box_acc_curves", "plot_box_acc_taus"]
