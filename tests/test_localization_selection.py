"""The threshold chosen on validation: only validation images, the best BoxAcc(tau, 0.5), applied consistently."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from camlib.boxes import iou, largest_component_box
from camlib.cam import class_activation_maps, normalize, upsample
from camlib.data.shapes import Shapes
from camlib.localization import localize, select_tau, tau_choice
from camlib.models import GAPNet, NetConfig


@pytest.fixture(scope="module")
def net() -> GAPNet:
    torch.manual_seed(0)
    return GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()


class Guard:
    """A split that fails the test as soon as anything reads an image from it."""

    def __init__(self, split: Any) -> None:
        if split is not None:
            self.split = split
        self.class_names = ["a", "b"]

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> None:
        pytest.fail("an image was read")

    def batch(self, *a: object, **k: object) -> None:
        pytest.fail("a batch was read")


@pytest.mark.parametrize(
    ("split", "said"),
    [
        ("test", "the 'test' split"),
        ("train", "the 'train' split"),
        (None, "a dataset that does not say its split"),
    ],
)
def test_select_tau_refuses_every_split_but_validation_before_reading(
    net: GAPNet, split: Any, said: str
) -> None:
    with pytest.raises(ValueError, match=f"VALIDATION split, never on test; got {said}.*split='val'"):
        select_tau(net, Guard(split))  # type: ignore[arg-type]


def test_the_choice_is_the_best_boxacc_at_delta_half_and_applies_as_chosen(net: GAPNet) -> None:
    val = Shapes("val", size=48, image_size=32)
    choice = select_tau(net, val, "cam", batch_size=16)
    assert (
        choice.split == "val"
        and choice.num_images == 48
        and choice.method == "cam"
        and choice.how == "minmax"
    )
    rep = localize(net, val, "cam")
    curve = rep.box_acc.box_acc_largest[rep.box_acc.iou_thresholds.index(0.5)]  # (T,)
    assert choice.box_acc == pytest.approx(float(curve.max())) == pytest.approx(rep.box_acc.max_box_acc)
    assert choice.tau == pytest.approx(float(rep.box_acc.thresholds[int(curve.argmax())]))
    assert tau_choice(rep) == choice
    # applied to the same images, the chosen tau gives exactly the BoxAcc it was chosen for
    again = localize(net, val, "cam", chosen_tau=choice.tau)
    assert again.loc_chosen is not None and again.chosen_tau == choice.tau
    assert again.loc_chosen.gt_known_loc == pytest.approx(choice.box_acc)
    assert again.loc.gt_known_loc == pytest.approx(
        rep.loc.gt_known_loc
    )  # the paper's 20% column is unchanged
    s = again.summary()
    assert s["chosen_tau"] == round(choice.tau, 2) and "gt_known_loc_chosen_tau" in s
    assert "chosen_tau" not in rep.summary()  # nothing chosen, nothing reported


def test_chosen_tau_boxes_are_min_max_boxes(net: GAPNet) -> None:
    ds = Shapes("val", size=8, image_size=32)
    b = ds.batch(range(8))
    maps = upsample(class_activation_maps(net, b.images, b.labels).maps, (32, 32))[:, 0]  # (B, H, W)
    tau = 0.55
    boxes = largest_component_box(normalize(maps, "minmax"), tau)  # the min-max rule, by hand
    assert b.boxes is not None
    ious = torch.stack([iou(boxes[i], b.boxes[i]) for i in range(8)])  # (B,)
    rep = localize(net, ds, "cam", chosen_tau=tau)
    assert rep.loc_chosen is not None
    assert rep.loc_chosen.gt_known_loc == pytest.approx(100.0 * float((ious >= 0.5).float().mean()))
