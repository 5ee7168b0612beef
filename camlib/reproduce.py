"""``python -m camlib reproduce``: the paper's comparison on the embedded dataset, in one command.

Rows: GAP + CAM, GMP + CAM, FC head + gradient saliency (the paper's "backprop" baseline), FC head + Grad-CAM,
and a centred-box prior. Columns: classification error, top-1 localization error at the paper's 20% threshold,
GT-known localization, MaxBoxAcc, MaxBoxAccV2 (Choe et al., CVPR 2020) and PxAP. It also shows BoxAcc as a
function of the threshold: the paper says 20% of the max, the released code used other levels, MaxBoxAcc
removes the choice. Models come from the shipped checkpoints (``camlib.zoo``) or are trained (``--train``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camlib import zoo
from camlib.cam import METHODS
from camlib.checkpoint import dataset_from_meta, load_checkpoint
from camlib.data.sample import SampleDataset
from camlib.data.shapes import mean_box_size
from camlib.files import REPO_ROOT
from camlib.localization import (
    CENTER,
    PAPER_TAU,
    RELEASED_CODE_TAUS,
    LocalizationReport,
    localize,
    localize_center_prior,
)
from camlib.profile import get_profile
from camlib.train.cli import main as train_main
from camlib.viz import plot_box_acc_curves

REPORTS_DIR = REPO_ROOT / "reports"


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a label, the zoo model it uses (or ``None``) and the map method."""

    label: str
    model: str | None
    method: str  # a name of camlib.cam.METHODS, or CENTER for the model-free prior


ROWS = (
    Row("GAP + CAM", "gap", "cam"),
    Row("GMP + CAM", "gmp", "cam"),
    Row("FC + gradient saliency", "fc", "saliency"),
    Row("FC + Grad-CAM", "fc", "gradcam"),
    Row("centred box (prior)", None, CENTER),
)

_PAIRS = {(r.model, r.method) for r in ROWS}

COLUMNS = (
    ("top1_cls_err", "cls err ↓"),
    ("top1_loc_err", "top-1 loc err @20% ↓"),
    ("gt_known_loc", "GT-known loc @20% ↑"),
    ("max_box_acc", "MaxBoxAcc ↑"),
    ("max_box_acc_v2", "MaxBoxAccV2 ↑"),
    ("max_box_acc_delta_0.3", "δ=.3"),
    ("max_box_acc_delta_0.5", "δ=.5"),
    ("max_box_acc_delta_0.7", "δ=.7"),
    ("pxap", "PxAP ↑"),
)


def _models(
    train: bool, profile: str, seed: int, device: torch.device
) -> tuple[dict[str, nn.Module], SampleDataset, SampleDataset]:
    """The gap / gmp / fc models with the test split and the training split they belong to.

    ``train=False`` loads the shipped checkpoints; ``train=True`` re-runs the command each of them records
    (:func:`recipe`) and measures the fresh models instead.
    """
    missing = [n for n in ("gap", "gmp", "fc") if n not in zoo.available()]
    if missing:
        raise SystemExit(
            f"reproduce: no shipped checkpoint for {missing} in {zoo.zoo_dir()}; restore data/checkpoints/ "
            f"from the repository (--train re-runs the commands recorded there, so it needs them too)"
        )
    if not train:
        models = {n: zoo.load(n, map_location=str(device)) for n in ("gap", "gmp", "fc")}
        meta = {"dataset": zoo.entry("gap").dataset}
        return models, dataset_from_meta(meta, "test"), dataset_from_meta(meta, "train")
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("gap", "gmp", "fc"):
            path = Path(tmp) / f"{name}.pt"
            argv = recipe(zoo.entry(name).command, out=path, seed=seed, profile=profile, device=str(device))
            if train_main(argv) != 0:
                raise SystemExit(
                    f"reproduce --train: training {name} failed: python -m camlib {' '.join(argv)}"
                )
            models[name], meta = load_checkpoint(path, map_location=str(device))
    return models, dataset_from_meta(meta, "test"), dataset_from_meta(meta, "train")


#: flags of a recorded ``train`` command that set the data sizes: dropped for ``--profile full``
SIZE_FLAGS = ("--train-size", "--val-size", "--test-size", "--image-size", "--batch-size")


def recipe(
    command: str, *, out: Path, seed: int = 0, profile: str = "fast", device: str = "cpu"
) -> list[str]:
    """The ``python -m camlib`` arguments that re-run a shipped checkpoint's recorded ``train`` command.

    The model, its trunk, the epochs, the learning rate and the data seed stay as recorded; the output goes to
    ``out`` (not into the zoo) and ``seed``, ``profile`` and ``device`` are set. For the ``full`` profile the
    recorded sizes are dropped, so the profile's image size, dataset sizes and batch size apply.

    >>> " ".join(recipe("python -m camlib train --model gap --epochs 3 --seed 0 --out a.pt --zoo gap", out=Path("b.pt")))
    'train --model gap --epochs 3 --profile fast --seed 0 --device cpu --out b.pt --no-progress'
    """
    tokens = shlex.split(command)
    if tokens[:4] != ["python", "-m", "camlib", "train"]:
        raise ValueError(f"not a recorded `python -m camlib train ...` command: {command!r}")
    drop = {"--out", "--zoo", "--seed", "--device", "--profile"} | (
        set(SIZE_FLAGS) if profile != "fast" else set()
    )
    kept: list[str] = []
    args = tokens[4:]
    i = 0
    while i < len(args):
        if args[i] in drop:
            i += 2  # the flag and its value
            continue
        kept.append(args[i])
        i += 1
    tail = ["--profile", profile, "--seed", str(seed), "--device", device, "--out", str(out), "--no-progress"]
    return ["train", *kept, *tail]


def run(
    *,
    train: bool = False,
    profile: str = "fast",
    seed: int = 0,
    device: str = "cpu",
    limit: int | None = None,
    methods: tuple[str, ...] = (),
) -> dict[str, LocalizationReport]:
    """Measure every row of :data:`ROWS`, plus one GAP row per name of ``methods`` (a name of
    :data:`camlib.cam.METHODS`); returns label -> report."""
    dev = torch.device(device)
    models, test_ds, train_ds = _models(train, profile, seed, dev)
    extra = [Row(f"GAP + {name}", "gap", name) for name in methods if ("gap", name) not in _PAIRS]
    reports = {}
    for row in (*ROWS, *extra):
        if row.model is None:
            reports[row.label] = localize_center_prior(
                test_ds, mean_box_size(train_ds), classifier=models["gap"], device=dev, limit=limit
            )
        else:
            reports[row.label] = localize(models[row.model], test_ds, row.method, device=dev, limit=limit)
    return reports


def markdown_table(reports: dict[str, LocalizationReport]) -> str:
    """The comparison as a markdown table (percentages)."""
    head = "| method | " + " | ".join(c[1] for c in COLUMNS) + " |"
    sep = "|---|" + "---:|" * len(COLUMNS)
    lines = [head, sep]
    for label, rep in reports.items():
        s = rep.summary()
        cells = []
        for key, _ in COLUMNS:
            cells.append(
                "—"
                if key not in s or (label.startswith("centred") and key == "top1_cls_err")
                else f"{s[key]:.1f}"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def threshold_table(reports: dict[str, LocalizationReport]) -> str:
    """BoxAcc(tau, 0.5) with the largest component at the paper's and the released code's thresholds."""
    taus = (PAPER_TAU, *RELEASED_CODE_TAUS)
    head = "| method | " + " | ".join(f"τ={t:.2f}" for t in taus) + " | best τ | BoxAcc at best τ |"
    lines = [head, "|---|" + "---:|" * (len(taus) + 2)]
    for label, rep in reports.items():
        r = rep.box_acc
        d = r.iou_thresholds.index(0.5)
        curve = r.box_acc_largest[d]
        vals = [curve[int(abs(r.thresholds - t).argmin())] for t in taus]
        best = int(curve.argmax())
        lines.append(
            f"| {label} | "
            + " | ".join(f"{v:.1f}" for v in vals)
            + f" | {r.thresholds[best]:.2f} | {curve[best]:.1f} |"
        )
    return "\n".join(lines)


def add_cli(subparsers: Any) -> None:
    """Register ``reproduce`` on the ``python -m camlib`` parser."""
    p = subparsers.add_parser(
        "reproduce",
        help="the paper's GAP vs GMP vs backprop comparison on the embedded dataset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--profile",
        choices=("fast", "full"),
        default=None,
        help="profile for --train: fast re-runs the recorded commands as they are, full swaps in the full "
        "profile's data sizes (default: in force)",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="retrain the three models with the commands recorded in data/checkpoints/manifest.json",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        choices=sorted(METHODS),
        default=[],
        metavar="METHOD",
        help=f"also compare these map methods on the GAP network: any of {', '.join(sorted(METHODS))}",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for --train")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps")
    p.add_argument("--limit", type=int, default=None, help="measure only the first N test images")
    p.add_argument(
        "--out", type=Path, default=None, help="folder for the markdown, JSON and figure (default: reports/)"
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    profile = args.profile or get_profile().name
    t0 = time.perf_counter()
    reports = run(
        train=args.train,
        profile=profile,
        seed=args.seed,
        device=args.device,
        limit=args.limit,
        methods=tuple(args.methods),
    )
    seconds = time.perf_counter() - t0
    n = next(iter(reports.values())).loc.num_images
    source = "trained now (--train)" if args.train else "shipped checkpoints (data/checkpoints)"
    out = args.out or REPORTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    stem = f"reproduce_{profile}"
    payload: dict[str, Any] = {
        "profile": profile,
        "source": source,
        "test_images": n,
        "seconds": round(seconds, 1),
        "rows": {label: rep.summary() for label, rep in reports.items()},
        "box_acc_curves": {
            label: {
                "thresholds": [round(float(t), 4) for t in rep.box_acc.thresholds],
                "delta_0.5_largest": [round(float(v), 2) for v in rep.box_acc.box_acc_largest[1]],
                "delta_0.5_all": [round(float(v), 2) for v in rep.box_acc.box_acc[1]],
            }
            for label, rep in reports.items()
        },
    }
    md = (
        f"# The paper's comparison on the embedded dataset ({profile} profile)\n\n"
        f"{n} test images, models from {source}; maps of the true class, bilinear upsampling; percentages.\n"
        f"Top-1 loc and GT-known loc use the paper's rule (largest component above 20% of the max); MaxBoxAcc and "
        f"MaxBoxAccV2 (Choe et al., CVPR 2020) choose the threshold. The centred box is scored with the GAP "
        f"model's classification.\n\n{markdown_table(reports)}\n\n"
        f"## The threshold question: BoxAcc(τ, δ=0.5), largest component, min-max normalised maps\n\n"
        f"The paper keeps 20% of the max; the released code thresholds an 8-bit heatmap at 20, 100 and 110 of 255 "
        f"(≈0.08, 0.39, 0.43).\n\n{threshold_table(reports)}\n"
    )
    (out / f"{stem}.md").write_text(md)
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=1) + "\n")
    fig = plot_box_acc_curves({label: rep.box_acc for label, rep in reports.items()})
    fig.savefig(out / f"{stem}.png", dpi=100, bbox_inches="tight")
    if args.json:
        print(
            json.dumps(
                payload["rows"]
                | {"_meta": {k: payload[k] for k in ("profile", "source", "test_images", "seconds")}},
                indent=1,
            )
        )
    else:
        print(md)
        print(f"({seconds:.0f} s; written to {out.name}/{stem}.md, .json, .png)")
    return 0
