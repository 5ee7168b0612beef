"""The WSOL table: per method, the mean and spread over seeds of each test metric, as JSON-ready dicts and markdown.

>>> markdown({}, "fast", 1.0).splitlines()[0]
'# WSOL methods on the embedded dataset (fast profile)'
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

DELTAS = (0.3, 0.5, 0.7)


class Run(Protocol):
    """What a row needs of a run (a :class:`camlib.train.wsol_run.WsolResult`)."""

    @property
    def method(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def epoch(self) -> int: ...
    @property
    def tau(self) -> float: ...
    @property
    def test(self) -> dict[str, float]: ...


def aggregate(results: Sequence[Run]) -> dict[str, dict[str, Any]]:
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
