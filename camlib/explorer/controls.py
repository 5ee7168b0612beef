"""The explorer's controls: standard ipywidgets 8 widgets only (they render in JupyterLab, Colab and VS Code,
and every one is reachable by keyboard), built from the options, and the setters that change them from code.

The setters change a widget without redrawing and return warnings instead of raising: an out-of-range value is
clamped or rejected with a message that the app shows in its status line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ipywidgets as W

from camlib.cam import UPSAMPLE_MODES
from camlib.explorer.options import CMAPS, ExplorerOptions
from camlib.explorer.views import Look

_STYLE = {"description_width": "72px"}

#: the box-rule buttons: the paper's threshold (a fraction of the max) or Choe et al.'s (of the min-max range)
RULE_LABELS = {"max": "τ × max (paper: 20%)", "minmax": "min–max τ (Choe et al.)"}
RULE_TOOLTIPS = {
    "max": "the paper's rule: keep m ≥ τ × max(m), box the largest connected region (Zhou et al. use τ = 0.2)",
    "minmax": "Choe et al.'s: min-max normalise, keep m ≥ min + τ (max − min) (MaxBoxAcc's convention)",
}


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
        tau, alpha, cmap, upsample, normalised = (
            opts.tau,
            opts.alpha,
            opts.cmap,
            opts.upsample,
            opts.normalised,
        )
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
        self.rule_buttons = W.ToggleButtons(
            options=[(label, how) for how, label in RULE_LABELS.items()],
            value=opts.rule,
            description="box rule",
            tooltips=[RULE_TOOLTIPS[how] for how in RULE_LABELS],
            style={**_STYLE, "button_width": "200px"},
        )
        self.alpha_slider = _unit_slider(alpha, "alpha")
        self.cmap_dropdown = W.Dropdown(options=list(CMAPS), value=cmap, description="colormap", style=_STYLE)
        self.upsample_buttons = W.ToggleButtons(
            options=list(UPSAMPLE_MODES),
            value=upsample,
            description="upsample",
            style={**_STYLE, "button_width": "72px"},
        )
        self.map_buttons = W.ToggleButtons(
            options=[("normalised", True), ("raw", False)],
            tooltips=[
                "the map the box rule thresholds, in [0, 1]",
                "logit units, on the predicted class's scale",
            ],
            value=bool(normalised),
            description="map",
            style={**_STYLE, "button_width": "100px"},
        )

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

    def _look(self) -> Look:
        return (
            float(self.alpha_slider.value),
            str(self.cmap_dropdown.value),
            str(self.upsample_buttons.value),
            bool(self.map_buttons.value),
            str(self.rule_buttons.value),
        )
