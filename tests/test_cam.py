"""CAM against independent references: the logit identity, hand-computed maps, Grad-CAM, bad inputs, hooks."""

from __future__ import annotations

import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from camlib.cam import (
    capture,
    class_activation_maps,
    find_cam_head,
    grad_cam,
    normalize,
    resolve_classes,
    upsample,
)
from camlib.models import GAPNet, GlobalPoolNet, NetConfig, gapify


def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()
    )


def _assert_identity(
    maps: torch.Tensor, logits: torch.Tensor, bias: torch.Tensor, classes: torch.Tensor
) -> None:
    """mean_xy M_c + b_c == S_c, to 1e-4 relative (Zhou et al. Eq. 2 with a mean for GAP)."""
    lhs = maps.double().mean(dim=(-2, -1)) + bias.double()[classes]  # (B, K)
    rhs = logits.double().gather(1, classes)  # (B, K)
    torch.testing.assert_close(lhs, rhs, rtol=1e-4, atol=1e-4 * rhs.abs().max().item() + 1e-6)


@settings(max_examples=25, deadline=None)
@given(
    w1=st.integers(1, 12),
    w2=st.integers(1, 12),
    downsample=st.sampled_from([1, 2, 4]),
    side=st.integers(8, 24),
    batch=st.integers(1, 4),
    num_classes=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_logit_identity_gapnet(
    w1: int, w2: int, downsample: int, side: int, batch: int, num_classes: int, seed: int
) -> None:
    torch.manual_seed(seed)
    net = GAPNet(num_classes, NetConfig(widths=(w1, w2), downsample=downsample)).eval()
    with torch.no_grad():
        net.classifier.bias.normal_()
    x = torch.randn(batch, 3, side, side)
    out = class_activation_maps(net, x, classes=[list(range(num_classes))])
    assert out.maps.shape == (batch, num_classes, side // downsample, side // downsample)
    _assert_identity(out.maps, out.logits, net.classifier.bias, out.classes)


@settings(max_examples=8, deadline=None)
@given(side=st.sampled_from([32, 64, 96]), batch=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_logit_identity_resnet18(side: int, batch: int, seed: int) -> None:
    torch.manual_seed(seed)
    net = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    with torch.no_grad():
        net.fc.bias.normal_()
    x = torch.randn(batch, 3, side, side)
    out = class_activation_maps(net, x, classes=[list(range(10))])
    assert out.maps.shape == (batch, 10, side // 32, side // 32)
    _assert_identity(out.maps, out.logits, net.fc.bias, out.classes)


def test_exact_values_hand_built_network() -> None:
    # features: a 1x1 conv with f_0 = x, f_1 = -x; head: w = [[1, 2], [3, -1]], b = [0.5, -0.5]
    conv = nn.Conv2d(1, 2, 1, bias=False)
    net = GlobalPoolNet(conv, channels=2, num_classes=2).eval()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        net.classifier.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, -1.0]]))
        net.classifier.bias.copy_(torch.tensor([0.5, -0.5]))
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    out = class_activation_maps(net, x, classes=[[0, 1]])
    # M_0 = 1*x + 2*(-x) = -x ; M_1 = 3*x + (-1)*(-x) = 4x
    expected = torch.tensor([[[[-1.0, -2.0], [-3.0, -4.0]], [[4.0, 8.0], [12.0, 16.0]]]])
    assert torch.equal(out.maps, expected)
    assert out.logits.tolist() == [[-2.0, 9.5]]  # mean(-x) + 0.5 = -2.0 ; mean(4x) - 0.5 = 9.5
    assert out.classes.tolist() == [[0, 1]]
    # default: the predicted class (1)
    assert class_activation_maps(net, x).classes.tolist() == [[1]]


def test_gmp_network_gives_the_same_weighted_sum() -> None:
    torch.manual_seed(0)
    net = GAPNet(4, NetConfig(widths=(8, 8), downsample=2), pool="max").eval()
    x = torch.rand(2, 3, 16, 16)
    out = class_activation_maps(net, x, classes=[3])
    feats = net.features(x)
    ref = torch.einsum("k,bkhw->bhw", net.classifier.weight[3], feats)
    torch.testing.assert_close(out.maps[:, 0], ref)
    assert find_cam_head(net).pool_kind == "max"


def test_class_selection_modes(tiny_gap: GAPNet, images: torch.Tensor) -> None:
    per_image = torch.tensor([0, 5, 2, 2])
    out = class_activation_maps(tiny_gap, images, classes=per_image)
    assert out.maps.shape == (4, 1, 16, 16) and out.classes[:, 0].tolist() == [0, 5, 2, 2]
    all_maps = class_activation_maps(tiny_gap, images, classes=[list(range(6))]).maps
    torch.testing.assert_close(out.maps[:, 0], all_maps[torch.arange(4), per_image])
    assert class_activation_maps(tiny_gap, images, classes=3).maps.shape == (4, 1, 16, 16)
    two = class_activation_maps(tiny_gap, images, classes=torch.tensor([[1, 4]] * 4))
    torch.testing.assert_close(two.maps, all_maps[:, [1, 4]])
    pred = class_activation_maps(tiny_gap, images)
    assert pred.classes[:, 0].tolist() == pred.logits.argmax(1).tolist()
    assert not pred.maps.requires_grad


def test_gapified_vgg_and_no_gap_models() -> None:
    vgg = gapify(torchvision.models.vgg11(weights=None), 5).eval()
    out = class_activation_maps(vgg, torch.rand(1, 3, 224, 224), classes=[[0, 4]])
    assert out.maps.shape == (1, 2, 14, 14)  # the paper's 14x14 maps
    _assert_identity(out.maps, out.logits, vgg.classifier.bias, out.classes)
    for ctor in (torchvision.models.vgg16, torchvision.models.alexnet):
        with pytest.raises(ValueError, match="gapify"):
            class_activation_maps(ctor(weights=None).eval(), torch.rand(1, 3, 64, 64))


def test_mlp_after_global_pool_is_rejected() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)
    )
    with pytest.raises(ValueError, match="2 linear layers after its global pooling"):
        class_activation_maps(net, torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.rand(3, 32, 32), r"unsqueeze\(0\)"),
        (torch.rand(1, 1, 3, 32, 32), r"\(B, C, H, W\)"),
        (torch.rand(2, 1, 32, 32), r"expects 3 input channels, x has 1.*expand"),
        (torch.rand(2, 4, 32, 32), "expects 3 input channels, x has 4"),
        (torch.randint(0, 255, (1, 3, 32, 32), dtype=torch.uint8), r"float\(\) / 255"),
    ],
)
def test_bad_inputs_name_the_fix(tiny_gap: GAPNet, x: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        class_activation_maps(tiny_gap, x)
    with pytest.raises(ValueError, match=match):
        grad_cam(tiny_gap, x)


@pytest.mark.parametrize("classes", [6, -1, [[0, 7]], torch.tensor([0, 1, 2, 6])])
def test_class_out_of_range(tiny_gap: GAPNet, images: torch.Tensor, classes: object) -> None:
    with pytest.raises(ValueError, match=r"out of range for a model with 6 classes \(valid: 0..5\)"):
        class_activation_maps(tiny_gap, images, classes=classes)  # type: ignore[arg-type]


def test_resolve_classes_errors() -> None:
    logits = torch.zeros(3, 4)
    with pytest.raises(ValueError, match="needs 3 values"):
        resolve_classes(torch.tensor([0, 1]), logits)
    with pytest.raises(ValueError, match="empty"):
        resolve_classes([], logits)


def test_no_hooks_left_after_success_and_after_exception(tiny_gap: GAPNet, images: torch.Tensor) -> None:
    class Boom(Exception):
        pass

    class Exploding(GAPNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.pool(self.features(x))  # the hook fires
            raise Boom

    class_activation_maps(tiny_gap, images)
    grad_cam(tiny_gap, images)
    assert _hooks(tiny_gap) == 0
    bad = Exploding(6, NetConfig(widths=(8, 16), downsample=2)).eval()
    with pytest.raises(Boom):
        class_activation_maps(bad, images)
    with pytest.raises(Boom):
        grad_cam(bad, images)
    assert _hooks(bad) == 0
    with pytest.raises(ValueError):  # class out of range is raised after the forward pass
        class_activation_maps(tiny_gap, images, classes=99)
    assert _hooks(tiny_gap) == 0
    lin = nn.Linear(2, 2)
    with pytest.raises(Boom), capture(lin):
        raise Boom
    assert _hooks(lin) == 0


def test_grad_cam_equals_relu_cam_over_hw_and_leaves_no_grads(tiny_gap: GAPNet, images: torch.Tensor) -> None:
    cam = class_activation_maps(tiny_gap, images, classes=[[0, 3]])
    g = grad_cam(tiny_gap, images, classes=[[0, 3]])
    h, w = cam.maps.shape[-2:]
    torch.testing.assert_close(g.maps, cam.maps.clamp_min(0) / (h * w), atol=1e-5, rtol=1e-5)
    assert all(p.grad is None for p in tiny_gap.parameters())


def test_normalize_and_upsample() -> None:
    maps = torch.tensor([[[[0.0, 2.0], [4.0, 8.0]], [[3.0, 3.0], [3.0, 3.0]]]])  # (1, 2, 2, 2)
    mm = normalize(maps, "minmax")
    assert mm[0, 0].tolist() == [[0.0, 0.25], [0.5, 1.0]]
    assert mm[0, 1].tolist() == [[0.0, 0.0], [0.0, 0.0]]  # constant map -> zeros, not NaN
    neg = torch.tensor([[[-1.0, -2.0], [-3.0, -4.0]]])
    assert normalize(neg, "max").abs().sum() == 0  # nothing positive -> zeros
    assert normalize(torch.tensor([[[-2.0, 1.0], [2.0, 0.0]]]), "max").tolist() == [[[0.0, 0.5], [1.0, 0.0]]]
    with pytest.raises(ValueError, match="NaN"):
        normalize(torch.tensor([[[float("nan"), 1.0]]]))
    with pytest.raises(ValueError, match="'minmax' or 'max'"):
        normalize(maps, "sigmoid")
    up = upsample(maps, 8, "bilinear")
    assert up.shape == (1, 2, 8, 8)
    assert torch.allclose(up[0, 1], torch.full((8, 8), 3.0))  # bilinear keeps a constant map constant
    assert upsample(maps, (4, 6), "nearest")[0, 0, 0].tolist() == [0.0, 0.0, 0.0, 2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="mode"):
        upsample(maps, 8, "area")
    with pytest.raises(ValueError, match=r"\(B, N, h, w\)"):
        upsample(maps[0], 8)
