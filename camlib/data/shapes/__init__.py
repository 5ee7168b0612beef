"""The embedded weakly-labelled dataset (see :mod:`camlib.data.shapes.dataset`).

What lives where: :mod:`~camlib.data.shapes.config` (the knobs and presets), :mod:`~camlib.data.shapes.dataset`
(:class:`Shapes`), :mod:`~camlib.data.shapes.scene` (composing an image), :mod:`~camlib.data.shapes.classes`
(the creatures and their parts), :mod:`~camlib.data.shapes.draw` (rasterising primitives, tiles, palette),
:mod:`~camlib.data.shapes.rng` (counter-based random streams), :mod:`~camlib.data.shapes.multi`
(:class:`MultiShapes`: scenes of 2-3 creatures of different classes) and :mod:`~camlib.data.shapes.layout`
(where a scene's creatures go: :class:`MultiConfig`, the overlap bound), :mod:`~camlib.data.shapes.shortcut`
(:class:`ShortcutShapes`: a planted shortcut, a corner mark whose colour agrees with the class; :class:`Marks`).
"""

from camlib.data.shapes.config import PRESETS, ShapesConfig
from camlib.data.shapes.dataset import SPLITS, Shapes, mean_box_size
from camlib.data.shapes.layout import MultiConfig, box_overlap
from camlib.data.shapes.multi import MultiShapes, Scene, SceneBatch
from camlib.data.shapes.shortcut import Marks, ShortcutShapes

__all__ = [
    "PRESETS",
    "SPLITS",
    "Marks",
    "MultiConfig",
    "MultiShapes",
    "Scene",
    "SceneBatch",
    "Shapes",
    "ShapesConfig",
    "ShortcutShapes",
    "box_overlap",
    "mean_box_size",
]
