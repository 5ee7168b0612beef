"""Exercise self-check of the paper's conversion of VGG16 into a CAM network (Zhou et al., CVPR 2016, Sec. 3.1).

The function gets a private copy of a torchvision VGG16 (built without downloading anything, ``weights=None``,
seeded, its FC layers thinned so that the check runs in a second) and is graded, as an
:class:`~camlib.checks.observe.ObservedCheckSpec`, on the layout of the network it returns (the layers its forward
pass runs, in order), its logits' shape, whether the kept conv layers hold the input's weights, whether the input
was changed in place and whether the two share layers. The reference is :func:`camlib.models.gapify`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torchvision
from torch import Tensor, nn

from camlib.checks.observe import (
    NetCase,
    ObservedCheckSpec,
    as_model,
    changed,
    private_copy,
    shares_parameters,
)
from camlib.checks.runner import CheckResult, Mistake
from camlib.models import GlobalPoolNet, gapify

# --- 03: the paper's conversion of VGG16 -------------------------------------------------------------------

_PROBE = (2, 3, 64, 64)  # the images the converted networks are run on: VGG16's conv5_3 map is 4 x 4 here


def _vgg16(num_classes: int) -> nn.Module:
    """torchvision's VGG16 with its conv layers as built (``weights=None``) and thin FC layers (64 units instead
    of 4096, so that the check runs in a second; the conversion removes them anyway)."""
    with torch.device("meta"):
        net = torchvision.models.vgg16(weights=None)  # the layout only: no memory for 138 M parameters
    net.features = net.features.to_empty(device="cpu")
    for m in net.features.modules():
        if isinstance(m, nn.Conv2d):
            m.reset_parameters()
    net.classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(),
        nn.Linear(64, num_classes),
    )  # fmt: skip
    return net


def _vgg_case(training: bool) -> NetCase:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return _vgg16(10).train(training)

    mode = "train" if training else "eval"
    return NetCase(
        f"torchvision vgg16(weights=None), seed 0, FC layers thinned to 64 units, {mode} mode", build
    )


_VGG_CASES = [(_vgg_case(True), 6), (_vgg_case(False), 3)]


def _by_hand(
    vgg: Any,
    num_classes: int,
    *,
    keep: int = 30,
    width: int = 1024,
    relu: bool = True,
    padding: int = 1,
    copied: bool = True,
    fresh: bool = False,
    in_place: bool = False,
) -> nn.Module:
    """The paper's recipe written out, one switch away from it for each typical mistake (keep=30: up to conv5_3's
    ReLU in VGG16's ``features``)."""
    layers = list(vgg.features.children())[:keep]
    kept = [copy.deepcopy(m) for m in layers] if copied else layers
    if fresh:
        for m in kept:
            if isinstance(m, nn.Conv2d):
                m.reset_parameters()
    added = [nn.Conv2d(512, width, kernel_size=3, stride=1, padding=padding)] + (
        [nn.ReLU(True)] if relu else []
    )
    trunk = nn.Sequential(*kept, *added)
    if in_place:
        vgg.features = trunk
    return GlobalPoolNet(trunk, width, num_classes).train(vgg.training)


def _kept_the_fc_layers(vgg: nn.Module, num_classes: int) -> nn.Module:
    new: Any = copy.deepcopy(vgg)
    new.classifier[-1] = nn.Linear(new.classifier[-1].in_features, num_classes)  # the fine-tuning recipe
    return new


def _token(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        geometry: Any = (m.kernel_size, m.stride, m.padding)
        k, s, p = (int(g[0]) for g in geometry)
        return f"conv{m.in_channels}->{m.out_channels}" + (
            "" if (k, s, p) == (3, 1, 1) else f"(k{k},s{s},p{p})"
        )
    if isinstance(m, nn.Linear):
        return f"linear{m.in_features}->{m.out_features}"
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        out: Any = m.output_size
        size = out if isinstance(out, int) else out[0]
        kind = "GAP" if isinstance(m, nn.AdaptiveAvgPool2d) else "GMP"
        return kind if size == 1 else f"{kind[1:].lower()}pool{size}x{size}"
    return type(m).__name__.lower()


def _run_layout(model: nn.Module) -> tuple[list[nn.Module], Tensor]:
    """The leaf modules in the order the forward pass calls them, and the logits (eval mode, no gradients)."""
    called: list[nn.Module] = []
    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(lambda m, i, o: called.append(m)) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            logits = model(torch.rand(*_PROBE, generator=torch.Generator().manual_seed(22)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return called, logits


def _same_weights(a: Sequence[nn.Conv2d], b: Sequence[nn.Conv2d]) -> bool:
    return len(a) >= len(b) and all(
        x.weight.shape == y.weight.shape and torch.equal(x.weight, y.weight)
        for x, y in zip(a, b, strict=False)
    )


def _observe_gapify(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    vgg: Any = as_model(args[0])
    rest = args[1:]
    mine = private_copy(vgg)
    new = fn(mine, *rest)
    if not isinstance(new, nn.Module):
        return (new, "", "", "", "")
    called, logits = _run_layout(new)
    trunk = [_token(m) for m in list(vgg.features.children())[:30]]
    tokens = [_token(m) for m in called]
    layout = (
        "VGG16 up to conv5_3's ReLU, then " + ", ".join(tokens[30:])
        if tokens[:30] == trunk
        else ", ".join(tokens)
    )
    convs = [m for m in vgg.features.modules() if isinstance(m, nn.Conv2d)]
    copied = _same_weights([m for m in called if isinstance(m, nn.Conv2d)], convs)
    return (
        layout,
        f"logits: {tuple(logits.shape)}",
        f"kept conv layers hold the input's weights: {'yes' if copied else 'no'}",
        f"the input model: {'changed in place' if changed(vgg, mine) else 'unchanged'}",
        f"layers shared with the input: {'yes' if shares_parameters(mine, new) else 'no'}",
    )


GAPIFY = ObservedCheckSpec(
    "check_gapify_vgg",
    lambda vgg, c: gapify(vgg, c),
    _VGG_CASES,
    [
        Mistake(
            lambda v, c: _by_hand(v, c, keep=31),
            "pool5 (the max-pool after conv5_3) must go too: it halves the map (14x14 -> 7x7 at 224 px)",
        ),
        Mistake(
            _kept_the_fc_layers,
            "the FC layers must go: remove every layer after conv5_3 (pool5 and the classifier) and end with GAP "
            "and ONE linear layer",
        ),
        Mistake(
            lambda v, c: _by_hand(v, c, width=512),
            "the added 3x3 conv has 1024 units (Sec. 3.1 of the paper), so the linear layer reads 1024 numbers",
        ),
        Mistake(
            lambda v, c: _by_hand(v, c, relu=False),
            "put a ReLU after the added conv, as after every conv of VGG",
        ),
        Mistake(
            lambda v, c: _by_hand(v, c, padding=0),
            "the added 3x3 conv needs padding=1 (stride 1) to keep the map's size; without it the map loses its "
            "border cells",
        ),
        Mistake(
            lambda v, c: _by_hand(v, c, fresh=True),
            "keep the conv layers WITH their (pretrained) weights: copy them, do not build new ones",
        ),
        Mistake(
            lambda v, c: _by_hand(v, c, copied=False),
            "the new model shares its layers with the input: copy them (copy.deepcopy) so that training one "
            "leaves the other as it was",
        ),
        Mistake(
            lambda v, c: _by_hand(v, c, in_place=True),
            "the input model was changed in place (vgg.features = ...): build a NEW model from copies of its "
            "layers and leave `vgg` as it was",
        ),
    ],
    observer=_observe_gapify,
)


def check_gapify_vgg(fn: Callable[[nn.Module, int], nn.Module]) -> CheckResult:
    """Exercise (Zhou et al., Sec. 3.1): ``fn(vgg, num_classes) -> GlobalPoolNet``: VGG16's conv layers up to
    conv5_3 and its ReLU (copied, weights included), a 3x3 conv of 1024 units (stride 1, padding 1) + ReLU,
    global average pooling, one linear layer to ``num_classes``; ``vgg`` is left as it was."""
    return GAPIFY.run(fn)


SPECS = (GAPIFY,)
