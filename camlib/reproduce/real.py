"""``python -m camlib reproduce --dataset cub|pets``: the paper's CUB experiment at course scale, on real photos.

A pretrained backbone (:func:`camlib.train.finetune.backbone_net`: VGG16 gapified, or a ResNet's own GAP head)
is fine-tuned on CUB-200-2011 or Oxford-IIIT Pet, or loaded from its verified checkpoint; the box threshold is
chosen on a boxed validation split carved out of the training images (5 per class in the full profile, as the
held-out boxed images of Choe et al., CVPR 2020); the test split is then measured with CAM (accuracy, top-1 loc,
GT-known loc, MaxBoxAcc, MaxBoxAccV2, PxAP where masks exist) beside the published numbers. The fast profile
runs the same path on whatever is at ``--root`` (the tests use tiny fixtures in the real on-disk formats, with
``--weights random``): 64 px, one epoch.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from camlib.data import CUB, OxfordPets
from camlib.data.sample import SampleDataset
from camlib.files import atomic_write, check_destination, data_dir
from camlib.localization import LocalizationReport, localize, select_tau
from camlib.prefetch import BACKBONES, load_weights
from camlib.profile import SettingError, get_profile, positive_int
from camlib.reproduce.report import markdown_table
from camlib.train.finetune import backbone_net, finetune, load_finetuned, split_off_val

DATASETS = ("cub", "pets")

#: CAM's MaxBoxAccV2 on CUB-200-2011 in Choe et al. (CVPR 2020), threshold chosen on their boxed val split
PUBLISHED_MAXBOXACCV2: dict[tuple[str, str], float] = {("cub", "vgg16"): 63.7, ("cub", "resnet50"): 63.0}


@dataclass(frozen=True)
class RealSettings:
    """How a real-photo run trains: image side, epochs, batch, peak learning rate, val images per class."""

    image_size: int
    epochs: int
    batch_size: int
    lr: float
    val_per_class: int
    num_workers: int


SETTINGS = {
    "fast": RealSettings(image_size=64, epochs=1, batch_size=8, lr=1e-3, val_per_class=1, num_workers=0),
    "full": RealSettings(image_size=224, epochs=10, batch_size=64, lr=3e-4, val_per_class=5, num_workers=4),
}


def datasets(name: str, root: Path | None, image_size: int) -> tuple[SampleDataset, SampleDataset]:
    """``(training images, test split)`` of CUB (``train``/``test``) or Pets (``trainval``/``test``)."""
    if name == "cub":
        return CUB(root, "train", image_size), CUB(root, "test", image_size)
    if name == "pets":
        return OxfordPets(root, "trainval", image_size), OxfordPets(root, "test", image_size)
    raise ValueError(f"unknown dataset {name!r}: use one of {DATASETS}")


def checkpoint_path(name: str, arch: str, profile: str, weights: str) -> Path:
    """Where a fine-tuned model is kept: ``data/finetuned/<dataset>_<arch>_<weights>_<profile>.pt``."""
    return data_dir() / "finetuned" / f"{name}_{arch}_{weights}_{profile}.pt"


def run_real(
    name: str,
    *,
    arch: str = "vgg16",
    profile: str = "fast",
    root: Path | None = None,
    weights: str = "imagenet",
    checkpoint: Path | None = None,
    retrain: bool = False,
    device: str = "cpu",
    epochs: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    val_limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune (or load), choose tau on the boxed validation split, measure CAM on test.

    Returns:
        A JSON-able record: ``rows`` (label -> the report's summary), ``published``, ``selection``, ``training``.

    Raises:
        DatasetNotFoundError: the dataset is not at ``root`` (the message names ``prefetch``).
        PrefetchError: ``weights="imagenet"`` and the backbone's file is missing or fails its sha256.
    """
    cfg = SETTINGS[profile]
    n_epochs = epochs or cfg.epochs
    trainval, test = datasets(name, root, cfg.image_size)
    train, val = split_off_val(trainval, cfg.val_per_class, seed)
    path = checkpoint or checkpoint_path(name, arch, profile, weights)
    dev = torch.device(device)
    trained_now = retrain or not path.is_file()
    if trained_now:
        state = load_weights(arch) if weights == "imagenet" else None
        model = backbone_net(arch, len(trainval.class_names), state)
        record = {
            "arch": arch, "num_classes": len(trainval.class_names), "width": 1024,
            "class_names": list(trainval.class_names), "dataset": name, "image_size": cfg.image_size,
            "pretrained": weights, "profile": profile, "seed": seed, "epochs": n_epochs,
            "val_images": sorted(val.indices),
        }  # fmt: skip
        t0 = time.perf_counter()
        history, _ = finetune(
            model, train, val, path, record=record, force=True, epochs=n_epochs, batch_size=cfg.batch_size,
            lr=cfg.lr, device=dev, seed=seed, num_workers=cfg.num_workers, progress=progress,
        )  # fmt: skip
        training = {"seconds": round(time.perf_counter() - t0, 1), "history": history.to_dicts()}
    else:
        model, meta = load_finetuned(path)
        if meta.get("val_images") != sorted(val.indices) or meta.get("image_size") != cfg.image_size:
            raise ValueError(
                f"{path} was trained with another validation split or image size than this run's: pass "
                "--train to fine-tune again (the threshold must be chosen on images the model never trained on)"
            )
        training = {"loaded": str(path.name), "history": meta.get("history", [])}
    model.to(dev).eval()
    choice = select_tau(model, val, "cam", device=dev, limit=val_limit, batch_size=cfg.batch_size)
    report = localize(
        model, test, "cam", device=dev, limit=limit, chosen_tau=choice.tau, batch_size=cfg.batch_size
    )
    return {
        "dataset": name, "arch": arch, "profile": profile, "weights": weights,
        "checkpoint": path.name, "checkpoint_sha256": path.with_suffix(".sha256").read_text().split()[0],
        "rows": {f"{arch} + CAM": report.summary()},
        "published": {"max_box_acc_v2": PUBLISHED_MAXBOXACCV2.get((name, arch))},
        "selection": {"split": "val", "val_images": choice.num_images, "tau": choice.tau, "box_acc": choice.box_acc},
        "test_images": report.loc.num_images, "training": training, "_report": report,
    }  # fmt: skip


def markdown(result: dict[str, Any], title: str | None = None) -> str:
    """The report: the table, the published number beside ours, how tau and the checkpoint were chosen.

    ``title`` replaces the heading's "CAM on CUB photos" (e.g. for data that is not the real dataset)."""
    report: LocalizationReport = result["_report"]
    label = next(iter(result["rows"]))
    ours = result["rows"][label]["max_box_acc_v2"]
    pub = result["published"]["max_box_acc_v2"]
    published = (
        f"{pub:.1f} (Choe et al., CVPR 2020, CAM, {result['arch']})"
        if pub is not None
        else "none published for this dataset and backbone (Choe et al., CVPR 2020 give CUB: 63.7 VGG16, 63.0 "
        "ResNet50)"
    )
    acc = 100.0 - result["rows"][label]["top1_cls_err"]
    return (
        f"# {title or 'CAM on ' + result['dataset'].upper() + ' photos'} ({result['profile']} profile, {result['arch']}, "
        f"{result['weights']} weights)\n\n"
        f"τ chosen on {result['selection']['val_images']} boxed validation images (τ = {result['selection']['tau']:.2f}), "
        f"measured on {result['test_images']} test images. Classification accuracy {acc:.1f}%. Checkpoint "
        f"`{result['checkpoint']}` (sha256 {result['checkpoint_sha256'][:16]}...).\n\n"
        f"{markdown_table({label: report})}\n\n"
        f"| MaxBoxAccV2 | this run | published |\n|---|---:|---|\n| CAM | {ours:.1f} | {published} |\n"
    )


def add_options(p: argparse.ArgumentParser) -> None:
    """The options of ``reproduce --dataset cub|pets`` (the embedded dataset ignores them)."""
    p.add_argument("--arch", choices=BACKBONES, default="vgg16", help="backbone for --dataset cub/pets")
    p.add_argument("--root", type=Path, default=None, help="dataset folder (default: data/cub or data/pets)")
    p.add_argument(
        "--weights", choices=("imagenet", "random"), default="imagenet",
        help="start from the prefetched ImageNet weights (python -m camlib prefetch ARCH) or at random",
    )  # fmt: skip
    p.add_argument(
        "--epochs", type=positive_int, default=None, help="fine-tuning epochs (default: the profile's)"
    )
    p.add_argument("--checkpoint", type=Path, default=None, help="fine-tuned model to load or write")


def refuse_mixed_options(args: argparse.Namespace) -> None:
    """Options of one kind of run given to the other are refused, never ignored.

    Raises:
        SettingError: ``--methods`` with ``--dataset cub|pets``, or a real-photo option with ``--dataset shapes``.
    """
    if args.dataset != "shapes" and args.methods:
        raise SettingError(
            "--methods compares map methods on the embedded dataset: drop it, or use --dataset shapes"
        )
    given = [
        flag for flag, value, default in (
            ("--arch", args.arch, "vgg16"), ("--root", args.root, None), ("--weights", args.weights, "imagenet"),
            ("--epochs", args.epochs, None), ("--checkpoint", args.checkpoint, None),
        ) if value != default
    ]  # fmt: skip
    if args.dataset == "shapes" and given:
        raise SettingError(f"{', '.join(given)} apply to --dataset cub or pets, not to the embedded dataset")


def main_real(args: argparse.Namespace, reports: Path) -> int:
    """Handler of ``reproduce --dataset cub|pets``: writes ``real_<dataset>_<arch>_<profile>.md`` and ``.json``."""
    refuse_mixed_options(args)
    profile = args.profile or get_profile().name
    out = args.out or reports
    stem = f"real_{args.dataset}_{args.arch}_{profile}"
    for suffix in (".md", ".json"):
        check_destination(out / f"{stem}{suffix}", force=True)
    result = run_real(
        args.dataset, arch=args.arch, profile=profile, root=args.root, weights=args.weights,
        checkpoint=args.checkpoint, retrain=args.train, device=args.device, epochs=args.epochs, seed=args.seed,
        limit=args.limit, val_limit=args.val_limit, progress=not args.json,
    )  # fmt: skip
    md = markdown(result)
    payload = {k: v for k, v in result.items() if not k.startswith("_")}
    payload["command"] = "python -m camlib reproduce " + shlex.join(
        [
            f"--dataset={args.dataset}",
            f"--arch={args.arch}",
            f"--profile={profile}",
            f"--weights={args.weights}",
        ]
    )
    atomic_write(out / f"{stem}.md", lambda tmp: tmp.write_text(md), force=True)
    atomic_write(out / f"{stem}.json", lambda tmp: tmp.write_text(json.dumps(payload, indent=1)), force=True)
    print(json.dumps(payload["rows"], indent=1) if args.json else md)
    print(f"(written to {out.name}/{stem}.md and .json)")
    return 0
