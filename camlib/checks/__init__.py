"""Exercise self-checks: run a learner's function against the reference on several cases, name the mistake.

Each ``check_*`` function takes the learner's function, runs it on a handful of cases (edge cases included) on
fresh copies of the inputs, compares with camlib's reference and prints ONE verdict: ✅ correct; ⏳ not attempted
yet (the body is still a stub), with where the hints are; ❌ with the named typical mistake (a mean over the wrong
axis, inclusive box edges, a forgotten bias ...) or a precise description; ❌ when the function changed its input
in place, raised (the learner's own line that failed, and a hint) or ran longer than the time limit. It returns a
:class:`CheckResult`, true only when correct.

Where it lives (this module gathers them; notebooks call ``checks.check_<name>(fn)``):

- :mod:`camlib.checks.runner`: ``Mistake``, ``CheckSpec``, ``CheckResult`` and ``run_check`` (the verdict).
- :mod:`camlib.checks.calling`: calling the learner's function on copies, with a time limit; stubs; tracebacks.
- :mod:`camlib.checks.compare`: the comparison of results and the descriptions in the messages.
- :mod:`camlib.checks.nets`: softmax, accuracy, fc_params, gap, cam, normalize, grad_cam (the network's maths).
- :mod:`camlib.checks.basics`: cam_scores (the CAM identity), batch_boxes, fc_head_params (notebooks 00-02).
- :mod:`camlib.checks.backbones`: capture_features (a forward hook on a ResNet).
- :mod:`camlib.checks.conversion`: gapify_vgg (the paper's conversion of VGG16).
- :mod:`camlib.checks.training`: amp_step (one mixed-precision training step).
- :mod:`camlib.checks.beyond`: grad_cam_autograd (Grad-CAM from torch.autograd.grad), deletion_auc (notebook 09).
- :mod:`camlib.checks.observe`: checks of functions that act on a model (hooks left, mode, changed in place).
- :mod:`camlib.checks.boxes`: box_from_mask, iou, scale_box, box_at_threshold, paper_box (box geometry).
- :mod:`camlib.checks.maps`: cam_batch (CAM for a batch, one einsum), pointing (the pointing game), trimap_box.
- :mod:`camlib.checks.metrics`: box_acc (BoxAcc and MaxBoxAcc), choose_tau (on validation; test sealed).
- :mod:`camlib.checks.explorer`: iou_curve (the IoU-vs-tau curve, its best tau), erase_part (notebook 06).
- :mod:`camlib.checks.driving`: first_disagreement (a function that drives the app's ``show``; notebook 06).
- :mod:`camlib.checks.microscope`: peak_histogram (where maps peak), mass_share (positive mass in a box).

``CATALOGUE`` maps every check's name to its :class:`CheckSpec` (reference, cases, mistakes): the tests feed each
mistake to its check and expect its own message, so a new check only needs a spec listed in a ``SPECS`` tuple.

>>> result = check_gap(lambda f: f.mean(dim=(-2, -1)))
✅ check_gap: correct on 4 cases.
>>> bool(result), result.status
(True, 'correct')
>>> def global_max(features):
...     return features.amax(dim=(-2, -1))
>>> check_gap(global_max).status
❌ check_gap: wrong result on case 1 of 4 (features: a (1, 2, 2, 2) float32 tensor).
   Mistake: that is global MAX pooling: average over the positions instead
   yours:    a (1, 2) float32 tensor = [[3, 7]]
   expected: a (1, 2) float32 tensor = [[1.5, 5.5]]
'wrong'
"""

from __future__ import annotations

from camlib.checks import (
    backbones,
    basics,
    beyond,
    boxes,
    conversion,
    driving,
    explorer,
    maps,
    metrics,
    microscope,
    nets,
    training,
)
from camlib.checks.backbones import check_capture_features
from camlib.checks.basics import check_batch_boxes, check_cam_scores, check_fc_head_params
from camlib.checks.beyond import check_deletion_auc, check_grad_cam_autograd
from camlib.checks.boxes import (
    check_box_at_threshold,
    check_box_from_mask,
    check_iou,
    check_paper_box,
    check_scale_box,
)
from camlib.checks.conversion import check_gapify_vgg
from camlib.checks.driving import check_first_disagreement
from camlib.checks.explorer import check_erase_part, check_iou_curve
from camlib.checks.maps import check_cam_batch, check_pointing, check_trimap_box
from camlib.checks.metrics import check_box_acc, check_choose_tau
from camlib.checks.microscope import check_mass_share, check_peak_histogram
from camlib.checks.nets import (
    check_accuracy,
    check_cam,
    check_fc_params,
    check_gap,
    check_grad_cam,
    check_normalize,
    check_softmax,
)
from camlib.checks.runner import TIME_LIMIT_S, CheckResult, CheckSpec, Mistake, run_check
from camlib.checks.training import check_amp_step

CATALOGUE: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        *nets.SPECS,
        *boxes.SPECS,
        *maps.SPECS,
        *metrics.SPECS,
        *basics.SPECS,
        *backbones.SPECS,
        *conversion.SPECS,
        *training.SPECS,
        *beyond.SPECS,
        *explorer.SPECS,
        *driving.SPECS,
        *microscope.SPECS,
    )
}

__all__ = [
    "CATALOGUE",
    "TIME_LIMIT_S",
    "CheckResult",
    "CheckSpec",
    "Mistake",
    "check_accuracy",
    "check_amp_step",
    "check_batch_boxes",
    "check_box_acc",
    "check_box_at_threshold",
    "check_box_from_mask",
    "check_cam",
    "check_cam_scores",
    "check_deletion_auc",
    "check_erase_part",
    "check_capture_features",
    "check_cam_batch",
    "check_choose_tau",
    "check_fc_head_params",
    "check_fc_params",
    "check_first_disagreement",
    "check_gap",
    "check_gapify_vgg",
    "check_grad_cam",
    "check_grad_cam_autograd",
    "check_iou",
    "check_iou_curve",
    "check_mass_share",
    "check_normalize",
    "check_paper_box",
    "check_peak_histogram",
    "check_pointing",
    "check_scale_box",
    "check_softmax",
    "check_trimap_box",
    "run_check",
]
