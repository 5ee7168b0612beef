"""One view of the explorer, composed: the image (maybe with a part erased), each model's map (maybe minus the
twin's) with its box and IoU, the IoU-vs-tau curve, and the channels of the first model's CAM.

Everything is numpy + PIL on cached maps (see :class:`camlib.explorer.views.CAMViews`); boxes come from one
component tree per map (:func:`camlib.explorer.analysis.boxes_at`). Boxes are XYXY in image pixels, exclusive
right/bottom edges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from camlib.cam import MapMethod, class_activation_maps, normalize, upsample
from camlib.data.sample import Batch
from camlib.explorer.analysis import CURVE_TAUS, TauBoxes, best_tau, boxes_at, decompose, erase, square_box
from camlib.explorer.plots import channel_strip, curve_panel
from camlib.explorer.render import (
    CAM_RGB,
    GT_RGB,
    PART_RGB,
    DrawBox,
    base_panel,
    box_tuple,
    class_label,
    draw_boxes,
    heat,
    titled,
)
from camlib.explorer.scenes_data import SceneSet, ground_truth, points_in
from camlib.explorer.state import Box, ChannelState, ErasedState, ExplorerState, PanelState


class ViewSource(Protocol):
    """What a scene is composed from (:class:`camlib.explorer.views.CAMViews` is one)."""

    models: dict[str, nn.Module]
    methods: dict[str, tuple[str, MapMethod]]
    probs: dict[str, Tensor]
    class_names: list[str]
    twins: dict[int, int]
    display_scale: int
    scenes: SceneSet | None

    @property
    def image_size(self) -> tuple[int, int]: ...
    @property
    def data(self) -> Batch: ...
    def row(self, index: int) -> int: ...
    def cached(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any: ...
    def part_classes(self) -> str: ...
    def display_map(
        self, name: str, index: int, cls: int, mode: str, normalised: bool, rule: str = ...
    ) -> Tensor: ...
    def maps_for(
        self, name: str, index: int, classes: Sequence[int], cut: Box | None
    ) -> tuple[Tensor, Tensor | None]: ...


ERASED_RGB = (255, 255, 255)
OTHER_RGB = (190, 190, 190)  # the other components' boxes, with components="all"
FAINT_RGB = (150, 150, 150)  # on a scene: the other creatures' boxes
NORMS = ("raw", "max", "minmax")


class Look(NamedTuple):
    """How maps are shown: overlay opacity, colormap, upsampling, normalisation (``"raw"``, ``"max"``,
    ``"minmax"``) and which components give the box (``"largest"`` or ``"all"``)."""

    alpha: float
    cmap: str
    mode: str
    norm: str = "max"
    components: str = "largest"

    @property
    def rule(self) -> str:
        """The box rule: ``"minmax"`` for a min-max normalised map, else the paper's ``"max"`` (raw too)."""
        return "minmax" if self.norm == "minmax" else "max"


@dataclass(frozen=True)
class Extras:
    """The lesson's extra views: twin difference, an erased part or square ``(x, y, size)``, the IoU-vs-tau curve
    and the number of channels of the decomposition (0 = off)."""

    twin: bool = False
    erase: str = "none"
    square: tuple[int, int, int] = (0, 0, 16)
    curve: bool = False
    channels: int = 0


class Scene(NamedTuple):
    """A composed view: the panels (image, then one per model), the curve and channel images (or ``None``), the
    state, and notes for the status line (a twin that does not exist, a part box that is missing ...)."""

    panels: list[Image.Image]
    curve: Image.Image | None
    channels: Image.Image | None
    state: ExplorerState
    notes: list[str]


def _difference(raws: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """(N, h, w) maps (one class, or a class and its twin) -> the (H, W) upsampled map, or the difference."""
    m = raws[0] - raws[1] if len(raws) > 1 else raws[0]  # (h, w)
    return upsample(m[None, None], size, mode)[0, 0]


def _overlay(
    image: torch.Tensor, shown: torch.Tensor, peak: float | None, look: Look, scale: int
) -> Image.Image:
    return base_panel(image, heat(shown, peak), look.alpha, look.cmap, scale)


def _at(tb: TauBoxes, t: int) -> TauBoxes:
    """The boxes of one tau (row ``t``) of ``tb``."""
    return TauBoxes(
        tb.boxes[t : t + 1],
        None if tb.ious is None else tb.ious[t : t + 1],
        tb.counts[t : t + 1],
        tb.every[t : t + 1],
    )


def _erase_box(v: ViewSource, extras: Extras, part: Box | None, index: int, notes: list[str]) -> Box | None:
    if extras.erase == "part":
        if part is None:
            notes.append(f"image {index} has no part box (only {v.part_classes()} have one): nothing erased")
        return part
    if extras.erase == "square":
        return square_box(*extras.square, *v.image_size)
    return None


def render_scene(
    v: ViewSource,
    index: int,
    cls: int,
    tau: float,
    look: Look,
    extras: Extras | None = None,
    filter: str = "all",
    titles: bool = True,
) -> Scene:
    """Compose the view of image ``index`` (an explored index), class ``cls``, threshold ``tau``."""
    ex, notes = extras or Extras(), list[str]()
    row, sc, d, names = v.row(index), v.display_scale, v.data, v.class_names
    label = int(d.labels[row])
    truth = ground_truth(v.scenes, d, row, index, cls)  # on a scene: the chosen class's boxes
    gt_t, present = truth.box, truth.present
    gt, part = box_tuple(gt_t), box_tuple(truth.part)
    gb = None if gt is None else gt_t
    cut = _erase_box(v, ex, part, index, notes)
    image = d.images[row] if cut is None else erase(d.images[row], cut)  # (3, H, W), a copy when erased
    twin = v.twins.get(cls) if ex.twin else None
    if ex.twin and twin is None:
        pairs = " · ".join(f"{names[a]} ↔ {names[b]}" for a, b in v.twins.items() if a < b) or "none here"
        notes.append(f"{names[cls]} has no twin (twins: {pairs})")
    classes = [cls] if twin is None else [cls, twin]
    marks = [DrawBox(b, c, 2) for b, c in ((gt, GT_RGB), (part, PART_RGB)) if b is not None]
    marks += [DrawBox(b, FAINT_RGB, 1) for o in truth.others if (b := box_tuple(o)) is not None]
    if cut is None:
        img = v.cached(("img", row), lambda: base_panel(image, None, 0.0, look.cmap, sc))
    else:
        img = v.cached(("img", row, cut), lambda: base_panel(image, None, 0.0, look.cmap, sc))
        marks.append(DrawBox(cut, ERASED_RGB, 1))
    img = draw_boxes(img, marks, sc)
    erased = "" if cut is None else (" (part erased)" if ex.erase == "part" else " (square erased)")
    what = f"true: {class_label(names, label)}"
    what = "scene: " + ", ".join(names[c] for c in present) if present else what
    panels = [titled(img, f"#{index} {what}{erased}") if titles else img]
    states, curves, logits_e = [], [], []
    for name in v.models:
        method = v.methods[name][0]
        raws, logits = v.maps_for(name, index, classes, cut)  # (N, h, w), (C,) or None
        key = (name, method, row, cls, twin, cut, look.mode)
        up = v.cached(("up", *key), partial(_difference, raws, v.image_size, look.mode))  # (H, W)
        ruled = v.cached(("ruled", *key, look.rule), partial(normalize, up, look.rule))  # (H, W)
        probs = v.probs[name][row] if logits is None else logits.float().softmax(0)  # (C,)
        pred = int(probs.argmax())
        # one component tree per map gives the boxes at every tau of the curve; the slider's taus are on that grid
        tb = v.cached(
            ("curve", *key, look.rule, look.components),
            partial(boxes_at, ruled, CURVE_TAUS, gb, look.components),
        )
        on_grid = np.flatnonzero(np.abs(CURVE_TAUS - tau) < 1e-9)
        now = boxes_at(ruled, [tau], gb, look.components) if not on_grid.size else _at(tb, int(on_grid[0]))
        box = box_tuple(torch.from_numpy(now.boxes[0])) or (0.0, 0.0, 0.0, 0.0)
        curve = best = None
        if ex.curve and tb.ious is not None:
            curve, best = tb.ious, best_tau(tb.ious)
            curves.append((name, curve, best[0]))
        peak: float | None = 1.0
        if look.norm == "raw":  # raw maps share one scale per image: the peak of the predicted class's map
            same = twin is None and cut is None
            peak = float(v.display_map(name, index, pred, look.mode, False).max()) if same else None
        shown = up if look.norm == "raw" else ruled
        base = v.cached(
            ("panel", *key, look.norm, look.alpha, look.cmap), partial(_overlay, image, shown, peak, look, sc)
        )
        gt_marks = [x for x in marks if x.color in (GT_RGB, FAINT_RGB)]
        others = (
            []
            if look.components == "largest"
            else [DrawBox((b[0], b[1], b[2], b[3]), OTHER_RGB, 1) for b in now.every[0].tolist()]
        )
        panel = draw_boxes(base, [*gt_marks, *others, DrawBox(box, CAM_RGB, 2)], sc)
        of = names[cls] if twin is None else f"{names[cls]} - {names[twin]}"  # ASCII: PIL's default font
        panels.append(titled(panel, f"{name} · {method} of {of}") if titles else panel)
        iou_v = None if now.ious is None else float(now.ious[0])
        states.append(PanelState(name, method, pred, float(probs[pred]), float(probs[cls]), box, iou_v,
                                 int(now.counts[0]), None if curve is None else tuple(curve.tolist()),
                                 None if best is None else best[0], None if best is None else best[1],
                                 None if present is None or gb is None else points_in(up, gb)))  # fmt: skip
        if logits is not None:
            logits_e.append(logits)
    erased_s = None
    if cut is not None:
        before = tuple(int(v.probs[n][row].argmax()) for n in v.models)
        erased_s = ErasedState(ex.erase, cut, tuple(tuple(float(x) for x in lg) for lg in logits_e),
                               tuple(p.pred for p in states), tuple(p.prob for p in states), before)  # fmt: skip
    curve_img = curve_panel(curves, CURVE_TAUS, tau) if curves else None
    chan_img, chan_s = _channels(v, index, image, cls, cut, ex.channels, look.mode, notes)
    st = ExplorerState(index, label, cls, float(tau), float(look.alpha), look.cmap, look.mode, look.norm != "raw",
                       look.rule, filter, gt, part, tuple(states), "", look.norm, look.components, twin, ex.erase,
                       erased_s, chan_s, present)  # fmt: skip
    return Scene(panels, curve_img, chan_img, st, notes)


def _channels(
    v: ViewSource,
    index: int,
    image: torch.Tensor,
    cls: int,
    cut: Box | None,
    k: int,
    mode: str,
    notes: list[str],
) -> tuple[Image.Image | None, ChannelState | None]:
    """The strip and state of the first model's CAM split into ``k`` channels and the rest (``k = 0``: none)."""
    if k <= 0:
        return None, None
    name = next(iter(v.models))
    method, fn = v.methods[name]
    if fn is not class_activation_maps:
        notes.append(
            f"channels: the decomposition M_c = Σ_k w_k^c f_k is CAM's (a GAP/GMP head); {name}'s method is "
            f"{method}: choose cam"
        )
        return None, None
    model = v.models[name]
    dec = v.cached(("dec", name, v.row(index), cls, cut, k), lambda: decompose(
        model, image[None].to(next(model.parameters()).device), cls, k))  # fmt: skip
    parts = torch.cat([dec.parts, dec.rest[None], dec.cam[None]]).cpu()  # (k + 2, h, w)
    err = float((dec.parts.sum(0) + dec.rest - dec.cam).abs().max())
    titles = [f"#{c} w={w:+.2f} {s:+.2f}" for c, w, s in zip(dec.top, dec.weights, dec.scores, strict=True)]
    titles += [f"rest ({dec.n_rest}) {dec.rest_score:+.2f}", f"= CAM of {v.class_names[cls]}"]
    strip = v.cached(("strip", name, v.row(index), cls, cut, k, mode), lambda: channel_strip(
        image, parts, titles, mode, max(1, v.display_scale // 2)))  # fmt: skip
    state = ChannelState(name, cls, tuple(dec.top), tuple(dec.weights), tuple(dec.scores), dec.n_rest,
                         dec.rest_score, err)  # fmt: skip
    return strip, state


__all__ = ["NORMS", "Extras", "Look", "Scene", "render_scene"]
