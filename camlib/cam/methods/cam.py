"""CAM (Zhou et al., CVPR 2016): the class's own linear weights on the features its GAP head pools."""

from __future__ import annotations

from torch import Tensor, nn

from camlib.cam.base import CAMOutput, LayerRecord, channel_maps
from camlib.cam.inputs import Classes


def _cam_weights(r: LayerRecord) -> Tensor:
    assert r.head is not None
    return r.head.linear.weight[r.classes]  # (C, K)[classes] -> (B, N, K)


def class_activation_maps(
    model: nn.Module, x: Tensor, classes: Classes = None, *, target_layer: nn.Module | None = None
) -> CAMOutput:
    """Raw class activation maps ``M_c = sum_k w_k^c f_k`` and the logits, in ONE forward pass.

    Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016, Sec. 2. For a network
    whose last conv features f_k(x, y) are globally average-pooled into one linear layer,
    ``S_c = sum_k w_k^c mean_xy f_k(x, y) + b_c = mean_xy M_c(x, y) + b_c``. No ReLU, no normalisation, no
    upsampling: on a GAP network ``maps.mean((-2, -1)) + bias[classes] == logits[classes]``. Gradients are not
    tracked; the model runs in eval mode and its mode is restored.

    Args:
        model: a network with global pooling and one linear layer (see :func:`camlib.cam.find_cam_head`).
        x: (B, C, H, W) float images.
        classes: see :func:`camlib.cam.resolve_classes`; default the predicted class.
        target_layer: must be ``None`` (CAM maps the pooled features); for another layer use Grad-CAM.

    Returns:
        :class:`~camlib.cam.CAMOutput` with maps (B, N, h, w), logits (B, C) and classes (B, N).

    Raises:
        ValueError: wrong input shape or channels, class out of range, or a model without a GAP+linear head.

    Example:
        >>> import torch
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2))
        >>> class_activation_maps(net, torch.rand(2, 3, 32, 32), classes=[[0, 5]]).maps.shape
        torch.Size([2, 2, 16, 16])
    """
    return channel_maps(model, x, classes, _cam_weights, layer="head", target_layer=target_layer, relu=False)
