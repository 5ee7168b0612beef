"""The explorer's lesson controls (standard ipywidgets 8 widgets, all reachable by keyboard): the IoU-vs-tau curve,
the channels of a CAM, the twin difference, erasing a part or a square, the map method and the model.

The setters change a widget without redrawing and return warnings instead of raising (the app's status line
shows them): a method a model cannot use, a checkpoint that fails to load or has other classes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import partial
from typing import Any

import ipywidgets as W
from torch import nn

from camlib import zoo
from camlib.cam import METHODS, MapMethod, default_method
from camlib.explorer.controls import _STYLE, ExplorerControls
from camlib.explorer.options import ExplorerOptions
from camlib.explorer.scene import Extras
from camlib.explorer.views import CAMViews

ERASE_LABELS = {"none": "nothing", "part": "the part box", "square": "a square (sliders)"}
MAX_CHANNELS = 8


def zoo_catalogue() -> dict[str, Callable[[], nn.Module]]:
    """``{"zoo:<name>": loader}`` for every shipped checkpoint (:func:`camlib.zoo.available`); ``{}`` without any."""
    try:
        names = zoo.available()
    except (OSError, ValueError):
        return {}
    return {f"zoo:{n}": partial(zoo.load, n) for n in names}


class LessonControls(ExplorerControls, CAMViews):
    """The lesson's widgets of :class:`~camlib.explorer.app.CAMExplorer` and the setters of image, class, filter,
    method and model."""

    top_k: int

    def _build_lesson(self, opts: ExplorerOptions) -> None:
        """Create the lesson's controls with their first values (no callbacks yet)."""
        h, w = self.image_size
        first = next(iter(self.models))
        self.curve_checkbox = W.Checkbox(value=True, description="IoU vs τ curve", indent=False)
        self.channels_slider = W.IntSlider(
            value=0, min=0, max=MAX_CHANNELS, description="channels", style=_STYLE,
            tooltip="0: off; k: the CAM as its k top channels w_k·f_k plus the rest",
        )  # fmt: skip
        self.twin_checkbox = W.Checkbox(value=False, description="class − twin", indent=False)
        self.erase_dropdown = W.Dropdown(
            options=[(label, k) for k, label in ERASE_LABELS.items()], value="none", description="erase",
            style=_STYLE,
        )  # fmt: skip
        # a new square costs a forward pass: on release
        drag = {"style": {"description_width": "84px"}, "continuous_update": False}
        self.erase_x = W.IntSlider(value=0, min=0, max=w - 1, description="square x", **drag)
        self.erase_y = W.IntSlider(value=0, min=0, max=h - 1, description="square y", **drag)
        self.erase_size = W.IntSlider(value=max(1, w // 4), min=1, max=w, description="square size", **drag)
        self._method_fns: dict[str, str | MapMethod] = {n: n for n in METHODS}
        for mname, fn in self.methods.values():
            if mname not in METHODS:  # a learner's own function
                self._method_fns[mname] = fn
        self.method_dropdown = W.Dropdown(
            options=list(self._method_fns), value=self.methods[first][0], description="method", style=_STYLE
        )
        self._catalogue: dict[str, Any] = dict(zoo_catalogue() if opts.catalogue is None else opts.catalogue)
        self._loaded: dict[str, nn.Module] = {}
        labels = [*self.own_models, *(k for k in self._catalogue if k not in self.own_models)]
        self.model_dropdown = W.Dropdown(options=labels, value=first, description="model", style=_STYLE)
        self.curve_image = W.Image(format="png")
        self.channels_image = W.Image(format="png")
        for widget, css in (
            (self.curve_checkbox, "cam-curve"), (self.channels_slider, "cam-channels"),
            (self.twin_checkbox, "cam-twin"), (self.erase_dropdown, "cam-erase"), (self.erase_x, "cam-erase-x"),
            (self.erase_y, "cam-erase-y"), (self.erase_size, "cam-erase-size"),
            (self.method_dropdown, "cam-method"), (self.model_dropdown, "cam-model"),
        ):  # fmt: skip
            widget.add_class(css)

    def _lesson_widgets(self) -> list[W.ValueWidget]:
        """The lesson's controls whose change only redraws."""
        return [
            self.curve_checkbox,
            self.channels_slider,
            self.twin_checkbox,
            self.erase_dropdown,
            self.erase_x,
            self.erase_y,
            self.erase_size,
        ]

    def _extras(self) -> Extras:
        square = (int(self.erase_x.value), int(self.erase_y.value), int(self.erase_size.value))
        return Extras(
            bool(self.twin_checkbox.value),
            str(self.erase_dropdown.value),
            square,
            bool(self.curve_checkbox.value),
            int(self.channels_slider.value),
        )

    def _set_square(self, square: Any) -> list[str]:
        try:
            x, y, size = square
        except (TypeError, ValueError):
            return [f"square must be (x, y, size) in image pixels, got {square!r}"]
        msgs = self._set_int(self.erase_x, x, "square x") + self._set_int(self.erase_y, y, "square y")
        return msgs + self._set_int(self.erase_size, size, "square size")

    def _set_method(self, value: Any) -> list[str]:
        """Map every model with method ``value``; a model that cannot (CAM without a GAP head) keeps its own."""
        if value not in self._method_fns:
            return [f"unknown method {value!r}: use one of {list(self._method_fns)}"]
        msgs = []
        for name in self.models:
            try:
                self.set_method(name, self._method_fns[value])  # type: ignore[arg-type]
            except ValueError as exc:
                msgs.append(f"{name} keeps {self.methods[name][0]} ({value} needs a GAP head: {exc})")
        with self._hold():
            self.method_dropdown.value = self.methods[next(iter(self.models))][0]
        return msgs

    def _set_model(self, label: Any) -> list[str]:
        """Show model ``label`` (one of the app's, or ``"zoo:<name>"``) in the first panel."""
        options = list(self.model_dropdown.options)
        first = next(iter(self.models))
        if label not in options:
            return [f"unknown model {label!r}: use one of {options}"]
        msgs = []
        try:
            if label in self.own_models:
                model, method = self.own_models[label], self.methods[label][0]
            else:
                if label not in self._loaded:
                    loader = self._catalogue[label]
                    self._loaded[label] = loader() if not isinstance(loader, nn.Module) else loader
                model, method = self._loaded[label], str(self.method_dropdown.value)
            fn = self._method_fns.get(method, method)
            if method == "cam" and default_method(model) != "cam":
                fn = method = default_method(model)
                msgs.append(f"{label} has no GAP head, so no CAM: showing its {method}")
            self.set_first_model(label, model, fn)  # type: ignore[arg-type]
        except Exception as exc:  # a checkpoint that fails to load, other classes: say so, keep the model
            msgs.append(f"could not show {label}: {type(exc).__name__}: {exc}; kept {first}")
        with self._hold():
            self.model_dropdown.value = next(iter(self.models))
            self.method_dropdown.value = self.methods[next(iter(self.models))][0]
        return msgs

    # ---- setters: change widgets without redrawing; return warnings ------------------------------------------
    def _set_index(self, index: Any) -> list[str]:
        try:
            idx = operator.index(index)
        except TypeError:
            return [f"image index must be an integer, got {index!r}: kept #{self.index_slider.value}"]
        msgs = []
        if idx not in self._row:
            near = min(self.indices, key=lambda i: (abs(i - idx), i))
            lo, hi = min(self.indices), max(self.indices)
            msgs.append(f"image {idx} is not in the explorer (images {lo}..{hi}): showing {near}")
            idx = near
        with self._hold():
            if idx not in self.index_slider.options:
                msgs.append("switched the filter to all images")
                self._filter_key = self.filter_dropdown.value = "all"
                self.index_slider.options = self.indices
            self.index_slider.value = idx
            row = self._row[idx]
            self.class_dropdown.options = self.class_options(idx, self.top_k)
            self.class_dropdown.value = int(self.preds[row])
        return msgs

    def _set_class(self, cls: Any) -> list[str]:
        try:
            c = operator.index(cls)
        except TypeError:
            return [f"class must be an integer id, got {cls!r}"]
        if not 0 <= c < self.num_classes:
            n = self.num_classes
            return [
                f"class {c} does not exist: the models have {n} classes (0 = {self.class_names[0]} … "
                f"{n - 1} = {self.class_names[-1]}); kept {self.class_names[self.class_dropdown.value]}"
            ]
        with self._hold():
            if c not in [v for _, v in self.class_dropdown.options]:
                extra = (f"{self.class_names[c]} (chosen)", c)
                self.class_dropdown.options = [
                    *self.class_options(self.index_slider.value, self.top_k),
                    extra,
                ]
            self.class_dropdown.value = c
        return []

    def _apply_filter(self, key: str) -> list[str]:
        keep = self.filtered(key)
        with self._hold():
            if not keep:
                label = {v: k for k, v in self.filter_dropdown.options}[key]
                self.filter_dropdown.value = self._filter_key
                return [f"no image matches '{label}': kept the previous filter"]
            self._filter_key = self.filter_dropdown.value = key
            current = self.index_slider.value
            self.index_slider.options = keep
            return self._set_index(current if current in keep else keep[0])


__all__ = ["ERASE_LABELS", "MAX_CHANNELS", "LessonControls", "zoo_catalogue"]
