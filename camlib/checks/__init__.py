"""Exercise self-checks: run a learner's function against the reference on several cases, name the mistake.

Each ``check_*`` function takes the learner's function, runs it on a handful of cases (including edge cases),
compares with camlib's reference, prints one verdict line, and returns ``True`` when every case matches. When a
case fails, the learner's output is compared with the typical wrong answers of that exercise (a mean over the
wrong axis, inclusive box edges, a forgotten bias ...) so the hint names what is wrong.

Where it lives (this module gathers them; notebooks call ``checks.check_<name>(fn)``):

- :mod:`camlib.checks.runner`: ``Mistake`` and ``run_check``, the comparison and the printed verdict and hint.
- :mod:`camlib.checks.nets`: softmax, accuracy, fc_params, gap, cam, normalize, grad_cam (the network's maths).
- :mod:`camlib.checks.boxes`: box_from_mask, iou, scale_box, box_at_threshold (box geometry).

>>> check_gap(lambda f: f.mean(dim=(-2, -1)))
✅ check_gap: correct on 4 cases.
True
"""

from __future__ import annotations

from camlib.checks.boxes import check_box_at_threshold, check_box_from_mask, check_iou, check_scale_box
from camlib.checks.nets import (
    check_accuracy,
    check_cam,
    check_fc_params,
    check_gap,
    check_grad_cam,
    check_normalize,
    check_softmax,
)
from camlib.checks.runner import Mistake, run_check

__all__ = [
    "Mistake",
    "check_accuracy",
    "check_box_at_threshold",
    "check_box_from_mask",
    "check_cam",
    "check_fc_params",
    "check_gap",
    "check_grad_cam",
    "check_iou",
    "check_normalize",
    "check_scale_box",
    "check_softmax",
    "run_check",
]
