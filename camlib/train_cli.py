"""The ``train`` and ``evaluate`` commands of ``python -m camlib``.

``python -m camlib train --model gap --profile fast --seed 0 --out data/checkpoints/gap.pt --zoo gap`` trains,
measures the test split, writes the checkpoint and (with ``--zoo``) its manifest entry, recording the command
with every effective setting so that it rebuilds the same file. The same command runs data-parallel under
``torchrun --nproc_per_node=N -m camlib train ...``; the ranks' final weights are compared by hash.

``python -m camlib evaluate CHECKPOINT`` (a path or a zoo name) re-measures a checkpoint on a split of the data it
was trained on. Metrics come from :func:`checkpoint_metrics`: classification here, plus any module listed in
:data:`EVAL_MODULES` that defines ``checkpoint_metrics(model, ds, *, batch_size, device) -> dict``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camlib import distributed as D
from camlib import zoo
from camlib.checkpoint import (
    CheckpointError,
    dataset_class,
    dataset_from_meta,
    load_checkpoint,
    save_checkpoint,
)
from camlib.models import ModelSpec, NetConfig, build_model, count_parameters
from camlib.profile import PROFILES, get_profile
from camlib.train import evaluate, fit, seed_everything, select_device

#: modules whose ``checkpoint_metrics(model, ds, *, batch_size, device) -> dict`` the evaluate command adds
#: (e.g. localization metrics).
EVAL_MODULES: tuple[str, ...] = ("camlib.localization",)

ARCHS = ("gap", "gmp", "fc")


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 32,64,128, got {text!r}"
        ) from None


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


def command_line(args: argparse.Namespace, settings: dict[str, Any]) -> str:
    """The canonical command that reproduces a run: every effective setting spelled out."""
    launcher = "python -m camlib"
    world = D.env_info().world_size
    if world > 1:
        launcher = f"torchrun --nproc_per_node={world} -m camlib"
    parts = ["train"]
    for key, value in settings.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        parts += [flag, ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return launcher + " " + shlex.join(parts)


def _default_out(args: argparse.Namespace) -> Path:
    if args.zoo:
        return zoo.zoo_dir(args.zoo_dir) / f"{args.zoo}.pt"
    return Path("checkpoints") / f"{args.model}.pt"


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (no machine paths in commands)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_train(args: argparse.Namespace) -> int:
    """Handler of ``python -m camlib train``."""
    prof = get_profile(args.profile)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    dinfo = D.init_distributed(device)
    try:
        return _train(args, prof, device, dinfo)
    finally:
        D.destroy_distributed()


def _train(args: argparse.Namespace, prof: Any, device: torch.device, dinfo: D.DistInfo) -> int:
    config = NetConfig()
    config = NetConfig(
        widths=args.widths or config.widths,
        downsample=args.downsample or config.downsample,
    )
    s: dict[str, Any] = {
        "dataset": args.dataset,
        "model": args.model,
        "profile": prof.name,
        "epochs": args.epochs or prof.epochs,
        "batch_size": args.batch_size or prof.batch_size,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "train_size": args.train_size or prof.train_size,
        "val_size": args.val_size or prof.val_size,
        "test_size": args.test_size or prof.test_size,
        "image_size": args.image_size or prof.image_size,
        "widths": config.widths,
        "downsample": config.downsample,
        "difficulty": args.difficulty,
        "out": _display(args.out or _default_out(args)),
        "zoo": args.zoo,
    }
    command = command_line(args, s)
    cls = dataset_class(args.dataset)
    sizes = {"train": s["train_size"], "val": s["val_size"], "test": s["test_size"]}
    extra: dict[str, Any] = {}
    if args.difficulty is not None:
        from camlib.data.shapes import PRESETS

        extra["config"] = PRESETS[args.difficulty]
    data = {
        k: cls(split=k, size=n, image_size=s["image_size"], seed=args.data_seed, **extra)
        for k, n in sizes.items()
    }
    class_names = list(data["train"].class_names)
    seed_everything(args.seed)
    spec = ModelSpec(args.model, len(class_names), config)
    model = build_model(spec)
    history = fit(
        model,
        data["train"],
        data["val"],
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        lr=s["lr"],
        weight_decay=s["weight_decay"],
        device=device,
        seed=args.seed,
        progress=not args.no_progress,
    )
    test = evaluate(model, data["test"], batch_size=256, device=device)
    digests = D.gather_digests(model)
    if not dinfo.is_main:
        return 0 if len(set(digests)) == 1 else 1
    metrics = {
        "test_accuracy": test["accuracy"],
        "test_top5_accuracy": test["top5_accuracy"],
        "test_loss": test["loss"],
        "test_images": int(test["n"]),
        "val_accuracy": history[-1].val_acc,
        "train_seconds": history.train_seconds,
        "images_per_s": sum(h.images_per_s for h in history) / len(history),
        "parameters": count_parameters(model),
        "world_size": dinfo.world_size,
        "device": device.type,
    }
    out = Path(s["out"])
    sha = save_checkpoint(
        out,
        model,
        spec,
        class_names=class_names,
        dataset={"name": args.dataset, "splits": {k: ds.spec() for k, ds in data.items()}},
        profile=prof.name,
        seed=args.seed,
        metrics=metrics,
        history=history.to_dicts(),
        command=command,
    )
    result: dict[str, Any] = {
        "checkpoint": str(out),
        "sha256": sha,
        "command": command,
        "metrics": metrics,
        "history": history.to_dicts(),
        "rank_digests": digests,
        "ranks_identical": len(set(digests)) == 1,
    }
    if args.zoo:
        entry = zoo.register(args.zoo, out, root=args.zoo_dir, command=command)
        result["zoo"] = {"name": entry.name, "path": str(entry.path), "sha256": entry.sha256}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for h in history:
            print(
                f"epoch {h.epoch}: train loss {h.train_loss:.3f} acc {h.train_acc:.1f}%  val acc {h.val_acc:.1f}%  "
                f"{h.images_per_s:.0f} img/s  {h.seconds:.1f} s"
            )
        print(f"test accuracy {test['accuracy']:.2f}% on {int(test['n'])} images")
        print(
            f"saved {out} (sha256 {sha[:12]}...)"
            + (f", registered in the zoo as {args.zoo!r}" if args.zoo else "")
        )
    if not result["ranks_identical"]:
        print(f"error: the {dinfo.world_size} ranks ended with different weights: {digests}", file=sys.stderr)
        return 1
    return 0


def checkpoint_metrics(
    model: nn.Module, ds: Any, *, batch_size: int = 256, device: Any = None
) -> dict[str, Any]:
    """Every metric the course measures for a checkpoint on ``ds``.

    Classification (``accuracy``, ``top5_accuracy``, ``loss``, ``n``) always; then the dicts returned by
    ``checkpoint_metrics(model, ds, batch_size=..., device=...)`` of each importable module in
    :data:`EVAL_MODULES` (the localization metrics plug in there).
    """
    metrics: dict[str, Any] = dict(evaluate(model, ds, batch_size=batch_size, device=device))
    for name in EVAL_MODULES:
        hook = importlib.import_module(name).checkpoint_metrics
        metrics.update(hook(model, ds, batch_size=batch_size, device=device))
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
