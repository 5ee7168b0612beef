"""Where a network's map comes from: the GAP (or GMP) + linear head of a CAM network, or the last conv stage.

Works for :class:`camlib.models.GAPNet`, gapified VGG/AlexNet and torchvision ResNets: anything whose last global
pooling (``AdaptiveAvgPool2d(1)`` or ``AdaptiveMaxPool2d(1)``) feeds exactly one ``nn.Linear``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

_GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class CAMHead:
    """The global pooling and the single linear layer that make a model a CAM network."""

    pool: nn.Module
    linear: nn.Linear

    @property
    def pool_kind(self) -> str:
        return "avg" if isinstance(self.pool, nn.AdaptiveAvgPool2d) else "max"


def find_cam_head(model: nn.Module) -> CAMHead:
    """Find the global pooling layer and the one linear layer after it.

    Raises:
        ValueError: the model has no global pooling, or an MLP after it; the message says to use
            :func:`camlib.models.gapify` or :func:`camlib.cam.grad_cam`.
    """
    modules = list(model.modules())
    pools = [
        i for i, m in enumerate(modules) if isinstance(m, _GLOBAL_POOLS) and m.output_size in (1, (1, 1))
    ]
    name = type(model).__name__
    fix = "convert it with camlib.models.gapify(model, num_classes), or use camlib.cam.grad_cam(model, x)"
    if not pools:
        other = [m for m in modules if isinstance(m, _GLOBAL_POOLS)]
        seen = f" (it pools to {other[-1].output_size}, then flattens into FC layers)" if other else ""
        raise ValueError(
            f"{name} has no global pooling before its classifier{seen}, so CAM is undefined: {fix}"
        )
    after = [m for m in modules[pools[-1] + 1 :] if isinstance(m, nn.Linear)]
    if len(after) != 1:
        raise ValueError(
            f"{name} has {len(after)} linear layers after its global pooling; CAM needs exactly one "
            f"(GAP -> linear -> softmax): {fix}"
        )
    return CAMHead(pool=modules[pools[-1]], linear=after[0])


def has_cam_head(model: nn.Module) -> bool:
    """True when :func:`find_cam_head` finds a head (the model is a CAM network)."""
    try:
        find_cam_head(model)
    except ValueError:
        return False
    return True


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
