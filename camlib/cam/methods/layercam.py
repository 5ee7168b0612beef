"""Layer-CAM (Jiang et al., TIP 2021): the positive part of the gradient, position by position."""

from __future__ import annotations

from torch import Tensor, nn

from camlib.cam.base import CAMOutput, LayerRecord, channel_maps
from camlib.cam.inputs import Classes


def _layer_cam_weights(r: LayerRecord) -> Tensor:
    assert r.grads is not None
    return r.grads.relu()  # (B, N, K, h, w)


def layer_cam(
    model: nn.Module, x: Tensor, classes: Classes = None, *, target_layer: nn.Module | None = None
) -> CAMOutput:
    """Layer-CAM: ``ReLU(sum_k ReLU(dS_c/dA_k(i, j)) * A_k(i, j))``.

    Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps for Localization", IEEE TIP 30, 2021,
    Eq. 6-7: each position keeps only the channels whose gradient there is positive, which keeps earlier layers'
    fine detail usable (the paper fuses several layers; this is one layer's map). On a GAP network the gradient
    is ``w_k^c / (h w)``, so Layer-CAM is the CAM built from the class's POSITIVE weights only, over ``h w``.
    One backward pass per requested class.

    Example:
        >>> import torch
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
        >>> x = torch.rand(2, 3, 32, 32)
        >>> w = net.classifier.weight[0].clamp_min(0)  # (K,) the positive weights of class 0
        >>> cam_pos = torch.einsum("k,bkhw->bhw", w, net.features(x)) / 256
        >>> torch.allclose(layer_cam(net, x, classes=0).maps[:, 0], cam_pos, atol=1e-6)
        True
    """
    return channel_maps(model, x, classes, _layer_cam_weights, target_layer=target_layer, gradients=True)
