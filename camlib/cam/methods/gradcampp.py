"""Grad-CAM++ (Chattopadhay et al., WACV 2018): positive gradients weighed per position by a second-order alpha."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from camlib.cam.base import CAMOutput, LayerRecord, channel_maps
from camlib.cam.inputs import Classes


def _grad_cam_pp_weights(r: LayerRecord, eps: float) -> Tensor:
    assert r.grads is not None
    g = r.grads  # (B, N, K, h, w)
    total = r.acts[:, None].sum((-2, -1), keepdim=True)  # (B, 1, K, 1, 1): sum_ab A_k(a, b)
    denom = 2 * g**2 + total * g**3 + eps  # (B, N, K, h, w)
    alpha = torch.where(denom != 0, g**2 / denom, 0.0)  # 0 where the gradient (and so alpha) vanishes
    return (alpha * g.relu()).sum((-2, -1))  # (B, N, K, h, w) -> (B, N, K)


def grad_cam_plus_plus(
    model: nn.Module,
    x: Tensor,
    classes: Classes = None,
    *,
    target_layer: nn.Module | None = None,
    eps: float = 0.0,
) -> CAMOutput:
    """Grad-CAM++: ``ReLU(sum_k w_k A_k)`` with ``w_k = sum_ij alpha_k(i, j) ReLU(g_k(i, j))``,

    ``alpha_k(i, j) = g_k(i, j)^2 / (2 g_k(i, j)^2 + sum_ab A_k(a, b) g_k(i, j)^3)`` and ``g = dS_c/dA``.

    Chattopadhay et al., "Grad-CAM++: Generalized Gradient-based Visual Explanations for Deep Convolutional
    Networks", WACV 2018, Eq. 19 (the higher derivatives of an exponential score written with the first one).
    A zero denominator gives alpha 0, as in the authors' code. ``eps`` is added to the denominator:
    pytorch-grad-cam adds 1e-6, which is not small beside ``2 g^2`` when gradients are ~1e-3 (a ResNet's last
    stage) and changes the map; torchcam 0.5.0 leaves alpha undivided (its in-place division hits a copy). On a GAP network
    ``g_k = w_k^c / (h w)``, so ``w_k = h w ReLU(g_k) / (2 + g_k sum_ab A_k(a, b))``. One backward per class.

    Example:
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2))
        >>> out = grad_cam_plus_plus(net, torch.rand(2, 3, 32, 32), classes=[[0, 5]])
        >>> out.maps.shape, bool((out.maps >= 0).all())
        (torch.Size([2, 2, 16, 16]), True)
    """
    weigh = partial(_grad_cam_pp_weights, eps=eps)
    return channel_maps(model, x, classes, weigh, target_layer=target_layer, gradients=True)
