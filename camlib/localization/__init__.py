"""Weakly-supervised localization of a model over a dataset: maps -> boxes -> every metric, in one pass.

One loop serves ``python -m camlib evaluate`` (through :func:`localization_metrics`), ``python -m camlib
reproduce`` and the notebooks. A *method* is a name of the registry :data:`camlib.cam.METHODS` (CAM, Grad-CAM,
gradient saliency, ...); it maps the TRUE class of each image, and the logits of that same forward pass score
the classification. The model-free centred-box prior has its own entry point, :func:`localize_center_prior`.
Top-1 localization needs the predicted class's map only when the prediction is right, and then it IS the true
class's map, so the true class's map gives every metric (see :mod:`camlib.metrics`).

Thresholds. The fixed-threshold metrics (top-1 loc, GT-known loc) are measured twice when a threshold was chosen
on validation: with the paper's rule (max-normalised map, 20% of the max) and with the min-max threshold that
:func:`select_tau` chose on the boxed VALIDATION split (Choe et al., CVPR 2020: choose hyper-parameters on a few
held-out boxed images, report on test). MaxBoxAcc, MaxBoxAccV2 and PxAP keep their definitions (max over tau, or
all taus, on the split they are measured on).

What lives where:

- :mod:`camlib.localization.loop`: :func:`localize`, :class:`LocalizationReport`, :func:`localization_metrics`.
- :mod:`camlib.localization.selection`: :func:`select_tau`, :class:`TauChoice` (the threshold chosen on validation).
- :mod:`camlib.localization.prior`: the centred-box baseline (:func:`localize_center_prior`, :func:`center_prior`).
- :mod:`camlib.localization.multi`: several objects per image (:func:`score_scene_maps`: the pointing game and
  the mass share of each present class's map in its own box; :func:`score_beside`: with and without a
  neighbour class, e.g. a twin; :func:`scene_maps`, :func:`prior_scene_maps`).
"""

from camlib.localization.loop import (
    PAPER_TAU,
    RELEASED_CODE_TAUS,
    LocalizationReport,
    localization_metrics,
    localize,
)
from camlib.localization.multi import (
    ClassScore,
    MultiObjectScore,
    box_pixels,
    positive_mass_share,
    prior_scene_maps,
    scene_maps,
    score_beside,
    score_scene_maps,
)
from camlib.localization.prior import CENTER, center_box, center_prior, localize_center_prior
from camlib.localization.selection import TauChoice, select_tau, tau_choice

__all__ = [
    "CENTER",
    "PAPER_TAU",
    "RELEASED_CODE_TAUS",
    "ClassScore",
    "LocalizationReport",
    "MultiObjectScore",
    "TauChoice",
    "box_pixels",
    "center_box",
    "center_prior",
    "localization_metrics",
    "localize",
    "localize_center_prior",
    "positive_mass_share",
    "prior_scene_maps",
    "scene_maps",
    "score_beside",
    "score_scene_maps",
    "select_tau",
    "tau_choice",
]
