"""The explorer's model side, without widgets: predictions, cached maps, one view as panels + state, snapshots.

:class:`CAMViews` predicts every explored image once (batched) when built, caches raw maps per
(model, image, class) and composes a view (the image with its ground-truth box, then each model's map with the
box of the chosen rule: the paper's ``m >= tau * max(m)`` or Choe et al.'s min-max tau, then
:func:`camlib.boxes.largest_component_box`) with :mod:`camlib.explorer.render`.
:class:`camlib.explorer.CAMExplorer` adds the widgets. Boxes are XYXY in image pixels, exclusive right/bottom
edges (pixels 0..9 -> ``(0, 0, 10, 10)``).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from PIL import Image
from torch import Tensor, nn

from camlib.cam import class_activation_maps, evaluation
from camlib.data.sample import Batch, as_dataset
from camlib.explorer.analysis import erase, twin_table
from camlib.explorer.inputs import as_models, common_num_classes, load_images, resolve_method
from camlib.explorer.options import ExplorerOptions
from camlib.explorer.render import display_map
from camlib.explorer.scene import Extras, Look, Scene, render_scene
from camlib.explorer.scenes_data import ExplorerData, as_scenes, scene_class_options
from camlib.explorer.state import Box, ExplorerState

_PRECOMPUTE_MAX = 4096  # up to this many images, non-CAM maps of the predicted class are computed up front


class CAMViews:
    """Predictions, cached maps and composed views of one or more models on a set of images (no widgets).

    Args:
        model_or_models: one model, or ``{"GAP": gap, "GMP": gmp}`` (first = primary: its predictions drive
            the class menu and the correct/misclassified filters). All must share classes. Each runs in eval mode
            while the explorer computes, and keeps its own mode.
        dataset: a :class:`~camlib.data.SampleDataset` (e.g. :class:`camlib.data.shapes.Shapes`) or a list of
            samples; or scenes of several objects (:class:`camlib.data.shapes.MultiShapes`, a list of its scenes).
        options: see :class:`~camlib.explorer.options.ExplorerOptions` (``class_names``, ``method``,
            ``methods``, ``indices``, ``display_size``, ``batch_size`` are used here).

    Attributes:
        indices: the explored dataset indices; ``labels`` (N,) int64; ``probs`` ``{name: (N, C) softmax}``;
        ``preds`` (N,) the primary model's predictions; ``class_names``; ``num_classes``; ``options``.
    """

    def __init__(
        self,
        model_or_models: nn.Module | Mapping[str, nn.Module] | Sequence[nn.Module],
        dataset: ExplorerData,
        options: ExplorerOptions | None = None,
    ) -> None:
        opts = self.options = options if options is not None else ExplorerOptions()
        self.scenes = as_scenes(dataset)  # several-object scenes, or None
        data = self.scenes if self.scenes is not None else as_dataset(dataset)  # type: ignore[arg-type]
        self.models = as_models(model_or_models)
        methods, batch_size = opts.methods or {}, opts.batch_size
        unknown = set(methods) - set(self.models)
        if unknown:
            raise ValueError(f"`methods` names {sorted(unknown)}, not among the models {list(self.models)}")
        self.methods = {n: resolve_method(m, methods.get(n, opts.method)) for n, m in self.models.items()}
        self.indices = (
            list(range(len(data))) if opts.indices is None else [operator.index(i) for i in opts.indices]
        )
        if not self.indices:
            raise ValueError("the explorer needs at least one image: the dataset (or indices) is empty")
        self._row = {idx: r for r, idx in enumerate(self.indices)}
        self._data = load_images(data, self.indices, batch_size)
        self.labels = self._data.labels
        self._all_maps: dict[str, Tensor] = {}
        self._raw_cache: OrderedDict[tuple[str, str, int, int], Tensor] = OrderedDict()
        self.num_classes = common_num_classes(self.models, self._data.images[:1])
        self.probs = {n: self._predict(n, m, batch_size) for n, m in self.models.items()}
        names = opts.class_names if opts.class_names is not None else getattr(data, "class_names", None)
        self.class_names = [str(c) for c in (names or range(self.num_classes))]
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{len(self.class_names)} class names for models with {self.num_classes} classes"
            )
        bad = self.labels[(self.labels < -1) | (self.labels >= self.num_classes)]
        if bad.numel():
            raise ValueError(
                f"label {int(bad[0])} is not a class of models with {self.num_classes} classes (0.."
                f"{self.num_classes - 1}, or -1 for an unlabelled image): check the dataset and the models"
            )
        self.preds = self.probs[next(iter(self.models))].argmax(1)  # (N,)
        for name in self.models:
            if name not in self._all_maps and len(self.indices) <= _PRECOMPUTE_MAX:
                self._precompute(name, batch_size)
        self.display_scale = max(1, round(opts.display_size / self._data.images.shape[-1]))
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.twins = twin_table(self.class_names, opts.twins or getattr(data, "twins", None))
        self.own_models = dict(self.models)  # the models the app was built with (the first is swappable)

    @property
    def data(self) -> Batch:
        """The explored images, labels, boxes and part boxes (rows in the order of :attr:`indices`)."""
        return self._data

    def row(self, index: int) -> int:
        """The row of dataset index ``index`` in :attr:`data` (KeyError if not explored)."""
        return self._row[index]

    def part_classes(self) -> str:
        """The names of the classes whose images have a part box, e.g. ``"firefly and shark"``."""
        if self.scenes is not None:
            return self.scenes.part_classes()
        pb = self._data.part_boxes
        have = [] if pb is None else sorted(set(self.labels[~pb[:, 0].isnan()].tolist()))
        names = [self.class_names[c] for c in have if 0 <= c < self.num_classes]
        return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names) or "no class"

    def set_method(self, name: str, method: str) -> None:
        """Map model ``name`` with ``method`` from now on (ValueError: unknown, or ``"cam"`` without a GAP head)."""
        self.methods[name] = resolve_method(self.models[name], method)

    def set_first_model(self, label: str, model: nn.Module, method: str | None = None) -> None:
        """Show ``model`` (named ``label``) in the first panel, the app's other models after it.

        Raises:
            ValueError: a model with other classes than the explorer's, or an unusable ``method``.
        """
        n = common_num_classes({label: model}, self._data.images[:1])
        if n != self.num_classes:
            raise ValueError(f"{label} has {n} classes, the explorer's images and models {self.num_classes}")
        resolved = resolve_method(model, method)
        first = next(iter(self.own_models))
        rest = {k: m for k, m in self.own_models.items() if k not in (first, label)}
        self.models = {label: model, **rest}
        self.methods[label] = resolved
        if label not in self.probs:
            self.probs[label] = self._predict(label, model, self.options.batch_size)
        self.preds = self.probs[label].argmax(1)  # (N,)

    def _predict(self, name: str, model: nn.Module, batch_size: int) -> Tensor:
        """Softmax of every explored image; CAM models also get all their maps, in the same batched passes."""
        dev = next(model.parameters()).device
        every = [list(range(self.num_classes))] if self.methods[name][1] is class_activation_maps else None
        probs, maps = [], []
        with evaluation(model), torch.inference_mode():
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
                self._raw_cache[(name, self.methods[name][0], s + j, c)] = maps[j, 0].detach().float().cpu()

    def raw_map(self, name: str, index: int, cls: int) -> Tensor:
        """The raw (h, w) map of class ``cls`` on image ``index`` by model ``name`` (cached per class).

        CAM maps of every class are computed for all images when the explorer is built; Grad-CAM and
        saliency compute the one class asked for, on demand.
        """
        row = self._row[index]
        method, fn = self.methods[name]
        if name in self._all_maps and fn is class_activation_maps:
            return self._all_maps[name][row, cls]  # (h, w)
        key = (name, method, row, cls)
        if key not in self._raw_cache:
            model = self.models[name]
            x = self._data.images[row : row + 1].to(next(model.parameters()).device)  # (1, 3, H, W)
            self._raw_cache[key] = fn(model, x, [cls]).maps[0, 0].detach().float().cpu()  # (h, w)
            while len(self._raw_cache) > 2 * _PRECOMPUTE_MAX:
                self._raw_cache.popitem(last=False)
        self._raw_cache.move_to_end(key)
        return self._raw_cache[key]

    def maps_for(
        self, name: str, index: int, classes: Sequence[int], cut: Box | None
    ) -> tuple[Tensor, Tensor | None]:
        """``(maps (N, h, w), logits)`` of ``classes`` on image ``index``: cached raw maps and ``None`` (the
        logits are in :attr:`probs`), or with ``cut`` a box erased (:func:`camlib.explorer.analysis.erase`),
        the maps and the (C,) logits of the erased image, from one call of the model's method."""
        if cut is None:
            return torch.stack([self.raw_map(name, index, c) for c in classes]), None
        row, (method, fn), model = self._row[index], self.methods[name], self.models[name]

        def make() -> tuple[Tensor, Tensor]:
            x = erase(self._data.images[row], cut)[None].to(next(model.parameters()).device)  # (1, 3, H, W)
            out = fn(model, x, [list(classes)])  # maps (1, N, h, w), logits (1, C)
            return out.maps[0].detach().float().cpu(), out.logits[0].detach().float().cpu()

        maps, logits = self.cached(("erased", name, method, row, tuple(classes), cut), make)
        return maps, logits

    def cached(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """``make()``, remembered under ``key`` (the 256 most recent)."""
        if key not in self._cache:
            self._cache[key] = make()
            while len(self._cache) > 256:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def display_map(
        self, name: str, index: int, cls: int, mode: str, normalised: bool, rule: str = "minmax"
    ) -> Tensor:
        """The (H, W) map upsampled with ``mode``: normalised as ``rule`` says (``"max"`` or ``"minmax"``, the
        map the box thresholds at tau) or raw."""
        key = ("map", name, self.methods[name][0], index, cls, mode, normalised, rule if normalised else None)
        return self.cached(
            key, lambda: display_map(self.raw_map(name, index, cls), self.image_size, mode, normalised, rule)
        )

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the explored images."""
        return int(self._data.images.shape[-2]), int(self._data.images.shape[-1])

    def predicted(self, index: int) -> int:
        """The first model's predicted class on image ``index``."""
        return int(self.preds[self._row[index]])

    def class_options(self, index: int, top_k: int = 5) -> list[tuple[str, int]]:
        """``(label, class)`` of the first model's ``top_k`` classes on image ``index``, plus the true class.

        Labels read ``"fish · 93.1%"``; the true class's label ends with ``"← true class"`` (an unlabelled
        image, label -1, adds none).
        """
        row = self._row[index]
        p = self.probs[next(iter(self.models))][row]  # (C,)
        if self.scenes is not None:  # a scene: every class, the present ones marked
            return scene_class_options(p, self.class_names, self.scenes.present(index))
        label = int(self.labels[row])
        top = [int(c) for c in p.topk(min(top_k, self.num_classes)).indices]
        return [
            (f"{self.class_names[c]} · {float(p[c]):.1%}{'  ← true class' if c == label else ''}", c)
            for c in dict.fromkeys([*top, *([label] if label >= 0 else [])])
        ]

    def filtered(self, key: str) -> list[int]:
        """The explored indices a filter keeps: ``"all"``, ``"correct"`` / ``"wrong"`` (first model; unlabelled
        images are neither) or ``"class:K"``."""
        if key == "all":
            keep = torch.ones_like(self.labels, dtype=torch.bool)
        elif key in ("correct", "wrong"):
            keep = ((self.preds == self.labels) == (key == "correct")) & (self.labels >= 0)
        else:
            keep = self.labels == int(key.split(":")[1])
        return [self.indices[r] for r in torch.nonzero(keep).flatten().tolist()]

    def scene(
        self,
        index: int,
        cls: int,
        tau: float,
        look: Look,
        extras: Extras | None = None,
        filter: str = "all",
        titles: bool = True,
    ) -> Scene:
        """The composed view (:func:`camlib.explorer.scene.render_scene`); ``index`` must be an explored index."""
        return render_scene(self, index, cls, tau, look, extras, filter, titles)

    def view(
        self, index: int, cls: int, tau: float, look: Look, filter: str = "all", titles: bool = True
    ) -> tuple[list[Image.Image], ExplorerState]:
        """The panels (image + each model) and the state of one view, without the extras."""
        sc = self.scene(index, cls, tau, look, None, filter, titles)
        return sc.panels, sc.state


__all__ = ["CAMViews", "Look"]
