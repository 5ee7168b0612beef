"""Tests of camlib.cam.methods.saliency: exact values on a linear model, batch independence, the API shared with CAM."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from camlib.cam import class_activation_maps, gradient_saliency
from camlib.models import FCNet, GAPNet, NetConfig

SMALL = NetConfig(widths=(8, 16), downsample=2)


def test_linear_model_saliency_is_max_abs_weight_over_channels() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(3 * 4 * 5, 7)
    model = nn.Sequential(nn.Flatten(), lin).eval()
    x = torch.rand(2, 3, 4, 5)
    out = gradient_saliency(model, x, classes=[[1, 6]])
    expected = lin.weight.detach().view(7, 3, 4, 5).abs().amax(1)[[1, 6]]  # (K, H, W): dS_c/dx = w_c
    torch.testing.assert_close(out.maps, expected.expand(2, -1, -1, -1))
    torch.testing.assert_close(out.logits, model(x).detach())
    assert out.classes.tolist() == [[1, 6], [1, 6]]


def test_matches_autograd_on_one_image_and_is_batch_independent() -> None:
    torch.manual_seed(0)
    net = FCNet(5, SMALL, hidden=(16,), grid=2).eval()
    x = torch.rand(3, 3, 16, 16)
    out = gradient_saliency(net, x)  # predicted classes
    assert out.maps.shape == (3, 1, 16, 16) and (out.maps >= 0).all()
    xi = x[1:2].clone().requires_grad_(True)
    net(xi)[0, out.classes[1, 0]].backward()
    torch.testing.assert_close(out.maps[1, 0], xi.grad[0].abs().amax(0))  # type: ignore[index]
    torch.testing.assert_close(gradient_saliency(net, x[2:3]).maps[0], out.maps[2])


def test_leaves_no_grad_on_params_or_input_and_works_on_gap_nets() -> None:
    net = GAPNet(4, SMALL).eval()
    x = torch.rand(2, 3, 16, 16)
    out = gradient_saliency(net, x, classes=torch.tensor([0, 3]))
    assert all(p.grad is None for p in net.parameters())
    assert x.grad is None and not x.requires_grad
    assert not out.maps.requires_grad
    assert (
        out.classes.tolist() == class_activation_maps(net, x, classes=torch.tensor([0, 3])).classes.tolist()
    )


def test_bad_input_names_the_fix() -> None:
    net = GAPNet(4, SMALL).eval()
    with pytest.raises(ValueError, match="unsqueeze"):
        gradient_saliency(net, torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="out of range"):
        gradient_saliency(net, torch.rand(1, 3, 16, 16), classes=9)
