"""A planted shortcut, measured: what a model does when the corner mark agrees, lies or is gone, and where its maps go.

:class:`~camlib.data.shapes.ShortcutShapes` pastes a small corner mark whose colour agrees with the class in most
training images. :func:`mark_variants` gives the SAME test images (same creatures, same corners) under four marks:

- ``"agree"``: the mark has the class's colour in every image (what most training images showed);
- ``"random"``: its colour is uniform over the classes (the test split's default; it agrees in 1/6 by chance);
- ``"contradict"``: it always has another class's colour;
- ``"none"``: no mark: the clean images of :class:`~camlib.data.shapes.Shapes`.

:func:`shortcut_scores` measures one model on one variant: accuracy; how often the prediction is the mark's colour
class where that colour is not the true class (``follows_mark``: a model that reads only the creature scores about
0); and, for the CAM of the PREDICTED class (what the decision used; bilinear to the image), the share of its
positive mass inside the mark's box (``mass_on_mark``: the box is 36 of 4,096 pixels at 64 px) and inside the
creature's box (``mass_on_object``), and how often its maximum lies in the mark's box (``peak_on_mark``).
:func:`peak_histogram` shows where a set of maps peak without knowing where to look.

>>> variants = mark_variants(size=4, image_size=64)
>>> sorted(variants), variants["contradict"].agreement
(['agree', 'contradict', 'none', 'random'], 0.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from camlib.cam import get_method, upsample
from camlib.data.shapes import ShortcutShapes
from camlib.localization.multi import box_pixels, positive_mass_share

VARIANTS = ("agree", "random", "contradict", "none")


def mark_variants(
    split: str = "test", size: int | None = None, image_size: int | None = None, seed: int = 0
) -> dict[str, ShortcutShapes]:
    """The same ``split`` images under each mark of :data:`VARIANTS` (see the module's docstring)."""
    kw: dict[str, Any] = {"size": size, "image_size": image_size, "seed": seed}
    return {
        "agree": ShortcutShapes(split, **kw, mark="agree", agreement=1.0),
        "random": ShortcutShapes(split, **kw, mark="random"),
        "contradict": ShortcutShapes(split, **kw, mark="agree", agreement=0.0),
        "none": ShortcutShapes(split, **kw, mark="none"),
    }


def peak_histogram(maps: Tensor, grid: int) -> Tensor:
    """Where maps peak: the share of maps whose maximum falls in each cell of a ``grid`` x ``grid`` partition.

    Args:
        maps: (B, H, W) maps (any values; H and W multiples of ``grid``).
        grid: cells per side.

    Returns:
        (grid, grid) float32 shares summing to 1; cell ``[r, c]`` covers rows ``r H / grid`` to
        ``(r + 1) H / grid`` and the same for columns. A map's maximum is its first in row-major order.

    >>> m = torch.zeros(2, 4, 4); m[0, 0, 3] = 1.0; m[1, 3, 0] = 1.0  # top-right, bottom-left
    >>> peak_histogram(m, 2).tolist()
    [[0.0, 0.5], [0.5, 0.0]]
    """
    if maps.dim() != 3 or maps.shape[-2] % grid or maps.shape[-1] % grid or len(maps) == 0:
        raise ValueError(
            f"maps must be (B, H, W) with B >= 1 and H, W multiples of grid={grid}, got {tuple(maps.shape)}: "
            f"upsample them to the image (camlib.cam.upsample) or pick a grid that divides the size"
        )
    h, w = maps.shape[-2:]
    idx = maps.flatten(1).argmax(1)  # (B,) the first maximum, row-major
    cells = (idx // w) * grid // h * grid + (idx % w) * grid // w  # (B,) cell id, row-major
    return (cells.bincount(minlength=grid * grid).float() / len(maps)).reshape(grid, grid)


@dataclass(frozen=True)
class ShortcutScore:
    """One model on one mark variant; every share in percent (``None`` where it does not apply).

    Attributes:
        images: how many images were scored.
        accuracy: top-1 accuracy.
        follows_mark: among the images whose mark has another class's colour, the share predicted as that class.
        mass_on_mark: mean share of the predicted class's positive CAM mass inside the mark's box.
        mass_on_object: the same inside the creature's box.
        peak_on_mark: share of predicted-class maps whose maximum lies in the mark's box.
    """

    images: int
    accuracy: float
    follows_mark: float | None
    mass_on_mark: float | None
    mass_on_object: float
    peak_on_mark: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct(x: Tensor) -> float:
    return round(100.0 * float(x.float().mean()), 2)


@torch.no_grad()
def shortcut_scores(
    model: nn.Module, dataset: ShortcutShapes, batch_size: int = 250, method: str = "cam"
) -> ShortcutScore:
    """Score ``model`` on every image of ``dataset`` (see the module's docstring); the model's mode is kept.

    Raises:
        ValueError: ``dataset`` is not a :class:`~camlib.data.shapes.ShortcutShapes` (its marks are needed).
    """
    if not isinstance(dataset, ShortcutShapes):
        raise ValueError(
            f"shortcut_scores needs a ShortcutShapes dataset (it reads each image's mark), got "
            f"{type(dataset).__name__}: use mark_variants(...)[name]"
        )
    correct, follows, on_mark, on_obj, peak = [], [], [], [], []
    for start in range(0, len(dataset), batch_size):
        batch, marks = dataset.batch_with_marks(range(start, min(start + batch_size, len(dataset))))
        assert batch.boxes is not None
        with torch.enable_grad():  # gradient-based methods need it; CAM ignores it
            out = get_method(method)(model, batch.images)  # the predicted class's map
        pred = out.classes.reshape(-1)  # (B,)
        maps = upsample(out.maps.float(), (int(batch.images.shape[-2]), int(batch.images.shape[-1])))[
            :, 0
        ]  # (B, H, W)
        correct.append(pred == batch.labels)
        on_obj.append(positive_mass_share(maps, batch.boxes))
        if dataset.mark != "none":
            lying = marks.colour_class != batch.labels
            follows.append((pred == marks.colour_class)[lying])
            on_mark.append(positive_mass_share(maps, marks.boxes))
            inside = box_pixels(marks.boxes, *maps.shape[-2:]).flatten(1)  # (B, H*W)
            peak.append(inside.gather(1, maps.flatten(1).argmax(1, keepdim=True))[:, 0])
    marked = dataset.mark != "none"
    follow = torch.cat(follows) if marked else torch.zeros(0)
    return ShortcutScore(
        images=len(dataset),
        accuracy=_pct(torch.cat(correct)),
        follows_mark=_pct(follow) if marked and len(follow) else None,
        mass_on_mark=_pct(torch.cat(on_mark)) if marked else None,
        mass_on_object=_pct(torch.cat(on_obj)),
        peak_on_mark=_pct(torch.cat(peak)) if marked else None,
    )
