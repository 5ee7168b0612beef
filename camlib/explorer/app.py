"""The CAM explorer: an ipywidgets 8 app to play with class activation maps, their boxes and the threshold.

It shows the image with its ground-truth box and, for each model (e.g. GAP and GMP side by side), the map of
the chosen class over the image with a box and its IoU with the ground truth. The normalisation is a control:
raw, max-normalised (the paper's rule, Zhou et al., CVPR 2016, Sec. 3.1: keep ``m >= tau * max(m)``, tau = 0.2,
box the largest connected component; the default) or min-max normalised (Choe et al.: keep
``m >= min + tau * (max - min)``, as MaxBoxAcc does); so is the box (the largest component, or the best of all
components as MaxBoxAccV2 counts). The lesson's controls add the IoU-vs-tau curve with its best tau, the channels
``w_k^c f_k`` that sum to the CAM, the map of a class minus its twin's, the image with its part (or a square)
erased, the map method and the model (the app's own, or a shipped checkpoint). Predictions for all images are
computed once, batched, when the app is built; maps are cached; an update is numpy + PIL into PNGs shown by
``ipywidgets.Image`` (no matplotlib figure, so nothing leaks), a few ms at 64 px. Out-of-range values are clamped
or rejected with a message in the status line, never a traceback. Boxes are XYXY in image pixels with exclusive
right/bottom edges. Several-object scenes: pass a :class:`~camlib.data.shapes.MultiShapes` (or a list of its
scenes) as the dataset; the slider walks scenes, the class menu marks the classes present, the view of a class
uses that class's own box (IoU, curve, components; the others' boxes faint, no IoU for an absent class) and part
box (twin, erase), and the status line plays the pointing game (:mod:`camlib.explorer.scenes_data`).

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

from camlib.explorer.lesson import LessonControls
from camlib.explorer.options import ExplorerOptions
from camlib.explorer.render import compose, png_bytes
from camlib.explorer.scenes_data import ExplorerData
from camlib.explorer.snapshot import snapshot_figure
from camlib.explorer.state import ExplorerState
from camlib.explorer.status import status_html

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class CAMExplorer(LessonControls):
    """Interactive explorer of class activation maps, their boxes and IoUs; display it, or drive it by code.

    Args:
        model_or_models: one model, or ``{"GAP": gap, "GMP": gmp}`` (see :class:`~camlib.explorer.views.CAMViews`).
        dataset: a :class:`~camlib.data.SampleDataset` or a list of samples; or several-object scenes: a
            :class:`~camlib.data.shapes.MultiShapes` or a list of its scenes.
        options: an :class:`~camlib.explorer.options.ExplorerOptions`; keyword arguments change its fields, e.g.
            ``CAMExplorer({"GAP": gap, "GMP": gmp}, test, indices=range(400), tau=0.3)``.

    Raises:
        ValueError: an option out of range (``tau=5``, ``cmap="hot"``), an unknown method, or ``"cam"`` for a
            model without a GAP head.
        TypeError: an unknown option name.

    Attributes:
        widget: the top-level ``VBox``; ``image_widget`` (the PNG), ``status`` (HTML status line) and the
            controls ``index_slider``, ``filter_dropdown``, ``random_button``, ``class_dropdown``,
            ``tau_slider``, ``norm_buttons`` (raw / ÷ max / min-max), ``components_buttons`` (largest or all),
            ``alpha_slider``, ``cmap_dropdown``, ``upsample_buttons``; the lesson's ``curve_checkbox`` (and
            ``curve_image``), ``channels_slider`` (and ``channels_image``), ``twin_checkbox``,
            ``erase_dropdown``, ``erase_x``, ``erase_y``, ``erase_size``, ``method_dropdown``, ``model_dropdown``.
        state: what is shown (:class:`~camlib.explorer.render.ExplorerState`).
    """

    def __init__(
        self,
        model_or_models: nn.Module | Mapping[str, nn.Module] | Sequence[nn.Module],
        dataset: ExplorerData,
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
        self._build_lesson(opts)
        self.image_widget = W.Image(format="png")
        self.status = W.HTML()
        self.tau_slider.add_class("cam-tau")
        self.status.add_class("cam-status")
        self.index_slider.observe(self._on_index, names="value")
        self.filter_dropdown.observe(self._on_filter, names="value")
        self.random_button.on_click(self._on_random)
        looks = [self.class_dropdown, self.tau_slider, self.norm_buttons, self.components_buttons]
        for w in [
            *looks,
            self.alpha_slider,
            self.cmap_dropdown,
            self.upsample_buttons,
            *self._lesson_widgets(),
        ]:
            w.observe(self._on_look, names="value")
        self.method_dropdown.observe(self._on_method, names="value")
        self.model_dropdown.observe(self._on_model, names="value")
        rows = [
            [self.index_slider, self.random_button, self.filter_dropdown],
            [self.class_dropdown, self.tau_slider],
            [self.norm_buttons],
            [self.components_buttons, self.curve_checkbox],
            [self.alpha_slider, self.cmap_dropdown, self.upsample_buttons],
            [self.model_dropdown, self.method_dropdown, self.channels_slider, self.twin_checkbox],
            [self.erase_dropdown, self.erase_x, self.erase_y, self.erase_size],
        ]
        views = [self.image_widget, self.curve_image, self.channels_image, self.status]
        wrap = W.Layout(flex_flow="row wrap")  # narrow screens: the controls of a row wrap, never overflow
        self.widget = W.VBox([*(W.HBox(r, layout=wrap) for r in rows), *views])
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
        if s.twin is not None or s.erase != "none":
            raise ValueError(
                "current_maps() gives the intact image's maps of one class: untick twin, erase nothing"
            )
        return {n: self.display_map(n, s.index, s.cls, s.upsample, True, s.rule) for n in self.models}

    def show(
        self,
        index: int | None = None,
        cls: int | None = None,
        tau: float | None = None,
        *,
        alpha: float | None = None,
        cmap: str | None = None,
        upsample: str | None = None,
        norm: str | None = None,
        normalised: bool | None = None,
        rule: str | None = None,
        filter: str | None = None,
        components: str | None = None,
        curve: bool | None = None,
        channels: int | None = None,
        twin: bool | None = None,
        erase: str | None = None,
        square: tuple[int, int, int] | None = None,
        method: str | None = None,
        model: str | None = None,
    ) -> ExplorerState:
        """Set controls from code, redraw once, return the new :attr:`state`.

        ``index`` is a dataset index (a new image selects its predicted class unless ``cls`` is given);
        ``filter`` is ``"all"``, ``"correct"``, ``"wrong"`` or ``"class:K"``; ``norm`` is ``"raw"``, ``"max"``
        (the paper's tau x max) or ``"minmax"`` (Choe et al.'s min-max tau); ``rule`` (``"max"`` | ``"minmax"``)
        and ``normalised`` (``False``: raw) are older names for it. ``components``: ``"largest"`` | ``"all"``;
        ``curve``, ``twin``: bools; ``channels``: 0 (off) to 8; ``erase``: ``"none"``, ``"part"``, ``"square"``
        with ``square=(x, y, size)``; ``method``: a name of :data:`camlib.cam.METHODS`; ``model``: one of
        ``model_dropdown.options``. Out-of-range values are clamped or rejected; the reason is in
        ``state.message`` and in the status line.
        """
        msgs: list[str] = []
        with self._hold():
            if model is not None:
                msgs += self._set_model(model) + self._refresh()
            if method is not None:
                msgs += self._set_method(method)
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
                (self.components_buttons, components, "boxes"),
                (self.erase_dropdown, erase, "erase"),
            ]
            msgs += [m for w, v, what in choices if v is not None for m in self._set_choice(w, v, what)]
            msgs += self._set_norm(norm, normalised, rule)
            for box, v, what in ((self.curve_checkbox, curve, "curve"), (self.twin_checkbox, twin, "twin")):
                msgs += [] if v is None else self._set_bool(box, v, what)
            msgs += [] if channels is None else self._set_int(self.channels_slider, channels, "channels")
            msgs += [] if square is None else self._set_square(square)
        self._render("; ".join(msgs))
        return self.state

    def _refresh(self) -> list[str]:
        """After a new first model: its predictions drive the class menu and the filters."""
        return self._apply_filter(self._filter_key)

    # ---- callbacks -----------------------------------------------------------------------------------------
    def _on_index(self, change: dict[str, Any]) -> None:
        if not self._busy:
            self._render("; ".join(self._set_index(change["new"])))

    def _on_filter(self, change: dict[str, Any]) -> None:
        if not self._busy:
            self._render("; ".join(self._apply_filter(change["new"])))

    def _on_method(self, change: dict[str, Any]) -> None:
        if not self._busy:
            self._render("; ".join(self._set_method(change["new"])))

    def _on_model(self, change: dict[str, Any]) -> None:
        if not self._busy:
            with self._hold():
                msgs = self._set_model(change["new"]) + self._refresh()
            self._render("; ".join(msgs))

    def _on_random(self, _button: Any = None) -> None:
        options = list(self.index_slider.options)
        others = [i for i in options if i != self.index_slider.value] or options
        self._render("; ".join(self._set_index(int(self._rng.choice(others)))))

    def _on_look(self, _change: dict[str, Any]) -> None:
        if not self._busy:
            self._render()

    def _render(self, message: str = "") -> None:
        """Redraw the images and the status line from the widgets; an error becomes a message, never a traceback."""
        try:
            index, cls = int(self.index_slider.value), int(self.class_dropdown.value)
            sc = self.scene(
                index, cls, float(self.tau_slider.value), self._look(), self._extras(), self._filter_key
            )
            img = compose(sc.panels)
            self.image_widget.value = png_bytes(img)
            self.image_widget.width, self.image_widget.height = str(img.width), str(img.height)  # 1:1 pixels
            for widget, extra in ((self.curve_image, sc.curve), (self.channels_image, sc.channels)):
                widget.layout.display = "none" if extra is None else None
                if extra is not None:
                    widget.value = png_bytes(extra)
                    widget.width, widget.height = str(extra.width), str(extra.height)
            self._state = replace(sc.state, message="; ".join(m for m in (message, *sc.notes) if m))
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
        box, with the current look (alpha, colormap, upsampling, normalisation, components). Defaults: the current
        image and tau; ``cls=None`` uses each image's predicted class (of the first model). When the current view
        has the IoU-vs-tau curve, the channels, a twin difference or an erased part, a last row shows the current
        view as the app does.

        Raises:
            ValueError: an index not explored, a class out of range or a tau outside [0, 1].
        """
        s = self.state
        idx = [s.index] if indices is None else [operator.index(i) for i in indices]
        views = [(i, cls, float(t)) for i in idx for t in ([s.tau] if taus is None else taus)]
        ex = self._extras()
        current = None
        if ex.curve or ex.channels or ex.twin or ex.erase != "none":
            current = self.scene(s.index, s.cls, s.tau, self._look(), ex, s.filter)
        return snapshot_figure(self, views, self._look(), dpi=dpi, current=current)


__all__ = ["CAMExplorer"]
