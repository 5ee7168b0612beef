"""Grad-CAM on a GAP network equals ReLU(CAM) / (h * w) (Zhou et al. CAM vs Selvaraju et al. Grad-CAM)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from camlib.cam import class_activation_maps, grad_cam
from camlib.models import GAPNet, NetConfig


def trained_looking_gapnet() -> GAPNet:
    """A small GAP net with non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(8, 16, 16), downsample=2))
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(8, 3, 24, 24))  # update the running statistics
    return net.eval()


def test_grad_cam_equals_relu_cam_over_hw_on_a_gap_network() -> None:
    net = trained_looking_gapnet()
    x = torch.rand(4, 3, 24, 24)
    classes = [[0, 2, 5]]  # the same three classes for every image (shape (1, N))
    cam = class_activation_maps(net, x, classes=classes)
    gc = grad_cam(net, x, classes=classes)
    h, w = cam.maps.shape[-2:]
    assert (h, w) == (12, 12)
    torch.testing.assert_close(gc.maps, F.relu(cam.maps) / (h * w), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gc.logits, cam.logits)
    assert torch.equal(gc.classes, cam.classes)
    assert (F.relu(cam.maps) > 0).any() and (cam.maps < 0).any()  # the ReLU is actually exercised


def test_grad_cam_predicted_class_and_no_side_effects() -> None:
    net = trained_looking_gapnet()
    x = torch.rand(2, 3, 24, 24)
    gc = grad_cam(net, x)
    cam = class_activation_maps(net, x)
    torch.testing.assert_close(gc.maps, F.relu(cam.maps) / 144, atol=1e-5, rtol=1e-5)
    assert all(p.grad is None for p in net.parameters())
    assert all(not m._forward_hooks and not m._backward_hooks for m in net.modules())
