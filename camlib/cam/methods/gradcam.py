"""Grad-CAM (Selvaraju et al., ICCV 2017): channels weighed by the spatial mean of the class score's gradient."""

from __future__ import annotations

from torch import Tensor, nn

from camlib.cam.base import CAMOutput, LayerRecord, channel_maps
from camlib.cam.inputs import Classes


def _grad_cam_weights(r: LayerRecord) -> Tensor:
    assert r.grads is not None
    return r.grads.mean(dim=(-2, -1))  # (B, N, K, h, w) -> (B, N, K)


def grad_cam(
    model: nn.Module, x: Tensor, classes: Classes = None, *, target_layer: nn.Module | None = None
) -> CAMOutput:
    """Grad-CAM: ``ReLU(sum_k alpha_k^c A_k)`` with ``alpha_k^c = mean_xy dS_c/dA_k(x, y)``.

    Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization",
    ICCV 2017, Eq. 1-2. Works for any CNN (FC heads included); on a GAP network ``dS_c/dA_k = w_k^c / (h w)``,
    so it equals ``ReLU(CAM) / (h w)``. One backward pass per requested class, through
    ``torch.autograd.grad`` (parameters get no ``.grad``).

    Args:
        model: any CNN classifier.
        x: (B, C, H, W) float images.
        classes: see :func:`camlib.cam.resolve_classes`; default the predicted class.
        target_layer: module whose output A is weighed (default :func:`camlib.cam.default_target_layer`).

    Returns:
        :class:`~camlib.cam.CAMOutput` with non-negative maps (B, N, h, w).

    Example:
        >>> import torch
        >>> from camlib.models import FCNet, NetConfig
        >>> net = FCNet(6, NetConfig(widths=(8, 16), downsample=2), hidden=(32,), grid=2)
        >>> grad_cam(net, torch.rand(1, 3, 32, 32)).maps.shape
        torch.Size([1, 1, 16, 16])
    """
    return channel_maps(model, x, classes, _grad_cam_weights, target_layer=target_layer, gradients=True)
