"""The explorer's model side, without widgets: predictions, cached maps, one view as panels + state, snapshots.

:class:`CAMViews` predicts every explored image once (batched) when built, caches raw maps per
(model, image, class) and composes a view (the image with its ground-truth box, then each model's map with the
box of the paper's rule, :func:`camlib.boxes.largest_component_box`) with :mod:`camlib.explorer_render`.
:class:`camlib.explorer.CAMExplorer` adds the widgets. Boxes are XYXY in image pixels, exclusive right/bottom
edges (pixels 0..9 -> ``(0, 0, 10, 10)``).
"""

from __future__ import annotations

import math
import operator
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from camlib.boxes import iou as box_iou
from camlib.boxes import largest_component_box
from camlib.cam import CAMOutput, Classes, class_activation_maps, find_cam_head, grad_cam
from camlib.data.sample import Batch, collate
from camlib.explorer_render import (
    CAM_COLOR,
    GT_COLOR,
    PART_COLOR,
    DrawBox,
    ExplorerState,
    PanelState,
    base_panel,
    box_tuple,
    display_map,
    draw_boxes,
    heat,
    titled,
)
from camlib.saliency import gradient_saliency
from camlib.viz import BOX_COLOUR, PART_COLOUR, PRED_COLOUR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MapFn = Callable[[nn.Module, Tensor, Classes], CAMOutput]
METHODS: dict[str, MapFn] = {
    "cam": class_activation_maps,
    "grad_cam": grad_cam,
    "saliency": gradient_saliency,
}


def resolve_method(model: nn.Module, method: str | MapFn) -> tuple[str, MapFn]:
    """``(name, function)`` of a map method; ``"cam"`` on a model without a GAP head falls back to Grad-CAM."""
    if callable(method):
        return getattr(method, "__name__", "custom"), method
    if method not in METHODS:
        raise ValueError(
            f"unknown method {method!r}: use one of {sorted(METHODS)} or a function like grad_cam"
        )
    if method == "cam":
        try:
            find_cam_head(model)
        except ValueError:
            return "grad_cam", grad_cam  # CAM is undefined without global pooling + one linear layer
    return method, METHODS[method]


def _as_models(models: nn.Module | Mapping[str, nn.Module] | Sequence[nn.Module]) -> dict[str, nn.Module]:
    if isinstance(models, nn.Module):
        return {type(models).__name__: models}
    if isinstance(models, Mapping):
        out = dict(models)
    else:
        out = {f"model {i}": m for i, m in enumerate(models)}
    if not out or not all(isinstance(m, nn.Module) for m in out.values()):
        raise TypeError(
            "pass a model, a {name: model} dict (e.g. {'GAP': gap, 'GMP': gmp}) or a list of models"
        )
    return out


def _load(dataset: Any, indices: Sequence[int], batch_size: int) -> Batch:
    """The images, labels and boxes of ``indices`` as one CPU :class:`Batch` (masks dropped)."""
    parts = []
    for s in range(0, len(indices), batch_size):
        chunk = list(indices[s : s + batch_size])
        b = dataset.batch(chunk) if hasattr(dataset, "batch") else collate([dataset[i] for i in chunk])
        parts.append(b.to("cpu"))

    def cat(name: str) -> Tensor | None:
        vals = [getattr(p, name) for p in parts]
        if all(v is None for v in vals):
            return None
        if name == "part_boxes":
            vals = [
                torch.full((len(p), 4), math.nan) if v is None else v
                for p, v in zip(parts, vals, strict=True)
            ]
        return None if any(v is None for v in vals) else torch.cat(vals)

    return Batch(
        torch.cat([p.images for p in parts]),
        torch.cat([p.labels for p in parts]),
        cat("boxes"),
        None,
        cat("part_boxes"),
    )


def _num_classes(models: Mapping[str, nn.Module], x: Tensor) -> int:
    """The models' common number of classes (from the CAM head, else one forward pass of one image)."""
    sizes = {}
    for n, m in models.items():
        try:
            sizes[n] = int(find_cam_head(m).linear.out_features)
        except ValueError:
            with torch.inference_mode():
                sizes[n] = int(m.eval()(x.to(next(m.parameters()).device)).shape[1])  # (1, C)
    if len(set(sizes.values())) != 1:
        raise ValueError(f"all models must have the same classes; got {sizes}")
    return next(iter(sizes.values()))


Look = tuple[float, str, str, bool]  # (alpha, cmap, upsample mode, normalised)
_PRECOMPUTE_MAX = 4096  # up to this many images, non-CAM maps of the predicted class are computed up front


class CAMViews:
    """Predictions, cached maps and composed views of one or more models on a set of images (no widgets).

    Args:
        model_or_models: one model, or ``{"GAP": gap, "GMP": gmp}`` (first = primary: its predictions drive
            the class menu and the correct/misclassified filters). Put in eval mode. All must share classes.
        dataset: a map-style dataset of :class:`~camlib.data.Sample` (``dataset.batch(indices)`` is used when
            it exists, e.g. :class:`camlib.data.shapes.Shapes`), or a list of samples.
        class_names: names by class id; default ``dataset.class_names``, else ``"0"``, ``"1"``, ...
        method: ``"cam"`` (falls back to ``"grad_cam"`` for a model without a GAP head), ``"grad_cam"``,
            ``"saliency"`` or a function ``(model, x, classes) -> CAMOutput``.
        methods: per-model override of ``method``, e.g. ``{"FC": "saliency"}``.
        indices: the dataset indices to explore (default all); their images are held in memory
            ((N, 3, H, W) float32: ~49 kB per 64 px image).
        display_size: approximate side of each displayed panel in pixels (images are upscaled nearest).
        batch_size: images per forward pass when predicting the whole set.

    Attributes:
        indices: the explored dataset indices; ``labels`` (N,) int64; ``probs`` ``{name: (N, C) softmax}``;
        ``preds`` (N,) the primary model's predictions; ``class_names``; ``num_classes``.
    """

    def __init__(
        self,
        model_or_models: nn.Module | Mapping[str, nn.Module] | Sequence[nn.Module],
        dataset: Any,
        *,
        class_names: Sequence[str] | None = None,
        method: str | MapFn = "cam",
        methods: Mapping[str, str | MapFn] | None = None,
        indices: Sequence[int] | None = None,
        display_size: int = 256,
        batch_size: int = 256,
    ) -> None:
        self.models = _as_models(model_or_models)
        unknown = set(methods or {}) - set(self.models)
        if unknown:
            raise ValueError(f"`methods` names {sorted(unknown)}, not among the models {list(self.models)}")
        self.methods = {n: resolve_method(m, (methods or {}).get(n, method)) for n, m in self.models.items()}
        self.indices = list(range(len(dataset))) if indices is None else [operator.index(i) for i in indices]
        if not self.indices:
            raise ValueError("the explorer needs at least one image: the dataset (or indices) is empty")
        self._row = {idx: r for r, idx in enumerate(self.indices)}
        self._data = _load(dataset, self.indices, batch_size)
        self.labels = self._data.labels
        self._all_maps: dict[str, Tensor] = {}
        self._raw_cache: OrderedDict[tuple[str, int, int], Tensor] = OrderedDict()
        self.num_classes = _num_classes(self.models, self._data.images[:1])
        self.probs = {n: self._predict(n, m, batch_size) for n, m in self.models.items()}
        names = class_names if class_names is not None else getattr(dataset, "class_names", None)
        self.class_names = [str(c) for c in (names or range(self.num_classes))]
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{len(self.class_names)} class names for models with {self.num_classes} classes"
            )
        self.preds = self.probs[next(iter(self.models))].argmax(1)  # (N,)
        for name in self.models:
            if name not in self._all_maps and len(self.indices) <= _PRECOMPUTE_MAX:
                self._precompute(name, batch_size)
        self.display_scale = max(1, round(display_size / self._data.images.shape[-1]))
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def _predict(self, name: str, model: nn.Module, batch_size: int) -> Tensor:
        """Softmax of every explored image; CAM models also get all their maps, in the same batched passes."""
        model.eval()
        dev = next(model.parameters()).device
        every = list(range(self.num_classes)) if self.methods[name][1] is class_activation_maps else None
        probs, maps = [], []
        with torch.inference_mode():
            for s in range(0, len(self.indices), batch_size):
                x = self._data.images[s : s + batch_size].to(dev)  # (b, 3, H, W)
                if every is None:
                    logits = model(x)  # (b, C)
                else:
                    out = class_activation_maps(model, x, every)  # maps (b, C, h, w)
                    logits = out.logits
                    maps.append(out.maps.cpu())
                probs.append(logits.float().softmax(1).cpu())
        if maps:
            self._all_maps[name] = torch.cat(maps)  # (N, C, h, w)
        return torch.cat(probs)  # (N, C)

    def _precompute(self, name: str, batch_size: int) -> None:
        """Maps of the first model's predicted class for every image, batched (Grad-CAM, saliency: one backward
        pass per batch instead of one per image when the learner moves through the images)."""
        model, fn = self.models[name], self.methods[name][1]
        dev = next(model.parameters()).device
        for s in range(0, len(self.indices), batch_size):
            cls = self.preds[s : s + batch_size]  # (b,) one class per image
            maps = fn(model, self._data.images[s : s + batch_size].to(dev), cls.to(dev)).maps  # (b, 1, h, w)
            for j, c in enumerate(cls.tolist()):
                self._raw_cache[(name, s + j, c)] = maps[j, 0].detach().float().cpu()

    def raw_map(self, name: str, index: int, cls: int) -> Tensor:
        """The raw (h, w) map of class ``cls`` on image ``index`` by model ``name`` (cached per class).

        CAM maps of every class are computed for all images when the explorer is built; Grad-CAM and
        saliency compute the one class asked for, on demand.
        """
        row = self._row[index]
        if name in self._all_maps:
            return self._all_maps[name][row, cls]  # (h, w)
        key = (name, row, cls)
        if key not in self._raw_cache:
            model = self.models[name]
            fn = self.methods[name][1]
            x = self._data.images[row : row + 1].to(next(model.parameters()).device)  # (1, 3, H, W)
            self._raw_cache[key] = fn(model, x, [cls]).maps[0, 0].detach().float().cpu()  # (h, w)
            while len(self._raw_cache) > 2 * _PRECOMPUTE_MAX:
                self._raw_cache.popitem(last=False)
        self._raw_cache.move_to_end(key)
        return self._raw_cache[key]

    def _cached(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
            while len(self._cache) > 128:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def display_map(self, name: str, index: int, cls: int, mode: str, normalised: bool) -> Tensor:
        """The (H, W) map the box is computed from: upsampled with ``mode``, min-max normalised or raw."""
        size = (int(self._data.images.shape[-2]), int(self._data.images.shape[-1]))
        key = ("map", name, index, cls, mode, normalised)
        return self._cached(key, lambda: display_map(self.raw_map(name, index, cls), size, mode, normalised))

    def class_options(self, index: int, top_k: int = 5) -> list[tuple[str, int]]:
        """``(label, class)`` of the first model's ``top_k`` classes on image ``index``, plus the true class.

        Labels read ``"fish · 93.1%"``; the true class's label ends with ``"← true class"``.
        """
        row = self._row[index]
        p = self.probs[next(iter(self.models))][row]  # (C,)
        label = int(self.labels[row])
        top = [int(c) for c in p.topk(min(top_k, self.num_classes)).indices]
        return [
            (f"{self.class_names[c]} · {float(p[c]):.1%}{'  ← true class' if c == label else ''}", c)
            for c in dict.fromkeys([*top, label])
        ]

    def filtered(self, key: str) -> list[int]:
        """The explored indices a filter keeps: ``"all"``, ``"correct"`` / ``"wrong"`` (first model) or ``"class:K"``."""
        if key == "all":
            keep = torch.ones_like(self.labels, dtype=torch.bool)
        elif key in ("correct", "wrong"):
            keep = (self.preds == self.labels) == (key == "correct")
        else:
            keep = self.labels == int(key.split(":")[1])
        return [self.indices[r] for r in torch.nonzero(keep).flatten().tolist()]

    def view(
        self, index: int, cls: int, tau: float, look: Look, filter: str = "all", titles: bool = True
    ) -> tuple[list[Image.Image], ExplorerState]:
        """The panels (image + each model) and the state of one view; ``index`` must be an explored index."""
        alpha, cmap, mode, normalised = look
        row, sc, d = self._row[index], self.display_scale, self._data
        label = int(d.labels[row])
        gt = box_tuple(d.boxes[row]) if d.boxes is not None else None
        part = box_tuple(d.part_boxes[row]) if d.part_boxes is not None else None
        marks = [DrawBox(b, c, 2) for b, c in ((gt, GT_COLOR), (part, PART_COLOR)) if b is not None]
        img = self._cached(("img", row), lambda: base_panel(d.images[row], None, 0.0, cmap, sc))
        img = draw_boxes(img, marks, sc)
        panels = [titled(img, f"#{index} true: {self.class_names[label]}") if titles else img]
        states = []
        for name, probs in self.probs.items():
            m = self.display_map(name, index, cls, mode, normalised)
            box_t = largest_component_box(m, tau)  # (4,) the paper's rule
            pred = int(probs[row].argmax())
            # raw maps share one scale per image: the peak of the predicted class's map
            peak = None if normalised else float(self.display_map(name, index, pred, mode, False).max())
            key = ("panel", name, row, cls, mode, normalised, alpha, cmap)
            base = self._cached(key, partial(base_panel, d.images[row], heat(m, peak), alpha, cmap, sc))
            box = box_tuple(box_t) or (0.0, 0.0, 0.0, 0.0)
            gt_marks = [x for x in marks if x.color == GT_COLOR]
            panel = draw_boxes(base, [*gt_marks, DrawBox(box, CAM_COLOR, 2)], sc)
            method = self.methods[name][0]
            panels.append(titled(panel, f"{name} · {method} of {self.class_names[cls]}") if titles else panel)
            iou_v = None if d.boxes is None else float(box_iou(box_t, d.boxes[row]))
            cls_p, pred_p = float(probs[row, cls]), float(probs[row, pred])
            states.append(PanelState(name, method, pred, pred_p, cls_p, box, iou_v))
        look_s = (float(alpha), str(cmap), str(mode), bool(normalised))
        return panels, ExplorerState(index, label, cls, float(tau), *look_s, filter, gt, part, tuple(states))

    def snapshot_views(
        self, views: Sequence[tuple[int, int | None, float]], look: Look, dpi: int = 90
    ) -> Figure:
        """A matplotlib figure of ``(index, cls or None = predicted, tau)`` views, one row each.

        The figure is a bare :class:`matplotlib.figure.Figure` (not registered with pyplot: nothing leaks).

        Raises:
            ValueError: an index not explored, a class out of range or a tau outside [0, 1].
        """
        from matplotlib.figure import Figure

        for i, c, t in views:
            if i not in self._row or (c is not None and not 0 <= c < self.num_classes) or not 0 <= t <= 1:
                raise ValueError(
                    f"bad view (index={i}, cls={c}, tau={t}): indices must be explored (e.g. {self.indices[:3]}), "
                    f"classes in 0..{self.num_classes - 1}, tau in [0, 1]"
                )
        ncols, (h, w) = 1 + len(self.models), self._data.images.shape[-2:]
        fig = Figure(figsize=(2.3 * ncols, 2.5 * len(views)), dpi=dpi, layout="constrained")
        axes = fig.subplots(len(views), ncols, squeeze=False)
        for r, (i, c, t) in enumerate(views):
            cls = int(self.preds[self._row[i]]) if c is None else c
            panels, st = self.view(i, cls, t, look, titles=False)
            titles = [f"#{i} · true: {self.class_names[st.label]}"] + [
                f"{p.name} · {self.class_names[cls]} · τ={t:.2f}\n"
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
            f"CAM explorer: {BOX_COLOUR} = ground truth, {PRED_COLOUR} = box of the paper's rule at τ, "
            f"{PART_COLOUR} = the part",
            fontsize=9,
        )
        return fig


__all__ = ["METHODS", "CAMViews", "Look", "MapFn", "resolve_method"]
