"""What the explorer shows, as plain frozen values (for tests, for the browser test and for the learner's code).

Boxes are XYXY in image pixels with exclusive right/bottom edges; ``(0, 0, 0, 0)`` means "no box".
"""

from __future__ import annotations

from dataclasses import dataclass, field

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class PanelState:
    """What one model shows for the current image and class.

    Attributes:
        name: the model's name in the app (``"GAP"``, ``"zoo:gmp"``).
        method: how its map is computed (a name of :data:`camlib.cam.METHODS`, or a function's name).
        pred: its predicted class; ``prob`` the softmax probability of that prediction.
        cls_prob: the probability it gives to the class whose map is shown.
        box: the box at ``tau`` (image pixels, exclusive edges): the largest component's, or with
            ``components="all"`` the component box with the best IoU with the ground truth; ``(0, 0, 0, 0)`` = none.
        iou: IoU of ``box`` with the ground-truth box, ``None`` when the dataset has no boxes.
        n_components: the number of connected components of the thresholded map at ``tau``.
        curve: IoU at each tau of :data:`camlib.explorer.analysis.CURVE_TAUS` (``None``: curve off or no boxes).
        best_tau: the tau of the curve's maximum (the first on ties); ``best_iou`` that IoU.
        pointing: on a several-object scene, whether the map's maximum falls within the pointing game's
            tolerance of the shown class's box (``None``: not a scene, or the class is not in it).
    """

    name: str
    method: str
    pred: int
    prob: float
    cls_prob: float
    box: Box
    iou: float | None
    n_components: int = 1
    curve: tuple[float, ...] | None = field(default=None, repr=False)  # 101 numbers: not in the repr
    best_tau: float | None = None
    best_iou: float | None = None
    pointing: bool | None = None


@dataclass(frozen=True)
class ChannelState:
    """The CAM of one class split into its channels, ``M_c = sum_k w_k^c f_k`` (Zhou et al. 2016, Sec. 2).

    Attributes:
        model: the model's name; ``cls`` the class.
        top: the shown channels' ids, by their part of the class score (largest first).
        weights: ``w_k^c`` of each shown channel.
        scores: each shown channel's part of the logit: the mean of ``w_k^c f_k`` over the map (GAP's pooling).
        n_rest: how many channels the "rest" panel sums; ``rest_score`` their part of the logit.
        max_error: max over pixels of ``|sum of the parts - CAM|`` (float32 rounding only, ~1e-6).
    """

    model: str
    cls: int
    top: tuple[int, ...]
    weights: tuple[float, ...]
    scores: tuple[float, ...]
    n_rest: int
    rest_score: float
    max_error: float


@dataclass(frozen=True)
class ErasedState:
    """The image with a box blanked out, and what each model says about it.

    Attributes:
        what: ``"part"`` (the annotated part box) or ``"square"`` (the learner's square).
        box: the erased box (XYXY, exclusive edges); its pixels take the mean colour of the image's border.
        logits: per model (in panel order), its C logits on the erased image.
        preds: per model, its prediction on the erased image; ``probs`` the probability of that prediction.
        before: per model, its prediction on the intact image.
    """

    what: str
    box: Box
    logits: tuple[tuple[float, ...], ...]
    preds: tuple[int, ...]
    probs: tuple[float, ...]
    before: tuple[int, ...]


@dataclass(frozen=True)
class ExplorerState:
    """Everything the explorer shows, as plain values.

    Attributes:
        index: dataset index of the image; ``label`` its true class; ``cls`` the class whose map is shown.
        tau: the threshold; ``alpha``, ``cmap``, ``upsample``, ``normalised`` (shown normalised or raw): the look.
        rule: the box rule: ``"max"`` keeps ``m >= tau * max(m)`` (the paper's), ``"minmax"`` keeps the min-max
            normalised map ``>= tau`` (Choe et al.'s).
        filter: the image filter (``"all"``, ``"correct"``, ``"wrong"`` or ``"class:K"``).
        gt_box: the ground-truth box (XYXY, exclusive edges) or ``None``; ``part_box`` the part's box or ``None``.
        panels: one :class:`PanelState` per model, the first model first.
        message: the last warning (an out-of-range value that was clamped or rejected), else ``""``.
        norm: the normalisation control: ``"raw"``, ``"max"`` (÷ max, the paper's) or ``"minmax"`` (Choe et al.'s);
            ``rule`` and ``normalised`` follow from it.
        components: ``"largest"`` (the paper's box) or ``"all"`` (every component, MaxBoxAccV2's view).
        twin: the twin class whose map is subtracted from ``cls``'s, or ``None``.
        erase: ``"none"``, ``"part"`` or ``"square"``; ``erased`` what the models say about the erased image.
        channels: the channel decomposition of the first model's map, or ``None`` when off.
        present: on a several-object scene, the classes in it (``gt_box``/``part_box`` are then the shown
            class's, ``None`` when it is absent); ``None`` for a single-object image.
    """

    index: int
    label: int
    cls: int
    tau: float
    alpha: float
    cmap: str
    upsample: str
    normalised: bool
    rule: str
    filter: str
    gt_box: Box | None
    part_box: Box | None
    panels: tuple[PanelState, ...]
    message: str = ""
    norm: str = "max"
    components: str = "largest"
    twin: int | None = None
    erase: str = "none"
    erased: ErasedState | None = None
    channels: ChannelState | None = None
    present: tuple[int, ...] | None = None

    @property
    def pred_box(self) -> Box:
        """The first model's box."""
        return self.panels[0].box

    @property
    def iou(self) -> float | None:
        """The first model's IoU with the ground truth."""
        return self.panels[0].iou


__all__ = ["Box", "ChannelState", "ErasedState", "ExplorerState", "PanelState"]
