"""The embedded weakly-labelled dataset (see :mod:`camlib.data.shapes.dataset`).

What lives where: :mod:`~camlib.data.shapes.config` (the knobs and presets), :mod:`~camlib.data.shapes.dataset`
(:class:`Shapes`), :mod:`~camlib.data.shapes.scene` (composing an image), :mod:`~camlib.data.shapes.classes`
(the creatures and their parts), :mod:`~camlib.data.shapes.draw` (rasterising primitives, tiles, palette),
:mod:`~camlib.data.shapes.rng` (counter-based random streams).
"""

from camlib.data.shapes.config import PRESETS, ShapesConfig
from camlib.data.shapes.dataset import SPLITS, Shapes, mean_box_size

__all__ = ["PRESETS", "SPLITS", "Shapes", "ShapesConfig", "mean_box_size"]
