"""The CAM pipeline drawing: its numbers are camlib's, its figure shows them, bad input is named."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from camlib.cam import class_activation_maps
from camlib.data.shapes import Shapes
from camlib.models import FCNet, GAPNet, NetConfig
from camlib.viz import cam_pipeline_numbers, plot_cam_pipeline

TINY = NetConfig(widths=(8, 16), downsample=2)


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return Shapes("val", size=2, image_size=32)[1].image


def _net(pool: str = "avg") -> GAPNet:
    torch.manual_seed(0)
    return GAPNet(6, TINY, pool=pool).eval()  # type: ignore[arg-type]


def _texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_the_numbers_are_camlibs(image: torch.Tensor) -> None:
    net = _net()
    p = cam_pipeline_numbers(net, image, class_index=3)
    out = class_activation_maps(net, image[None], [3])
    assert p.class_index == 3 and torch.allclose(p.cam, out.maps[0, 0])
    with torch.no_grad():
        feats = net.features(image[None])[0]  # (K, h, w)
        logit = float(net(image[None])[0, 3])
    assert torch.allclose(p.features, feats, atol=1e-6) and torch.allclose(
        p.pooled, feats.mean((1, 2)), atol=1e-6
    )
    assert torch.equal(p.weights, net.classifier.weight[3].detach())
    assert p.bias == pytest.approx(float(net.classifier.bias[3].detach()))
    assert p.logit == pytest.approx(logit, abs=1e-5)
    assert float(p.contributions.sum()) + p.bias == pytest.approx(
        logit, abs=1e-4
    )  # S_c = sum_k w_k F_k + b_c
    assert float(p.cam.mean()) + p.bias == pytest.approx(logit, abs=1e-4)  # mean(M_c) + b_c = S_c
    # the channels drawn: the three largest contributions and the most negative one
    order = p.contributions.argsort(descending=True).tolist()
    assert list(p.channels[:3]) == order[:3] and p.channels[3] == int(p.contributions.argmin())
    assert cam_pipeline_numbers(net, image).class_index == int(out.logits.argmax())  # default: the prediction


def test_the_figure_shows_those_numbers(image: torch.Tensor) -> None:
    net = _net()
    names = Shapes("val", size=1, image_size=32).class_names
    fig = plot_cam_pipeline(net, image, 1, class_names=names)
    p = cam_pipeline_numbers(net, image, 1)
    assert isinstance(fig, Figure) and fig.dpi >= 100 and "Fig. 2" in fig.get_suptitle()
    images = [ax for ax in fig.axes if ax.images]
    # the image, 4 feature maps, the raw map and the overlay (colour bars are axes without images)
    assert sum(1 for ax in images if ax.get_title() or ax.get_ylabel()) == 1 + 4 + 2
    titles = " ".join(ax.get_title() for ax in fig.axes)
    for step in (
        "1. the image",
        "2. feature maps",
        "3. GAP",
        "4. the weights",
        "5. $M_c",
        "6. $M_c$ upsampled",
    ):
        assert step in titles, step
    text = _texts(fig)
    for k in p.channels:
        assert f"= {float(p.pooled[k]):.3f}" in text and f"{float(p.weights[k]):+.3f}" in text
    assert f"logit for '{names[1]}': {p.logit:.3f}" in text
    assert f"= {float(p.cam.mean()) + p.bias:.3f} = $S_c$" in text  # the logit identity, with its numbers
    assert "raw $M_c$ (signed)" in " ".join(ax.get_xlabel() for ax in fig.axes)  # the raw map's colour bar
    assert "min–max normalised" in " ".join(ax.get_xlabel() for ax in fig.axes)  # the overlay's colour bar


def test_gmp_says_the_identity_does_not_hold(image: torch.Tensor) -> None:
    net = _net("max")
    p = cam_pipeline_numbers(net, image, 0)
    with torch.no_grad():
        assert float(p.contributions.sum()) + p.bias == pytest.approx(float(net(image[None])[0, 0]), abs=1e-4)
    assert torch.allclose(p.pooled, p.features.amax((1, 2)))
    assert "is NOT the logit" in _texts(plot_cam_pipeline(net, image, 0))


def test_the_models_mode_is_restored_and_bad_input_is_named(image: torch.Tensor) -> None:
    net = _net().train()
    plot_cam_pipeline(net, image)
    assert net.training and all(m.training for m in net.modules())
    with pytest.raises(ValueError, match=r"one \(3, H, W\) image.*images\[i\]"):
        cam_pipeline_numbers(net, image[None])
    with pytest.raises(ValueError, match="channels must be >= 2"):
        cam_pipeline_numbers(net, image, channels=1)
    with pytest.raises(ValueError, match="gapify"):
        cam_pipeline_numbers(FCNet(6, TINY), image)
