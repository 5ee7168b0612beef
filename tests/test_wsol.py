"""``convention="wsolevaluation"`` equals clovaai/wsolevaluation's own evaluation (the transliteration in
tests/wsol_reference.py), count for count, on random maps and on the shipped models' maps; how far camlib's
convention moves the numbers is printed (``pytest -s``) and written in MaxBoxAccMeter's docstring."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camlib.metrics import MaxBoxAccMeter, PxAPMeter
from camlib.metrics.wsol import normalize_scoremaps, require_cv2, resize_cams, wsol_box_acc_counts

ref = pytest.importorskip("wsol_reference", reason="needs OpenCV: pip install -e '.[dev]'")

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DELTAS = (0.3, 0.5, 0.7)


@st.composite
def raw_maps(draw: st.DrawFn, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float64 maps: uniform noise (many holes), few-valued plateaus (ties of contour areas), rings,
    smooth blobs, constant maps."""
    h, w = shape
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["uniform", "plateaus", "rings", "blob", "constant"]))
    yy, xx = np.mgrid[:h, :w]
    if kind == "uniform":
        return rng.random((h, w))
    if kind == "plateaus":
        return rng.integers(0, draw(st.integers(1, 4)) + 1, (h, w)).astype(np.float64)
    if kind == "rings":
        r = np.hypot(yy - rng.uniform(0, h), xx - rng.uniform(0, w))
        return np.cos(r * rng.uniform(0.5, 2.0)) + 0.1 * rng.random((h, w))
    if kind == "blob":
        return np.exp(-((yy - rng.uniform(0, h)) ** 2 + (xx - rng.uniform(0, w)) ** 2) / rng.uniform(1, 20))
    return np.full((h, w), draw(st.floats(-2, 2)))


@st.composite
def batches(draw: st.DrawFn) -> tuple[np.ndarray, list[np.ndarray]]:
    """(B, H, W) maps, H and W in 1..14, and int GT boxes (1..3 per map, some at the (0, 0) corner, where the
    reference's empty-mask box [0, 0, 0, 0] scores)."""
    h, w = draw(st.integers(1, 14)), draw(st.integers(1, 14))
    maps = np.stack([draw(raw_maps((h, w))) for _ in range(draw(st.integers(1, 4)))])
    gts = []
    for _ in maps:
        boxes = []
        for _ in range(draw(st.integers(1, 3))):
            x0, y0 = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
            boxes.append([x0, y0, draw(st.integers(x0, w)), draw(st.integers(y0, h))])  # x1 = x0: 1 px wide
        gts.append(np.array(boxes, dtype=np.int64))
    return maps, gts


thresholds = st.one_of(
    st.just(np.arange(0, 1, 0.01)),
    st.just(np.arange(0, 1, 0.001)),
    st.lists(st.floats(0, 1), min_size=1, max_size=10).map(np.array),
)


def reference_counts(maps: np.ndarray, gts: list[np.ndarray], taus: np.ndarray) -> tuple[np.ndarray, ...]:
    """(D, T) ``num_correct`` of the transliterated BoxEvaluator with and without multi_contour_eval."""
    percents = [round(d * 100) for d in DELTAS]
    evaluators = [ref.BoxEvaluator(list(taus), percents, multi) for multi in (True, False)]
    for m, g in zip(maps, gts, strict=True):
        scoremap = ref.normalize_scoremap(np.array(m, dtype=np.float64))
        for ev in evaluators:
            ev.accumulate(scoremap, g)
    multi, largest = (np.stack([ev.num_correct[p] for p in percents]) for ev in evaluators)
    return multi, largest


@SETTINGS
@given(batch=batches(), taus=thresholds)
def test_counts_equal_the_reference(batch: tuple[np.ndarray, list[np.ndarray]], taus: np.ndarray) -> None:
    maps, gts = batch
    want_all, want_largest = reference_counts(maps, gts, taus)
    got_all, got_largest = wsol_box_acc_counts(normalize_scoremaps(maps), gts, taus, DELTAS)
    np.testing.assert_array_equal(got_all, want_all)
    np.testing.assert_array_equal(got_largest, want_largest)


@SETTINGS
@given(batch=batches())
def test_normalize_scoremaps_is_the_references(batch: tuple[np.ndarray, list[np.ndarray]]) -> None:
    maps = batch[0]
    want = np.stack([ref.normalize_scoremap(m.copy()) for m in maps])
    np.testing.assert_array_equal(normalize_scoremaps(maps), want)


def test_blob_maps_224_equal_the_reference() -> None:
    """Realistic size: 224 x 224 Gaussian blobs + noise, 200 taus (several taus per 8-bit cut)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:224, :224]
    centres = rng.uniform(20, 200, (3, 2))
    maps = np.stack(
        [
            np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 900.0) + 0.3 * rng.random((224, 224))
            for cy, cx in centres
        ]
    )
    gts = [
        np.array([[int(x) - 40, int(y) - 40, int(x) + 40, int(y) + 40]])
        for y, x in rng.uniform(40, 180, (3, 2))
    ]
    taus = np.arange(0, 1, 0.005)
    want = reference_counts(maps, gts, taus)
    got = wsol_box_acc_counts(normalize_scoremaps(maps), gts, taus, DELTAS)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_meter_equals_the_reference_on_random_maps() -> None:
    """Streamed, on the reference's default grid (1,000 taus), GT boxes with fractions (``resize_bbox``
    truncates them): the meter's counters are the reference's ``num_correct``, so its scores are too."""
    rng = np.random.default_rng(1)
    low = torch.rand(40, 1, 5, 5, generator=torch.Generator().manual_seed(2))
    maps = torch.nn.functional.interpolate(low, 32)[:, 0].double() + 0.05 * torch.from_numpy(
        rng.random((40, 32, 32))
    )
    peak = maps.flatten(1).argmax(1).numpy()  # (40,) GT boxes around each map's peak, so that some score
    x, y = peak % 32, peak // 32
    corners = np.stack([x - 6, y - 6, x + 7, y + 7], 1).clip(0, 32) + rng.uniform(0, 0.99, (40, 4))  # (40, 4)
    boxes = torch.from_numpy(corners).float().clamp(max=32)
    meter = MaxBoxAccMeter(convention="wsolevaluation")
    assert meter.thresholds.size == 1000
    for s in range(0, 40, 16):  # streamed
        meter.update(maps[s : s + 16], boxes[s : s + 16])
    gts = [np.array([ref.resize_bbox(b.tolist(), (32, 32), (32, 32))]) for b in boxes]
    multi, largest = reference_counts(maps.numpy(), gts, meter.thresholds)
    np.testing.assert_array_equal(meter._correct_all, multi)
    np.testing.assert_array_equal(meter._correct_largest, largest)
    got = meter.compute()
    assert got.convention == "wsolevaluation" and got.max_box_acc_v2 > 0
    assert abs(got.max_box_acc - 100 * largest[1].max() / 40) < 0.01
    assert abs(got.max_box_acc_v2 - (100 * multi / 40).max(1).mean()) < 0.01


def test_pxap_equals_the_mask_evaluator() -> None:
    rng = np.random.default_rng(3)
    maps = rng.random((6, 20, 20)) ** 3
    maps[:, :2, :2] = np.float32(0.25)  # a plateau exactly at a bin edge
    masks = rng.random((6, 20, 20)) < 0.3
    ignore = (rng.random((6, 20, 20)) < 0.1) & ~masks
    for step in (0.01, 0.001):
        meter = PxAPMeter(step, convention="wsolevaluation")
        meter.update(torch.from_numpy(maps), torch.from_numpy(masks), torch.from_numpy(ignore))
        evaluator = ref.MaskEvaluator(list(np.arange(0, 1, step)))
        for m, pos, ign in zip(maps, masks, ignore, strict=True):
            gt = ref.get_mask([pos.astype(np.float32)], ign.astype(np.float32))
            evaluator.accumulate(ref.normalize_scoremap(m.copy()), gt)
        assert abs(meter.compute().pxap - evaluator.compute()) < 0.01


def test_missing_opencv_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_cv2(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "cv2":
            raise ImportError("No module named 'cv2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    for make in (require_cv2, lambda: MaxBoxAccMeter(convention="wsolevaluation")):
        with pytest.raises(ImportError, match=r"pip install 'camlib\[wsol\]'"):
            make()
    MaxBoxAccMeter()  # camlib's convention needs no OpenCV


def test_resize_cams_is_the_references_bicubic() -> None:
    cams = np.random.default_rng(4).standard_normal((3, 7, 7)).astype(np.float32)
    got = resize_cams(cams, (56, 56))
    want = np.stack([ref.resize_cam(c.astype(np.float64), (56, 56)) for c in cams])
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float64 and got.max() > cams.max()  # bicubic overshoots; normalised afterwards


def test_reference_boxes_include_holes_and_are_clipped() -> None:
    """A square over pixels 1..5 with a hole at (3, 3): the outer contour's box is [1, 1, 5 + 1, 5 + 1], the
    hole adds the box of its border (pixels 2..4), [2, 2, 4 + 1, 4 + 1]. A mask reaching the right and bottom
    edges is clipped at W - 1, H - 1."""
    m = np.zeros((7, 7))
    m[1:6, 1:6] = 1.0
    m[3, 3] = 0.0
    boxes, counts = ref.compute_bboxes_from_scoremaps(m, [0.5], multi_contour_eval=True)
    assert counts == [2] and sorted(boxes[0].tolist()) == [[1, 1, 6, 6], [2, 2, 5, 5]]
    full = np.ones((4, 5))
    full[0, 0] = 0.0
    assert ref.compute_bboxes_from_scoremaps(full, [0.5])[0][0].tolist() == [[0, 0, 4, 3]]


def test_reference_iou_is_inclusive_and_the_empty_mask_scores() -> None:
    assert ref.calculate_multiple_iou(np.array([[0, 0, 9, 9]]), np.array([[0, 0, 9, 9]])).item() == 1.0
    # the empty mask's box [0, 0, 0, 0] is one pixel for the "+1" IoU: 1 / 2 against a 1 x 2 GT box
    assert ref.calculate_multiple_iou(np.array([[0, 0, 0, 0]]), np.array([[0, 0, 0, 1]])).item() == 0.5
    assert ref.compute_bboxes_from_scoremaps(np.zeros((3, 3)), [0.0])[0][0].tolist() == [[0, 0, 0, 0]]
