"""``python -m camlib reproduce``: the paper's comparison on the embedded dataset, in one command.

Rows: GAP + CAM, GMP + CAM, FC head + gradient saliency (the paper's "backprop" baseline), FC head + Grad-CAM,
and a centred-box prior. Columns: classification error, top-1 localization error and GT-known localization (with
the box threshold chosen on the VALIDATION split, and with the paper's 20%-of-max rule), MaxBoxAcc, MaxBoxAccV2
(Choe et al., CVPR 2020) and PxAP, all on the TEST split. The shipped checkpoints were chosen on the validation
split too (``scripts/tradeoff.py``; the manifest records how). It also shows BoxAcc as a function of the
threshold: the paper says 20% of the max, the released code used other levels, MaxBoxAcc removes the choice.
Models come from the shipped checkpoints (``camlib.zoo``) or are trained (``--train``).

``--wsol`` writes the WSOL table instead (``reports/wsol_PROFILE.md``): CAM, Hide-and-Seek, CutMix and ADL, three
seeds each, every network with the epoch and threshold chosen on validation when it was trained, measured on test
from the shipped checkpoints in ``data/checkpoints/wsol/`` (``--train``: trained again and shipped first).

What lives where: :mod:`~camlib.reproduce.compare` (the rows, the models, :func:`run`),
:mod:`~camlib.reproduce.report` (the tables, the JSON and the figure), :mod:`~camlib.reproduce.cli` (the command), :mod:`~camlib.reproduce.real` (``--dataset cub|pets``: a pretrained
backbone fine-tuned on real photos, :func:`run_real`), :mod:`~camlib.reproduce.wsol` (``--wsol``).
"""

from camlib.localization import CENTER
from camlib.reproduce.cli import REPORTS_DIR, add_cli, main
from camlib.reproduce.compare import ROWS, SIZE_FLAGS, Comparison, Row, recipe, run, selection_record
from camlib.reproduce.real import PUBLISHED_MAXBOXACCV2, run_real
from camlib.reproduce.report import COLUMNS, markdown_table, selection_table, threshold_table, write

__all__ = [
    "CENTER",
    "COLUMNS",
    "PUBLISHED_MAXBOXACCV2",
    "REPORTS_DIR",
    "ROWS",
    "SIZE_FLAGS",
    "Comparison",
    "Row",
    "add_cli",
    "main",
    "markdown_table",
    "recipe",
    "run",
    "run_real",
    "selection_record",
    "selection_table",
    "threshold_table",
    "write",
]
