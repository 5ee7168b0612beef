"""Every knob of the CAM explorer, in one frozen dataclass, checked once.

>>> ExplorerOptions(tau=0.3).tau
0.3
>>> ExplorerOptions(cmap="hot")
Traceback (most recent call last):
...
ValueError: cmap must be one of ('jet', 'viridis', 'inferno', 'magma', 'turbo', 'gray'), got 'hot'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from camlib.cam import METHODS, NORMALIZATIONS, UPSAMPLE_MODES, MapMethod

CMAPS = ("jet", "viridis", "inferno", "magma", "turbo", "gray")
Method = str | MapMethod


@dataclass(frozen=True)
class ExplorerOptions:
    """What the explorer shows first, and how it computes it.

    Attributes:
        class_names: names by class id; default the dataset's ``class_names``, else ``"0"``, ``"1"``, ...
        method: a name of :data:`camlib.cam.METHODS` or a function ``(model, x, classes) -> CAMOutput``; default
            ``None``: ``"cam"`` for a model with a GAP head, ``"gradcam"`` for any other
            (:func:`camlib.cam.default_method`).
        methods: per-model override of ``method``, e.g. ``{"FC": "saliency"}``.
        indices: the dataset indices to explore (default all); their images are held in memory.
        top_k: predictions of the first model listed in the class menu (the true class is always added).
        tau: the first threshold, in [0, 1]; what it is a fraction of depends on ``rule``.
        rule: the box rule, i.e. the normalisation the box is thresholded on (:data:`camlib.cam.NORMALIZATIONS`):
            ``"max"`` (default): the paper's rule, keep ``m >= tau * max(m)`` (Zhou et al. use tau = 0.2);
            ``"minmax"``: Choe et al.'s, keep the min-max normalised map ``>= tau``, i.e.
            ``m >= min + tau * (max - min)`` (the convention of MaxBoxAcc, notebook 07).
        alpha: overlay opacity, in [0, 1].
        cmap: colormap, one of :data:`CMAPS`.
        upsample: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
        normalised: show the map the box rule thresholds (``True``: normalised as ``rule`` says, in [0, 1]) or the
            raw map (``False``; logit units, every class on the scale of the predicted class's peak; the box is
            the paper's rule). The app's one normalisation control starts at ``"raw"`` when ``normalised`` is
            ``False``, else at ``rule`` (``"max"`` or ``"minmax"``).
        display_size: approximate side of each displayed panel in pixels (images are upscaled nearest).
        seed: seed of the "random" button.
        batch_size: images per forward pass when predicting the whole set.
        twins: ``{class name: its twin's name}`` for the twin difference; default the dataset's ``twins``
            attribute, else the embedded dataset's (:func:`camlib.data.shapes.classes.shapes_twins`).
        catalogue: the models the model drop-down offers besides the app's own, ``{label: model or a function
            that loads it}``; default ``None``: every shipped checkpoint, as ``"zoo:<name>"`` (:mod:`camlib.zoo`),
            loaded when chosen; ``{}``: none.

    Raises:
        ValueError: a value out of range or not among the choices; the message lists the valid ones.
    """

    class_names: Sequence[str] | None = None
    method: Method | None = None
    methods: Mapping[str, Method] | None = None
    indices: Sequence[int] | None = None
    top_k: int = 5
    tau: float = 0.2
    rule: str = "max"
    alpha: float = 0.5
    cmap: str = "jet"
    upsample: str = "bilinear"
    normalised: bool = True
    display_size: int = 256
    seed: int = 0
    batch_size: int = 256
    twins: Mapping[str, str] | None = None
    catalogue: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("tau", "alpha"):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or not 0 <= v <= 1
            ):
                raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
        if self.cmap not in CMAPS:
            raise ValueError(f"cmap must be one of {CMAPS}, got {self.cmap!r}")
        if self.rule not in NORMALIZATIONS:
            raise ValueError(
                f"rule must be one of {NORMALIZATIONS} ('max': the paper's tau x max; 'minmax': Choe et al.'s "
                f"min-max tau), got {self.rule!r}"
            )
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {self.upsample!r}")
        for name in ("top_k", "display_size", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for m in [self.method, *(self.methods or {}).values()]:
            if isinstance(m, str) and m not in METHODS:
                raise ValueError(f"unknown method {m!r}: use one of {sorted(METHODS)} or a function")
        if self.catalogue is not None and (
            not isinstance(self.catalogue, Mapping)
            or not all(isinstance(k, str) and callable(v) for k, v in self.catalogue.items())
        ):
            raise ValueError(
                "catalogue must map labels to models or to functions that load one, e.g. "
                "{'zoo:gap': functools.partial(camlib.zoo.load, 'gap')}; {} offers none"
            )
        if self.twins is not None and (
            not isinstance(self.twins, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in self.twins.items())
        ):
            raise ValueError(
                "twins must map class names to class names, e.g. {'shark': 'fish', 'fish': 'shark'}"
            )
