"""The course's colours for boxes, in every figure and in the explorer (matplotlib colour names).

>>> rgb255(GT_COLOUR)
(0, 255, 0)
"""

from __future__ import annotations

from matplotlib.colors import to_rgb

GT_COLOUR = "lime"  # the ground-truth box
PRED_COLOUR = "white"  # the box taken from a map
PART_COLOUR = "magenta"  # the discriminative part's box


def rgb255(name: str) -> tuple[int, int, int]:
    """A matplotlib colour name as an 8-bit RGB triple."""
    r, g, b = to_rgb(name)
    return round(r * 255), round(g * 255), round(b * 255)
