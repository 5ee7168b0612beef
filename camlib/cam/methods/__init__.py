"""The registry of map methods: one name per method, one signature, one :class:`~camlib.cam.CAMOutput`.

Every caller (the localization loop, the explorer, ``reproduce``, the benchmarks) takes its method names from
:data:`METHODS`. A method is called as ``method(model, x, classes=None, *, target_layer=None) -> CAMOutput``.

The family, each one file that supplies its channel weights to :func:`camlib.cam.base.channel_maps`:
CAM (the head's weights), Grad-CAM (mean gradient), Grad-CAM++ (second-order positive gradients), XGrad-CAM
(activation-weighted gradients), HiResCAM (gradient x activation per position), Layer-CAM (positive gradient
per position), Score-CAM (scores of masked images), Eigen-CAM (first principal component, class-agnostic);
and gradient saliency at the input (no channel weights).
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor, nn

from camlib.cam.base import CAMOutput
from camlib.cam.head import has_cam_head
from camlib.cam.inputs import Classes
from camlib.cam.methods.cam import class_activation_maps
from camlib.cam.methods.eigencam import eigen_cam
from camlib.cam.methods.gradcam import grad_cam
from camlib.cam.methods.gradcampp import grad_cam_plus_plus
from camlib.cam.methods.hirescam import hires_cam
from camlib.cam.methods.layercam import layer_cam
from camlib.cam.methods.saliency import gradient_saliency
from camlib.cam.methods.scorecam import score_cam
from camlib.cam.methods.xgradcam import xgrad_cam


class MapMethod(Protocol):
    """The signature of every map method."""

    __name__: str

    def __call__(
        self, model: nn.Module, x: Tensor, classes: Classes = None, *, target_layer: nn.Module | None = None
    ) -> CAMOutput: ...


#: method name -> function; the one list of methods of the course
METHODS: dict[str, MapMethod] = {
    "cam": class_activation_maps,
    "gradcam": grad_cam,
    "gradcampp": grad_cam_plus_plus,
    "xgradcam": xgrad_cam,
    "hirescam": hires_cam,
    "layercam": layer_cam,
    "scorecam": score_cam,
    "eigencam": eigen_cam,
    "saliency": gradient_saliency,
}


def get_method(name: str) -> MapMethod:
    """The method registered as ``name``.

    Raises:
        ValueError: for an unknown name, listing the registered ones.

    >>> get_method("gradcam").__name__
    'grad_cam'
    """
    if name not in METHODS:
        raise ValueError(f"unknown map method {name!r}: use one of {sorted(METHODS)}")
    return METHODS[name]


def default_method(model: nn.Module) -> str:
    """``"cam"`` for a model with a GAP/GMP + linear head, else ``"gradcam"`` (any CNN)."""
    return "cam" if has_cam_head(model) else "gradcam"


def method_name(fn: MapMethod) -> str:
    """The registry name of a method function (its ``__name__`` when it is not registered)."""
    return next((k for k, v in METHODS.items() if v is fn), getattr(fn, "__name__", "custom"))


__all__ = [
    "METHODS",
    "MapMethod",
    "class_activation_maps",
    "default_method",
    "eigen_cam",
    "get_method",
    "grad_cam",
    "grad_cam_plus_plus",
    "gradient_saliency",
    "hires_cam",
    "layer_cam",
    "method_name",
    "score_cam",
    "xgrad_cam",
]
