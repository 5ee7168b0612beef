"""Class activation maps and the methods that grew from them, on one shared base.

Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016: for a network whose last conv
features f_k(x, y) are globally average-pooled into one linear layer,

    S_c = sum_k w_k^c mean_xy f_k(x, y) + b_c,     M_c(x, y) = sum_k w_k^c f_k(x, y),

so ``S_c = mean_xy M_c + b_c`` exactly. Grad-CAM weighs the channels by the spatial mean of the gradient instead;
on a GAP network that is w_k^c / (h w), so Grad-CAM = ReLU(M_c) / (h w). The rest of the family (Grad-CAM++,
XGrad-CAM, HiResCAM, Layer-CAM, Score-CAM, Eigen-CAM) changes only the weights; see :mod:`camlib.cam.methods`.

What lives where:

- :mod:`camlib.cam.base`: :class:`CAMOutput`, the owned hook, class gradients and :func:`channel_maps`, the
  shared part of every channel-weighting method (a method supplies only its weights).
- :mod:`camlib.cam.head`: the GAP + linear head (:func:`find_cam_head`) and the default target layer.
- :mod:`camlib.cam.inputs`: what methods accept (:func:`validate_images`, :func:`resolve_classes`).
- :mod:`camlib.cam.methods`: the methods, one file each, and the registry :data:`METHODS`.
- :mod:`camlib.cam.postprocess`: :func:`upsample` and :func:`normalize` (raw / max / min-max).

Shapes: B images, C classes of the model, K channels of the feature map, N requested classes per image.
"""

from __future__ import annotations

from camlib.cam.base import CAMOutput, LayerRecord, capture, channel_maps, class_gradients, evaluation
from camlib.cam.head import CAMHead, default_target_layer, find_cam_head, has_cam_head
from camlib.cam.inputs import Classes, resolve_classes, validate_images
from camlib.cam.methods import METHODS, MapMethod, default_method, get_method, method_name
from camlib.cam.methods.cam import class_activation_maps
from camlib.cam.methods.eigencam import eigen_cam
from camlib.cam.methods.gradcam import grad_cam
from camlib.cam.methods.gradcampp import grad_cam_plus_plus
from camlib.cam.methods.hirescam import hires_cam
from camlib.cam.methods.layercam import layer_cam
from camlib.cam.methods.saliency import gradient_saliency
from camlib.cam.methods.scorecam import score_cam
from camlib.cam.methods.xgradcam import xgrad_cam
from camlib.cam.postprocess import (
    NORMALIZATION_LABELS,
    NORMALIZATIONS,
    UPSAMPLE_MODES,
    normalization_label,
    normalize,
    upsample,
)

__all__ = [
    "METHODS",
    "NORMALIZATIONS",
    "NORMALIZATION_LABELS",
    "UPSAMPLE_MODES",
    "CAMHead",
    "CAMOutput",
    "Classes",
    "LayerRecord",
    "MapMethod",
    "capture",
    "channel_maps",
    "class_activation_maps",
    "class_gradients",
    "default_method",
    "default_target_layer",
    "eigen_cam",
    "evaluation",
    "find_cam_head",
    "get_method",
    "grad_cam",
    "grad_cam_plus_plus",
    "gradient_saliency",
    "has_cam_head",
    "hires_cam",
    "layer_cam",
    "method_name",
    "normalization_label",
    "normalize",
    "resolve_classes",
    "score_cam",
    "upsample",
    "validate_images",
    "xgrad_cam",
]
