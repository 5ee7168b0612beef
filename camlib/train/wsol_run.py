"""WSOL methods tuned fairly: train method x seed on the embedded dataset, choose the epoch AND the box threshold on
the boxed VALIDATION split only, then measure the test split once (Choe et al., CVPR 2020).

A fresh :class:`~camlib.models.GAPNet` (the ``gap`` architecture) is trained with the method's batch transform or
layer (:mod:`camlib.train.wsol`) by :func:`camlib.train.fit`; after every epoch its CAM is measured on validation;
the epoch with the best validation MaxBoxAccV2 is kept (the first on ties), with the threshold that
:func:`camlib.localization.tau_choice` reads from the same report (best BoxAcc(tau, 0.5), largest component). The test split is read once, at the end, by the kept model: accuracy,
MaxBoxAccV2 and its per-delta terms (0.3 / 0.5 / 0.7), PxAP (threshold-free, as defined), and BoxAcc at the
validation threshold for each delta.

``python -m camlib.train.wsol_run --methods cam has cutmix adl --seeds 0 1 2`` writes
``reports/wsol_PROFILE.{md,json}`` (one row per method: mean and spread over the seeds, see
:mod:`camlib.train.wsol_report`); ``--checkpoints DIR`` keeps the models, ``--from-checkpoints DIR`` measures them
again without training.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camlib import zoo
from camlib.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from camlib.data.sample import Sample, SampleDataset, as_dataset
from camlib.data.shapes import Shapes
from camlib.files import REPO_ROOT
from camlib.localization import localize, tau_choice
from camlib.models import GAPNet, ModelSpec, NetConfig
from camlib.profile import CommandParser, SettingError, get_profile, non_negative_int, positive_int
from camlib.train.device import seed_everything
from camlib.train.loop import EpochStats, fit
from camlib.train.wsol import WSOL_METHODS, BatchTransform, CutMix, HideAndSeek, insert_adl, mean_colour
from camlib.train.wsol_report import (
    METHOD,
    WSOL_ZOO,
    WsolResult,
    aggregate,
    markdown,
    measure_checkpoints,
    split_summary,
    write_report,
)


def prepare(
    method: str,
    model: nn.Module,
    train_data: SampleDataset | Sequence[Sample],
    num_classes: int,
    seed: int = 0,
) -> tuple[nn.Module, BatchTransform | None]:
    """The model and the training batch transform of a WSOL ``method`` (a name of :data:`WSOL_METHODS`).

    ``"cam"`` (plain training) and ``"adl"`` have no transform; ``"adl"`` returns :func:`insert_adl`'s copy of
    ``model``; ``"has"`` fills hidden cells with the mean colour of ``train_data``; ``"cutmix"`` mixes every batch.
    """
    if method not in WSOL_METHODS:
        raise ValueError(f"unknown WSOL method {method!r}: use one of {list(WSOL_METHODS)}")
    if method == "adl":
        return insert_adl(model), None
    if method == "has":
        return model, HideAndSeek(mean_colour(train_data), seed=seed)
    if method == "cutmix":
        return model, CutMix(num_classes, seed=seed)
    return model, None


def wsol_data(profile: str | None = None, data_seed: int = 0, **sizes: int) -> dict[str, SampleDataset]:
    """The train / val / test splits of the embedded dataset in ``profile``'s sizes (``sizes`` override them:
    ``train_size``, ``val_size``, ``test_size``, ``image_size``)."""
    prof = get_profile(profile)
    side = sizes.get("image_size", prof.image_size)
    n = {s: sizes.get(f"{s}_size", getattr(prof, f"{s}_size")) for s in ("train", "val", "test")}
    return {s: Shapes(s, size=n[s], image_size=side, seed=data_seed) for s in n}


def train_wsol(
    method: str,
    data: Mapping[str, SampleDataset | Sequence[Sample]],
    *,
    seed: int = 0,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float = 3e-3,
    config: NetConfig | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
    checkpoint: Path | None = None,
) -> WsolResult:
    """Train one WSOL ``method`` with ``seed``; keep the epoch and threshold chosen on ``data["val"]``; measure
    ``data["test"]``.

    Args:
        method: a name of :data:`~camlib.train.wsol.WSOL_METHODS`.
        data: ``{"train": ..., "val": ..., "test": ...}``; the val split must have boxes (and say ``split="val"``).
        seed, lr, device, progress: as :func:`camlib.train.fit`; ``epochs`` and ``batch_size`` default to the
            profile's.
        config: the trunk (default: the course's :class:`~camlib.models.NetConfig`).
        checkpoint: save the kept model there (replacing a file), as a plain ``gap`` checkpoint (ADL's copy has the
            same weights as a GAPNet) with the run's choice under ``"wsol"``.

    Returns:
        A :class:`WsolResult`. The test split is read only after the epoch and threshold are fixed.

    Raises:
        ValueError: an unknown method, or a validation split that is not one.
    """
    t0 = time.perf_counter()
    train, val, test = (as_dataset(data[s]) for s in ("train", "val", "test"))
    if getattr(val, "split", None) != "val":
        raise ValueError(
            f"the epoch and threshold are chosen on a boxed VALIDATION split; data['val'] says split="
            f"{getattr(val, 'split', None)!r}: pass e.g. Shapes('val', ...)"
        )
    prof = get_profile()
    epochs, batch_size = epochs or prof.epochs, batch_size or prof.batch_size
    num_classes = len(train.class_names)
    seed_everything(seed)
    model, transform = prepare(method, GAPNet(num_classes, config), train, num_classes, seed)
    curve: list[float] = []
    accuracy: list[float] = []
    kept: dict[str, Any] = {}

    def choose(stats: EpochStats, net: nn.Module) -> None:  # validation only
        report = localize(net, val, METHOD, device=device)
        curve.append(round(float(report.box_acc.max_box_acc_v2), 2))
        accuracy.append(round(100.0 - float(report.loc.top1_cls_err), 2))
        if not kept or curve[-1] > kept["score"]:
            kept.update(score=curve[-1], epoch=stats.epoch, tau=tau_choice(report).tau)
            kept["state"] = copy.deepcopy(net.state_dict())

    history = fit(  # validation is measured by `choose` (one pass gives accuracy and localization)
        model, train, None, epochs=epochs, batch_size=batch_size, lr=lr, device=device, seed=seed,
        progress=progress, batch_transform=transform, on_epoch=choose,
    )  # fmt: skip
    model.load_state_dict(kept["state"])
    model.eval()
    summary = split_summary(model, test, kept["tau"], device=device)  # the one read of test
    result = WsolResult(
        method, seed, kept["epoch"], kept["tau"], curve, accuracy, summary,
        history.train_seconds, time.perf_counter() - t0, history.to_dicts(),
    )  # fmt: skip
    if checkpoint is not None:
        splits = {
            s: d.spec() for s, d in (("train", train), ("val", val), ("test", test)) if hasattr(d, "spec")
        }
        save_checkpoint(
            checkpoint, model, ModelSpec("gap", num_classes, config or NetConfig()), class_names=train.class_names,
            dataset={"name": "shapes", "splits": splits}, profile=prof.name, seed=seed, metrics=result.test,
            history=result.history, extra={"wsol": {k: getattr(result, k) for k in ("method", "epoch", "tau", "val_curve", "val_accuracy")}},
            force=True,
        )  # fmt: skip
    return result


def run_wsol(
    methods: Sequence[str], seeds: Sequence[int], *, profile: str | None = None, data_seed: int = 0,
    out: Path | None = None, sizes: Mapping[str, int] | None = None, checkpoints: Path | None = None,
    **train_options: Any,
) -> tuple[list[WsolResult], dict[str, dict[str, Any]]]:  # fmt: skip
    """Train every method x seed (:func:`train_wsol`) and write ``out/wsol_PROFILE.{md,json}`` when ``out`` is given
    (and each kept model as ``checkpoints/wsol_METHOD_sSEED.pt`` when ``checkpoints`` is)."""
    for m in methods:
        if m not in WSOL_METHODS:
            raise ValueError(f"unknown WSOL method {m!r}: use any of {list(WSOL_METHODS)}")
    name = get_profile(profile).name
    data = wsol_data(name, data_seed, **(sizes or {}))
    t0 = time.perf_counter()

    def where(m: str, s: int) -> Path | None:
        return None if checkpoints is None else checkpoints / f"wsol_{m}_s{s}.pt"

    results = [
        train_wsol(m, data, seed=s, checkpoint=where(m, s), **train_options) for m in methods for s in seeds
    ]
    table = aggregate(results)
    if out is not None:
        splits = {k: v.spec() for k, v in data.items()}  # type: ignore[attr-defined]
        write_report(results, name, time.perf_counter() - t0, out, source="training",
                     extra={"data_seed": data_seed, "splits": splits})  # fmt: skip
    return results, table


def ship(paths: Sequence[Path], root: Path | None = None, *, force: bool = True) -> list[str]:
    """Register WSOL checkpoints (``wsol_METHOD_sSEED.pt``) in the WSOL zoo (default :data:`WSOL_ZOO`), each with
    the command that re-makes it; returns their zoo names."""
    names = []
    for path in paths:
        meta = read_checkpoint(path)
        w = meta.get("wsol")
        if not isinstance(w, dict):
            raise CheckpointError(f"{Path(path).name} has no WSOL record: it was not saved by wsol_run")
        method, seed = str(w["method"]), int(meta["seed"])
        command = (f"python -m camlib.train.wsol_run --methods {method} --seeds {seed} --profile "
                   f"{meta.get('profile', 'fast')} --threads 1 --checkpoints DIR --ship")  # fmt: skip
        name = f"wsol_{method}_s{seed}"
        zoo.register(name, path, root=WSOL_ZOO if root is None else root, command=command, force=force)
        names.append(name)
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m camlib.train.wsol_run``: train the WSOL methods, choose on validation, report on test."""
    p = CommandParser(prog="python -m camlib.train.wsol_run", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--methods", nargs="+", choices=WSOL_METHODS, default=list(WSOL_METHODS))
    p.add_argument("--seeds", nargs="+", type=non_negative_int, default=[0, 1, 2])
    p.add_argument("--profile", choices=("fast", "full"), default=None)
    p.add_argument("--data-seed", type=non_negative_int, default=0)
    p.add_argument("--epochs", type=positive_int, default=None)
    for s in ("train", "val", "test"):
        p.add_argument(f"--{s}-size", type=positive_int, default=None, help="override the profile's size")
    p.add_argument("--threads", type=positive_int, default=None, help="torch.set_num_threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "reports", help="folder of wsol_PROFILE.md/.json")
    p.add_argument(
        "--checkpoints", type=Path, default=None, help="folder for wsol_METHOD_sSEED.pt (default: none)"
    )
    p.add_argument(
        "--from-checkpoints", type=Path, default=None, help="no training: measure DIR/wsol_*.pt again"
    )
    p.add_argument(
        "--ship",
        action="store_true",
        help="register the checkpoints (--checkpoints or --from-checkpoints DIR) in data/checkpoints/wsol/",
    )
    args = p.parse_args(argv)
    if args.ship and args.checkpoints is None and args.from_checkpoints is None:
        p.error(
            "--ship registers checkpoints: give --checkpoints DIR (train and keep them) or --from-checkpoints DIR"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.from_checkpoints is not None:  # the shipped runs, measured again on their test split
        paths = sorted(args.from_checkpoints.glob("wsol_*.pt"))
        if not paths:
            raise SettingError(f"no wsol_*.pt in {args.from_checkpoints}: train them with --checkpoints DIR")
        if args.ship:
            print("shipped:", ", ".join(ship(paths)))
        table = aggregate(measure_checkpoints(paths, device=args.device))
        print(markdown(table, "checkpoints", time.perf_counter() - t0), end="")
        return 0
    sizes = {f"{s}_size": getattr(args, f"{s}_size") for s in ("train", "val", "test")}
    _, table = run_wsol(
        args.methods, args.seeds, profile=args.profile, data_seed=args.data_seed, out=args.out,
        sizes={k: v for k, v in sizes.items() if v is not None}, epochs=args.epochs, device=args.device,
        checkpoints=args.checkpoints,
    )  # fmt: skip
    if args.ship and args.checkpoints is not None:
        names = ship([args.checkpoints / f"wsol_{m}_s{s}.pt" for m in args.methods for s in args.seeds])
        print("shipped:", ", ".join(names))
    print(markdown(table, get_profile(args.profile).name, time.perf_counter() - t0), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
