"""The component tree gives exactly what labelling once per tau gives: MaxBoxAccMeter's counters (against the
per-tau reference kept in tests/boxacc_reference.py) and the boxes of ``all_component_boxes`` /
``largest_component_box`` at every tau. Hypothesis draws ties, plateaus, constant maps, single pixels, 1xN and
Nx1 maps and values exactly at a threshold."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from boxacc_reference import per_tau_counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camlib.boxes import all_component_boxes, largest_component_box
from camlib.metrics import MaxBoxAccMeter, component_boxes_at_thresholds
from camlib.metrics.levels import SLOTS_PER_CUT, quantize
from camlib.metrics.sweep import box_acc_counts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_metrics import random_blob_maps  # noqa: E402

GRID = np.arange(0.0, 1.0, 0.01)  # the default tau grid
DELTAS = (0.3, 0.5, 0.7)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def maps_2d(draw: st.DrawFn, shape: tuple[int, int] | None = None, dtype: type = np.float32) -> np.ndarray:
    """(H, W) maps of ``dtype``, H and W in 1..9 unless given: plateaus of few values (ties, equal components),
    exact taus (values AT a threshold: kept by min-max because the map holds 0 and 1; or ``tau * peak`` in the
    map's dtype, the cut of :func:`camlib.boxes.threshold_maps`), isolated single pixels of few heights on a
    flat background (one-pixel components, ties of area), uniform noise, constant maps."""
    h, w = shape if shape else (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    kind = draw(
        st.sampled_from(["plateaus", "at_tau", "at_peak_tau", "single_pixels", "uniform", "constant"])
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "plateaus":
        return rng.integers(0, draw(st.integers(1, 4)) + 1, (h, w)).astype(dtype)
    if kind == "at_tau":
        m = GRID.astype(dtype)[rng.integers(0, GRID.size, (h, w))]
        m.flat[rng.permutation(h * w)[:2]] = [0.0, 1.0][: min(2, h * w)]
        return m
    if kind == "at_peak_tau":  # m == tau * max(m) exactly, computed as threshold_maps computes the cut
        peak = dtype(draw(st.floats(0.0625, 100.0, width=32)))
        m = GRID.astype(dtype)[rng.integers(0, GRID.size, (h, w))] * peak
        m.flat[rng.integers(0, h * w)] = peak
        return m.astype(dtype)
    if kind == "single_pixels":
        m = np.full((h, w), dtype(draw(st.sampled_from([0.0, -1.0, 0.1]))), dtype=dtype)
        spots = rng.permutation(h * w)[: draw(st.integers(1, max(1, h * w // 2)))]
        m.flat[spots] = rng.integers(1, 4, spots.size)
        return m
    if kind == "uniform":
        return (rng.random((h, w)) * 4 - 1).astype(dtype)
    return np.full((h, w), draw(st.floats(-2, 2, width=32)), dtype=dtype)


@st.composite
def gt_boxes(draw: st.DrawFn, h: int, w: int) -> np.ndarray:
    """(G, 4) float32 XYXY boxes inside a W x H map, exclusive edges, G in 1..3, half-pixel coordinates too
    (but not all within [0, 1]: camlib refuses boxes that look like fractions of the image)."""
    boxes = []
    for _ in range(draw(st.integers(1, 3))):
        x1 = draw(st.integers(0, 2 * w - 1)) / 2
        y1 = draw(st.integers(0, 2 * h - 1)) / 2
        x2 = draw(st.integers(int(2 * x1) + 1, 2 * w)) / 2
        y2 = draw(st.integers(int(2 * y1) + 1, 2 * h)) / 2
        boxes.append([x1, y1, x2, y2])
    g = np.array(boxes, dtype=np.float32)
    return g if g.max() > 1 or (g == np.round(g)).all() else np.ceil(g)


@st.composite
def batches(draw: st.DrawFn) -> tuple[np.ndarray, list[np.ndarray]]:
    """(B, H, W) maps of one size, B in 1..5, and their GT boxes."""
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    maps = [draw(maps_2d((h, w))) for _ in range(draw(st.integers(1, 5)))]
    return np.stack(maps), [draw(gt_boxes(h, w)) for _ in maps]


few_thresholds = st.lists(
    st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.5, 0.3]), st.sampled_from(GRID.tolist())),
    min_size=1,
    max_size=12,
).map(np.array)  # any order, duplicates
thresholds = st.one_of(st.just(GRID), st.just(np.arange(0.0, 1.0, 0.001)), few_thresholds)
deltas = st.one_of(st.just(DELTAS), st.lists(st.floats(0.01, 1.0), max_size=3).map(lambda d: (*d, 0.5)))


def reference(maps: np.ndarray, gts: list[np.ndarray], taus: np.ndarray, ds: tuple[float, ...]) -> tuple:
    return per_tau_counts(torch.from_numpy(maps), [torch.from_numpy(g) for g in gts], taus, ds)


@SETTINGS
@given(batch=batches(), taus=thresholds, iou_thresholds=deltas)
def test_counts_equal_the_per_tau_labelling(
    batch: tuple[np.ndarray, list[np.ndarray]], taus: np.ndarray, iou_thresholds: tuple[float, ...]
) -> None:
    maps, gts = batch
    want_all, want_largest = reference(maps, gts, taus, iou_thresholds)
    got_all, got_largest = box_acc_counts(maps, gts, taus, iou_thresholds)
    np.testing.assert_array_equal(got_all, want_all)
    np.testing.assert_array_equal(got_largest, want_largest)


@SETTINGS
@given(
    m=st.one_of(maps_2d(dtype=np.float32), maps_2d(dtype=np.float64)),
    taus=st.one_of(st.just(GRID[::3]), st.just(GRID), few_thresholds),
)
def test_boxes_at_thresholds_equal_the_per_tau_labelling(m: np.ndarray, taus: np.ndarray) -> None:
    got = component_boxes_at_thresholds(m, taus)
    for t, tau in enumerate(taus.tolist()):
        want_all = all_component_boxes(torch.from_numpy(m), tau).numpy()
        np.testing.assert_array_equal(got.boxes[t], want_all, err_msg=f"tau={tau!r}")
        np.testing.assert_array_equal(got.largest[t], largest_component_box(torch.from_numpy(m), tau).numpy())


def test_meter_streams_and_threads_give_the_same_counts() -> None:
    maps, boxes, _ = random_blob_maps(30, 24, seed=5)
    maps[3] = 0.25  # a constant map
    whole, parts, threads = MaxBoxAccMeter(), MaxBoxAccMeter(), MaxBoxAccMeter(workers=3)
    whole.update(maps, boxes)
    for s in range(0, 30, 7):
        parts.update(maps[s : s + 7], boxes[s : s + 7])
    threads.update(maps, boxes)
    want = reference(maps.numpy(), [b[None].numpy() for b in boxes], GRID, DELTAS)
    for m in (whole, parts, threads):
        np.testing.assert_array_equal(m._correct_all, want[0])
        np.testing.assert_array_equal(m._correct_largest, want[1])
    assert (
        whole.compute().max_box_acc_v2 == parts.compute().max_box_acc_v2 == threads.compute().max_box_acc_v2
    )


def test_value_exactly_at_tau_is_kept() -> None:
    """float32(0.01) is below 0.01 in float64, yet ``m >= 0.01`` keeps it (NumPy compares in float32)."""
    m = np.array([[[0.0, 1.0, 0.0, np.float32(0.01)]]], dtype=np.float32)  # (1, 1, 4)
    gt = [np.array([[3.0, 0.0, 4.0, 1.0]], dtype=np.float32)]  # the 4th pixel alone
    got_all, _ = box_acc_counts(m, gt, np.array([0.01]), (0.5,))
    assert got_all.tolist() == [[1]] == reference(m, gt, np.array([0.01]), (0.5,))[0].tolist()
    assert component_boxes_at_thresholds(m[0], [0.01]).boxes[0].tolist() == [
        [1.0, 0.0, 2.0, 1.0],
        [3.0, 0.0, 4.0, 1.0],
    ]


def test_constant_and_single_pixel_maps_have_no_box() -> None:
    maps = np.stack([np.full((3, 4), 2.0, np.float32), np.zeros((3, 4), np.float32)])  # (2, 3, 4)
    gts = [np.array([[0.0, 0.0, 4.0, 3.0]], np.float32)] * 2
    got_all, got_largest = box_acc_counts(maps, gts, GRID, DELTAS)
    assert not got_all.any() and not got_largest.any()
    assert not box_acc_counts(np.ones((1, 1, 1), np.float32), gts[:1], GRID, (0.5,))[0].any()
    one = component_boxes_at_thresholds(np.ones((1, 1), np.float32), [0.0, 1.0])  # the paper's rule: a box
    assert one.largest.tolist() == [[0.0, 0.0, 1.0, 1.0]] * 2
    assert component_boxes_at_thresholds(np.zeros((2, 2)), [0.5]).largest.tolist() == [[0.0, 0.0, 0.0, 0.0]]


def test_largest_tie_goes_to_first_in_raster_order() -> None:
    m = np.zeros((1, 3, 5), np.float32)  # two 1x2 components of equal size; the GT matches the second
    m[0, 0, 0:2] = m[0, 2, 3:5] = 1.0
    gt = [np.array([[3.0, 2.0, 5.0, 3.0]], np.float32)]
    got_all, got_largest = box_acc_counts(m, gt, np.array([0.5]), (0.5,))
    assert (got_all.item(), got_largest.item()) == (1, 0)


def test_threshold_order_and_duplicates_only_permute_columns() -> None:
    rng = np.random.default_rng(0)
    maps = rng.random((6, 7, 8)).astype(np.float32)
    gts = [np.array([[1.0, 1.0, 5.0, 6.0]], np.float32)] * 6
    taus = rng.permutation(np.r_[GRID, GRID[::7]])
    got = box_acc_counts(maps, gts, taus, (0.3, 0.5))
    ref = box_acc_counts(maps, gts, GRID, (0.3, 0.5))
    cols = np.searchsorted(GRID, taus)
    np.testing.assert_array_equal(got[0], ref[0][:, cols])
    np.testing.assert_array_equal(got[1], ref[1][:, cols])


@pytest.mark.parametrize("size", [16, 64])
def test_blob_maps_with_1000_taus_equal_the_per_tau_labelling(size: int) -> None:
    """The benchmark's maps (Gaussian blobs + noise), the reference's default grid of 1,000 taus."""
    maps, boxes, _ = random_blob_maps(25, size, seed=3)
    gts = [b[None].numpy() for b in boxes]
    taus = np.arange(0.0, 1.0, 0.001)
    want = reference(maps.numpy(), gts, taus, DELTAS)
    got = box_acc_counts(maps.numpy(), gts, taus, DELTAS)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_gpu_like_and_4d_inputs_and_bad_input() -> None:
    maps, boxes, _ = random_blob_maps(4, 16, seed=1)
    a, b = MaxBoxAccMeter(), MaxBoxAccMeter()
    a.update(maps, boxes)
    b.update(maps[:, None].double(), boxes)  # (B, 1, H, W) float64
    np.testing.assert_array_equal(a._correct_all, b._correct_all)
    with pytest.raises(ValueError, match="float32"):
        box_acc_counts(np.zeros((1, 2, 2)), [np.zeros((1, 4))], GRID, (0.5,))
    with pytest.raises(ValueError, match="one per map"):
        box_acc_counts(np.zeros((2, 2, 2), np.float32), [np.zeros((1, 4))], GRID, (0.5,))
    with pytest.raises(ValueError, match="workers"):
        MaxBoxAccMeter(workers=0)
    with pytest.raises(ValueError, match="convention"):
        MaxBoxAccMeter(convention="opencv")
    with pytest.raises(ValueError, match="one .H, W. float32 or float64 map"):
        component_boxes_at_thresholds(np.zeros((2, 3, 3)), GRID)
    with pytest.raises(ValueError, match="taus in"):
        component_boxes_at_thresholds(np.zeros((3, 3)), [1.5])
    with pytest.raises(ValueError, match="NaN"):
        component_boxes_at_thresholds(np.full((3, 3), np.nan), GRID)
    m = torch.rand(5, 5)
    before = m.clone()
    component_boxes_at_thresholds(m, GRID)
    assert torch.equal(m, before)  # the learner's tensor is not changed


@st.composite
def cuts_and_values(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct cuts (an even grid, a grid with a dense cluster so that one lookup slot holds many
    cuts, or random ones) and values at, one ulp around, between and outside them, float32 or float64."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    kind = draw(st.sampled_from(["grid", "cluster", "random", "one"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "grid":
        cuts = np.arange(0.0, 1.0, draw(st.sampled_from([0.01, 0.001, 0.25])))
    elif kind == "cluster":  # 40 cuts within 1e-4 of 0.5 among an even grid: many cuts in one slot
        cuts = np.r_[np.arange(0.0, 1.0, 0.1), 0.5 + rng.random(40) * 1e-4]
    elif kind == "random":
        cuts = rng.random(draw(st.integers(1, 30))) * 4 - 2
    else:
        cuts = np.array([draw(st.floats(-1, 1))])
    cuts = np.unique(cuts.astype(dtype))
    picks = cuts[rng.integers(0, cuts.size, 64)]
    values = np.r_[
        picks,  # exactly at a cut: a tie at a bin edge
        np.nextafter(picks, dtype(np.inf)),
        np.nextafter(picks, dtype(-np.inf)),
        rng.random(32) * (cuts[-1] - cuts[0] + 2) + cuts[0] - 1,
        [cuts[0] - 1, cuts[-1] + 1, 0.0, 1.0],
    ].astype(dtype)
    return cuts, values


@SETTINGS
@given(cv=cuts_and_values())
def test_quantize_counts_the_cuts_at_or_below_each_value(cv: tuple[np.ndarray, np.ndarray]) -> None:
    """The branchless level table equals ``np.searchsorted(cuts, v, "right")``, i.e. pixel >= tau_i iff its
    level > i, at every bin edge, in the map's dtype (also for a constant map: every value the same)."""
    cuts, values = cv
    want = np.searchsorted(cuts, values, "right")
    got = np.empty(values.size, np.int32)
    quantize(values, cuts, np.empty(SLOTS_PER_CUT * cuts.size + 1, np.int64), got)
    np.testing.assert_array_equal(got, want)
    constant = np.full(5, values[0])
    quantize(constant, cuts, np.empty(SLOTS_PER_CUT * cuts.size + 1, np.int64), got[:5])
    assert (got[:5] == np.searchsorted(cuts, values[0], "right")).all()


def test_float32_exactly_at_a_cut_and_single_pixels_in_the_batched_kernel() -> None:
    """Values exactly at a float32 tau, one ulp below it, and single-pixel components, through the meter's
    batched kernel (normalisation, level table, tree, counts) against the per-tau labelling."""
    t = np.float32(0.37)
    m = np.zeros((3, 5, 6), np.float32)
    m[:, 0, 0] = 1.0  # the max: min-max keeps values unchanged
    m[0, 2, 2], m[0, 4, 5] = t, np.nextafter(t, np.float32(0))  # at tau, one ulp below it
    m[1, 1::2, 1::2] = t  # single pixels exactly at tau, apart (8-connected: separate components)
    m[2, 3, :] = t  # a row at tau touching nothing
    gts = [np.array([[2.0, 2.0, 3.0, 3.0]], np.float32), np.array([[5.0, 3.0, 6.0, 4.0]], np.float32)] * 2
    taus = np.array([0.36, 0.37, 0.38, 0.0, 1.0])
    got = box_acc_counts(m, gts[:3], taus, DELTAS)
    want = reference(m, gts[:3], taus, DELTAS)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    # delta 0.7: the pixel AT 0.37 of maps 0 and 1 is its own component, and its box the GT, up to tau 0.37
    assert got[0][2].tolist() == [2, 2, 0, 0, 0]
