"""Tests of camlib.boxes: hand-made maps with known boxes, the empty/constant cases, and property tests against
torchvision.ops.masks_to_boxes on independently labelled components."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from torchvision.ops import masks_to_boxes

from camlib.boxes import (
    all_component_boxes,
    box_from_mask,
    connected_components,
    iou,
    largest_component_box,
    threshold_maps,
)

FAST = settings(max_examples=40, deadline=None)


def two_blobs() -> torch.Tensor:
    """A 12x16 map: a small bright blob (rows 1-2, cols 1-3) and a large dim one (rows 5-10, cols 8-14)."""
    m = torch.zeros(12, 16)
    m[1:3, 1:4] = 1.0
    m[5:11, 8:15] = 0.5
    return m


def test_one_blob_gives_its_exact_box() -> None:
    m = torch.zeros(20, 30)
    m[3:13, 5:15] = torch.rand(10, 10) * 0.5 + 0.5  # pixels 5..14 x 3..12, every value >= 50% of the max
    assert largest_component_box(m).tolist() == [5.0, 3.0, 15.0, 13.0]
    assert all_component_boxes(m).tolist() == [[5.0, 3.0, 15.0, 13.0]]
    assert largest_component_box(m).dtype == torch.float32


def test_pixels_0_to_9_give_exclusive_box_0_0_10_10() -> None:
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[:10, :10] = True
    assert box_from_mask(mask).tolist() == [0.0, 0.0, 10.0, 10.0]
    assert largest_component_box(mask).tolist() == [0.0, 0.0, 10.0, 10.0]


def test_two_blobs_largest_versus_all() -> None:
    m = two_blobs()
    assert largest_component_box(m).tolist() == [8.0, 5.0, 15.0, 11.0]  # the large dim blob wins on area
    assert all_component_boxes(m).tolist() == [[1.0, 1.0, 4.0, 3.0], [8.0, 5.0, 15.0, 11.0]]
    # above 60% of the max only the bright blob survives
    assert largest_component_box(m, tau=0.6).tolist() == [1.0, 1.0, 4.0, 3.0]
    assert all_component_boxes(m, tau=0.6).tolist() == [[1.0, 1.0, 4.0, 3.0]]


def test_threshold_keeps_pixels_equal_to_tau_times_max() -> None:
    m = torch.tensor([[0.19, 0.2, 1.0]])
    assert threshold_maps(m, 0.2).tolist() == [[False, True, True]]


def test_diagonal_pixels_are_one_component_8_connectivity() -> None:
    mask = torch.eye(5, dtype=torch.bool)
    assert all_component_boxes(mask).tolist() == [[0.0, 0.0, 5.0, 5.0]]


def test_components_never_cross_images() -> None:
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, 3, :] = True  # bottom row of image 0
    masks[1, 0, :] = True  # top row of image 1, adjacent in memory
    c = connected_components(masks)
    assert c.image.tolist() == [0, 1]
    assert c.boxes.tolist() == [[0.0, 3.0, 4.0, 4.0], [0.0, 0.0, 4.0, 1.0]]
    assert c.area.tolist() == [4, 4]


def test_components_separated_by_several_empty_rows_stay_apart() -> None:
    mask = torch.zeros(2, 9, 3, dtype=torch.bool)
    mask[0, 0], mask[0, 4], mask[0, 8] = True, True, True  # three rows apart: three components
    mask[1, 1:3, 1] = True
    assert all_component_boxes(mask)[0].tolist() == [
        [0.0, 0.0, 3.0, 1.0],
        [0.0, 4.0, 3.0, 5.0],
        [0.0, 8.0, 3.0, 9.0],
    ]
    assert all_component_boxes(mask)[1].tolist() == [[1.0, 1.0, 2.0, 3.0]]


def test_batched_equals_one_by_one() -> None:
    g = torch.Generator().manual_seed(0)
    maps = torch.nn.functional.interpolate(torch.rand(5, 1, 4, 4, generator=g), size=24, mode="bilinear")[
        :, 0
    ]
    batched_all = all_component_boxes(maps, 0.5)
    assert isinstance(batched_all, list)
    for i in range(5):
        assert torch.equal(largest_component_box(maps, 0.5)[i], largest_component_box(maps[i], 0.5))
        assert torch.equal(batched_all[i], all_component_boxes(maps[i], 0.5))


def test_equal_components_tie_goes_to_the_first_in_raster_order() -> None:
    m = torch.zeros(10, 10)
    m[6:8, 0:2] = 1.0  # lower-left
    m[1:3, 7:9] = 1.0  # upper-right: first in raster order
    assert largest_component_box(m).tolist() == [7.0, 1.0, 9.0, 3.0]


def test_constant_and_empty_maps() -> None:
    # a constant positive map keeps every pixel: the whole-image box
    assert largest_component_box(torch.full((6, 8), 3.0)).tolist() == [0.0, 0.0, 8.0, 6.0]
    # all zero, all negative: max <= 0, nothing to localize -> the zero box, no component, never NaN
    for m in (torch.zeros(2, 6, 8), torch.full((2, 6, 8), -1.0)):
        assert largest_component_box(m).tolist() == [[0.0] * 4] * 2
        assert [b.shape for b in all_component_boxes(m)] == [torch.Size([0, 4])] * 2
    assert iou(largest_component_box(torch.zeros(6, 8)), torch.tensor([0.0, 0, 4, 4])).item() == 0.0


def test_negative_values_are_thresholded_against_the_max() -> None:
    m = torch.full((6, 6), -5.0)
    m[2:4, 1:5] = 2.0
    assert largest_component_box(m).tolist() == [1.0, 2.0, 5.0, 4.0]


def test_iou_known_values() -> None:
    a = torch.tensor([[0.0, 0, 10, 10], [0, 0, 5, 10]])
    b = torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]])
    torch.testing.assert_close(iou(a, b), torch.tensor([[1.0, 0.0], [0.5, 0.0]]))
    assert iou(a[1], b[0]).shape == torch.Size([])


def boxes_strategy(size: int = 32) -> st.SearchStrategy[list[float]]:
    # x1 < x2 and y1 < y2 by construction (a filter rejected ~half the draws: Hypothesis' health check)
    side = st.integers(0, size - 1).flatmap(lambda lo: st.tuples(st.just(lo), st.integers(lo + 1, size)))
    return st.tuples(side, side).map(
        lambda xy: [float(xy[0][0]), float(xy[1][0]), float(xy[0][1]), float(xy[1][1])]
    )


@FAST
@given(boxes_strategy(), boxes_strategy())
def test_iou_symmetric_bounded_and_one_on_itself(a: list[float], b: list[float]) -> None:
    ta, tb = torch.tensor(a), torch.tensor(b)
    v = iou(ta, tb).item()
    assert 0.0 <= v <= 1.0
    assert v == iou(tb, ta).item()
    assert iou(ta, ta).item() == pytest.approx(1.0)


def reference_component_boxes(mask: np.ndarray) -> list[list[float]]:
    """Independent reference: scipy 8-connected labels, then masks_to_boxes per component (+1: inclusive)."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return []
    comp = torch.stack([torch.from_numpy(labels == k) for k in range(1, n + 1)])  # (n, H, W)
    boxes = masks_to_boxes(comp) + torch.tensor([0.0, 0.0, 1.0, 1.0])
    return sorted(boxes.tolist())


masks_strategy = st.tuples(
    st.integers(1, 3), st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**31 - 1)
)


@FAST
@given(masks_strategy, st.floats(0.2, 0.8))
def test_boxes_match_masks_to_boxes_per_component(shape: tuple[int, int, int, int], density: float) -> None:
    b, h, w, seed = shape
    masks = torch.rand(b, h, w, generator=torch.Generator().manual_seed(seed)) < density
    per_image = all_component_boxes(masks)
    largest = largest_component_box(masks)
    for i in range(b):
        ref = reference_component_boxes(masks[i].numpy())
        got = per_image[i].tolist()
        assert sorted(got) == ref
        for x1, y1, x2, y2 in got:  # every box inside the image
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        if ref:
            labels, n = ndimage.label(masks[i].numpy(), structure=np.ones((3, 3), dtype=bool))
            sizes = np.bincount(labels.ravel())[1:]
            biggest = [
                reference_component_boxes(labels == k + 1)[0] for k in np.flatnonzero(sizes == sizes.max())
            ]
            assert largest[i].tolist() in biggest
        else:
            assert largest[i].tolist() == [0.0] * 4


@FAST
@given(masks_strategy, st.floats(0.0, 1.0))
def test_boxes_from_float_maps_stay_inside_the_image(shape: tuple[int, int, int, int], tau: float) -> None:
    b, h, w, seed = shape
    maps = torch.randn(b, h, w, generator=torch.Generator().manual_seed(seed))
    boxes = largest_component_box(maps, tau)
    assert torch.isfinite(boxes).all()
    assert ((boxes[:, 0] >= 0) & (boxes[:, 2] <= w) & (boxes[:, 1] >= 0) & (boxes[:, 3] <= h)).all()


def test_bad_input_names_the_fix() -> None:
    with pytest.raises(ValueError, match="NaN"):
        largest_component_box(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"maps\[:, k\]"):
        largest_component_box(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(B, H, W\)"):
        all_component_boxes(torch.zeros(8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        largest_component_box(torch.zeros(8, 8), tau=20)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        all_component_boxes(torch.zeros(8, 8), tau=-0.1)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        iou(torch.zeros(3, 5), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        box_from_mask(torch.zeros(2, 4, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch.Tensor"):
        largest_component_box(np.zeros((4, 4)))  # type: ignore[arg-type]
