"""Where a network's map comes from: the GAP (or GMP) + linear head of a CAM network, or the last conv stage.

A CAM is exact only when the logits ARE one linear layer applied to the global average (or max) of a feature
map: ``S_c = sum_k w_k^c mean_xy f_k + b_c = mean_xy M_c + b_c``. Two ways to find that head:

* :func:`find_cam_head` reads the modules (no forward pass): the last global pooling
  (``AdaptiveAvgPool2d(1)`` / ``AdaptiveMaxPool2d(1)``) and the one ``nn.Linear`` after it. It decides which
  method a model gets by default (:func:`has_cam_head`).
* :func:`trace_cam_head` watches the forward pass CAM makes anyway and finds the head that really produced the
  logits: the ``nn.Linear`` whose output they are, and the feature map whose global average (or max) is that
  layer's input, whatever the registration order, and also for a GAP written in ``forward`` as
  ``x.mean((2, 3))``. When no feature map fits (a ``BatchNorm1d`` between the pooling and the linear layer, an
  MLP, a flattening FC head) it fails loudly: CAM would not add up to the logits.

Works for :class:`camlib.models.GAPNet`, gapified torchvision models and torchvision ResNets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

_GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_FIX = "convert it with camlib.models.gapify(model, num_classes), or use camlib.cam.grad_cam(model, x)"


@dataclass(frozen=True)
class CAMHead:
    """The global pooling and the single linear layer that make a model a CAM network.

    Attributes:
        pool: the pooling module, or ``None`` when the model pools in its ``forward`` (``x.mean((2, 3))``).
        linear: the classifier.
        pool_kind: ``"avg"`` or ``"max"`` (from ``pool`` when it is given).
    """

    pool: nn.Module | None
    linear: nn.Linear
    pool_kind: str = field(default="")

    def __post_init__(self) -> None:
        if not self.pool_kind:
            kind = "max" if isinstance(self.pool, nn.AdaptiveMaxPool2d) else "avg"
            object.__setattr__(self, "pool_kind", kind)


def _is_global_pool(m: nn.Module) -> bool:
    return isinstance(m, _GLOBAL_POOLS) and m.output_size in (1, (1, 1))


def find_cam_head(model: nn.Module) -> CAMHead:
    """Find the global pooling layer and the one linear layer after it, from the modules alone.

    A model with a single ``nn.Linear`` may register it before the pooling (registration order is not the
    order of ``forward``). The maps functions check the head on the forward pass (:func:`trace_cam_head`).

    Raises:
        ValueError: the model has no global pooling, or an MLP after it; the message says to use
            :func:`camlib.models.gapify` or :func:`camlib.cam.grad_cam`.
    """
    modules = list(model.modules())
    pools = [i for i, m in enumerate(modules) if _is_global_pool(m)]
    name = type(model).__name__
    if not pools:
        other = [m for m in modules if isinstance(m, _GLOBAL_POOLS)]
        seen = f" (it pools to {other[-1].output_size}, then flattens into FC layers)" if other else ""
        raise ValueError(
            f"{name} has no global pooling before its classifier{seen}, so CAM is undefined: {_FIX}"
        )
    after = [m for m in modules[pools[-1] + 1 :] if isinstance(m, nn.Linear)]
    every = [m for m in modules if isinstance(m, nn.Linear)]
    if not after and len(every) == 1:
        after = every  # the one classifier, registered before the pooling
    if len(after) != 1:
        raise ValueError(
            f"{name} has {len(after)} linear layers after its global pooling; CAM needs exactly one "
            f"(GAP -> linear -> softmax): {_FIX}"
        )
    return CAMHead(pool=modules[pools[-1]], linear=after[0])


def has_cam_head(model: nn.Module) -> bool:
    """True when :func:`find_cam_head` finds a head (the model is a CAM network)."""
    try:
        find_cam_head(model)
    except ValueError:
        return False
    return True


@dataclass
class HeadTrace:
    """What :func:`trace_cam_head` saw during one forward pass (the latest call of each module)."""

    linears: dict[nn.Linear, tuple[Tensor, Tensor]] = field(default_factory=dict)  # input (B, K), output
    pools: dict[nn.Module, tuple[Tensor, Tensor]] = field(default_factory=dict)  # input (B, K, h, w), output
    maps: dict[int, Tensor] = field(default_factory=dict)  # K -> the latest (B, K, h, w) output of K channels


def _close(a: Tensor, b: Tensor) -> bool:
    if a.shape != b.shape:
        return False
    a, b = a.detach().float(), b.detach().float()
    return bool(torch.allclose(a, b, rtol=1e-3, atol=1e-4 * (1.0 + float(b.abs().max()))))


@contextmanager
def trace_cam_head(model: nn.Module) -> Iterator[HeadTrace]:
    """Record, during the ``with`` block's forward pass, every linear layer's input and output, every global
    pooling's input and output, and the latest 4-D activation of each channel count a linear layer takes.
    Resolve the head with :func:`resolve_head`. Every hook is removed on exit, also after an error."""
    trace = HeadTrace()
    widths = {m.in_features for m in model.modules() if isinstance(m, nn.Linear)}

    def on_linear(m: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        trace.linears[m] = (inputs[0], output)  # type: ignore[index]

    def on_pool(m: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        trace.pools[m] = (inputs[0], output)

    def on_any(_m: nn.Module, _inputs: tuple[Tensor, ...], output: object) -> None:
        if isinstance(output, Tensor) and output.dim() == 4 and output.shape[1] in widths:
            trace.maps[int(output.shape[1])] = output

    handles = []
    try:
        for m in model.modules():
            if isinstance(m, nn.Linear):
                handles.append(m.register_forward_hook(on_linear))
            elif _is_global_pool(m):
                handles.append(m.register_forward_hook(on_pool))
            handles.append(m.register_forward_hook(on_any))
        yield trace
    finally:
        for h in handles:
            h.remove()


def resolve_head(model: nn.Module, trace: HeadTrace, logits: Tensor) -> tuple[CAMHead, Tensor]:
    """The head that produced ``logits`` (B, C) on the traced forward pass, and the (B, K, h, w) features it
    pools: the linear layer whose output the logits are, fed with the global average (or max) of a map.

    Raises:
        ValueError: no such head (the CAM identity ``mean(M_c) + b_c = S_c`` would not hold), naming why.
    """
    name = type(model).__name__
    heads = [m for m, (_, out) in trace.linears.items() if out is logits or _close(out, logits)]
    if not heads:
        find_cam_head(model)  # explains a model without a global pooling or with an MLP
        raise ValueError(
            f"the logits of {name} are not the output of one of its nn.Linear layers (does forward change "
            f"them after the classifier, e.g. a softmax or a scale?), so CAM cannot explain them: {_FIX}"
        )
    linear = heads[-1]
    z = trace.linears[linear][0]  # (B, K) what the classifier read
    for pool, (feats, pooled) in reversed(list(trace.pools.items())):
        if _close(pooled.flatten(1), z):
            return CAMHead(pool=pool, linear=linear), feats
    fmap = trace.maps.get(int(z.shape[-1])) if z.dim() == 2 else None  # (B, K, h, w): GAP written in forward?
    if fmap is not None:
        for kind, pooled in (("avg", fmap.mean((-2, -1))), ("max", fmap.amax((-2, -1)))):
            if _close(pooled, z):
                return CAMHead(pool=None, linear=linear, pool_kind=kind), fmap
    find_cam_head(model)  # explains a model without a global pooling or with an MLP
    between = sorted(
        {type(m).__name__ for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))}
    )
    why = f" (the model has {', '.join(between)}: between the pooling and the linear layer it breaks CAM)"
    raise ValueError(
        f"the input of {name}'s classifier is not the global average (or max) of any feature map"
        f"{why if between else ''}: something between the pooling and the linear layer changes the pooled "
        f"features, or the logits come from another head, so CAM would not add up to the logits. "
        f"Use camlib.cam.grad_cam(model, x), or make the classifier one nn.Linear on the pooled features"
    )


def default_target_layer(model: nn.Module) -> nn.Module:
    """The last conv stage: ``model.features`` (course models, VGG, AlexNet) or ``model.layer4`` (ResNet)."""
    for name in ("features", "layer4"):
        layer = getattr(model, name, None)
        if isinstance(layer, nn.Module):
            return layer
    raise ValueError(
        f"cannot guess the last conv stage of {type(model).__name__}: pass target_layer=<the module whose "
        f"output is the last conv map>"
    )
