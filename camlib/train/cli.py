"""The ``train`` and ``evaluate`` commands of ``python -m camlib``.

``python -m camlib train --model gap --profile fast --seed 0 --out data/checkpoints/gap.pt --zoo gap`` trains,
measures the test split, writes the checkpoint and (with ``--zoo``) its manifest entry, recording the command
with every effective setting so that it rebuilds the same file. The same command runs data-parallel under
``torchrun --nproc_per_node=N -m camlib train ...``; the ranks' final weights are compared by hash.

``python -m camlib evaluate CHECKPOINT`` (a path or a zoo name) re-measures a checkpoint on a split of the data it
was trained on: classification, and localization when the data has boxes (:func:`checkpoint_metrics`). What a
training run does is in :mod:`camlib.train.run`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from camlib import zoo
from camlib.checkpoint import CheckpointError, dataset_from_meta, load_checkpoint
from camlib.data.sample import Sample, SampleDataset
from camlib.localization import localization_metrics
from camlib.profile import PROFILES
from camlib.train.device import select_device
from camlib.train.evaluation import evaluate
from camlib.train.run import cmd_train

ARCHS = ("gap", "gmp", "fc")


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 32,64,128, got {text!r}"
        ) from None


def main(argv: Sequence[str]) -> int:
    """Run ``train ...`` or ``evaluate ...`` (the arguments after ``python -m camlib``) and return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m camlib")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args) or 0)


def add_cli(subparsers: Any) -> None:
    """Register ``train`` and ``evaluate`` on the ``python -m camlib`` parser."""
    p = subparsers.add_parser(
        "train",
        help="train a GAP / GMP / FC-head model and save a checkpoint",
        description="Train a course model on the embedded dataset, measure the test split, save a checkpoint. "
        "Runs data-parallel under `torchrun --nproc_per_node=N -m camlib train ...`.",
    )
    p.add_argument("--dataset", default="shapes", help="dataset name or module:Class (default: shapes)")
    p.add_argument(
        "--model", choices=ARCHS, default="gap", help="gap (avg pool), gmp (max pool), fc (FC head)"
    )
    p.add_argument(
        "--profile", choices=sorted(PROFILES), default=None, help="default: $CAMLIB_PROFILE or auto"
    )
    p.add_argument("--epochs", type=int, default=None, help="default: the profile's")
    p.add_argument("--batch-size", type=int, default=None, help="per rank; default: the profile's")
    p.add_argument(
        "--lr",
        type=float,
        default=3e-3,
        help="peak learning rate (AdamW, warm-up + cosine; default %(default)s)",
    )
    p.add_argument(
        "--weight-decay", type=float, default=5e-4, help="AdamW weight decay (default %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="training seed (init, shuffling)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the generated dataset")
    p.add_argument(
        "--difficulty",
        choices=("easy", "default", "hard"),
        default=None,
        help="Shapes preset (default: default)",
    )
    p.add_argument("--train-size", type=int, default=None, help="default: the profile's")
    p.add_argument("--val-size", type=int, default=None, help="default: the profile's")
    p.add_argument("--test-size", type=int, default=None, help="default: the profile's")
    p.add_argument("--image-size", type=int, default=None, help="default: the profile's")
    p.add_argument("--widths", type=_ints, default=None, help="conv block widths, e.g. 32,64,128,128")
    p.add_argument("--downsample", type=int, default=None, help="stride of the last conv map (power of two)")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="checkpoint path (default: <zoo dir>/NAME.pt with --zoo NAME, else checkpoints/<model>.pt)",
    )
    p.add_argument(
        "--zoo", metavar="NAME", default=None, help="also register the checkpoint in the zoo as NAME"
    )
    p.add_argument(
        "--zoo-dir", type=Path, default=None, help=f"zoo folder (default: ${zoo.ENV_VAR} or data/checkpoints)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.set_defaults(func=cmd_train)

    e = subparsers.add_parser(
        "evaluate",
        help="measure a checkpoint on a split of its dataset",
        description="Re-measure a checkpoint (a .pt path or a zoo name) on a split of the data it was trained on.",
    )
    e.add_argument("checkpoint", help="a .pt file or a zoo name (gap, gmp, fc)")
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    e.add_argument(
        "--sha256", default=None, help="expected sha256 of the file (zoo names are always checked)"
    )
    e.add_argument("--zoo-dir", type=Path, default=None, help="zoo folder for zoo names")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout")
    e.set_defaults(func=cmd_evaluate)


def checkpoint_metrics(
    model: nn.Module, ds: SampleDataset | Sequence[Sample], *, batch_size: int = 256, device: Any = None
) -> dict[str, Any]:
    """Every metric the course measures for a checkpoint on ``ds``: classification (``accuracy``,
    ``top5_accuracy``, ``loss``, ``n``), plus :func:`camlib.localization.localization_metrics` (boxes only)."""
    metrics: dict[str, Any] = dict(evaluate(model, ds, batch_size=batch_size, device=device))
    metrics.update(localization_metrics(model, ds, batch_size=batch_size, device=device))
    return metrics


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``python -m camlib evaluate``."""
    device = select_device(args.device)
    path = Path(args.checkpoint)
    try:
        if not path.is_file() and args.checkpoint in zoo.available(args.zoo_dir):
            model, meta = zoo.load_with_meta(args.checkpoint, root=args.zoo_dir)
        else:
            model, meta = load_checkpoint(path, sha256=args.sha256)
        ds = dataset_from_meta(meta, args.split)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model.to(device)
    metrics = checkpoint_metrics(model, ds, batch_size=args.batch_size, device=device)
    recorded = meta.get("metrics", {}).get(f"{args.split}_accuracy")
    result = {
        "checkpoint": args.checkpoint,
        "split": args.split,
        "metrics": metrics,
        "recorded_accuracy": recorded,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.checkpoint} on the {args.split} split ({int(metrics['n'])} images):")
        for k, v in metrics.items():
            print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
        if recorded is not None:
            print(f"  (recorded when it was made: accuracy {recorded:.2f}%)")
    return 0
