"""HiResCAM (Draelos & Carin, 2020): the gradient multiplies the activations position by position."""

from __future__ import annotations

from torch import Tensor, nn

from camlib.cam.base import CAMOutput, LayerRecord, channel_maps
from camlib.cam.inputs import Classes


def _hires_cam_weights(r: LayerRecord) -> Tensor:
    assert r.grads is not None
    return r.grads  # (B, N, K, h, w): one weight per channel AND position


def hires_cam(
    model: nn.Module, x: Tensor, classes: Classes = None, *, target_layer: nn.Module | None = None
) -> CAMOutput:
    """HiResCAM: ``ReLU(sum_k dS_c/dA_k(i, j) * A_k(i, j))`` — Grad-CAM without the spatial mean of the gradient.

    Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural
    networks", arXiv:2011.08891, 2020, Eq. 4. Averaging the gradient (Grad-CAM) can highlight positions the model
    did not use; the element-wise product does not. When the score is a linear function of the layer (a GAP +
    linear head), ``sum_ij`` of the map is the score minus the bias; on a GAP network the gradient is
    ``w_k^c / (h w)`` everywhere, so HiResCAM = Grad-CAM = ``ReLU(CAM) / (h w)``. One backward per class.

    Example:
        >>> import torch
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
        >>> hires_cam(net, torch.rand(1, 3, 32, 32), classes=2).maps.shape
        torch.Size([1, 1, 16, 16])
    """
    return channel_maps(model, x, classes, _hires_cam_weights, target_layer=target_layer, gradients=True)
