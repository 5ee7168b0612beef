"""The shared localization loop: an oracle map scores 100, the centred prior behaves, bad input is named."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from camlib import localization as L
from camlib.cam import METHODS, CAMOutput, default_method
from camlib.data.sample import CollatedDataset, Sample
from camlib.models import FCNet, GAPNet, NetConfig


class MaskImages(CollatedDataset):
    """Images whose first channel IS the object mask: an 'oracle' method can return it as its map."""

    def __init__(self, n: int = 12, side: int = 32) -> None:
        g = torch.Generator().manual_seed(0)
        self.samples = []
        for i in range(n):
            x1, y1 = (int(v) for v in torch.randint(0, side // 2, (2,), generator=g))
            w, h = (int(v) for v in torch.randint(6, side // 2, (2,), generator=g))
            mask = torch.zeros(side, side, dtype=torch.bool)
            mask[y1 : y1 + h, x1 : x1 + w] = True
            img = torch.stack([mask.float(), torch.zeros(side, side), torch.zeros(side, side)])
            box = torch.tensor([x1, y1, x1 + w, y1 + h], dtype=torch.float32)
            self.samples.append(Sample(img, i % 3, box, mask))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> Sample:
        return self.samples[i]


class LabelOracle(nn.Module):
    """Classifies perfectly: logits one-hot on the label hidden in the dataset order (for the test only)."""

    def __init__(self, labels: Tensor) -> None:
        super().__init__()
        self.labels = labels
        self.seen = 0
        self.conv = nn.Conv2d(3, 1, 1)  # so validate_images finds the channel count

    def forward(self, x: Tensor) -> Tensor:
        y = self.labels[self.seen : self.seen + len(x)]
        self.seen += len(x)
        return nn.functional.one_hot(y, 3).float()


def _oracle(
    model: nn.Module, x: Tensor, classes: Tensor, *, target_layer: nn.Module | None = None
) -> CAMOutput:
    return CAMOutput(x[:, :1], model(x), classes[:, None])  # the mask as the map, the model's logits


def test_oracle_maps_score_100(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = MaskImages()
    monkeypatch.setitem(METHODS, "oracle", _oracle)
    model = LabelOracle(torch.tensor([s.label for s in ds.samples]))
    rep = L.localize(model, ds, "oracle", batch_size=5)
    s = rep.summary()
    assert s["top1_cls_err"] == 0.0 and s["top1_loc_err"] == 0.0 and s["gt_known_loc"] == 100.0
    assert s["max_box_acc"] == 100.0 and s["max_box_acc_v2"] == 100.0 and s["pxap"] == 100.0
    assert rep.loc.num_images == 12 and rep.loc.mean_iou == pytest.approx(1.0)


def test_center_prior_gives_centered_boxes_and_the_mean_box() -> None:
    m = L.center_prior(64, 64, (32.0, 16.0))
    assert m.shape == (64, 64) and float(m.max()) == pytest.approx(1.0, abs=0.05) and float(m.min()) == 0.0
    from camlib.boxes import largest_component_box

    for tau in (0.6, 0.75, 0.9):
        b = largest_component_box(m, tau)
        assert float(b[0] + b[2]) == pytest.approx(64.0, abs=1) and float(b[1] + b[3]) == pytest.approx(
            64, abs=1
        )
        w, h = float(b[2] - b[0]), float(b[3] - b[1])
        assert w / h == pytest.approx(2.0, rel=0.15)  # the mean box's aspect ratio at every level
    near = largest_component_box(m, 0.75)  # the level set dist = 1 is the mean box (to a pixel at its edges)
    assert L.center_box(64, 64, (32.0, 16.0)).tolist() == [16.0, 24.0, 48.0, 40.0]
    assert torch.allclose(near, L.center_box(64, 64, (32.0, 16.0)), atol=1.0)


def test_center_baseline_on_centred_objects_is_perfect() -> None:
    class Centred(MaskImages):
        def __init__(self) -> None:
            mask = torch.zeros(32, 32, dtype=torch.bool)
            mask[8:24, 12:20] = True  # 8 wide, 16 high, centred
            img = torch.zeros(3, 32, 32)
            self.samples = [Sample(img, 0, torch.tensor([12.0, 8, 20, 24]), mask)] * 4

    rep = L.localize_center_prior(Centred(), box_wh=(8.0, 16.0))
    assert rep.summary()["gt_known_loc"] == 100.0 and rep.summary()["max_box_acc_v2"] == 100.0
    assert rep.summary()["top1_cls_err"] == 100.0  # no classifier: classification is never right


def test_default_method_and_bad_calls() -> None:
    assert default_method(GAPNet(3, NetConfig(widths=(4,), downsample=1))) == "cam"
    assert default_method(FCNet(3, NetConfig(widths=(4,), downsample=1), hidden=(4,), grid=2)) == "gradcam"
    ds = MaskImages(4)
    with pytest.raises(ValueError, match="unknown map method 'lrp'"):
        L.localize(GAPNet(3), ds, "lrp")
    with pytest.raises(ValueError, match="unknown map method 'center'"):  # the prior has its own function
        L.localize(GAPNet(3), ds, "center")

    class NoBoxes(MaskImages):
        def __getitem__(self, i: int) -> Sample:
            s = self.samples[i]
            return Sample(s.image, s.label)

    with pytest.raises(ValueError, match="no boxes"):
        L.localize(GAPNet(3, NetConfig(widths=(4,), downsample=1)).eval(), NoBoxes(4), "cam")
    assert (
        L.localization_metrics(GAPNet(3).eval(), NoBoxes(2), batch_size=2, device=torch.device("cpu")) == {}
    )


@pytest.mark.parametrize("method", ["cam", "gradcam", "saliency"])
def test_real_methods_run_and_report_every_metric(method: str) -> None:
    torch.manual_seed(0)
    model = GAPNet(3, NetConfig(widths=(4, 8), downsample=2)).eval()
    rep = L.localize(model, MaskImages(6), method, batch_size=4)
    s = rep.summary()
    assert set(s) >= {"top1_cls_err", "top1_loc_err", "gt_known_loc", "max_box_acc", "max_box_acc_v2", "pxap"}
    assert all(0.0 <= v <= 100.0 for v in s.values())
    assert rep.box_acc.box_acc.shape == (3, 100)
