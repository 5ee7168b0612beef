"""The explorer's controls: standard ipywidgets 8 widgets only (they render in JupyterLab, Colab and VS Code,
and every one is reachable by keyboard), built from the options, and the setters that change them from code.

The setters change a widget without redrawing and return warnings instead of raising: an out-of-range value is
clamped or rejected with a message that the app shows in its status line.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ipywidgets as W

from camlib.cam import UPSAMPLE_MODES
from camlib.explorer.options import CMAPS, ExplorerOptions
from camlib.explorer.scene import Look

_STYLE = {"description_width": "72px"}

#: the normalisation buttons, in the course's vocabulary (:data:`camlib.cam.NORMALIZATION_LABELS`); the box
#: keeps the shown map >= tau x its max: on a raw or max-normalised map the paper's rule, on a min-max one Choe et al.'s
NORM_LABELS = {"raw": "raw map", "max": "÷ max (paper: 20% rule)", "minmax": "min–max (Choe et al.)"}
NORM_TOOLTIPS = {
    "raw": "the map in logit units; the box: the paper's rule m ≥ τ × max(m)",
    "max": "max-normalised: ReLU(m) ÷ max(m); the paper's rule keeps m ≥ τ × max (Zhou et al. use τ = 0.2)",
    "minmax": "min–max normalised to [0, 1]; the box keeps m ≥ min + τ (max − min) (Choe et al.'s MaxBoxAcc)",
}
COMPONENT_LABELS = {"largest": "largest component (paper)", "all": "all components (MaxBoxAccV2)"}


def _unit_slider(value: float, description: str, **kw: Any) -> W.FloatSlider:
    return W.FloatSlider(
        value=value,
        min=0.0,
        max=1.0,
        step=0.05,
        description=description,
        readout_format=".2f",
        style=_STYLE,
        **kw,
    )


class ExplorerControls:
    """The widgets of :class:`~camlib.explorer.app.CAMExplorer` and the setters that drive them from code."""

    _busy = 0
    _filter_key = "all"

    def _build_controls(
        self, opts: ExplorerOptions, indices: Sequence[int], class_names: Sequence[str], first: str
    ) -> None:
        """Create every control with its first value (no callbacks yet)."""
        tau, alpha, cmap, upsample = opts.tau, opts.alpha, opts.cmap, opts.upsample
        norm = "raw" if not opts.normalised else opts.rule
        filters = [
            ("all images", "all"),
            (f"correctly classified ({first})", "correct"),
            (f"misclassified ({first})", "wrong"),
        ]
        filters += [(f"true class: {n}", f"class:{c}") for c, n in enumerate(class_names)]
        self.filter_dropdown = W.Dropdown(options=filters, value="all", description="show", style=_STYLE)
        self.index_slider = W.SelectionSlider(
            options=indices, description="image", style=_STYLE, layout=W.Layout(width="420px")
        )
        self.random_button = W.Button(description="random", icon="random", layout=W.Layout(width="90px"))
        self.class_dropdown = W.Dropdown(description="class", style=_STYLE, layout=W.Layout(width="420px"))
        self.tau_slider = _unit_slider(tau, "τ (box)", layout=W.Layout(width="420px"))
        self.norm_buttons = W.ToggleButtons(
            options=[(label, how) for how, label in NORM_LABELS.items()],
            value=norm,
            description="normalise",
            tooltips=[NORM_TOOLTIPS[how] for how in NORM_LABELS],
            style={**_STYLE, "button_width": "215px"},  # the labels fit whole
        )
        self.components_buttons = W.ToggleButtons(
            options=[(label, how) for how, label in COMPONENT_LABELS.items()],
            value="largest",
            description="boxes",
            tooltips=[
                "the paper's box: the largest connected region above the threshold",
                "every connected region: the one whose box fits the ground truth best (MaxBoxAccV2)",
            ],
            style={**_STYLE, "button_width": "245px"},
        )
        self.alpha_slider = _unit_slider(alpha, "alpha")
        self.cmap_dropdown = W.Dropdown(options=list(CMAPS), value=cmap, description="colormap", style=_STYLE)
        self.upsample_buttons = W.ToggleButtons(
            options=list(UPSAMPLE_MODES),
            value=upsample,
            description="upsample",
            style={**_STYLE, "button_width": "72px"},
        )
        for w, cls in ((self.norm_buttons, "cam-norm"), (self.components_buttons, "cam-components")):
            w.add_class(cls)

    @contextmanager
    def _hold(self) -> Iterator[None]:
        """Widget changes inside the block trigger no redraw."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1

    def _set_unit(self, widget: W.FloatSlider, value: Any, what: str) -> list[str]:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return [f"{what} must be a number in [0, 1], got {value!r}"]
        if math.isnan(v):
            return [f"{what} must be a number in [0, 1], got NaN: kept {widget.value:.2f}"]
        clamped = min(max(v, widget.min), widget.max)
        with self._hold():
            widget.value = clamped
        return [] if clamped == v else [f"{what} = {v:g} is outside [0, 1]: using {clamped:g}"]

    def _set_choice(self, widget: Any, value: Any, what: str) -> list[str]:
        values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        if value not in values:
            return [f"unknown {what} {value!r}: use one of {values}"]
        with self._hold():
            widget.value = value
        return []

    def _set_int(self, widget: W.IntSlider, value: Any, what: str) -> list[str]:
        try:
            v = operator.index(value)
        except TypeError:
            return [f"{what} must be an integer in {widget.min}..{widget.max}, got {value!r}"]
        clamped = min(max(v, widget.min), widget.max)
        with self._hold():
            widget.value = clamped
        return (
            [] if clamped == v else [f"{what} = {v} is outside {widget.min}..{widget.max}: using {clamped}"]
        )

    def _set_bool(self, widget: W.Checkbox, value: Any, what: str) -> list[str]:
        if not isinstance(value, bool):
            return [f"{what} must be True or False, got {value!r}"]
        with self._hold():
            widget.value = value
        return []

    def _set_norm(self, norm: Any, normalised: Any, rule: Any) -> list[str]:
        """The normalisation, from ``norm`` or the older ``normalised`` / ``rule`` (``rule="minmax"``: min-max,
        ``rule="max"``: ÷ max, ``normalised=False``: raw)."""
        if norm is None and rule is not None:
            norm = rule if rule != "max" or normalised is not False else "raw"
        elif norm is None and normalised is not None:
            if not isinstance(normalised, bool):
                return [f"normalised must be True or False, got {normalised!r}"]
            cur = self.norm_buttons.value
            norm = "raw" if not normalised else ("max" if cur == "raw" else cur)
        if norm is None:
            return []
        return self._set_choice(self.norm_buttons, norm, "box rule" if rule is not None else "normalisation")

    def _look(self) -> Look:
        return Look(
            float(self.alpha_slider.value),
            str(self.cmap_dropdown.value),
            str(self.upsample_buttons.value),
            str(self.norm_buttons.value),
            str(self.components_buttons.value),
        )
