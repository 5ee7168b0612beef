"""What ``python -m camlib train`` does: build the data and the model, train, measure, save, register.

The command recorded in the checkpoint spells out every effective setting, so that it rebuilds the same file.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from camlib import zoo
from camlib.checkpoint import dataset_class, save_checkpoint
from camlib.data.shapes import PRESETS
from camlib.files import check_destination
from camlib.models import ModelSpec, NetConfig, build_model, count_parameters
from camlib.profile import FULL_ON_CPU, Profile, SettingError, SlowWarning, get_profile
from camlib.train import distributed as D
from camlib.train.device import seed_everything, select_device
from camlib.train.evaluation import evaluate
from camlib.train.loop import fit


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


def _given(value: Any, default: Any) -> Any:
    """``value`` unless it was not given (``None``); a given 0 is never replaced by the default."""
    return default if value is None else value


def settings(args: argparse.Namespace, prof: Profile) -> dict[str, Any]:
    """Every effective setting of a run: what was given, else the profile's or the model's default.

    Raises:
        SettingError: settings that do not fit together (a trunk too small for its downsampling, a last map
            with no pixel left), found before any work is done.
    """
    default = NetConfig()
    try:
        config = NetConfig(
            widths=_given(args.widths, default.widths), downsample=_given(args.downsample, default.downsample)
        )
    except ValueError as exc:
        raise SettingError(f"{exc} (--widths, --downsample)") from None
    shortcut = args.dataset == "shortcut"
    if not shortcut and (args.train_mark is not None or args.agreement is not None):
        raise SettingError(
            f"--train-mark and --agreement set the planted mark of --dataset shortcut, not of {args.dataset!r}: "
            f"add --dataset shortcut or leave them out"
        )
    if args.agreement is not None and (args.agreement > 1 or args.train_mark not in (None, "agree")):
        raise SettingError(
            f"--agreement is a share in [0, 1] of the images whose mark agrees under --train-mark agree, got "
            f"{args.agreement} with --train-mark {args.train_mark or 'agree'}: e.g. --agreement 0.9"
        )
    side = _given(args.image_size, prof.image_size)
    if side // config.downsample < 1:
        raise SettingError(
            f"--image-size {side} with --downsample {config.downsample} leaves no pixel in the last map: "
            f"use a smaller --downsample or larger images"
        )
    return {
        "dataset": args.dataset,
        "model": args.model,
        "profile": prof.name,
        "epochs": _given(args.epochs, prof.epochs),
        "batch_size": _given(args.batch_size, prof.batch_size),
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "train_size": _given(args.train_size, prof.train_size),
        "val_size": _given(args.val_size, prof.val_size),
        "test_size": _given(args.test_size, prof.test_size),
        "image_size": side,
        "widths": config.widths,
        "downsample": config.downsample,
        "difficulty": args.difficulty,
        "train_mark": args.train_mark,
        "agreement": args.agreement,
        "out": _display(args.out or _default_out(args)),
        "zoo": args.zoo,
    }


def check_outputs(args: argparse.Namespace) -> Path:
    """Where the checkpoint goes, checked BEFORE training: not a folder, no existing file or zoo entry
    without ``--force``, a folder that exists or can be created (missing folders are made when it is saved).

    Raises:
        camlib.files.DestinationError: naming the fix.
    """
    out = args.out or _default_out(args)
    check_destination(out, force=args.force, how="--force")
    if args.zoo:
        dst = zoo.zoo_dir(args.zoo_dir) / f"{args.zoo}.pt"
        same = dst.resolve() == Path(out).resolve()
        zoo.check_name_free(
            args.zoo, args.zoo_dir, force=args.force, how="--force", written=dst if same else None
        )
    return Path(out)


def cmd_train(args: argparse.Namespace) -> int:
    """Handler of ``python -m camlib train``: every setting and the destination are checked before the work."""
    with warnings.catch_warnings():  # said once below, on stderr, when it applies to this run's device
        warnings.simplefilter("ignore", SlowWarning)
        prof = get_profile(args.profile)
    s = settings(args, prof)
    check_outputs(args)
    cls = dataset_class(args.dataset)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    if prof.name == "full" and device.type == "cpu":
        print(f"warning: {FULL_ON_CPU}", file=sys.stderr)
    dinfo = D.init_distributed(device)
    try:
        return _train(args, s, cls, prof, device, dinfo)
    finally:
        D.destroy_distributed()


def _train(
    args: argparse.Namespace,
    s: dict[str, Any],
    cls: Any,
    prof: Profile,
    device: torch.device,
    dinfo: D.DistInfo,
) -> int:
    config = NetConfig(widths=s["widths"], downsample=s["downsample"])
    command = command_line(args, s)
    sizes = {"train": s["train_size"], "val": s["val_size"], "test": s["test_size"]}
    extra: dict[str, Any] = {}
    if args.difficulty is not None:
        extra["config"] = PRESETS[args.difficulty]
    marks: dict[str, Any] = {}
    if args.train_mark is not None:
        marks["mark"] = args.train_mark
    if args.agreement is not None:
        marks["agreement"] = args.agreement
    data = {
        k: cls(
            split=k,
            size=n,
            image_size=s["image_size"],
            seed=args.data_seed,
            **extra,
            **(marks if k != "test" else {}),
        )
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
        force=args.force,
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
        entry = zoo.register(args.zoo, out, root=args.zoo_dir, command=command, force=args.force)
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
