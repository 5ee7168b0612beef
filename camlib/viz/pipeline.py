"""The CAM pipeline drawn from a real model and image: the paper's Fig. 2 with this image's numbers.

Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016, Sec. 2 and Fig. 2: the last
conv features f_k(x, y) are pooled, ``F_k = mean_xy f_k(x, y)`` (GAP; the paper writes a sum, which only rescales),
the class score is ``S_c = sum_k w_k^c F_k + b_c``, and the class activation map ``M_c(x, y) = sum_k w_k^c f_k(x, y)``
satisfies ``mean_xy M_c + b_c = S_c``. :func:`cam_pipeline_numbers` measures every quantity of the drawing with
:func:`camlib.cam.class_activation_maps` (one forward pass); :func:`plot_cam_pipeline` draws them (no pyplot).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch
from torch import Tensor, nn

from camlib.cam import (
    capture,
    class_activation_maps,
    default_target_layer,
    find_cam_head,
    normalize,
    upsample,
)
from camlib.viz.figures import image_hwc, overlay


@dataclass(frozen=True)
class PipelineNumbers:
    """Every number of the drawing, for one image and one class.

    Attributes:
        class_index: the class c whose map is drawn.
        features: (K, h, w) the last conv features f_k that the head pools.
        pooled: (K,) F_k, the pooled features (the mean for GAP, the max for GMP).
        weights: (K,) w_k^c, the class's row of the linear layer.
        bias: b_c.
        logit: S_c from the model's forward pass.
        cam: (h, w) the raw map M_c = sum_k w_k^c f_k (camlib's, signed, not normalised).
        channels: the channels drawn: the largest contributions w_k^c F_k, and the most negative one.
        pool: ``"avg"`` (GAP) or ``"max"`` (GMP).
    """

    class_index: int
    features: Tensor
    pooled: Tensor
    weights: Tensor
    bias: float
    logit: float
    cam: Tensor
    channels: tuple[int, ...]
    pool: str

    @property
    def contributions(self) -> Tensor:
        """(K,) w_k^c F_k: what each channel adds to the score."""
        return self.weights * self.pooled


def cam_pipeline_numbers(
    model: nn.Module, image: Tensor, class_index: int | None = None, channels: int = 4
) -> PipelineNumbers:
    """Measure the quantities of the CAM pipeline for one image, in one forward pass.

    Args:
        model: a network with a global pooling + one linear head (see :func:`camlib.cam.find_cam_head`); its
            mode is restored afterwards.
        image: (3, H, W) float image.
        class_index: the class to map; default the predicted class.
        channels: how many feature maps to draw (at least 2: the largest contributions and the most negative).

    Returns:
        :class:`PipelineNumbers`.

    Example:
        >>> import torch
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2))
        >>> p = cam_pipeline_numbers(net, torch.rand(3, 32, 32), class_index=2)
        >>> abs(float(p.cam.mean()) + p.bias - p.logit) < 1e-4  # mean(M_c) + b_c = S_c
        True
    """
    if image.dim() != 3:
        raise ValueError(f"image must be one (3, H, W) image, got shape {tuple(image.shape)}: pass images[i]")
    if channels < 2:
        raise ValueError(
            f"channels must be >= 2 (the largest contributions and the most negative), got {channels}"
        )
    head = find_cam_head(model)
    with capture(default_target_layer(model)) as feats, capture(head.linear, "input") as pooled_in:
        out = class_activation_maps(model, image[None], None if class_index is None else [class_index])
    c = int(out.classes[0, 0])
    f = feats["value"][0].detach().float()  # (K, h, w)
    pooled = pooled_in["value"][0].detach().float().flatten()  # (K,): what the linear layer received
    own = f.mean((1, 2)) if head.pool_kind == "avg" else f.amax((1, 2))  # (K,)
    if pooled.shape != own.shape or not torch.allclose(pooled, own, rtol=1e-4, atol=1e-5):
        raise ValueError(
            f"{type(model).__name__}: the classifier's input is not the global {head.pool_kind} of "
            f"{type(default_target_layer(model)).__name__}'s output, so the drawing would not add up"
        )
    w = head.linear.weight[c].detach().float()  # (K,)
    b = float(head.linear.bias[c].detach()) if head.linear.bias is not None else 0.0
    contrib = w * pooled  # (K,)
    k = min(channels, f.shape[0])
    top = [int(i) for i in contrib.argsort(descending=True)[: k - 1]]
    neg = int(contrib.argmin())
    shown = tuple(top + [neg if neg not in top else int(contrib.argsort(descending=True)[k - 1])])
    return PipelineNumbers(
        c, f, pooled, w, b, float(out.logits[0, c]), out.maps[0, 0].detach().float(), shown, head.pool_kind
    )


def _arrow(fig: Figure, a: Axes, b: Axes, lw: float = 1.3) -> None:
    fig.add_artist(ConnectionPatch((1.0, 0.5), (0.0, 0.5), "axes fraction", "axes fraction", axesA=a, axesB=b,
                                   arrowstyle="-|>", mutation_scale=12, lw=lw, color="0.35"))  # fmt: skip


def _box(ax: Axes, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11,
            bbox={"boxstyle": "round", "fc": "0.96", "ec": "0.6"})  # fmt: skip


def plot_cam_pipeline(
    model: nn.Module,
    image: Tensor,
    class_index: int | None = None,
    *,
    class_names: list[str] | None = None,
    channels: int = 4,
    title: str | None = None,
) -> Figure:
    """The paper's Fig. 2 for one image: image -> feature maps -> pooling -> weights -> weighted sum -> CAM.

    The drawn feature maps are the channels with the largest contributions ``w_k^c F_k`` and the most negative
    one; their values, the class's weights, the bias and the logit are printed as measured, with the identity
    ``mean(M_c) + b_c = S_c`` (GAP). The raw map is drawn with a diverging colour bar (it is signed); the last
    panel is the map upsampled (bilinear) and min-max normalised per image, over the image.

    Args:
        model, image, class_index, channels: as :func:`cam_pipeline_numbers`.
        class_names: names of the classes (default: their indices).
        title: the figure's title.

    Example:
        >>> import torch
        >>> from camlib.models import GAPNet, NetConfig
        >>> fig = plot_cam_pipeline(GAPNet(6, NetConfig(widths=(4, 8), downsample=2)), torch.rand(3, 32, 32))
        >>> len(fig.axes) > 10
        True
    """
    p = cam_pipeline_numbers(model, image, class_index, channels)
    name = class_names[p.class_index] if class_names else str(p.class_index)
    K, (h, w) = p.features.shape[0], p.features.shape[1:]
    H, W = image.shape[-2:]
    n = len(p.channels)
    fig = Figure(figsize=(12.5, 1.7 * n + 1.5), layout="constrained")
    gs = fig.add_gridspec(n + 1, 7, width_ratios=[1.3, 1.15, 1.0, 1.0, 0.35, 1.45, 1.45],
                          height_ratios=[*([1.0] * n), 0.45])  # fmt: skip
    img = image_hwc(image)
    ax_img = fig.add_subplot(gs[:n, 0])
    ax_img.imshow(img)
    ax_img.set_title(f"1. the image,\n{H}×{W}, class\n'{name}'", fontsize=11)
    ax_img.set_axis_off()
    pool = "mean" if p.pool == "avg" else "max"
    feat_axes, pooled_axes, weight_axes = [], [], []
    for r, k in enumerate(p.channels):
        ax = fig.add_subplot(gs[r, 1])
        im = ax.imshow(p.features[k].numpy(), cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, fraction=0.08, pad=0.03)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"$f_{{{k}}}$", fontsize=12)
        feat_axes.append(ax)
        pooled_axes.append(fig.add_subplot(gs[r, 2]))
        _box(pooled_axes[-1], f"$F_{{{k}}}$ = {pool}$_{{xy}}\\,f_{{{k}}}$\n= {float(p.pooled[k]):.3f}")
        weight_axes.append(fig.add_subplot(gs[r, 3]))
        _box(weight_axes[-1], f"$w_{{{k}}}^c$ = {float(p.weights[k]):+.3f}\n$w_{{{k}}}^c F_{{{k}}}$ = "
                              f"{float(p.contributions[k]):+.3f}")  # fmt: skip
    feat_axes[0].set_title(f"2. feature maps $f_k$:\n{n} of K={K}, {h}×{w}", fontsize=11)
    pooled_axes[0].set_title(f"3. {'GAP' if p.pool == 'avg' else 'GMP'}:\none number per map", fontsize=11)
    weight_axes[0].set_title(f"4. the weights $w_k^c$\nof class '{name}'", fontsize=11)
    ax_cam = fig.add_subplot(gs[:n, 5])  # column 4: room for the arrows into the sum
    lim = float(p.cam.abs().max()) or 1.0
    im = ax_cam.imshow(p.cam.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.colorbar(im, ax=ax_cam, location="bottom", shrink=0.9, pad=0.02, label="raw $M_c$ (signed)")
    ax_cam.set_title(f"5. $M_c = \\Sigma_k\\, w_k^c f_k$\nover all {K} maps\n(raw, {h}×{w})", fontsize=11)
    ax_cam.set_xticks([])
    ax_cam.set_yticks([])
    ax_up = fig.add_subplot(gs[:n, 6])
    up = normalize(upsample(p.cam[None, None], (H, W)), "minmax")[0, 0]  # (H, W) in [0, 1]
    ax_up.imshow(overlay(img, up.numpy()))
    fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), "jet"), ax=ax_up, location="bottom", shrink=0.9, pad=0.02,
                 label="min–max normalised")  # fmt: skip
    ax_up.set_title(f"6. $M_c$ upsampled\nto {H}×{W} (bilinear),\nover the image", fontsize=11)
    ax_up.set_xticks([])
    ax_up.set_yticks([])
    for fa, pa, wa in zip(feat_axes, pooled_axes, weight_axes, strict=True):
        _arrow(fig, ax_img, fa, lw=1.0)
        _arrow(fig, fa, pa)
        _arrow(fig, pa, wa)
        _arrow(fig, wa, ax_cam, lw=1.0)
    _arrow(fig, ax_cam, ax_up)
    total, mean_m = float(p.contributions.sum()), float(p.cam.mean())
    lines = [f"$S_c = \\Sigma_k\\, w_k^c F_k + b_c$ = {total:.3f} + ({p.bias:+.3f}) = {total + p.bias:.3f};   "
             f"the model's logit for '{name}': {p.logit:.3f}"]  # fmt: skip
    if p.pool == "avg":
        lines.append(f"mean$_{{xy}}\\,M_c + b_c$ = {mean_m:.3f} + ({p.bias:+.3f}) = {mean_m + p.bias:.3f} = $S_c$"
                     "   (the logit identity: the map explains the score)")  # fmt: skip
    else:
        lines.append(
            f"GMP pools by the max, so mean$_{{xy}}\\,M_c + b_c$ = {mean_m + p.bias:.3f} is NOT the logit"
        )
    foot = fig.add_subplot(gs[n, :])
    foot.set_axis_off()
    foot.text(0.5, 0.5, "\n".join(lines), ha="center", va="center", fontsize=12)
    fig.suptitle(title or "Class activation mapping step by step, on one image (Zhou et al., CVPR 2016, Fig. 2)",
                 fontsize=13)  # fmt: skip
    return fig


__all__ = ["PipelineNumbers", "cam_pipeline_numbers", "plot_cam_pipeline"]
