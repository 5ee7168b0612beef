"""The WSOL table: one run's record and test numbers, per method the mean and spread over seeds (JSON-ready dicts
and markdown), and saved WSOL checkpoints measured again without training (:func:`measure_checkpoints`).

>>> markdown({}, "fast", 1.0).splitlines()[0]
'# WSOL methods on the embedded dataset (fast profile)'
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from camlib.checkpoint import CheckpointError, dataset_from_meta, load_checkpoint
from camlib.localization import LocalizationReport, localize

DELTAS = (0.3, 0.5, 0.7)
METHOD = "cam"  # every WSOL method is judged by its CAM


@dataclass(frozen=True)
class WsolResult:
    """One trained run, chosen on validation and measured on test.

    Attributes:
        method, seed: the run.
        epoch: the epoch kept (1-based), chosen by validation MaxBoxAccV2.
        tau: the min-max threshold chosen on validation for the kept epoch.
        val_curve: validation MaxBoxAccV2 after each epoch, in %; ``val_accuracy`` its accuracy (the same pass).
        test: test metrics in % (``accuracy``, ``max_box_acc_v2``, ``max_box_acc_delta_D``, ``pxap``,
            ``box_acc_val_tau_delta_D``, ``top1_loc_err_chosen_tau``, ``gt_known_loc_chosen_tau``).
        train_seconds: seconds in training phases; ``seconds`` the whole run.
        history: the per-epoch statistics of :func:`fit`.
    """

    method: str
    seed: int
    epoch: int
    tau: float
    val_curve: list[float]
    val_accuracy: list[float]
    test: dict[str, float]
    train_seconds: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def run_summary(report: LocalizationReport, tau: float) -> dict[str, float]:
    """The numbers of a WSOL row from a test report and the validation threshold ``tau`` (in %)."""
    r = report.box_acc
    i = int(np.abs(np.asarray(r.thresholds) - tau).argmin())
    out = {"accuracy": 100.0 - report.loc.top1_cls_err, "max_box_acc_v2": r.max_box_acc_v2}
    for d, row, largest in zip(r.iou_thresholds, r.box_acc, r.box_acc_largest, strict=True):
        out[f"max_box_acc_delta_{d:g}"] = float(row.max())
        out[f"box_acc_val_tau_delta_{d:g}"] = float(largest[i])
    if report.pxap is not None:
        out["pxap"] = report.pxap
    if report.loc_chosen is not None:
        out["top1_loc_err_chosen_tau"] = report.loc_chosen.top1_loc_err
        out["gt_known_loc_chosen_tau"] = report.loc_chosen.gt_known_loc
    return {k: round(float(v), 2) for k, v in out.items()}


def aggregate(results: Sequence[WsolResult]) -> dict[str, dict[str, Any]]:
    """Per method: each test metric's mean and spread (sample standard deviation; 0 for one seed) over seeds."""
    out: dict[str, dict[str, Any]] = {}
    for method in dict.fromkeys(r.method for r in results):
        runs = [r for r in results if r.method == method]
        row: dict[str, Any] = {"seeds": [r.seed for r in runs], "epochs_chosen": [r.epoch for r in runs]}
        row["taus_chosen"] = [r.tau for r in runs]
        for key in runs[0].test:
            values = [r.test[key] for r in runs]
            row[key] = {"mean": round(statistics.fmean(values), 2),
                        "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0}  # fmt: skip
        out[method] = row
    return out


COLUMNS = ("accuracy", "max_box_acc_v2", *(f"max_box_acc_delta_{d:g}" for d in DELTAS), "pxap",
           "box_acc_val_tau_delta_0.5")  # fmt: skip


def markdown(table: Mapping[str, Mapping[str, Any]], profile: str, seconds: float) -> str:
    """The table as markdown: one row per method, ``mean ± std`` over seeds (all on the test split)."""
    head = ["method", "seeds", *COLUMNS, "epochs chosen"]
    lines = [
        f"# WSOL methods on the embedded dataset ({profile} profile)", "",
        "Epoch and threshold chosen on the boxed validation split; every number on the test split, in %, mean ± "
        "sample std over the seeds. MaxBoxAccV2 and PxAP are threshold-free (Choe et al., CVPR 2020); "
        "`box_acc_val_tau_delta_0.5` is BoxAcc at the validation threshold.", "",
        "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
    ]  # fmt: skip
    for method, row in table.items():
        cells = [f"{row[c]['mean']:.1f} ± {row[c]['std']:.1f}" if c in row else "-" for c in COLUMNS]
        lines.append(
            f"| {method} | {len(row['seeds'])} | " + " | ".join(cells) + f" | {row['epochs_chosen']} |"
        )
    lines += ["", f"({seconds:.0f} s in all)"]
    return "\n".join(lines) + "\n"


def measure_checkpoints(paths: Sequence[Path], device: str | torch.device = "cpu") -> list[WsolResult]:
    """Re-measure saved WSOL checkpoints (``wsol_run --checkpoints``) on their test split, each with the threshold
    chosen on validation when it was trained; nothing is trained or chosen again.

    Raises:
        camlib.checkpoint.CheckpointError: a checkpoint without its WSOL record.
    """
    results = []
    for path in paths:
        model, meta = load_checkpoint(path, map_location=device)
        w = meta.get("wsol")
        if not isinstance(w, dict):
            raise CheckpointError(
                f"{Path(path).name} has no WSOL record (it was not saved by wsol_run): make one with "
                f"python -m camlib.train.wsol_run --checkpoints DIR"
            )
        report = localize(model, dataset_from_meta(meta, "test"), METHOD, device=device, chosen_tau=w["tau"])
        history = list(meta.get("history", []))
        results.append(WsolResult(
            w["method"], int(meta["seed"]), int(w["epoch"]), float(w["tau"]), list(w["val_curve"]),
            list(w["val_accuracy"]), run_summary(report, float(w["tau"])), sum(h["seconds"] for h in history),
            float("nan"), history,
        ))  # fmt: skip
    return results
