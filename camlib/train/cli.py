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
from camlib.files import normalize_sha256, sha256_file
from camlib.localization import localization_metrics
from camlib.profile import (
    PROFILES,
    CommandParser,
    device_name,
    image_size,
    int_list,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    power_of_two,
)
from camlib.train.device import select_device
from camlib.train.evaluation import evaluate
from camlib.train.run import cmd_train

ARCHS = zoo.ARCHS


def sha256_digest(text: str) -> str:
    """argparse type of ``--sha256``: 64 hex digits (a pasted newline or capitals are fine)."""
    try:
        return normalize_sha256(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def zoo_name(text: str) -> str:
    """argparse type of ``--zoo NAME``: a valid zoo name (see :func:`camlib.zoo.validate_name`)."""
    try:
        return zoo.validate_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str]) -> int:
    """Run ``train ...`` or ``evaluate ...`` (the arguments after ``python -m camlib``) and return the exit code."""
    parser = CommandParser(prog="python -m camlib")
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
    p.add_argument("--epochs", type=positive_int, default=None, help="default: the profile's")
    p.add_argument("--batch-size", type=positive_int, default=None, help="per rank; default: the profile's")
    p.add_argument(
        "--lr",
        type=positive_float,
        default=3e-3,
        help="peak learning rate (AdamW, warm-up + cosine; default %(default)s)",
    )
    p.add_argument(
        "--weight-decay",
        type=non_negative_float,
        default=5e-4,
        help="AdamW weight decay (default %(default)s)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="training seed (init, shuffling)")
    p.add_argument("--data-seed", type=non_negative_int, default=0, help="seed of the generated dataset")
    p.add_argument(
        "--difficulty",
        choices=("easy", "default", "hard"),
        default=None,
        help="Shapes preset (default: default)",
    )
    p.add_argument(
        "--train-mark",
        choices=("agree", "random", "none"),
        default=None,
        help="with --dataset shortcut: the corner mark of the train and val images (default agree: its colour "
        "agrees with the class; test images always get a random mark)",
    )
    p.add_argument(
        "--agreement",
        type=non_negative_float,
        default=None,
        help="with --dataset shortcut and --train-mark agree: the share of images whose mark agrees (default 0.9)",
    )
    p.add_argument("--train-size", type=positive_int, default=None, help="default: the profile's")
    p.add_argument("--val-size", type=positive_int, default=None, help="default: the profile's")
    p.add_argument("--test-size", type=positive_int, default=None, help="default: the profile's")
    p.add_argument(
        "--image-size", type=image_size, default=None, help="32 to 1024 px; default: the profile's"
    )
    p.add_argument("--widths", type=int_list, default=None, help="conv block widths, e.g. 32,64,128,128")
    p.add_argument(
        "--downsample", type=power_of_two, default=None, help="stride of the last conv map (power of two)"
    )
    p.add_argument(
        "--device", type=device_name, default=None, help="cpu, cuda, mps (default: best available)"
    )
    p.add_argument(
        "--threads", type=positive_int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="checkpoint path (default: <zoo dir>/NAME.pt with --zoo NAME, else checkpoints/<model>.pt); "
        "checked before training: an existing file is replaced only with --force",
    )
    p.add_argument(
        "--zoo",
        metavar="NAME",
        type=zoo_name,
        default=None,
        help="also register the checkpoint in the zoo as NAME",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing checkpoint file or zoo entry (default: refuse)",
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
    e.add_argument("--batch-size", type=positive_int, default=256)
    e.add_argument(
        "--device", type=device_name, default=None, help="cpu, cuda, mps (default: best available)"
    )
    e.add_argument(
        "--sha256",
        type=sha256_digest,
        default=None,
        help="expected sha256 of the file (zoo names are always checked against the manifest)",
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


def open_checkpoint(
    ref: str, sha256: str | None = None, zoo_dir: Path | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """The model and metadata of ``ref``: a ``.pt`` file, or a zoo name (verified against the manifest).

    Raises:
        CheckpointError: a bad file. ZooError: neither a file nor a zoo name (the message lists the zoo's names).
    """
    path = Path(ref)
    names = zoo.available(zoo_dir)
    if not path.is_file() and ref in names:
        path = zoo.entry(ref, zoo_dir).path
        if (
            sha256 is not None and sha256_file(path) != sha256
        ):  # the learner's digest, on top of the manifest's
            raise CheckpointError(
                f"sha256 mismatch for the zoo's {ref!r} ({path}): it is not the file whose digest you gave; check "
                f"the --sha256 value, or restore the file from git"
            )
        return zoo.load_with_meta(ref, root=zoo_dir)
    if not path.exists() and path.stem in names and path.suffix == ".pt":
        raise zoo.ZooError(f"no file {ref} here, but the zoo has {path.stem!r}: evaluate {path.stem}")
    if not path.exists() and path.suffix != ".pt" and len(path.parts) == 1:
        raise zoo.ZooError(
            zoo.unknown_name(ref, names, zoo.zoo_dir(zoo_dir)) + " (or give the path of a .pt file)"
        )
    return load_checkpoint(path, sha256=sha256)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``python -m camlib evaluate``."""
    device = select_device(args.device)
    model, meta = open_checkpoint(args.checkpoint, args.sha256, args.zoo_dir)
    if (
        args.sha256 is None
        and meta.get("content_sha256") is None
        and args.checkpoint not in zoo.available(args.zoo_dir)
    ):
        print(
            f"warning: {args.checkpoint} is unverified: it records no digest of its content and no --sha256 was "
            "given, so a damaged or modified file would load; pass --sha256 HEX to check it",
            file=sys.stderr,
        )
    ds = dataset_from_meta(meta, args.split)
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
