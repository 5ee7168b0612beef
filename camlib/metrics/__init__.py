"""Classification and weakly-supervised localization metrics, with accumulators for a whole split.

Definitions (all percentages in 0..100; boxes XYXY in input pixels with exclusive right/bottom edges):

* **Top-k classification error**: % of images whose label is not among the k highest logits.
* **Top-1 localization error** (ILSVRC): an image counts as right when the predicted class is the label AND the
  box from that class's map has IoU >= 0.5 with a ground-truth box. **Top-5**: right when one of the 5 highest
  classes is the label and its map's box has IoU >= 0.5. Only the label can be "right", so both need only the
  box from the TRUE class's map: top-k loc right = (label in top-k) AND (IoU >= 0.5).
* **GT-known localization**: % of images whose box from the true class's map has IoU >= 0.5 (class ignored).
* **BoxAcc(tau, delta)** (Choe et al., CVPR 2020): maps are min-max normalised per image
  (:func:`camlib.cam.normalize`), thresholded at ``tau`` (keep ``m >= tau``), and boxed; the % of images whose
  best IoU over (predicted boxes x GT boxes) is >= delta. The tau grid is ``np.arange(0, 1, step)`` as in the
  reference wsolevaluation code (step 0.01 -> 0.00, 0.01, ..., 0.99). A constant map has no box at any tau.
* **MaxBoxAcc** = max_tau BoxAcc(tau, 0.5) with the LARGEST component's box only.
* **MaxBoxAccV2** = mean over delta in {0.3, 0.5, 0.7} of max_tau BoxAcc(tau, delta) with EVERY component's box,
  tau chosen separately per delta.
* **PxAP**: pixels of all maps of the split pooled; at each tau, precision and recall of ``m >= tau`` against
  the masks; AP = sum over taus (high to low) of precision * (increase in recall), as wsolevaluation's
  ``MaskEvaluator`` (histograms over bins [0, s), [s, 2s), ..., [1 - s, 1), [1, 2), [2, 3)). A constant map
  scores the share of positive pixels.

Differences from the reference code, on purpose: maps are not quantised to 8 bits, components are 8-connected
regions (not OpenCV contours, which add holes), and the box edges are exclusive. ``convention="wsolevaluation"``
(:class:`MaxBoxAccMeter`, :class:`PxAPMeter`) reproduces the reference exactly; the meter's docstring lists every
difference with its effect in points.

What lives where:

- :mod:`camlib.metrics.topk`: top-k classification and ILSVRC localization errors (:func:`topk_correct`,
  :func:`best_iou`, :class:`LocalizationMeter`).
- :mod:`camlib.metrics.boxacc`: MaxBoxAcc and MaxBoxAccV2 (:class:`MaxBoxAccMeter`, :func:`max_box_acc`,
  :func:`max_box_acc_v2`, :class:`BoxAccResult`).
- :mod:`camlib.metrics.pxap`: PxAP (:class:`PxAPMeter`, :func:`pxap`, :class:`PxAPResult`), binned in one
  compiled pass.
- :mod:`camlib.metrics.tree`: the component tree (every component at every tau of a map in one union-find
  pass; a numba kernel, its choice and cold start documented there).
- :mod:`camlib.metrics.sweep`: what the tree gives: BoxAcc's hits at every tau, and one map's boxes at every tau
  (:func:`component_boxes_at_thresholds`, for IoU-vs-tau curves).
- :mod:`camlib.metrics.wsol`: clovaai/wsolevaluation's convention (8-bit masks, contours with holes, "+1"
  boxes), streamed; needs OpenCV (``pip install 'camlib[wsol]'``).
- :mod:`camlib.metrics.faithfulness`: does the score follow the map? Deletion and insertion AUC (Petsiuk et al.,
  RISE, BMVC 2018: :func:`deletion_auc`, :func:`insertion_auc`, :func:`perturbation_curves`), Average Drop and
  Increase in Confidence (Chattopadhay et al., WACV 2018: :func:`average_drop_increase`).
- :mod:`camlib.metrics.pointing`: the pointing game (Zhang et al., ECCV 2016; 15 px at 224 px, scaled to the
  image: :func:`pointing_game`, :func:`pointing_hits`).
- :mod:`camlib.metrics.sanity`: the model-parameter randomisation test (Adebayo et al., NeurIPS 2018: Spearman
  rank correlation of absolute maps, :func:`randomization_scores`, :func:`randomized_copy`, :func:`spearman`).
- :mod:`camlib.metrics.inputs`: what they share: the tau grid (:func:`cam_thresholds`) and the checks of maps
  and ground-truth boxes (:func:`as_box_list`, :func:`as_maps`).
"""

from __future__ import annotations

from camlib.metrics.boxacc import BoxAccResult, MaxBoxAccMeter, max_box_acc, max_box_acc_v2
from camlib.metrics.faithfulness import (
    auc,
    average_drop_increase,
    confidence_change,
    deletion_auc,
    insertion_auc,
    perturbation_curves,
)
from camlib.metrics.inputs import BoxesLike, as_box_list, as_maps, cam_thresholds
from camlib.metrics.pointing import pointing_game, pointing_hits
from camlib.metrics.pxap import PxAPMeter, PxAPResult, pxap
from camlib.metrics.sanity import mean_defined, randomization_scores, randomized_copy, spearman
from camlib.metrics.sweep import ThresholdBoxes, component_boxes_at_thresholds
from camlib.metrics.topk import LocalizationMeter, LocalizationResult, best_iou, topk_correct

__all__ = [
    "BoxAccResult",
    "BoxesLike",
    "LocalizationMeter",
    "LocalizationResult",
    "MaxBoxAccMeter",
    "PxAPMeter",
    "PxAPResult",
    "ThresholdBoxes",
    "as_box_list",
    "as_maps",
    "auc",
    "average_drop_increase",
    "best_iou",
    "cam_thresholds",
    "component_boxes_at_thresholds",
    "confidence_change",
    "deletion_auc",
    "insertion_auc",
    "max_box_acc",
    "max_box_acc_v2",
    "mean_defined",
    "perturbation_curves",
    "pointing_game",
    "pointing_hits",
    "pxap",
    "randomization_scores",
    "randomized_copy",
    "spearman",
    "topk_correct",
]
