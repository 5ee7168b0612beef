"""The localization exercises' checks agree with camlib, and the sealed test split refuses a second look.

- ``check_box_acc``'s reference gives camlib.metrics.MaxBoxAccMeter's BoxAcc curve (largest component) and MaxBoxAcc;
- ``check_choose_tau``'s reference picks the threshold camlib.localization.select_tau picks on a validation split;
- a learner who measures the sealed test split at several taus (the test-oracle threshold) gets an error that says
  why, at their own line, and the check's own cases are left unmeasured;
- ``check_cam_batch``'s reference is camlib.cam.class_activation_maps of a real GAP network, upsampled.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camlib import checks
from camlib.cam import class_activation_maps, normalize, upsample
from camlib.checks.maps import CAM_BATCH
from camlib.checks.metrics import BOX_ACC, CHOOSE_TAU, SealedSplitError, SealedTest, maps_and_boxes
from camlib.data.shapes import Shapes
from camlib.localization import select_tau
from camlib.metrics import MaxBoxAccMeter, cam_thresholds
from camlib.models import GAPNet, NetConfig


@pytest.mark.parametrize("delta", [0.5, 0.7])
def test_box_acc_reference_is_the_meters_curve(delta: float) -> None:
    maps, gt = maps_and_boxes(7, 10)
    taus = torch.from_numpy(cam_thresholds(0.05))  # the meter's own grid, float64
    deltas = (0.5,) if delta == 0.5 else (0.5, delta)  # the meter always measures 0.5
    meter = MaxBoxAccMeter(step=0.05, iou_thresholds=deltas)
    meter.update(maps, gt)
    result = meter.compute()
    curve, best = BOX_ACC.reference(maps, gt, taus, delta)
    np.testing.assert_allclose(curve.numpy(), result.box_acc_largest[deltas.index(delta)], atol=1e-4)
    assert best == pytest.approx(float(result.box_acc_largest[deltas.index(delta)].max()))
    if delta == 0.5:
        assert best == pytest.approx(result.max_box_acc)


def test_choose_tau_reference_is_select_tau_on_the_validation_split() -> None:
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2)).eval()
    val = Shapes("val", size=24, image_size=32)
    choice = select_tau(net, val)
    batch = val.batch(range(len(val)))
    with torch.no_grad():
        raw = class_activation_maps(net, batch.images, batch.labels).maps  # (B, 1, h, w), the true class
    maps = normalize(upsample(raw, batch.images.shape[-2:]), "minmax")[:, 0]  # (B, H, W), as localize
    assert batch.boxes is not None
    gt = [b[None] for b in batch.boxes]
    taus = torch.from_numpy(cam_thresholds(0.01))
    tau, test_acc = CHOOSE_TAU.reference(maps, gt, taus, SealedTest(maps, gt))
    assert round(tau, 4) == choice.tau
    assert test_acc == pytest.approx(choice.box_acc)  # measured on the same images: the validation BoxAcc


def test_the_test_split_answers_once_and_says_why() -> None:
    def choose_tau(val_maps, val_boxes, taus, test_at):  # type: ignore[no-untyped-def]
        scores = [test_at(float(t)) for t in taus]  # the test-oracle: every tau measured on test
        best = int(np.argmax(scores))
        return float(taus[best]), scores[best]

    before = [c[3].calls for c in CHOOSE_TAU.cases]
    result = checks.check_choose_tau(choose_tau)
    assert result.status == "error"
    assert "SealedSplitError" in result.message and "measured ONCE" in result.message
    assert "scores = [test_at(float(t)) for t in taus]" in result.message  # the learner's own line
    assert (
        [c[3].calls for c in CHOOSE_TAU.cases] == before == [0] * len(before)
    )  # the cases are never used up
    sealed = SealedTest(*maps_and_boxes(3, 2))
    sealed(0.5)
    with pytest.raises(SealedSplitError, match="test-oracle"):
        sealed(0.5)


def test_cam_batch_reference_is_class_activation_maps_upsampled() -> None:
    torch.manual_seed(0)
    net = GAPNet(5, NetConfig(widths=(4, 8), downsample=2)).eval()
    x = torch.rand(3, 3, 32, 32)
    classes = torch.tensor([4, 0, 2])
    with torch.no_grad():
        features = net.features(x)  # (B, K, h, w): what the GAP layer pools
        out = class_activation_maps(net, x, classes)  # maps (B, 1, h, w)
    mine = CAM_BATCH.reference(features, net.classifier.weight.detach(), classes, (32, 32))
    torch.testing.assert_close(mine, upsample(out.maps, (32, 32))[:, 0], rtol=1e-4, atol=1e-5)
