"""The CAM explorer: an ipywidgets 8 app to play with class activation maps, their boxes and the threshold.

What lives where:

- :mod:`camlib.explorer.app`: :class:`CAMExplorer`, the widgets and their callbacks.
- :mod:`camlib.explorer.options`: :class:`ExplorerOptions`, every knob in one frozen dataclass.
- :mod:`camlib.explorer.inputs`: what it accepts (models, methods, images).
- :mod:`camlib.explorer.controls`: the basic controls (image, class, tau, normalisation, boxes, look).
- :mod:`camlib.explorer.lesson`: the lesson's controls (curve, channels, twin, erase, method, model) and setters.
- :mod:`camlib.explorer.views`: the model side without widgets (predictions, cached maps, models and methods).
- :mod:`camlib.explorer.scene`: one view composed: panels, curve, channels, and its state.
- :mod:`camlib.explorer.analysis`: boxes and IoU at every tau, the channel decomposition, erasing, twins.
- :mod:`camlib.explorer.render` and :mod:`camlib.explorer.plots`: pure rendering (numpy + PIL -> PNG).
- :mod:`camlib.explorer.state`: what a view shows, as plain values.
- :mod:`camlib.explorer.status`: the box rule and the status line in words.
- :mod:`camlib.explorer.snapshot`: the static fallback figure.

- :mod:`camlib.explorer.scenes_data`: several-object scenes (:class:`~camlib.data.shapes.MultiShapes`, or a list
  of its scenes, as the dataset): each class's view uses that class's own box and part box, and the pointing game.
"""

from camlib.explorer.analysis import CURVE_TAUS, boxes_at, decompose, erase, shapes_twins, twin_table
from camlib.explorer.app import CAMExplorer
from camlib.explorer.inputs import resolve_method
from camlib.explorer.options import CMAPS, ExplorerOptions
from camlib.explorer.scene import Extras, Look
from camlib.explorer.state import ChannelState, ErasedState, ExplorerState, PanelState
from camlib.explorer.views import CAMViews

__all__ = [
    "CMAPS",
    "CURVE_TAUS",
    "CAMExplorer",
    "CAMViews",
    "ChannelState",
    "ErasedState",
    "ExplorerOptions",
    "ExplorerState",
    "Extras",
    "Look",
    "PanelState",
    "boxes_at",
    "decompose",
    "erase",
    "resolve_method",
    "shapes_twins",
    "twin_table",
]
