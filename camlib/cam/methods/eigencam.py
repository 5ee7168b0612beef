"""Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): the activations projected on their first principal component."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from camlib.cam.base import CAMOutput, LayerRecord, channel_maps
from camlib.cam.inputs import Classes


def _eigen_cam_weights(r: LayerRecord) -> tuple[Tensor, Tensor]:
    a = r.acts.flatten(2).transpose(1, 2)  # (B, K, h, w) -> (B, hw, K): one row per position
    mean = a.mean(1, keepdim=True)  # (B, 1, K) each channel's mean
    v = torch.linalg.svd(a - mean, full_matrices=False).Vh[:, 0]  # (B, K) first right singular vector
    v = torch.where(v.sum(-1, keepdim=True) < 0, -v, v)  # the sign that agrees with the total activation
    n = r.classes.shape[1]
    offset = -(mean[:, 0] * v).sum(-1)  # (B,): sum_k v_k (A_k - mean_k) = sum_k v_k A_k + offset
    return v[:, None].expand(-1, n, -1), offset[:, None].expand(-1, n)  # (B, N, K), (B, N)


def eigen_cam(
    model: nn.Module, x: Tensor, classes: Classes = None, *, target_layer: nn.Module | None = None
) -> CAMOutput:
    """Eigen-CAM: ``ReLU(sum_k v_k (A_k - mean_ij A_k))``, ``v`` the first principal direction of the channels.

    Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal Components", IJCNN 2020, Eq. 3-4:
    the (h w, K) matrix of activations is factorised (SVD) and projected on its first right singular vector.
    Channels are centred first, as pytorch-grad-cam does. The sign of a singular vector is arbitrary: camlib takes
    the one with ``sum_k v_k >= 0``, i.e. the map correlates positively with the total activation
    ``sum_k A_k``. No gradient and no class: the map is the same for every class (``classes`` only sets N).

    Example:
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
        >>> out = eigen_cam(net, torch.rand(2, 3, 32, 32), classes=[[0, 5]])
        >>> out.maps.shape, torch.equal(out.maps[:, 0], out.maps[:, 1])
        (torch.Size([2, 2, 16, 16]), True)
    """
    return channel_maps(model, x, classes, _eigen_cam_weights, target_layer=target_layer)
