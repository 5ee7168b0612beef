"""The rows of the comparison, the models they use, and the measurement: chosen on validation, reported on test."""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camlib import zoo
from camlib.checkpoint import dataset_from_meta, load_checkpoint
from camlib.data.sample import SampleDataset
from camlib.data.shapes import mean_box_size
from camlib.localization import (
    CENTER,
    LocalizationReport,
    TauChoice,
    localize,
    localize_center_prior,
    select_tau,
)
from camlib.train.cli import main as train_main

NAMES = ("gap", "gmp", "fc")


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


@dataclass(frozen=True)
class Comparison(Mapping[str, LocalizationReport]):
    """What :func:`run` measured: a mapping of row label -> test report, with how it was chosen.

    Attributes:
        reports: row label -> the report on the TEST split (with the threshold chosen on validation).
        taus: row label -> the threshold chosen on the VALIDATION split (no entry for the centred prior).
        checkpoints: zoo name -> how the checkpoint was selected (the manifest's ``selection``), or ``None``.
        val_images: validation images the thresholds were chosen on.
        source: where the models came from.
    """

    reports: dict[str, LocalizationReport]
    taus: dict[str, TauChoice]
    checkpoints: dict[str, dict[str, Any] | None]
    val_images: int
    source: str

    def __getitem__(self, label: str) -> LocalizationReport:
        return self.reports[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self.reports)

    def __len__(self) -> int:
        return len(self.reports)


def selection_record(name: str) -> dict[str, Any] | None:
    """The ``selection`` a manifest entry records (what the checkpoint was chosen on), if any."""
    path = zoo.zoo_dir() / zoo.MANIFEST
    entry = json.loads(path.read_text()).get("checkpoints", {}).get(name, {}) if path.is_file() else {}
    sel = entry.get("selection")
    return dict(sel) if isinstance(sel, dict) else None


def _models(
    train: bool, profile: str, seed: int, device: torch.device
) -> tuple[dict[str, nn.Module], dict[str, SampleDataset]]:
    """The gap / gmp / fc models and the train, val and test splits they belong to.

    ``train=False`` loads the shipped checkpoints; ``train=True`` re-runs the command each of them records
    (:func:`recipe`) and measures the fresh models instead.
    """
    missing = [n for n in NAMES if n not in zoo.available()]
    if missing:
        raise SystemExit(
            f"reproduce: no shipped checkpoint for {missing} in {zoo.zoo_dir()}; restore data/checkpoints/ "
            f"from the repository (--train re-runs the commands recorded there, so it needs them too)"
        )
    if not train:
        models = {n: zoo.load(n, map_location=str(device)) for n in NAMES}
        meta = {"dataset": zoo.entry("gap").dataset}
    else:
        models = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name in NAMES:
                path = Path(tmp) / f"{name}.pt"
                argv = recipe(
                    zoo.entry(name).command, out=path, seed=seed, profile=profile, device=str(device)
                )
                if train_main(argv) != 0:
                    raise SystemExit(
                        f"reproduce --train: training {name} failed: python -m camlib {' '.join(argv)}"
                    )
                models[name], meta = load_checkpoint(path, map_location=str(device))
    return models, {s: dataset_from_meta(meta, s) for s in ("train", "val", "test")}


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
    drop = {"--out", "--zoo", "--seed", "--device", "--profile", "--force"} | (
        set(SIZE_FLAGS) if profile != "fast" else set()
    )
    kept: list[str] = []
    args = tokens[4:]
    i = 0
    while i < len(args):
        if args[i] in drop:
            i += 1 if args[i] == "--force" else 2  # the flag (and its value)
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
    val_limit: int | None = None,
    methods: tuple[str, ...] = (),
) -> Comparison:
    """Measure every row of :data:`ROWS`, plus one GAP row per name of ``methods`` (a name of
    :data:`camlib.cam.METHODS`).

    For each row the box threshold is chosen on the validation split (:func:`camlib.localization.select_tau`,
    ``val_limit`` images) and the row is then measured on the test split (``limit`` images) with it, beside the
    paper's 20%-of-max rule. The checkpoints themselves were chosen on the validation split when they were made
    (their manifest entries say how; see ``scripts/tradeoff.py``).
    """
    dev = torch.device(device)
    models, splits = _models(train, profile, seed, dev)
    extra = [Row(f"GAP + {name}", "gap", name) for name in methods if ("gap", name) not in _PAIRS]
    reports, taus = {}, {}
    for row in (*ROWS, *extra):
        if row.model is None:
            reports[row.label] = localize_center_prior(
                splits["test"],
                mean_box_size(splits["train"]),
                classifier=models["gap"],
                device=dev,
                limit=limit,
            )
            continue
        model = models[row.model]
        taus[row.label] = select_tau(model, splits["val"], row.method, device=dev, limit=val_limit)
        reports[row.label] = localize(
            model, splits["test"], row.method, device=dev, limit=limit, chosen_tau=taus[row.label].tau
        )
    source = "trained now (--train)" if train else "shipped checkpoints (data/checkpoints)"
    n_val = next(iter(taus.values())).num_images
    return Comparison(reports, taus, {n: selection_record(n) for n in NAMES}, n_val, source)
