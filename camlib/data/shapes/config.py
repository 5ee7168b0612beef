"""The knobs of the embedded dataset: :class:`ShapesConfig` and its ready-made presets.

A leaf of :mod:`camlib.data.shapes`: the dataset and the scene both read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MAX_CLUTTER = 50  # clutter items per image at most (2 * the clutter knob)
MAX_DISTRACTORS = 3


@dataclass(frozen=True)
class ShapesConfig:
    """Difficulty knobs of :class:`Shapes`.

    Attributes:
        scale_range: ``(lo, hi)`` length of the creature (its longer side) as a fraction of the image side,
            drawn uniformly per image; ``0 < lo <= hi <= 0.9``.
        clutter: mean number of clutter blobs and strokes per image (each image draws ``0..2*clutter``
            uniformly); 0 leaves the plain textured background. At most 25.
        distractors: objects of no class per image (a striped cart on wheels), drawn behind the creature;
            0 to 3.
    """

    scale_range: tuple[float, float] = (0.3, 0.65)
    clutter: float = 4.0
    distractors: int = 0

    def __post_init__(self) -> None:
        lo, hi = self.scale_range
        if not (0 < lo <= hi <= 0.9):
            raise ValueError(
                f"scale_range must satisfy 0 < lo <= hi <= 0.9 (fractions of the image side), got "
                f"{self.scale_range}: e.g. scale_range=(0.3, 0.65)"
            )
        if not (0 <= self.clutter <= MAX_CLUTTER / 2):
            raise ValueError(
                f"clutter must be between 0 and {MAX_CLUTTER / 2} items per image, got {self.clutter}"
            )
        if not (0 <= self.distractors <= MAX_DISTRACTORS) or int(self.distractors) != self.distractors:
            raise ValueError(
                f"distractors must be an integer from 0 to {MAX_DISTRACTORS}, got {self.distractors!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        d = asdict(self)
        d["scale_range"] = list(self.scale_range)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShapesConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        if "scale_range" in d:
            d["scale_range"] = tuple(d["scale_range"])
        return cls(**d)


#: ready-made difficulty settings
PRESETS: dict[str, ShapesConfig] = {
    "easy": ShapesConfig(scale_range=(0.4, 0.65), clutter=0.0),
    "default": ShapesConfig(),
    "hard": ShapesConfig(scale_range=(0.25, 0.5), clutter=8.0, distractors=2),
}
