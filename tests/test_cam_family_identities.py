"""The CAM family's identities on a GAP network, as property tests (hypothesis draws the network and the input).

On a GAP + linear network ``S_c = sum_k w_k^c mean_ij A_k(i, j) + b_c``, so ``dS_c/dA_k(i, j) = w_k^c / (h w)``
everywhere. Hence, before the ReLU (``channel_maps(..., relu=False)`` with the method's own weights):

* Grad-CAM (mean gradient), XGrad-CAM (activation-weighted mean gradient) and HiResCAM (gradient x activation)
  all equal ``CAM / (h w)``: CAM up to a positive scale;
* Layer-CAM (positive gradient x activation) equals the CAM built from the class's positive weights, over h w;
* Grad-CAM++ weighs channel k by ``h w ReLU(c_k) / (2 + c_k sum_ij A_k)`` with ``c_k = w_k^c / (h w)``;
* Eigen-CAM uses no class at all: every requested class gets the same map.

Tolerance: ``TOL = 1e-5`` relative to the largest |CAM / (h w)| (XGrad-CAM's eps 1e-7 on ``sum_ij A_k`` is the
only departure from exact algebra).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from camlib.cam import LayerRecord, channel_maps, class_activation_maps, eigen_cam, layer_cam
from camlib.cam.methods.gradcam import _grad_cam_weights
from camlib.cam.methods.gradcampp import _grad_cam_pp_weights
from camlib.cam.methods.hirescam import _hires_cam_weights
from camlib.cam.methods.layercam import _layer_cam_weights
from camlib.cam.methods.xgradcam import _xgrad_cam_weights
from camlib.models import GAPNet, NetConfig

TOL = 1e-5
NUM_CLASSES = 5


@st.composite
def gap_cases(draw: st.DrawFn) -> tuple[GAPNet, Tensor, list[list[int]]]:
    """A seeded GAPNet with non-trivial BatchNorm statistics (eval mode), images, and N classes per image."""
    seed = draw(st.integers(0, 10_000))
    widths = draw(st.sampled_from([(4, 8), (8, 8), (6, 12, 12)]))
    side = draw(st.sampled_from([16, 24, 32]))
    batch = draw(st.integers(1, 3))
    classes = draw(st.lists(st.integers(0, NUM_CLASSES - 1), min_size=1, max_size=3))
    torch.manual_seed(seed)
    net = GAPNet(NUM_CLASSES, NetConfig(widths=widths, downsample=2)).train()
    with torch.no_grad():
        net(torch.rand(8, 3, side, side))  # running statistics that are not the defaults
    x = torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(seed + 1))
    return net.eval(), x, [classes]


def raw(net: GAPNet, x: Tensor, classes: list[list[int]], weigh: Callable[[LayerRecord], Tensor]) -> Tensor:
    """A method's map before the ReLU, at the features the GAP head pools."""
    return channel_maps(net, x, classes, weigh, gradients=True, relu=False).maps  # (B, N, h, w)


def assert_close(ours: Tensor, ref: Tensor) -> None:
    err = float((ours - ref).abs().max())
    assert err <= TOL * float(ref.abs().max()), err


@settings(max_examples=15, deadline=None)
@given(gap_cases())
def test_grad_cam_xgrad_cam_and_hires_cam_are_cam_up_to_a_positive_scale(
    case: tuple[GAPNet, Tensor, list[list[int]]],
) -> None:
    net, x, classes = case
    cam = class_activation_maps(net, x, classes).maps  # (B, N, h, w), signed
    h, w = cam.shape[-2:]
    for weigh in (_grad_cam_weights, _xgrad_cam_weights, _hires_cam_weights):
        ours = raw(net, x, classes, weigh)
        scale = (ours * cam).sum() / (cam * cam).sum()  # the least-squares scale
        assert scale > 0
        torch.testing.assert_close(scale, torch.tensor(1.0 / (h * w)), rtol=TOL, atol=0)
        assert_close(ours, cam / (h * w))


@settings(max_examples=15, deadline=None)
@given(gap_cases())
def test_layer_cam_is_the_cam_of_the_positive_class_weights(
    case: tuple[GAPNet, Tensor, list[list[int]]],
) -> None:
    net, x, classes = case
    feats = net.features(x).detach()  # (B, K, h, w)
    h, w = feats.shape[-2:]
    pos = net.classifier.weight.detach()[classes[0]].clamp_min(0)  # (N, K): w_k^c where positive, else 0
    ref = torch.einsum("nk,bkhw->bnhw", pos, feats) / (h * w)  # (B, N, h, w)
    assert_close(raw(net, x, classes, _layer_cam_weights), ref)
    assert_close(layer_cam(net, x, classes).maps, ref.relu())


@settings(max_examples=15, deadline=None)
@given(gap_cases())
def test_grad_cam_pp_weights_in_closed_form(case: tuple[GAPNet, Tensor, list[list[int]]]) -> None:
    net, x, classes = case
    feats = net.features(x).detach()  # (B, K, h, w)
    h, w = feats.shape[-2:]
    c = net.classifier.weight.detach()[classes[0]] / (h * w)  # (N, K): the constant gradient
    total = feats.sum((-2, -1))[:, None]  # (B, 1, K)
    weights = h * w * c.relu() / (2 + c * total)  # (B, N, K)
    ref = torch.einsum("bnk,bkhw->bnhw", weights, feats)

    def weigh(r: LayerRecord) -> Tensor:
        return _grad_cam_pp_weights(r, eps=0.0)

    assert_close(raw(net, x, classes, weigh), ref)


@settings(max_examples=15, deadline=None)
@given(gap_cases(), st.integers(0, NUM_CLASSES - 1), st.integers(0, NUM_CLASSES - 1))
def test_eigen_cam_is_class_agnostic(case: tuple[GAPNet, Tensor, list[list[int]]], a: int, b: int) -> None:
    net, x, classes = case
    many = eigen_cam(net, x, classes).maps  # (B, N, h, w)
    assert all(torch.equal(many[:, 0], many[:, j]) for j in range(many.shape[1]))
    assert torch.equal(eigen_cam(net, x, a).maps, eigen_cam(net, x, b).maps)
    # one class vs several in one call: the same map, up to the last bit of a batched einsum (seen: 3e-8 of 0.27)
    assert_close(eigen_cam(net, x, a).maps[:, 0], many[:, 0])
