"""The explorer's words: the box rule and the status line under the images (HTML)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from camlib.cam import normalization_label
from camlib.explorer.render import ExplorerState, class_label
from camlib.viz.colours import GT_COLOUR, PART_COLOUR, PRED_COLOUR


def rule_text(rule: str, tau: float | None = None) -> str:
    """The box rule in words, with ``tau``'s value when given.

    >>> rule_text("max", 0.2)
    "m ≥ 0.20 × max (the paper's rule)"
    >>> rule_text("minmax")
    "m ≥ min + τ (max − min) (Choe et al.'s min–max τ)"
    """
    t = "τ" if tau is None else f"{tau:.2f}"
    if rule == "minmax":
        return f"m ≥ min + {t} (max − min) (Choe et al.'s min–max τ)"
    return f"m ≥ {t} × max (the paper's rule)"


def status_html(state: ExplorerState, class_names: Sequence[str], position: str = "") -> str:
    """The explorer's status line: what the learner sees, in words (HTML, IoUs as ``IoU = 0.512``)."""

    def name(c: int) -> str:
        return class_label(class_names, c)

    labelled = 0 <= state.label < len(class_names)
    lines = [
        f"<b>Image #{state.index}</b>{position} · true class <b>{name(state.label)}</b> · "
        f"map of <b>{name(state.cls)}</b> · τ = {state.tau:.2f} · box rule: {rule_text(state.rule, state.tau)}"
    ]
    for p in state.panels:
        ok = "✓ correct" if p.pred == state.label else f"✗ wrong (true: {name(state.label)})"
        ok = ok if labelled else "(no true class to compare)"
        txt = f"<b>{p.name}</b> ({p.method}): predicts <b>{name(p.pred)}</b> ({p.prob:.1%}) {ok}"
        if state.cls != p.pred:
            txt += f" · gives {name(state.cls)} {p.cls_prob:.1%}"
        if p.box[2] <= p.box[0]:
            txt += " · no box (the map has no positive value)"
        if p.iou is None:
            txt += " · IoU = n/a (no ground-truth box)"
        else:
            verdict = "≥ 0.5: localised" if p.iou >= 0.5 else "< 0.5: not localised"
            txt += f" · <span class='cam-iou'>IoU = {p.iou:.3f}</span> ({verdict})"
        lines.append(txt)
    shown = normalization_label(state.rule) if state.normalised else "raw map (logit units)"
    lines.append(
        f"<span style='color:#555'>{GT_COLOUR}: ground-truth box · {PRED_COLOUR}: largest connected region where "
        f"{rule_text(state.rule)} · {PART_COLOUR}: the discriminative part · shown: {shown}</span>"
    )
    if state.message:
        lines.append(f"<span style='color:#b45309'>⚠ {html.escape(state.message, quote=False)}</span>")
    return "<div class='cam-status-text'>" + "<br>".join(lines) + "</div>"


__all__ = ["rule_text", "status_html"]
