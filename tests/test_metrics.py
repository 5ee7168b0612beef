"""Tests of camlib.metrics: hand-computed BoxAcc tables, PxAP and localization errors, an independent
per-image reference for MaxBoxAcc(V2), accumulator behaviour, invariants (hypothesis) and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from torchvision.ops import box_iou

from camlib.metrics import (
    LocalizationMeter,
    MaxBoxAccMeter,
    PxAPMeter,
    best_iou,
    cam_thresholds,
    max_box_acc,
    max_box_acc_v2,
    pxap,
    topk_correct,
)

GT = torch.tensor([0.0, 0.0, 4.0, 4.0])


def four_images() -> torch.Tensor:
    """Four 10x10 maps whose BoxAcc at taus (0, 0.4, 0.8) is worked out by hand in the test below."""
    m = torch.zeros(4, 10, 10)
    m[0, 0:8, 0:8], m[0, 0:4, 0:4] = 0.5, 1.0  # tau .4: (0,0,8,8) IoU .25; tau .8: the GT, IoU 1
    m[1, 0:5, 0:5], m[1, 0:4, 0:2] = 0.5, 1.0  # tau .4: (0,0,5,5) IoU .64; tau .8: (0,0,2,4) IoU exactly .5
    m[2, 5:10, 5:10], m[2, 0:3, 0:3] = 1.0, 1.0  # largest (25 px) misses, small one IoU 9/16 = .5625
    m[3] = 0.7  # constant: no box at any tau
    return m


def test_box_acc_table_by_hand() -> None:
    meter = MaxBoxAccMeter(thresholds=(0.0, 0.4, 0.8))
    meter.update(four_images(), GT.expand(4, 4))
    r = meter.compute()
    # tau 0 keeps everything: the whole-image box, IoU 16/100 with the GT, below every delta
    np.testing.assert_array_equal(r.box_acc, [[0, 50, 75], [0, 50, 75], [0, 0, 25]])
    np.testing.assert_array_equal(r.box_acc_largest, [[0, 25, 50], [0, 25, 50], [0, 0, 25]])
    assert r.max_box_acc_v2 == pytest.approx((75 + 75 + 25) / 3)
    assert r.max_box_acc == 50.0
    assert r.best_tau == (0.8, 0.8, 0.8)
    assert r.iou_thresholds == (0.3, 0.5, 0.7) and r.num_images == 4
    np.testing.assert_array_equal(r.thresholds, [0.0, 0.4, 0.8])


def test_map_equal_to_gt_mask_scores_100() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 10], [5, 7, 32, 32], [12, 3, 20, 30], [0, 20, 32, 24]])
    masks = torch.zeros(4, 32, 32, dtype=torch.bool)
    for mask, (x1, y1, x2, y2) in zip(masks, boxes.long().tolist(), strict=True):
        mask[y1:y2, x1:x2] = True
    assert max_box_acc_v2(masks.float(), boxes) == 100.0
    assert max_box_acc(masks.float(), boxes) == 100.0
    assert pxap(masks.float(), masks) == 100.0


def test_constant_map_has_no_box_and_pxap_is_the_positive_rate() -> None:
    meter = MaxBoxAccMeter()
    meter.update(torch.full((2, 10, 10), 0.3), GT.expand(2, 4))
    r = meter.compute()
    assert r.max_box_acc == 0.0 and r.max_box_acc_v2 == 0.0
    assert np.isfinite(r.box_acc).all() and (r.box_acc == 0).all()
    mask = torch.zeros(1, 10, 10, dtype=torch.bool)
    mask[0, :4, :4] = True
    assert pxap(torch.ones(1, 10, 10), mask) == pytest.approx(16.0)


def test_several_gt_boxes_per_image_best_one_counts() -> None:
    m = torch.zeros(2, 32, 32)
    m[0, 0:4, 0:4] = 1.0
    m[1, 20:30, 20:30] = 1.0
    gts = [torch.tensor([[20.0, 20, 30, 30], [0, 0, 4, 4]]), torch.tensor([20.0, 20, 30, 30])]
    assert max_box_acc_v2(m, gts) == 100.0
    assert max_box_acc_v2(m, torch.tensor([[[20.0, 20, 30, 30], [0, 0, 4, 4]]] * 2)) == 100.0


def reference_box_acc(
    maps: torch.Tensor, gts: list[torch.Tensor], taus: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Per image, per tau: scipy 2-D labels + find_objects + box_iou; no code shared with camlib.metrics."""
    deltas = (0.3, 0.5, 0.7)
    acc_all, acc_largest = np.zeros((3, taus.size)), np.zeros((3, taus.size))
    for m, g in zip(maps, gts, strict=True):
        lo, hi = m.min(), m.max()
        for t, tau in enumerate(taus):
            if hi == lo:
                continue  # constant map: no box
            labels, n = ndimage.label(((m - lo) / (hi - lo) >= tau).numpy(), structure=np.ones((3, 3)))
            boxes = torch.tensor(
                [[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in ndimage.find_objects(labels)]
            )
            ious = box_iou(boxes.float(), g).amax(1)  # (n,)
            largest = int(np.argmax(np.bincount(labels.ravel())[1:]))
            for d, delta in enumerate(deltas):
                acc_all[d, t] += float(ious.max()) >= np.float32(delta)
                acc_largest[d, t] += float(ious[largest]) >= np.float32(delta)
    return 100 * acc_all / len(gts), 100 * acc_largest / len(gts)


def random_case(seed: int, b: int = 6, size: int = 16) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    maps = torch.nn.functional.interpolate(torch.rand(b, 1, 4, 4, generator=g), size=size, mode="bilinear")[
        :, 0
    ]
    maps[0] = 2.0  # one constant map
    gts = []
    for i in range(b):
        xy = torch.randint(0, size // 2, (1 + i % 2, 2), generator=g).float()
        wh = torch.randint(2, size // 2, (1 + i % 2, 2), generator=g).float()
        gts.append(torch.cat([xy, xy + wh], 1))
    return maps, gts


def test_matches_an_independent_per_image_reference() -> None:
    maps, gts = random_case(0)
    meter = MaxBoxAccMeter(step=0.05)
    meter.update(maps, gts)
    r = meter.compute()
    ref_all, ref_largest = reference_box_acc(maps, gts, cam_thresholds(0.05))
    np.testing.assert_allclose(r.box_acc, ref_all)
    np.testing.assert_allclose(r.box_acc_largest, ref_largest)


def test_accumulators_two_halves_equal_one_update_and_reset() -> None:
    maps, gts = random_case(1, b=8)
    whole, halves = MaxBoxAccMeter(step=0.1), MaxBoxAccMeter(step=0.1)
    whole.update(maps, gts)
    halves.update(maps[:3], gts[:3])
    halves.update(maps[3:], gts[3:])
    a, b = whole.compute(), halves.compute()
    np.testing.assert_array_equal(a.box_acc, b.box_acc)
    np.testing.assert_array_equal(a.box_acc_largest, b.box_acc_largest)
    halves.reset()
    with pytest.raises(ValueError, match="update"):
        halves.compute()
    halves.update(maps, gts)
    np.testing.assert_array_equal(halves.compute().box_acc, a.box_acc)

    masks = maps > 0.5
    px_whole, px_halves = PxAPMeter(), PxAPMeter()
    px_whole.update(maps, masks)
    px_halves.update(maps[:5], masks[:5])
    px_halves.update(maps[5:], masks[5:])
    assert px_whole.compute().pxap == px_halves.compute().pxap
    px_halves.reset()
    with pytest.raises(ValueError, match="update"):
        px_halves.compute()


def test_pxap_by_hand_and_with_ignored_pixels() -> None:
    # values 1.0, 0.6, 0.3, 0.0 with masks T, F, T, F; bins of width 0.5: at tau 1 P=1 R=.5, at .5 P=.5 R=.5,
    # at 0 P=.5 R=1 -> AP = 1 * .5 + .5 * 0 + .5 * .5 = .75
    maps = torch.tensor([[[1.0, 0.6, 0.3, 0.0]]])
    masks = torch.tensor([[[True, False, True, False]]])
    meter = PxAPMeter(step=0.5)
    meter.update(maps, masks)
    r = meter.compute()
    assert r.pxap == pytest.approx(75.0)
    np.testing.assert_allclose(r.recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(r.precision, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(r.thresholds, [1.0, 0.5, 0.0])
    assert r.num_pixels == 4
    meter.reset()
    meter.update(maps, masks, ignore=torch.tensor([[[False, True, False, False]]]))  # drop the 0.6 negative
    assert meter.compute().pxap == pytest.approx(100 * (0.5 + 0.5 * 2 / 3))


def test_localization_errors_by_hand() -> None:
    logits = torch.zeros(4, 6)
    logits[0, 0] = 5.0  # label 0, predicted: right
    logits[1, 2], logits[1, 1] = 5.0, 4.0  # label 1 is second: top-1 wrong, top-5 right
    logits[2, 3] = 5.0  # label 3, predicted: right
    logits[3] = torch.tensor([5.0, 4, 3, 2, 1, -1])  # label 5 is last: not in the top 5
    labels = torch.tensor([0, 1, 3, 5])
    gt = torch.tensor([0.0, 0, 10, 10]).expand(4, 4)
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 6, 10], [0, 0, 2, 10], [0, 0, 10, 10]])  # IoU 1, .6, .2, 1
    meter = LocalizationMeter()
    meter.update(logits, labels, boxes, gt)
    r = meter.compute()
    assert (r.top1_cls_err, r.top5_cls_err) == (50.0, 25.0)
    assert (r.top1_loc_err, r.top5_loc_err, r.gt_known_loc) == (75.0, 50.0, 75.0)
    assert r.mean_iou == pytest.approx(0.7) and r.num_images == 4
    halves = LocalizationMeter()
    halves.update(logits[:1], labels[:1], boxes[:1], gt[:1])
    halves.update(logits[1:], labels[1:], boxes[1:], [b for b in gt[1:]])
    assert halves.compute() == r
    halves.reset()
    with pytest.raises(ValueError, match="update"):
        halves.compute()


def test_small_helpers() -> None:
    assert cam_thresholds().size == 100 and cam_thresholds()[-1] == pytest.approx(0.99)
    assert topk_correct(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([0]), k=5).tolist() == [True]  # k > C
    boxes = torch.tensor([[0.0, 0, 0, 0], [0, 0, 5, 10]])
    assert best_iou(boxes, torch.tensor([[0.0, 0, 10, 10]]).expand(2, 4)).tolist() == [0.0, 0.5]


int_maps = st.tuples(st.integers(1, 4), st.integers(2, 12), st.integers(0, 2**31 - 1))


@settings(max_examples=15, deadline=None)
@given(int_maps, st.sampled_from([(2.0, 0.0), (4.0, -3.0), (0.5, 7.0)]))
def test_invariants(shape: tuple[int, int, int], affine: tuple[float, float]) -> None:
    b, size, seed = shape
    g = torch.Generator().manual_seed(seed)
    maps = torch.randint(0, 9, (b, size, size), generator=g).float()  # exact under the affine maps below
    xy = torch.randint(0, size - 1, (b, 2), generator=g).float()
    gts = torch.cat([xy, (xy + torch.randint(1, size, (b, 2), generator=g)).clamp(max=size)], 1)
    masks = torch.rand(b, size, size, generator=g) < 0.3
    masks[:, 0, 0] = True
    meters = [MaxBoxAccMeter(step=0.05) for _ in range(2)]
    px = [PxAPMeter(step=0.05) for _ in range(2)]
    a, c = affine
    for meter, pmeter, m in zip(meters, px, (maps, a * maps + c), strict=True):
        meter.update(m, gts)
        pmeter.update(m, masks)
    r, r2 = meters[0].compute(), meters[1].compute()
    np.testing.assert_array_equal(r.box_acc, r2.box_acc)  # min-max normalisation: affine-invariant
    assert px[0].compute().pxap == px[1].compute().pxap
    assert (r.box_acc >= r.box_acc_largest).all()  # best component >= largest component
    d50 = r.iou_thresholds.index(0.5)
    assert r.max_box_acc == r.box_acc_largest[d50].max() <= r.box_acc[d50].max()  # largest box <= best box
    assert (np.diff(r.box_acc, axis=0) <= 0).all()  # a stricter delta (0.3 -> 0.5 -> 0.7) never scores more
    assert r.max_box_acc_v2 == pytest.approx(r.box_acc.max(1).mean()) and 0.0 <= r.max_box_acc_v2 <= 100.0
    assert 0.0 <= px[0].compute().pxap <= 100.0


def test_bad_input_names_the_fix() -> None:
    meter = MaxBoxAccMeter()
    gt = GT.expand(2, 4)
    with pytest.raises(ValueError, match="NaN"):
        meter.update(torch.full((2, 8, 8), float("nan")), gt)
    with pytest.raises(ValueError, match=r"maps\[:, k\]"):
        meter.update(torch.zeros(2, 3, 8, 8), gt)
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        meter.update(torch.zeros(8, 8), gt)
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        meter.update(torch.zeros(2, 8, 8), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="one entry per image"):
        meter.update(torch.zeros(2, 8, 8), GT.expand(3, 4))
    with pytest.raises(ValueError, match="x1 < x2"):
        meter.update(torch.zeros(2, 8, 8), torch.tensor([[4.0, 0, 2, 4]] * 2))
    with pytest.raises(ValueError, match="upsample"):
        meter.update(torch.zeros(2, 8, 8), torch.tensor([[0.0, 0, 32, 32]] * 2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        MaxBoxAccMeter(thresholds=(0.1, 1.5))
    with pytest.raises(ValueError, match="step"):
        MaxBoxAccMeter(step=0.0)
    with pytest.raises(ValueError, match="0.5"):
        MaxBoxAccMeter(iou_thresholds=(0.3, 0.7))
    with pytest.raises(ValueError, match="masks > 0.5"):
        PxAPMeter().update(torch.zeros(1, 8, 8), torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match="no positive pixel"):
        pxap(torch.rand(1, 8, 8), torch.zeros(1, 8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(B, C\)"):
        LocalizationMeter().update(torch.zeros(6), torch.zeros(6, dtype=torch.long), torch.zeros(6, 4), gt)
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        LocalizationMeter().update(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.zeros(2, 5), gt)
    with pytest.raises(ValueError, match="iou_threshold"):
        LocalizationMeter(iou_threshold=0.0)
