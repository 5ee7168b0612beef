"""The CAM explorer: an ipywidgets 8 app to play with class activation maps, their boxes and the threshold.

What lives where:

- :mod:`camlib.explorer.app`: :class:`CAMExplorer`, the widgets and their callbacks.
- :mod:`camlib.explorer.options`: :class:`ExplorerOptions`, every knob in one frozen dataclass.
- :mod:`camlib.explorer.inputs`: what it accepts (models, methods, images).
- :mod:`camlib.explorer.views`: the model side without widgets (predictions, cached maps, one view).
- :mod:`camlib.explorer.render`: pure rendering (map -> panel -> PNG) and the state a view shows.
- :mod:`camlib.explorer.status`: the box rule and the status line in words.
- :mod:`camlib.explorer.snapshot`: the static fallback figure.
"""

from camlib.explorer.app import CAMExplorer
from camlib.explorer.inputs import resolve_method
from camlib.explorer.options import CMAPS, ExplorerOptions
from camlib.explorer.render import ExplorerState, PanelState
from camlib.explorer.views import CAMViews

__all__ = [
    "CMAPS",
    "CAMExplorer",
    "CAMViews",
    "ExplorerOptions",
    "ExplorerState",
    "PanelState",
    "resolve_method",
]
