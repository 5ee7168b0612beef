"""The CAM explorer: an ipywidgets 8 app to play with class activation maps, their boxes and the threshold.

It shows the image with its ground-truth box and, for each model (e.g. GAP and GMP side by side), the map of
the chosen class over the image with a box and its IoU with the ground truth. The box rule is a control: the
paper's (Zhou et al., CVPR 2016, Sec. 3.1: keep ``m >= tau * max(m)``, tau = 0.2, box the largest connected
component; the default) or Choe et al.'s min-max tau (keep ``m >= min + tau * (max - min)``, as MaxBoxAcc does). Predictions for
all images are computed once, batched, when the app is built; maps are cached; an update is numpy + PIL into one
PNG shown by an ``ipywidgets.Image`` (no matplotlib figure, so nothing leaks), a few ms at 64 px. Out-of-range
values are clamped or rejected with a message in the status line, never a traceback. Boxes are XYXY in image
pixels with exclusive right/bottom edges.

Example:
    >>> from camlib.models import GAPNet, NetConfig
    >>> from camlib.data import Sample
    >>> samples = [Sample(torch.rand(3, 32, 32), i % 2, torch.tensor([4.0, 4, 20, 20])) for i in range(4)]
    >>> app = CAMExplorer(GAPNet(2, NetConfig(widths=(8, 16), downsample=2)), samples)
    >>> s = app.show(index=2, tau=0.5)
    >>> s.index, s.tau, bytes(app.image_widget.value[:4])
    (2, 0.5, b'\\x89PNG')
    >>> app.show(index=99).message
    'image 99 is not in the explorer (images 0..3): showing 3'
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import numpy as np
import torch
from torch import nn

from camlib.data.sample import Sample, SampleDataset
from camlib.explorer.controls import ExplorerControls
from camlib.explorer.options import ExplorerOptions
from camlib.explorer.render import ExplorerState, compose, png_bytes
from camlib.explorer.snapshot import snapshot_figure
from camlib.explorer.status import status_html
from camlib.explorer.views import CAMViews

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class CAMExplorer(ExplorerControls, CAMViews):
    """Interactive explorer of class activation maps, their boxes and IoUs; display it, or drive it by code.

    Args:
        model_or_models: one model, or ``{"GAP": gap, "GMP": gmp}`` (see :class:`~camlib.explorer.views.CAMViews`).
        dataset: a :class:`~camlib.data.SampleDataset` or a list of samples.
        options: an :class:`~camlib.explorer.options.ExplorerOptions`; keyword arguments change its fields, e.g.
            ``CAMExplorer({"GAP": gap, "GMP": gmp}, test, indices=range(400), tau=0.3)``.

    Raises:
        ValueError: an option out of range (``tau=5``, ``cmap="hot"``), an unknown method, or ``"cam"`` for a
            model without a GAP head.
        TypeError: an unknown option name.

    Attributes:
        widget: the top-level ``VBox``; ``image_widget`` (the PNG), ``status`` (HTML status line) and the
            controls ``index_slider``, ``filter_dropdown``, ``random_button``, ``class_dropdown``,
            ``tau_slider``, ``rule_buttons`` (the box rule), ``alpha_slider``, ``cmap_dropdown``,
            ``upsample_buttons``, ``map_buttons`` (normalised or raw display).
        state: what is shown (:class:`~camlib.explorer.render.ExplorerState`).
    """

    def __init__(
        self,
        model_or_models: nn.Module | Mapping[str, nn.Module] | Sequence[nn.Module],
        dataset: SampleDataset | Sequence[Sample],
        options: ExplorerOptions | None = None,
        **changes: Any,
    ) -> None:
        opts = replace(options if options is not None else ExplorerOptions(), **changes)
        super().__init__(model_or_models, dataset, opts)
        self.top_k = min(opts.top_k, self.num_classes)
        self._rng = np.random.default_rng(opts.seed)
        self._filter_key = "all"
        self._state: ExplorerState | None = None
        self._build_controls(opts, self.indices, self.class_names, next(iter(self.models)))
        self.image_widget = W.Image(format="png")
        self.status = W.HTML()
        self.tau_slider.add_class("cam-tau")
        self.status.add_class("cam-status")
        self.index_slider.observe(self._on_index, names="value")
        self.filter_dropdown.observe(self._on_filter, names="value")
        self.random_button.on_click(self._on_random)
        for w in (
            self.class_dropdown,
            self.tau_slider,
            self.rule_buttons,
            self.alpha_slider,
            self.cmap_dropdown,
            self.upsample_buttons,
            self.map_buttons,
        ):
            w.observe(self._on_look, names="value")
        rows = [
            [self.index_slider, self.random_button, self.filter_dropdown],
            [self.class_dropdown, self.tau_slider],
            [self.rule_buttons],
            [self.alpha_slider, self.cmap_dropdown],
            [self.upsample_buttons, self.map_buttons],
        ]
        self.widget = W.VBox([*(W.HBox(r) for r in rows), self.image_widget, self.status])
        self.widget.add_class("cam-explorer")
        self._set_index(self.indices[0])
        self._render()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    @property
    def state(self) -> ExplorerState:
        """What is shown now."""
        if self._state is None:
            raise RuntimeError("the explorer has not drawn yet")
        return self._state

    def current_maps(self) -> dict[str, torch.Tensor]:
        """``{model name: (H, W) map}`` the shown boxes come from: upsampled and normalised by the box rule (max
        or min-max, so in [0, 1] with max 1: the box keeps ``map >= tau``), whatever the display."""
        s = self.state
        return {n: self.display_map(n, s.index, s.cls, s.upsample, True, s.rule) for n in self.models}

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

    def show(
        self,
        index: int | None = None,
        cls: int | None = None,
        tau: float | None = None,
        *,
        alpha: float | None = None,
        cmap: str | None = None,
        upsample: str | None = None,
        normalised: bool | None = None,
        rule: str | None = None,
        filter: str | None = None,
    ) -> ExplorerState:
        """Set controls from code, redraw once, return the new :attr:`state`.

        ``index`` is a dataset index (a new image selects its predicted class unless ``cls`` is given);
        ``filter`` is ``"all"``, ``"correct"``, ``"wrong"`` or ``"class:K"``; ``rule`` is ``"max"`` (the paper's
        tau x max) or ``"minmax"`` (Choe et al.'s min-max tau). Out-of-range values are clamped
        or rejected; the reason is in ``state.message`` and in the status line.
        """
        msgs: list[str] = []
        with self._hold():
            if filter is not None:
                msgs += self._set_choice(self.filter_dropdown, filter, "filter") or self._apply_filter(filter)
            if index is not None:
                msgs += self._set_index(index)
            if cls is not None:
                msgs += self._set_class(cls)
            for slider, v, what in ((self.tau_slider, tau, "tau"), (self.alpha_slider, alpha, "alpha")):
                msgs += [] if v is None else self._set_unit(slider, v, what)
            choices: list[tuple[Any, Any, str]] = [
                (self.cmap_dropdown, cmap, "colormap"),
                (self.upsample_buttons, upsample, "mode"),
                (self.map_buttons, normalised, "map scaling"),
                (self.rule_buttons, rule, "box rule"),
            ]
            msgs += [m for w, v, what in choices if v is not None for m in self._set_choice(w, v, what)]
        self._render("; ".join(msgs))
        return self.state

    # ---- callbacks -----------------------------------------------------------------------------------------
    def _on_index(self, change: dict[str, Any]) -> None:
        if not self._busy:
            self._render("; ".join(self._set_index(change["new"])))

    def _on_filter(self, change: dict[str, Any]) -> None:
        if not self._busy:
            self._render("; ".join(self._apply_filter(change["new"])))

    def _on_random(self, _button: Any = None) -> None:
        options = list(self.index_slider.options)
        others = [i for i in options if i != self.index_slider.value] or options
        self._render("; ".join(self._set_index(int(self._rng.choice(others)))))

    def _on_look(self, _change: dict[str, Any]) -> None:
        if not self._busy:
            self._render()

    def _render(self, message: str = "") -> None:
        """Redraw image and status line from the widgets; an error becomes a message, never a traceback."""
        try:
            index, cls, tau = (
                int(self.index_slider.value),
                int(self.class_dropdown.value),
                self.tau_slider.value,
            )
            panels, state = self.view(index, cls, float(tau), self._look(), self._filter_key)
            img = compose(panels)
            self.image_widget.value = png_bytes(img)
            self.image_widget.width, self.image_widget.height = str(img.width), str(img.height)  # 1:1 pixels
            self._state = replace(state, message=message)
            opts = list(self.index_slider.options)
            where = f" ({opts.index(index) + 1} of {len(opts)} shown)"
            self.status.value = status_html(self._state, self.class_names, where)
        except Exception as exc:  # the app explains, it does not crash
            self.status.value = (
                f"<span style='color:#b91c1c'>⚠ could not draw: {type(exc).__name__}: {exc}</span>"
            )

    # ---- static fallback -------------------------------------------------------------------------------------
    def snapshot(
        self,
        indices: Sequence[int] | None = None,
        cls: int | None = None,
        taus: Sequence[float] | None = None,
        dpi: int = 100,
    ) -> Figure:
        """The app's views as a matplotlib figure, for front ends without widgets (GitHub, nbval).

        One row per image: the image with its ground-truth box (once), then for each tau each model's map and
        box, with the current look (alpha, colormap, upsampling, scaling) and box rule. Defaults: the current image
        and tau; ``cls=None`` uses each image's predicted class (of the first model).

        Raises:
            ValueError: an index not explored, a class out of range or a tau outside [0, 1].
        """
        s = self.state
        idx = [s.index] if indices is None else [operator.index(i) for i in indices]
        views = [(i, cls, float(t)) for i in idx for t in ([s.tau] if taus is None else taus)]
        return snapshot_figure(self, views, self._look(), dpi=dpi)


__all__ = ["CAMExplorer"]
