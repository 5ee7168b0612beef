"""On the shipped models' maps: the component-tree meter gives ``reproduce``'s numbers unchanged (the same
counters as the per-tau labelling it replaced), ``component_boxes_at_thresholds`` gives the explorer's boxes,
and ``convention="wsolevaluation"`` gives wsolevaluation's own numbers; the gap between the two conventions is
printed (``pytest -s``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from boxacc_reference import per_tau_counts
from torch import Tensor

from camlib import zoo
from camlib.boxes import largest_component_box
from camlib.cam import get_method, upsample
from camlib.explorer.render import display_map
from camlib.localization.selection import tau_choice
from camlib.metrics import MaxBoxAccMeter, PxAPMeter, cam_thresholds, component_boxes_at_thresholds
from camlib.metrics.wsol import resize_cams
from camlib.reproduce.compare import ROWS

N = 300  # test images per model
DELTAS = (0.3, 0.5, 0.7)


@pytest.fixture(scope="module")
def shipped() -> dict[str, tuple[Tensor, Tensor, Tensor]]:
    """Per row of ``reproduce`` with a model: the raw maps (N, h, w) of the true class, the GT boxes (N, 4)
    and the masks (N, H, W) of the first N test images."""
    batch = zoo.dataset("gap", "test").batch(range(N))
    out = {}
    for row in ROWS:
        if row.model is not None:
            maps = get_method(row.method)(
                zoo.load(row.model), batch.images, batch.labels
            ).maps  # (N, 1, h, w)
            out[row.label] = (maps[:, 0].detach(), batch.boxes, batch.masks)
    return out


def test_the_tree_meter_gives_reproduces_numbers_unchanged(shipped: dict) -> None:
    """``localize`` feeds the meter bilinear-upsampled maps; its counters (so MaxBoxAcc, MaxBoxAccV2, the
    curves and the tau that ``select_tau`` reads off them) equal the per-tau labelling's."""
    taus = cam_thresholds(0.01)
    for label, (raw, boxes, _) in shipped.items():
        maps = upsample(raw[:, None], (64, 64), "bilinear")[:, 0]  # (N, 64, 64)
        meter = MaxBoxAccMeter()
        for s in range(0, N, 128):
            meter.update(maps[s : s + 128], boxes[s : s + 128])
        want_all, want_largest = per_tau_counts(maps, list(boxes[:, None]), taus, DELTAS)
        np.testing.assert_array_equal(meter._correct_all, want_all, err_msg=label)
        np.testing.assert_array_equal(meter._correct_largest, want_largest, err_msg=label)
        old = 100 * want_all / N
        assert meter.compute().max_box_acc_v2 == float(old.max(1).mean())
        print(f"{label}: MaxBoxAccV2 {meter.compute().max_box_acc_v2:.2f}, equal to the per-tau path")


def test_boxes_at_thresholds_equal_the_explorers_per_tau_boxes(shipped: dict) -> None:
    """The explorer boxes ``largest_component_box(display_map, tau)`` at its slider's taus: raw or min-max,
    every upsampling mode it offers."""
    raw = shipped["GAP + CAM"][0][:12]  # (12, h, w)
    taus = np.round(np.arange(0.0, 1.0001, 0.01), 2)
    for mode in ("bilinear", "bicubic", "nearest"):
        for normalised in (True, False):
            for r in raw:
                m = display_map(r, (64, 64), mode, normalised)  # (64, 64)
                got = component_boxes_at_thresholds(m, taus)
                for t, tau in enumerate(taus.tolist()):
                    assert got.largest[t].tolist() == largest_component_box(m, tau).tolist(), (mode, tau)


def reference_evaluation(
    raw: Tensor, boxes: Tensor, masks: Tensor, step: float
) -> tuple[float, float, float]:
    """MaxBoxAcc, MaxBoxAccV2 and PxAP of wsolevaluation's own code (the transliteration) on these CAMs: each
    resized with bicubic cv2.resize in float64, normalised, boxes as ints."""
    ref = pytest.importorskip("wsol_reference", reason="needs OpenCV: pip install -e '.[dev]'")
    taus = list(np.arange(0, 1, step))
    v2, v1 = ref.BoxEvaluator(taus, [30, 50, 70], True), ref.BoxEvaluator(taus, [30, 50, 70], False)
    px = ref.MaskEvaluator(taus)
    for cam, box, mask in zip(raw.numpy(), boxes, masks.numpy(), strict=True):
        scoremap = ref.normalize_scoremap(ref.resize_cam(cam.astype(np.float64), (64, 64)))
        gt = [ref.resize_bbox(box.tolist(), (64, 64), (64, 64))]
        v2.accumulate(scoremap, gt)
        v1.accumulate(scoremap, gt)
        px.accumulate(scoremap, ref.get_mask([mask.astype(np.float32)], np.zeros((64, 64), np.float32)))
    return v1.compute()[1], float(np.mean(v2.compute())), px.compute()


@pytest.mark.parametrize("label", ["GAP + CAM", "GMP + CAM"])
def test_wsolevaluation_convention_equals_the_reference_on_shipped_maps(shipped: dict, label: str) -> None:
    raw, boxes, masks = shipped[label]
    step = 0.01  # (the 1,000-tau grid is compared on random maps in test_wsol.py)
    want = reference_evaluation(raw, boxes, masks, step)
    maps = torch.from_numpy(resize_cams(raw.numpy(), (64, 64)))  # (N, 64, 64) float64, as the reference
    meter, px = (
        MaxBoxAccMeter(step, convention="wsolevaluation"),
        PxAPMeter(step, convention="wsolevaluation"),
    )
    meter.update(maps, boxes)
    px.update(maps, masks)
    got = meter.compute()
    assert abs(got.max_box_acc - want[0]) < 0.01 and abs(got.max_box_acc_v2 - want[1]) < 0.01
    assert abs(px.compute().pxap - want[2]) < 0.01
    camlib = MaxBoxAccMeter(step)
    camlib.update(upsample(raw[:, None], (64, 64), "bilinear")[:, 0], boxes)
    mine = camlib.compute()
    print(
        f"\n{label}, {N} test images: wsolevaluation MaxBoxAcc {got.max_box_acc:.2f} / MaxBoxAccV2 "
        f"{got.max_box_acc_v2:.2f} (reference {want[0]:.2f} / {want[1]:.2f}); camlib convention (bilinear) "
        f"{mine.max_box_acc:.2f} / {mine.max_box_acc_v2:.2f}: camlib - wsolevaluation = "
        f"{mine.max_box_acc - got.max_box_acc:+.2f} / {mine.max_box_acc_v2 - got.max_box_acc_v2:+.2f} points"
    )


def test_tau_choice_is_unchanged(shipped: dict) -> None:
    """``select_tau`` reads the best BoxAcc(tau, 0.5) of the largest component off the meter's curve."""
    from camlib.localization.loop import LocalizationReport

    raw, boxes, _ = shipped["GAP + CAM"]
    maps = upsample(raw[:, None], (64, 64), "bilinear")[:, 0]
    meter = MaxBoxAccMeter()
    meter.update(maps, boxes)
    report = LocalizationReport("cam", None, meter.compute(), None, 0.2)  # type: ignore[arg-type]
    _, largest = per_tau_counts(maps, list(boxes[:, None]), cam_thresholds(0.01), DELTAS)
    assert tau_choice(report).tau == round(float(cam_thresholds(0.01)[int(largest[1].argmax())]), 4)
