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
    of = f"<b>{name(state.cls)}</b>"
    if state.twin is not None:
        of = f"<b>{name(state.cls)} − {name(state.twin)}</b> (twin difference)"
    n_comp = (
        "largest component"
        if state.components == "largest"
        else "all components (white: the best box, grey: the others)"
    )
    truth = f"true class <b>{name(state.label)}</b>"
    if state.present is not None:  # a several-object scene
        here = ", ".join(map(name, state.present))
        truth = f"<span class='cam-present'>in the scene: <b>{here}</b></span>"
    lines = [
        f"<b>Image #{state.index}</b>{position} · {truth} · "
        f"map of {of} · τ = {state.tau:.2f} · box rule: {rule_text(state.rule, state.tau)}",
        f"<span class='cam-norm-text'>normalisation: {normalization_label(state.norm)}</span> · boxes: {n_comp}",
    ]
    if state.erased is not None:
        e, b = state.erased, tuple(int(v) for v in state.erased.box)
        what = "the part box" if e.what == "part" else "a square"
        said = [f"{p.name} predicts {name(p.pred)} ({p.prob:.1%}), was {name(was)}, logit of {name(state.cls)} "
                f"{lg[state.cls]:+.2f}" for p, was, lg in zip(state.panels, e.before, e.logits, strict=True)]  # fmt: skip
        lines.append(f"<span class='cam-erased'>erased {what} {b}: {'; '.join(said)}</span>")
    for p in state.panels:
        ok = "✓ correct" if p.pred == state.label else f"✗ wrong (true: {name(state.label)})"
        ok = ok if labelled else "(no true class to compare)"
        txt = f"<b>{p.name}</b> ({p.method}): predicts <b>{name(p.pred)}</b> ({p.prob:.1%}) {ok}"
        if state.cls != p.pred:
            txt += f" · gives {name(state.cls)} {p.cls_prob:.1%}"
        if p.box[2] <= p.box[0]:
            txt += " · no box (the map has no positive value)"
        if p.iou is None and state.present is not None and state.cls not in state.present:
            txt += f" · IoU = n/a ({name(state.cls)} is not in this scene)"
        elif p.iou is None:
            txt += " · IoU = n/a (no ground-truth box)"
        else:
            verdict = "≥ 0.5: localised" if p.iou >= 0.5 else "< 0.5: not localised"
            txt += f" · <span class='cam-iou'>IoU = {p.iou:.3f}</span> ({verdict})"
        if p.pointing is not None:
            hit = "in" if p.pointing else "not in"
            txt += (f" · <span class='cam-pointing'>pointing game: the map's maximum is {hit} {name(state.cls)}'s "
                    f"box ({'hit' if p.pointing else 'miss'})</span>")  # fmt: skip
        if state.components == "all":
            txt += f" · best of {p.n_components} components"
        if p.best_tau is not None and p.best_iou is not None:
            txt += f" · <span class='cam-best-tau'>best τ = {p.best_tau:.2f} (IoU {p.best_iou:.3f})</span>"
        lines.append(txt)
    if state.channels is not None:
        c = state.channels
        parts = [
            f"#{k} (w = {w:.2f}, {sc:+.2f})" for k, w, sc in zip(c.top, c.weights, c.scores, strict=True)
        ]
        lines.append(
            f"<span class='cam-channels-text'>channels of {c.model} for {name(c.cls)}: {' · '.join(parts)} · "
            f"rest ({c.n_rest} channels, {c.rest_score:+.2f}) · sum = CAM (max error {c.max_error:.0e})</span>"
        )
    others = "" if state.present is None else " · grey: the other creatures' boxes"
    shown = normalization_label(state.norm) if state.normalised else "raw map (logit units)"
    lines.append(
        f"<span style='color:#555'>{GT_COLOUR}: ground-truth box · {PRED_COLOUR}: largest connected region where "
        f"{rule_text(state.rule)} · {PART_COLOUR}: the discriminative part{others} · shown: {shown}</span>"
    )
    if state.message:
        lines.append(f"<span style='color:#b45309'>⚠ {html.escape(state.message, quote=False)}</span>")
    return "<div class='cam-status-text'>" + "<br>".join(lines) + "</div>"


__all__ = ["rule_text", "status_html"]
