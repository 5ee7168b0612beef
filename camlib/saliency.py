"""Gradient saliency (Simonyan, Vedaldi, Zisserman, ICLR workshop 2014): the paper's "backprop" baseline.

The saliency of class c at pixel (x, y) is ``max over colour channels ch of |dS_c / dI(ch, x, y)|``: how much a
tiny change of that pixel would change the class score. Zhou et al. (CVPR 2016, Table 2) box these maps with the
same rule as CAMs and find them worse localizers ("Backprop on GoogLeNet": 61.31 top-1 loc error vs 56.40 for
GoogLeNet-GAP). Unlike CAM it needs no particular architecture, and the map is at input resolution already.
"""

from __future__ import annotations

import torch
from torch import nn

from camlib.cam import CAMOutput, Classes, check_input, resolve_classes


def gradient_saliency(model: nn.Module, x: torch.Tensor, classes: Classes = None) -> CAMOutput:
    """Gradient saliency maps ``max_ch |dS_c / dx|`` for the requested classes.

    Simonyan et al., "Deep Inside Convolutional Networks", 2014, Sec. 3.1. ``S_c`` is the logit (not the
    softmax). Gradients come from ``torch.autograd.grad`` with respect to the input only: the model's
    parameters get no ``.grad``. Put the model in ``eval()`` mode: in train mode BatchNorm mixes the images
    of a batch, and each image's map would depend on the others.

    Args:
        model: any classifier mapping (B, C_in, H, W) images to (B, num_classes) logits.
        x: (B, C_in, H, W) float images.
        classes: see :func:`camlib.cam.resolve_classes`; default the predicted class.

    Returns:
        :class:`camlib.cam.CAMOutput` with non-negative maps (B, K, H, W) at INPUT resolution, the logits
        (B, num_classes) and the classes (B, K).

    Example:
        >>> from camlib.models import FCNet, NetConfig
        >>> net = FCNet(6, NetConfig(widths=(8, 16), downsample=2), hidden=(32,), grid=2).eval()
        >>> gradient_saliency(net, torch.rand(2, 3, 32, 32), classes=[0, 3]).maps.shape
        torch.Size([2, 2, 32, 32])
    """
    check_input(model, x)
    inp = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(inp)  # (B, C)
        idx = resolve_classes(classes, logits.detach())  # (B, K)
        scores = logits.gather(1, idx)  # (B, K)
        maps = [
            torch.autograd.grad(scores[:, j].sum(), inp, retain_graph=j < idx.shape[1] - 1)[0]
            .abs()
            .amax(dim=1)  # (B, C_in, H, W) -> (B, H, W)
            for j in range(idx.shape[1])
        ]
    return CAMOutput(torch.stack(maps, dim=1).float(), logits.detach().float(), idx)  # (B, K, H, W)
