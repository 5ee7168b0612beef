"""Score-CAM (Wang et al., CVPR workshops 2020): each channel weighed by the score of the image it masks."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from camlib.cam.base import CAMOutput, LayerRecord, channel_maps
from camlib.cam.inputs import Classes
from camlib.cam.postprocess import normalize, upsample


def _score_cam_weights(r: LayerRecord, batch_size: int | None) -> Tensor:
    (b, k), (h, w) = r.acts.shape[:2], r.x.shape[-2:]
    batch_size = batch_size or max(1, 2**22 // (h * w))  # default: 2**22 pixels per pass
    masks = normalize(r.acts, "minmax").flatten(0, 1)[:, None]  # (B*K, 1, h, w), each channel to [0, 1]
    image = torch.arange(b, device=r.x.device).repeat_interleave(k)  # (B*K,) the image each mask belongs to
    scores = []
    for s in range(0, b * k, batch_size):  # the B*K masked images, batch_size per forward pass
        i = image[s : s + batch_size]
        masked = r.x[i] * upsample(masks[s : s + batch_size], (h, w))  # (n, C, H, W)
        logits = r.model(masked.contiguous(memory_format=torch.channels_last))  # (n, C_out)
        scores.append(logits.gather(1, r.classes[i]))  # (n, N)
    gain = torch.cat(scores).view(b, k, -1).transpose(1, 2) - r.logits.gather(1, r.classes)[..., None]
    return gain.softmax(-1)  # (B, N, K): softmax over channels of the score gains


def score_cam(
    model: nn.Module,
    x: Tensor,
    classes: Classes = None,
    *,
    target_layer: nn.Module | None = None,
    batch_size: int | None = None,
) -> CAMOutput:
    """Score-CAM: ``ReLU(sum_k w_k A_k)``, ``w = softmax_k(S_c(x * U(s(A_k))) - S_c(x))``.

    Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks", CVPR
    workshops 2020, Eq. 3-5: every channel, min-max normalised (``s``) and upsampled (``U``, bilinear) to the
    image, masks the image; the class score of the masked image, minus the unmasked one, is the channel's
    weight. No gradient; B*K masked images forwarded, ``batch_size`` per pass (default: 2**22 pixels, 83 images
    of 224 px; channels-last, which is faster on CPU).
    Like torchcam, each channel is normalised at the layer's resolution and then upsampled (the paper and
    pytorch-grad-cam upsample first, with ``align_corners=True``).

    Example:
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
        >>> score_cam(net, torch.rand(2, 3, 32, 32), classes=[[1, 3]], batch_size=8).maps.shape
        torch.Size([2, 2, 16, 16])
    """
    if batch_size is not None and not (type(batch_size) is int and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer (images per pass), got {batch_size!r}")
    weigh = partial(_score_cam_weights, batch_size=batch_size)
    return channel_maps(model, x, classes, weigh, target_layer=target_layer)
