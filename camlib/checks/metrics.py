"""Exercise self-checks on localization metrics: BoxAcc(τ, δ) and MaxBoxAcc, and τ chosen on the validation split.

BoxAcc (Choe et al., CVPR 2020) of min-max normalised maps at a threshold τ: the % of images whose box of the
largest connected component of ``m >= τ`` has IoU >= δ with one of the image's GT boxes; MaxBoxAcc is its best
value over the τ grid. The references use ``camlib.boxes`` (the tests compare them with
``camlib.metrics.MaxBoxAccMeter`` and ``camlib.localization.select_tau``). The τ exercise gets the test split
only as a sealed measurement (:class:`SealedTest`): measuring test at several τ, the test-oracle that Choe et al.
warn against, is refused with a message. ``SPECS`` lists the checks for :data:`camlib.checks.CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from camlib.boxes import all_component_boxes, iou, largest_component_box
from camlib.checks.runner import CheckResult, CheckSpec, Mistake


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _best_ious(
    maps: Tensor, gt: Sequence[Tensor], tau: float, every: bool = False, first: bool = False
) -> Tensor:
    """(B,) each image's best IoU at ``tau`` (largest component, or every component's box)."""
    boxes = all_component_boxes(maps, tau) if every else list(largest_component_box(maps, tau)[:, None])
    out = []
    for pred, g in zip(boxes, gt, strict=True):
        g = g[:1] if first else g
        out.append(float(iou(pred, g).max()) if len(pred) else 0.0)
    return torch.tensor(out, dtype=torch.float64)


def _ious(maps: Tensor, gt: Sequence[Tensor], taus: Tensor, **kw: bool) -> Tensor:
    return torch.stack([_best_ious(maps, gt, float(t), **kw) for t in taus.tolist()])  # (T, B)


def _curve(maps: Tensor, gt: Sequence[Tensor], taus: Tensor, delta: float = 0.5, **kw: bool) -> Tensor:
    return 100 * (_ious(maps, gt, taus, **kw) >= delta).float().mean(1)  # (T,) in %


def _box_acc(maps: Tensor, gt: Sequence[Tensor], taus: Tensor, delta: float) -> tuple[Tensor, float]:
    curve = _curve(maps, gt, taus, delta)
    return curve, float(curve.max())


def maps_and_boxes(seed: int, n: int, size: int = 16) -> tuple[Tensor, list[Tensor]]:
    """``n`` min-max maps (a blob of random strength on noise) and their GT boxes (some images have two)."""
    g = _gen(seed)
    maps = torch.rand(n, size, size, generator=g) * 0.3  # (n, S, S)
    gt = []
    for i in range(n):
        y, x = (int(v) for v in torch.randint(0, size - 8, (2,), generator=g))
        h, w = (int(v) for v in torch.randint(3, 8, (2,), generator=g))
        maps[i, y : y + h, x : x + w] += 0.4 + 0.6 * torch.rand(h, w, generator=g)  # the object's evidence
        box = torch.tensor([[x, y, x + w, y + h]], dtype=torch.float32)
        gy, gx = (y, x) if i % 3 else (max(y - 2, 0), max(x - 2, 0))  # every third GT box is a bit larger
        box[0, :2] = torch.tensor([gx, gy], dtype=torch.float32)
        extra = torch.tensor([[0.0, 0.0, 2.0, 2.0]]) if i % 4 == 1 else torch.zeros(0, 4)
        gt.append(torch.cat([extra, box]))  # an image with two GT boxes lists the wrong one first
    lo, hi = maps.flatten(1).amin(1)[:, None, None], maps.flatten(1).amax(1)[:, None, None]
    return (maps - lo) / (hi - lo), gt


def _two_blobs() -> tuple[Tensor, list[Tensor]]:
    """Three images on a zero background: a large blob that is not the object beside the small object (only the
    box of every component finds it); an object whose 0.7 halo makes the box too large below tau 0.7; a weak
    object (0.3) around a small peak, boxed right only below tau 0.3."""
    m = torch.zeros(3, 16, 16)
    m[0, 0:6, 0:6], m[0, 10:13, 10:13] = 1.0, 0.5  # image 0: the object is the small blob
    m[1, 3:11, 3:11] = 0.7
    m[1, 5:9, 5:9] = 1.0  # image 1: the object, inside its halo
    m[2, 2:10, 2:10] = 0.3
    m[2, 2:4, 2:4] = 1.0  # image 2: the weak object and its peak
    gt = [[10.0, 10.0, 13.0, 13.0], [5.0, 5.0, 9.0, 9.0], [2.0, 2.0, 10.0, 10.0]]
    return m, [torch.tensor([b]) for b in gt]


def _box_acc_cases() -> list[tuple[Tensor, list[Tensor], Tensor, float]]:
    exact = torch.zeros(1, 8, 8)
    exact[0, 0:4, 0:8] = 1.0  # its box (0, 0, 8, 4) has IoU exactly 0.5 with the GT box (0, 0, 8, 8)
    m, gt = maps_and_boxes(40, 8)
    taus = torch.arange(0, 1, 0.1)
    return [
        (exact, [torch.tensor([[0.0, 0.0, 8.0, 8.0]])], taus, 0.5),
        (*_two_blobs(), taus, 0.5),
        (m, gt, taus, 0.5),
        (m, gt, torch.arange(0, 1, 0.05), 0.7),
    ]


BOX_ACC = CheckSpec(
    "check_box_acc",
    _box_acc,
    _box_acc_cases(),
    [
        Mistake(
            lambda m, g, t, d: _box_acc(m, g, t, d + 1e-9),
            "a box counts when IoU >= delta: an IoU of exactly delta is a hit",
        ),
        Mistake(
            lambda m, g, t, d: (_curve(m, g, t, d), float(100 * (_ious(m, g, t) >= d).any(0).float().mean())),
            "MaxBoxAcc is the best tau for the whole set, max over tau of the curve, not each image's own best tau",
        ),
        Mistake(
            lambda m, g, t, d: (_curve(m, g, t, d, first=True), float(_curve(m, g, t, d, first=True).max())),
            "an image may have several GT boxes: take the best IoU over ALL of them",
        ),
        Mistake(
            lambda m, g, t, d: (_curve(m, g, t, d) / 100, float(_curve(m, g, t, d).max()) / 100),
            "BoxAcc is a percentage: multiply the fraction of images by 100",
        ),
        Mistake(
            lambda m, g, t, d: (_curve(m, g, t, d, every=True), float(_curve(m, g, t, d, every=True).max())),
            "MaxBoxAcc boxes the LARGEST component only (every component's box is MaxBoxAccV2's rule)",
        ),
    ],
)


def check_box_acc(
    fn: Callable[[Tensor, Sequence[Tensor], Tensor, float], tuple[Tensor, float]],
) -> CheckResult:
    """Exercise: ``fn(maps (B, H, W) min-max, gt_boxes [B x (G_i, 4)], taus (T,), delta) -> (curve (T,), best)``,
    BoxAcc(tau, delta) in % at every tau and MaxBoxAcc, its max over tau."""
    return BOX_ACC.run(fn)


# --- 07: tau chosen on validation, test measured once ----------------------------------------------------


class SealedSplitError(RuntimeError):
    """Raised when the test split is measured a second time: the threshold must come from validation only."""


class SealedTest:
    """The test split, sealed: ``test_at(tau)`` gives BoxAcc(tau, 0.5) in % on it, ONCE.

    A second measurement raises :class:`SealedSplitError`: trying several thresholds on test and keeping the best
    is choosing tau on the test images (the test-oracle threshold of Choe et al., CVPR 2020).
    """

    def __init__(self, maps: Tensor, gt: Sequence[Tensor]) -> None:
        self.maps, self.gt, self.calls = maps, list(gt), 0

    def __call__(self, tau: float) -> float:
        self.calls += 1
        if self.calls > 1:
            raise SealedSplitError(
                "the test split is measured ONCE, at the tau chosen on validation; measuring it at several taus "
                "to keep the best is the test-oracle threshold (Choe et al., CVPR 2020). Choose tau from the "
                "validation curve, then call test_at(tau) once"
            )
        return float(_curve(self.maps, self.gt, torch.tensor([float(tau)]))[0])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SealedTest)
            and self.calls == other.calls
            and torch.equal(self.maps, other.maps)
            and len(self.gt) == len(other.gt)
            and all(torch.equal(a, b) for a, b in zip(self.gt, other.gt, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]  # mutable (it counts its calls)

    def __repr__(self) -> str:
        return f"SealedTest({len(self.gt)} test images, measured once)"


def _choose(m: Tensor, g: Sequence[Tensor], t: Tensor, last: bool = False, **kw: bool) -> float:
    curve = _curve(m, g, t, 0.5, **kw)
    best = int(curve.argmax()) if not last else len(curve) - 1 - int(curve.flip(0).argmax())
    return float(t[best])


def _choose_tau(m: Tensor, g: Sequence[Tensor], t: Tensor, test_at: SealedTest) -> tuple[float, float]:
    tau = _choose(m, g, t)
    return tau, test_at(tau)


def _choose_tau_cases() -> list[tuple[Tensor, list[Tensor], Tensor, SealedTest]]:
    val_m, val_g = maps_and_boxes(50, 10)
    test_m, test_g = maps_and_boxes(51, 10)
    two = _two_blobs()  # its first two images: the largest component's curve peaks at 0.8, every one's at 0.1
    return [
        (two[0][:2], two[1][:2], torch.arange(0, 1, 0.1), SealedTest(test_m, test_g)),
        (val_m, val_g, torch.arange(0, 1, 0.1), SealedTest(test_m, test_g)),
        (test_m, test_g, torch.arange(0, 1, 0.05), SealedTest(val_m, val_g)),
    ]


CHOOSE_TAU = CheckSpec(
    "check_choose_tau",
    _choose_tau,
    _choose_tau_cases(),
    [
        Mistake(
            lambda m, g, t, s: (_choose(m, g, t), float(_curve(m, g, t)[t.tolist().index(_choose(m, g, t))])),
            "report what the TEST split gives at your tau (test_at(tau)), not the validation BoxAcc",
        ),
        Mistake(
            lambda m, g, t, s: (tau := _choose(m, g, t, last=True), s(tau)),
            "on ties take the FIRST (smallest) best tau (argmax does), as camlib.localization.select_tau",
        ),
        Mistake(
            lambda m, g, t, s: (0.2, s(0.2)),
            "choose tau from the validation curve (its argmax), not the paper's fixed 20%",
        ),
        Mistake(
            lambda m, g, t, s: (tau := _choose(m, g, t, every=True), s(tau)),
            "choose on BoxAcc with the LARGEST component's box (MaxBoxAcc's curve), not every component's",
        ),
    ],
)


def check_choose_tau(
    fn: Callable[[Tensor, Sequence[Tensor], Tensor, SealedTest], tuple[float, float]],
) -> CheckResult:
    """Exercise: ``fn(val_maps (B, H, W), val_boxes, taus (T,), test_at) -> (tau, test BoxAcc)``: tau maximises
    the validation BoxAcc(tau, 0.5) (the first on ties); ``test_at(tau)`` measures the sealed test split once."""
    return CHOOSE_TAU.run(fn)


SPECS = (BOX_ACC, CHOOSE_TAU)
