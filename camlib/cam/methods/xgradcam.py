"""XGrad-CAM (Fu et al., BMVC 2020): gradients averaged with the channel's own activations as the weights."""

from __future__ import annotations

from torch import Tensor, nn

from camlib.cam.base import CAMOutput, LayerRecord, channel_maps
from camlib.cam.inputs import Classes

EPS = 1e-7  # added to sum_ij A_k(i, j) (pytorch-grad-cam's value; torchcam's 1e-8)


def _xgrad_cam_weights(r: LayerRecord) -> Tensor:
    assert r.grads is not None
    a = r.acts[:, None]  # (B, 1, K, h, w)
    return (r.grads * a).sum((-2, -1)) / (a.sum((-2, -1)) + EPS)  # (B, N, K) / (B, 1, K) -> (B, N, K)


def xgrad_cam(
    model: nn.Module, x: Tensor, classes: Classes = None, *, target_layer: nn.Module | None = None
) -> CAMOutput:
    """XGrad-CAM: ``ReLU(sum_k w_k A_k)`` with ``w_k = sum_ij A_k(i, j) / sum_ab A_k(a, b) * dS_c/dA_k(i, j)``.

    Fu et al., "Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of CNNs", BMVC 2020,
    Eq. 12: the weights that best satisfy the sensitivity and conservation axioms. Where Grad-CAM averages the
    gradient uniformly, XGrad-CAM averages it with the activation's own distribution. On a GAP network the
    gradient is constant (``w_k^c / (h w)``), so XGrad-CAM = Grad-CAM = ``ReLU(CAM) / (h w)``. One backward
    pass per requested class.

    Example:
        >>> import torch
        >>> from camlib.models import GAPNet, NetConfig
        >>> from camlib.cam import grad_cam
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
        >>> x = torch.rand(2, 3, 32, 32)
        >>> torch.allclose(xgrad_cam(net, x).maps, grad_cam(net, x).maps, atol=1e-6)
        True
    """
    return channel_maps(model, x, classes, _xgrad_cam_weights, target_layer=target_layer, gradients=True)
