"""The course's networks: shapes, the last map's resolution, gapify, specs, parameter counts."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from camlib.cam import find_cam_head
from camlib.models import (
    FCNet,
    GAPNet,
    GlobalPoolNet,
    ModelSpec,
    NetConfig,
    build_model,
    count_parameters,
    gapify,
)


@pytest.mark.parametrize(("downsample", "side"), [(1, 64), (2, 32), (4, 16), (8, 8)])
def test_downsample_sets_last_map_resolution(downsample: int, side: int) -> None:
    net = GAPNet(6, NetConfig(widths=(8, 8, 8, 8), downsample=downsample)).eval()
    x = torch.rand(2, 3, 64, 64)
    assert net.features(x).shape == (2, 8, side, side)
    assert net(x).shape == (2, 6)


def test_gap_and_gmp_heads() -> None:
    gap, gmp = GAPNet(6), GAPNet(6, pool="max")
    assert isinstance(gap.pool, nn.AdaptiveAvgPool2d) and isinstance(gmp.pool, nn.AdaptiveMaxPool2d)
    assert isinstance(gap.classifier, nn.Linear) and gap.classifier.in_features == 128
    assert count_parameters(gap) == count_parameters(gmp)  # pooling has no parameters
    x = torch.rand(1, 3, 64, 64)
    gap.eval()
    f = gap.features(x)
    torch.testing.assert_close(gap(x), gap.classifier(f.mean(dim=(-2, -1))))
    gmp.eval()
    f = gmp.features(x)
    torch.testing.assert_close(gmp(x), gmp.classifier(f.amax(dim=(-2, -1))))


def test_fc_head_baseline() -> None:
    net = FCNet(6, NetConfig(), hidden=(256, 256), grid=4).eval()
    assert net.features(torch.rand(1, 3, 64, 64)).shape == (1, 128, 16, 16)
    assert net(torch.rand(3, 3, 64, 64)).shape == (3, 6)
    linears = [m for m in net.classifier if isinstance(m, nn.Linear)]
    assert [m.in_features for m in linears] == [128 * 4 * 4, 256, 256]
    # the flatten head holds most of the parameters: position-specific weights
    assert count_parameters(net.classifier) > 2 * count_parameters(net.features)
    with pytest.raises(ValueError, match="no global pooling"):
        find_cam_head(net)


def test_parameter_count_exact() -> None:
    net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2))
    # conv 3->8 (216) + BN (16) + conv 8->16 (1152) + BN (32) + linear 16*6+6 (102)
    assert count_parameters(net) == 216 + 16 + 1152 + 32 + 102


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"downsample": 3}, "power of two"),
        ({"downsample": 32}, "needs 5 pooling stages"),
        ({"widths": ()}, "widths"),
        ({"widths": (8, 0)}, "widths"),
    ],
)
def test_bad_config(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        NetConfig(**kwargs)  # type: ignore[arg-type]


def test_bad_pool_and_classes() -> None:
    with pytest.raises(ValueError, match="'avg' or 'max'"):
        GAPNet(6, pool="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_classes"):
        GAPNet(0)


def test_gapify_vgg_alexnet_resnet() -> None:
    vgg = gapify(torchvision.models.vgg16(weights=None), 7)
    assert isinstance(vgg, GlobalPoolNet)
    convs = [m for m in vgg.features if isinstance(m, nn.Conv2d)]
    assert convs[-1].out_channels == 1024 and convs[-1].kernel_size == (3, 3)
    assert not isinstance(list(vgg.features)[-1], nn.MaxPool2d)
    assert vgg.eval().features(torch.rand(1, 3, 224, 224)).shape == (1, 1024, 14, 14)
    alex = gapify(torchvision.models.alexnet(weights=None), 3).eval()
    assert alex.features(torch.rand(1, 3, 224, 224)).shape == (1, 1024, 13, 13)  # the paper's 13x13
    res = gapify(torchvision.models.resnet18(weights=None), 4)
    assert res.fc.out_features == 4  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="gapify supports"):
        gapify(nn.Linear(2, 2), 3)


def test_spec_round_trip_rebuilds_the_same_architecture() -> None:
    for spec in (
        ModelSpec("gap", 6, NetConfig(widths=(8, 16), downsample=2)),
        ModelSpec("gmp", 6),
        ModelSpec("fc", 6, NetConfig(widths=(8, 16), downsample=2), {"hidden": (32,), "grid": 2}),
    ):
        d = spec.to_dict()
        assert ModelSpec.from_dict(d) == spec
        a, b = build_model(spec), build_model(ModelSpec.from_dict(d))
        assert [k for k in a.state_dict()] == [k for k in b.state_dict()]
    with pytest.raises(ValueError, match="unknown arch"):
        build_model(ModelSpec("vit", 6))
