"""The WSOL table: one run's record and test numbers, per method the mean and spread over seeds (JSON-ready dicts
and markdown), and saved WSOL checkpoints measured again without training (:func:`measure_checkpoints`).

>>> markdown({}, "fast", 1.0).splitlines()[0]
'# WSOL methods on the embedded dataset (fast profile)'
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from camlib import zoo
from camlib.cam import get_method, upsample
from camlib.checkpoint import CheckpointError, dataset_from_meta, load_checkpoint
from camlib.data.shapes.classes import CREATURES, shapes_twins
from camlib.files import atomic_write
from camlib.localization import LocalizationReport, localize, positive_mass_share
from camlib.profile import SettingError
from camlib.train.wsol import WSOL_METHODS

DELTAS = (0.3, 0.5, 0.7)
METHOD = "cam"  # every WSOL method is judged by its CAM
WSOL_ZOO = zoo.DEFAULT_DIR / "wsol"  # the shipped WSOL checkpoints, wsol_METHOD_sSEED (a zoo of their own)


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


def twin_summary(
    model: torch.nn.Module, test: Any, *, device: str | torch.device = "cpu", batch_size: int = 250
) -> dict[str, float]:
    """The twin classes on the test split, in %: does a method break their accuracy-versus-localization trade-off?

    Two pairs of classes differ only by a small discriminative part (:func:`~camlib.data.shapes.classes.shapes_twins`:
    the firefly's lantern, the shark's fin); to tell them apart a network's map contracts onto that part.

    - ``twin_accuracy``: top-1 accuracy on the images of the four twin classes;
    - ``twin_max_box_acc_v2``: MaxBoxAccV2 (CAM of the true class) on the images of the classes WITH the part;
    - ``part_mass``: on those images, the mean share of the true class's positive CAM mass inside the part's box
      (higher: the map sits on the part rather than the whole creature); left out when the split has no part
      boxes.
    """
    names = list(test.class_names)
    twins = shapes_twins()
    pair = torch.tensor([names.index(c) for c in twins])
    parted = torch.tensor([names.index(c.name) for c in CREATURES if c.name in twins and c.part_name])
    correct: list[Tensor] = []
    share: list[Tensor] = []
    kept: list[Any] = []
    cam = get_method(METHOD)
    for start in range(0, len(test), batch_size):
        batch = test.batch(range(start, min(start + batch_size, len(test))), device)
        out = cam(model, batch.images, batch.labels)
        in_pair, has_part = torch.isin(batch.labels.cpu(), pair), torch.isin(batch.labels.cpu(), parted)
        correct.append((out.logits.argmax(1).cpu() == batch.labels.cpu())[in_pair])
        maps = upsample(out.maps.float(), tuple(batch.images.shape[-2:]))[:, 0].cpu()  # (B, H, W)
        if batch.part_boxes is not None:  # None: no image of this batch has a part (or the split has none)
            share.append(positive_mass_share(maps[has_part], batch.part_boxes.cpu()[has_part]))
        kept += [batch.sample(i) for i in has_part.nonzero()[:, 0].tolist()]
    report = localize(model, kept, METHOD, device=device)
    summary = {
        "twin_accuracy": round(100.0 * float(torch.cat(correct).float().mean()), 2),
        "twin_max_box_acc_v2": round(float(report.box_acc.max_box_acc_v2), 2),
    }
    shares = torch.cat(share) if share else torch.zeros(0)
    return summary | ({"part_mass": round(100.0 * float(shares.mean()), 2)} if len(shares) else {})


def split_summary(
    model: torch.nn.Module, test: Any, tau: float, *, device: str | torch.device = "cpu"
) -> dict[str, float]:
    """Every test number of a WSOL row: :func:`run_summary` of the CAM report at the validation ``tau``, and
    :func:`twin_summary` when the dataset has the twin classes."""
    out = run_summary(localize(model, test, METHOD, device=device, chosen_tau=tau), tau)
    if set(shapes_twins()) <= set(test.class_names):
        out |= twin_summary(model, test, device=device)
    return out


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
           "box_acc_val_tau_delta_0.5", "twin_accuracy", "twin_max_box_acc_v2", "part_mass")  # fmt: skip


def markdown(
    table: Mapping[str, Mapping[str, Any]], profile: str, seconds: float, *, source: str = "training"
) -> str:
    """The table as markdown: one row per method, ``mean ± std`` over seeds (all on the test split).

    ``source`` says where the numbers come from: ``"training"`` (measured at the end of each run) or a sentence
    naming the checkpoints they were measured again from.
    """
    head = ["method", "seeds", *COLUMNS, "epochs chosen"]
    took = (
        f"({seconds:.0f} s in all)"
        if source == "training"
        else f"(measured from {source} in {seconds:.0f} s)"
    )
    lines = [
        f"# WSOL methods on the embedded dataset ({profile} profile)", "",
        "Epoch and threshold chosen on the boxed validation split; every number on the test split, in %, mean ± "
        "sample std over the seeds. MaxBoxAccV2 and PxAP are threshold-free (Choe et al., CVPR 2020); "
        "`box_acc_val_tau_delta_0.5` is BoxAcc at the validation threshold. The twin classes (firefly / beetle, "
        "shark / fish differ by one small part): `twin_accuracy` on their images, `twin_max_box_acc_v2` on the "
        "images of the classes with the part (firefly, shark), `part_mass` the share of their true-class CAM's "
        "positive mass inside the part's box.", "",
        "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
    ]  # fmt: skip
    for method, row in table.items():
        cells = [f"{row[c]['mean']:.1f} ± {row[c]['std']:.1f}" if c in row else "-" for c in COLUMNS]
        lines.append(
            f"| {method} | {len(row['seeds'])} | " + " | ".join(cells) + f" | {row['epochs_chosen']} |"
        )
    lines += ["", took]
    return "\n".join(lines) + "\n"


def _measured(
    model: torch.nn.Module, meta: Mapping[str, Any], name: str, device: str | torch.device
) -> WsolResult:
    w = meta.get("wsol")
    if not isinstance(w, dict):
        raise CheckpointError(
            f"{name} has no WSOL record (it was not saved by wsol_run): make one with "
            f"python -m camlib.train.wsol_run --checkpoints DIR"
        )
    test = dataset_from_meta(dict(meta), "test")
    history = list(meta.get("history", []))
    return WsolResult(
        w["method"], int(meta["seed"]), int(w["epoch"]), float(w["tau"]), list(w["val_curve"]),
        list(w["val_accuracy"]), split_summary(model, test, float(w["tau"]), device=device),
        sum(h["seconds"] for h in history), float("nan"), history,
    )  # fmt: skip


def measure_checkpoints(paths: Sequence[Path], device: str | torch.device = "cpu") -> list[WsolResult]:
    """Re-measure saved WSOL checkpoints (``wsol_run --checkpoints``) on their test split, each with the threshold
    chosen on validation when it was trained; nothing is trained or chosen again.

    Raises:
        camlib.checkpoint.CheckpointError: a checkpoint without its WSOL record.
    """
    return [_measured(*load_checkpoint(p, map_location=device), Path(p).name, device) for p in paths]


def measure_zoo(root: str | Path | None = None, device: str | torch.device = "cpu") -> list[WsolResult]:
    """Re-measure the shipped WSOL checkpoints (:data:`WSOL_ZOO`, each sha256-checked) like
    :func:`measure_checkpoints`.

    Raises:
        camlib.profile.SettingError: the folder lists no checkpoint (with the command that makes them).
    """
    base = WSOL_ZOO if root is None else Path(root)
    names = zoo.available(base)
    if not names:
        raise SettingError(
            f"no WSOL checkpoints in {base}: train and ship them with `python -m camlib.train.wsol_run "
            f"--checkpoints DIR --ship` (or `python -m camlib reproduce --wsol --train`)"
        )
    results = [_measured(*zoo.load_with_meta(n, str(device), root=base), n, device) for n in names]
    order = {m: i for i, m in enumerate(WSOL_METHODS)}  # the table's rows in the methods' order, then by seed
    return sorted(results, key=lambda r: (order.get(r.method, len(order)), r.method, r.seed))


def write_report(
    results: Sequence[WsolResult],
    profile: str,
    seconds: float,
    out: Path,
    *,
    source: str,
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Write ``out/wsol_PROFILE.{md,json}`` (replaced): the table of :func:`aggregate` and every run."""
    table = aggregate(results)
    payload = {"profile": profile, "source": source, **(extra or {}), "table": table,
               "runs": [asdict(r) for r in results]}  # fmt: skip
    md = markdown(table, profile, seconds, source=source)
    atomic_write(
        out / f"wsol_{profile}.json", lambda p: p.write_text(json.dumps(payload, indent=1) + "\n"), force=True
    )
    atomic_write(out / f"wsol_{profile}.md", lambda p: p.write_text(md), force=True)
    return md, payload
