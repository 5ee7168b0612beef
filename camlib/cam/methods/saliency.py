"""Gradient saliency (Simonyan, Vedaldi, Zisserman, ICLR workshop 2014): the paper's "backprop" baseline.

The saliency of class c at pixel (x, y) is ``max over colour channels ch of |dS_c / dI(ch, x, y)|``: how much a
tiny change of that pixel would change the class score. Zhou et al. (CVPR 2016, Table 2) box these maps with the
same rule as CAMs and find them worse localizers ("Backprop on GoogLeNet": 61.31 top-1 loc error vs 56.40 for
GoogLeNet-GAP). Unlike CAM it needs no particular architecture, and the map is at input resolution already.
"""

from __future__ import annotations

import torch
from torch import nn

from camlib.cam.base import CAMOutput, _forward, class_gradients, evaluation
from camlib.cam.inputs import Classes, resolve_classes, validate_images


def gradient_saliency(
    model: nn.Module, x: torch.Tensor, classes: Classes = None, *, target_layer: nn.Module | None = None
) -> CAMOutput:
    """Gradient saliency maps ``max_ch |dS_c / dx|`` for the requested classes.

    Simonyan et al., "Deep Inside Convolutional Networks", 2014, Sec. 3.1. ``S_c`` is the logit (not the
    softmax). Gradients come from ``torch.autograd.grad`` with respect to the input only: the model's
    parameters get no ``.grad``. The model runs in eval mode (in train mode BatchNorm would mix the images of a
    batch) and its mode is restored.

    Args:
        model: any classifier mapping (B, C_in, H, W) images to (B, num_classes) logits.
        x: (B, C_in, H, W) float images.
        classes: see :func:`camlib.cam.resolve_classes`; default the predicted class.
        target_layer: must be ``None``: saliency is taken at the input.

    Returns:
        :class:`camlib.cam.CAMOutput` with non-negative maps (B, N, H, W) at INPUT resolution, the logits
        (B, num_classes) and the classes (B, N).

    Example:
        >>> from camlib.models import FCNet, NetConfig
        >>> net = FCNet(6, NetConfig(widths=(8, 16), downsample=2), hidden=(32,), grid=2)
        >>> gradient_saliency(net, torch.rand(2, 3, 32, 32), classes=[[0, 3]]).maps.shape
        torch.Size([2, 2, 32, 32])
    """
    if target_layer is not None:
        raise ValueError(
            "saliency is the gradient at the input, so target_layer does not apply: leave it out"
        )
    validate_images(model, x)
    with evaluation(model), torch.inference_mode(False), torch.enable_grad():
        inp = x.detach().clone().requires_grad_(True)
        logits = _forward(model, inp, tuple(x.shape))  # (B, C)
        idx = resolve_classes(classes, logits.detach())  # (B, N)
        grads = class_gradients(logits.gather(1, idx), inp)  # (B, N, C_in, H, W)
    maps = grads.abs().amax(dim=2)  # (B, N, C_in, H, W) -> (B, N, H, W)
    return CAMOutput(maps.float(), logits.detach().float(), idx)
