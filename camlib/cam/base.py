"""The part every map method shares: one forward pass with an owned hook, class gradients, the weighted sum.

A channel-weighting method (CAM, Grad-CAM and its family) computes ``M = sum_k a_k A_k (+ b)`` over the K channels
of a layer's activations ``A`` (B, K, h, w); it supplies only the weights ``a`` through a :data:`Weigh` function of
a :class:`LayerRecord` — (B, N, K) per channel, or (B, N, K, h, w) per channel and position, optionally with an
offset ``b`` (B, N) (Eigen-CAM's centring). A method that needs more forward passes (Score-CAM) runs them on
``record.model`` inside its weights, after the hook is gone. :func:`channel_maps`
does the rest: the hook (registered here and nowhere else, removed in ``finally``), the forward pass, the
gradients of the requested class scores (:func:`class_gradients`, with ``torch.autograd.grad``: parameters get
no ``.grad``), the weighted sum and the optional ReLU. Resizing and normalisation are in
:mod:`camlib.cam.postprocess`.

Every method runs the model in ``eval()`` mode (BatchNorm uses its running statistics, so an image's map does
not depend on the rest of the batch) and gives every module its own mode back afterwards; it never changes
parameters, buffers (BatchNorm statistics), their ``requires_grad``, or the input tensor. Gradient methods
work inside ``torch.inference_mode()`` / ``torch.no_grad()`` and on frozen trunks (``requires_grad=False``):
the gradient is taken with respect to a copy of the input, not the parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camlib.cam.head import CAMHead, default_target_layer, resolve_head, trace_cam_head
from camlib.cam.inputs import Classes, resolve_classes, validate_images


class CAMOutput(NamedTuple):
    """What every map method returns.

    Attributes:
        maps: (B, N, h, w) float maps, one per requested class (at the layer's resolution; saliency: the input's).
        logits: (B, C) logits of the same forward pass.
        classes: (B, N) int64, the class of each map.
    """

    maps: Tensor
    logits: Tensor
    classes: Tensor


@dataclass(frozen=True)
class LayerRecord:
    """What a method's channel weights are computed from.

    Attributes:
        model: the network (in eval mode while the method runs).
        x: (B, C_in, H, W) the input images.
        acts: (B, K, h, w) the layer's activations, detached.
        grads: (B, N, K, h, w) gradients of each requested class score with respect to ``acts``, or ``None``
            for a method that needs none.
        logits: (B, C) detached logits.
        classes: (B, N) the requested classes.
        head: the CAM head when the method maps the head's pooled features, else ``None``.
    """

    model: nn.Module
    x: Tensor
    acts: Tensor
    grads: Tensor | None
    logits: Tensor
    classes: Tensor
    head: CAMHead | None


#: a method's weights: (B, N, K) or (B, N, K, h, w), or a pair (weights, offset (B, N))
Weigh = Callable[[LayerRecord], Tensor | tuple[Tensor, Tensor]]


@contextmanager
def capture(module: nn.Module, what: Literal["input", "output"] = "output") -> Iterator[dict[str, Tensor]]:
    """Record a module's input or output during the ``with`` block; the hook is removed even on error.

    >>> lin = nn.Linear(2, 3)
    >>> with capture(lin, "input") as store:
    ...     _ = lin(torch.ones(1, 2))
    >>> store["value"].shape, len(lin._forward_hooks)
    (torch.Size([1, 2]), 0)
    """
    store: dict[str, Tensor] = {}

    def hook(_m: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        store["value"] = inputs[0] if what == "input" else output

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


@contextmanager
def evaluation(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` (and every submodule) in eval mode for the block; restore each module's own mode after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def class_gradients(scores: Tensor, wrt: Tensor) -> Tensor:
    """Gradients of each column of ``scores`` (B, N) with respect to ``wrt`` (B, ...): (B, N, ...).

    One ``torch.autograd.grad`` call per requested class (the graph is kept until the last one); images of a
    batch do not interact (in eval mode), so the gradient of the summed column is every image's own gradient.

    >>> w = torch.ones(2, 3, requires_grad=True)
    >>> class_gradients(torch.stack([(w * 2).sum(1), (w**2).sum(1)], 1), w)[0].tolist()
    [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """
    n = scores.shape[1]
    grads = [
        torch.autograd.grad(scores[:, j].sum(), wrt, retain_graph=j < n - 1)[0]  # (B, ...)
        for j in range(n)
    ]
    return torch.stack(grads, dim=1)  # (B, N, ...)


def _forward(model: nn.Module, x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``model(x)`` as (B, C) logits; images too small for the network become a ValueError with the fix."""
    try:
        logits = model(x)
    except RuntimeError as exc:
        msg = str(exc).splitlines()[0]
        if "too small" in msg or "greater than actual input size" in msg or "size can't be" in msg:
            raise ValueError(
                f"images of {shape[-2]}x{shape[-1]} px are too small for {type(model).__name__} ({msg}): "
                f"use larger images (the size the model was trained on)"
            ) from exc
        raise
    if not isinstance(logits, Tensor) or logits.dim() != 2:
        got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"the model must return (B, C) logits, got {got}: call the maps on a classifier")
    return logits


def channel_maps(
    model: nn.Module,
    x: Tensor,
    classes: Classes,
    weigh: Weigh,
    *,
    layer: Literal["head", "target"] = "target",
    target_layer: nn.Module | None = None,
    gradients: bool = False,
    relu: bool = True,
) -> CAMOutput:
    """Maps ``sum_k a_k A_k`` of one layer, with the weights ``a = weigh(record)``.

    Args:
        model: the network.
        x: (B, C_in, H, W) float images.
        classes: see :func:`camlib.cam.inputs.resolve_classes`; default the predicted class.
        weigh: the method's weights: (B, N, K) per channel, or (B, N, K, h, w) per channel and position, or a
            pair ``(weights, offset)`` with an offset (B, N) added to every position before the ReLU.
        layer: ``"head"``: the features the CAM head pools (``target_layer`` must be ``None``); ``"target"``:
            the output of ``target_layer`` (default :func:`camlib.cam.head.default_target_layer`).
        target_layer: see ``layer``.
        gradients: compute ``record.grads`` (a backward pass per requested class).
        relu: apply a ReLU to the weighted sum.

    Returns:
        :class:`CAMOutput` with maps (B, N, h, w).
    """
    validate_images(model, x)
    head = None
    watch: AbstractContextManager[Any]
    if layer == "head":
        if target_layer is not None:
            raise ValueError(
                "CAM maps the features that the GAP head pools, so target_layer does not apply: "
                "use camlib.cam.grad_cam(model, x, target_layer=...) for another layer"
            )
        watch = cast(Any, trace_cam_head(model))  # the head that makes the logits, found on this forward pass
    else:
        watch = cast(Any, capture(target_layer if target_layer is not None else default_target_layer(model)))
    # gradients need a graph, even inside torch.inference_mode() and when the trunk is frozen
    graph = torch.inference_mode(False) if gradients else nullcontext()
    with evaluation(model), graph:
        inp = x.clone().requires_grad_(True) if gradients else x
        with torch.set_grad_enabled(gradients), watch as seen:
            logits = _forward(model, inp, tuple(x.shape))  # (B, C)
        if layer == "head":
            head, acts = resolve_head(model, seen, logits)  # acts (B, K, h, w)
        else:
            acts = seen["value"]  # (B, K, h, w)
        idx = resolve_classes(classes, logits.detach())  # (B, N)
        grads = class_gradients(logits.gather(1, idx), acts) if gradients else None  # (B, N, K, h, w)
        record = LayerRecord(model, x, acts.detach(), grads, logits.detach(), idx, head)
        with torch.no_grad():
            weights = weigh(record)
            w, offset = weights if isinstance(weights, tuple) else (weights, None)
            w, a = w.to(acts.dtype), record.acts
            if w.dim() == 3:
                maps = torch.einsum("bnk,bkhw->bnhw", w, a)  # (B, N, K) x (B, K, h, w) -> (B, N, h, w)
            else:
                maps = (w * a[:, None]).sum(2)  # (B, N, K, h, w) * (B, 1, K, h, w) -> (B, N, h, w)
            if offset is not None:
                maps = maps + offset.to(maps.dtype)[..., None, None]  # + (B, N, 1, 1)
            if relu:
                maps = F.relu(maps)
    return CAMOutput(maps.float(), record.logits.float(), idx)
