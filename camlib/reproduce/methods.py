"""``reproduce --methods``: every map method judged every way, on the shipped models, in one table.

Columns, all on the same first ``limit`` TEST images and for each image's TRUE class (the class the boxes and
masks are of): MaxBoxAccV2 and PxAP (Choe et al., CVPR 2020; PxAP only where the dataset has masks), the pointing
game (Zhang et al., ECCV 2016; 15 px at 224 px, scaled to the image), deletion and insertion AUC (Petsiuk et al.,
BMVC 2018), Average Drop (Chattopadhay et al., WACV 2018), the randomisation score (Adebayo et al., NeurIPS 2018:
Spearman of the absolute maps of the trained and a fully re-initialised model, lower is better) and the method's
time per image. A method that cannot run on a model (CAM needs a GAP head) is a row that says why.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camlib import zoo
from camlib.cam import get_method, upsample
from camlib.checkpoint import dataset_from_meta
from camlib.data.sample import SampleDataset
from camlib.files import atomic_write
from camlib.localization import localize
from camlib.metrics import (
    average_drop_increase,
    deletion_auc,
    insertion_auc,
    mean_defined,
    pointing_game,
    randomization_scores,
    randomized_copy,
)

#: column key -> (header, better)
COLUMNS: dict[str, tuple[str, str]] = {
    "max_box_acc_v2": ("MaxBoxAccV2", "↑"),
    "pxap": ("PxAP", "↑"),
    "pointing": ("pointing game", "↑"),
    "deletion_auc": ("deletion AUC", "↓"),
    "insertion_auc": ("insertion AUC", "↑"),
    "average_drop": ("Average Drop %", "↓"),
    "randomization": ("randomisation ρ", "↓"),
    "ms_per_image": ("ms / image", "↓"),
}


def judge(
    model: nn.Module,
    ds: SampleDataset,
    method: str,
    *,
    limit: int,
    device: torch.device,
    batch_size: int = 50,
    steps: int = 16,
) -> dict[str, float | None]:
    """One row: every column of :data:`COLUMNS` for ``method`` on ``model`` and the first ``limit`` images.

    Deletion and insertion change ``H W / steps`` pixels per step (``steps + 1`` points per curve; RISE's own
    step, one row of pixels, would cost ``H + 1`` forward passes per image).
    """
    fn = get_method(method)
    n = min(limit, len(ds))
    report = localize(model, ds, method, device=device, limit=n, batch_size=batch_size)
    random_model = randomized_copy(model, seed=0)
    sums: dict[str, float] = {"pointing": 0.0, "deletion_auc": 0.0, "insertion_auc": 0.0, "average_drop": 0.0}
    rho, rho_n, seconds = 0.0, 0, 0.0
    for s in range(0, n, batch_size):
        b = ds.batch(list(range(s, min(n, s + batch_size)))).to(device)
        k = len(b)
        t0 = time.perf_counter()
        out = fn(model, b.images, b.labels)  # (k, 1, h, w), the true class of each image
        seconds += time.perf_counter() - t0
        maps = upsample(out.maps.detach(), (b.images.shape[-2], b.images.shape[-1]))[:, 0]  # (k, H, W)
        obj = b.masks if b.masks is not None else _box_pixels(b.boxes, maps.shape)  # (k, H, W) bool
        sums["pointing"] += k * pointing_game(maps, obj)
        step = math.ceil(maps.shape[-1] * maps.shape[-2] / steps)
        sums["deletion_auc"] += float(deletion_auc(model, b.images, maps, b.labels, step=step).sum())
        sums["insertion_auc"] += float(insertion_auc(model, b.images, maps, b.labels, step=step).sum())
        sums["average_drop"] += k * average_drop_increase(model, b.images, maps, b.labels)[0]
        mean, defined = mean_defined(randomization_scores(fn, model, random_model, b.images, b.labels))
        if defined:
            rho, rho_n = rho + mean * defined, rho_n + defined
    row: dict[str, float | None] = {key: v / n for key, v in sums.items()}
    row.update(
        max_box_acc_v2=report.box_acc.max_box_acc_v2,
        pxap=report.pxap,
        randomization=rho / rho_n if rho_n else math.nan,
        ms_per_image=1e3 * seconds / n,
    )
    return row


def _box_pixels(boxes: torch.Tensor | None, shape: torch.Size) -> torch.Tensor:
    """(B, H, W) bool: the pixels inside each image's XYXY box (exclusive right/bottom edges)."""
    if boxes is None:
        raise ValueError(
            "the pointing game needs masks or boxes: use a dataset with boxes (Shapes, CUB, Pets)"
        )
    _, h, w = shape
    ys, xs = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    x0, y0, x1, y1 = (boxes[:, i, None, None] for i in range(4))
    return (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)


def methods_table(
    models: Mapping[str, nn.Module],
    ds: SampleDataset,
    methods: Sequence[str],
    *,
    limit: int,
    device: torch.device,
) -> dict[str, Any]:
    """Every (model, method) row; a method that refuses a model gets its error instead of numbers."""
    rows: dict[str, Any] = {}
    for name, model in models.items():
        for method in methods:
            try:
                t0 = time.perf_counter()
                rows[f"{name} + {method}"] = judge(model, ds, method, limit=limit, device=device)
                print(f"  {name} + {method}: {time.perf_counter() - t0:.0f} s", flush=True)
            except ValueError as err:  # e.g. CAM on the FC head: no GAP + linear head
                rows[f"{name} + {method}"] = {"error": str(err).split(":")[0]}
    return {"rows": rows, "test_images": min(limit, len(ds)), "has_masks": ds.batch([0]).masks is not None}


def markdown(table: dict[str, Any], profile: str, seconds: float) -> str:
    """The table as markdown, with what it was measured on."""
    head = "| model + method | " + " | ".join(f"{h} {b}" for h, b in COLUMNS.values()) + " |"
    lines = [head, "|---|" + "---|" * len(COLUMNS)]
    for label, row in table["rows"].items():
        if "error" in row:
            lines.append(f"| {label} | " + " | ".join("n/a" for _ in COLUMNS) + f" |  ← {row['error']}")
            continue
        cells = [_fmt(k, row[k]) for k in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(
        [
            f"# Every map method, judged every way (profile {profile}, shipped checkpoints)",
            "",
            f"The first {table['test_images']} images of the TEST split, each explained for its true class; "
            "deletion / insertion in 16 steps of HW/16 pixels (zeros / a blurred copy as the canvas); "
            f"PxAP {'against the masks' if table['has_masks'] else 'n/a (no masks)'}; deletion / insertion "
            "AUC and Average Drop use the softmax probability of that class; randomisation ρ: Spearman "
            "correlation of |map| between the trained model and a re-initialised copy (seed 0). ↑ higher is "
            f"better, ↓ lower. ms / image: the method's call alone, {_machine(table)}.",
            f"Made by `camlib.reproduce.methods.run_methods` in {seconds:.0f} s: what `python -m camlib "
            f"reproduce --methods ... --methods-limit {table['test_images']}` runs after the comparison.",
            "",
            *lines,
            "",
        ]
    )


def _machine(table: dict[str, Any]) -> str:
    """Where the ms / image were measured, as :func:`run_methods` records it."""
    m = table.get("machine")
    if not m:
        return "on the CPU of the run (not recorded)"
    threads = f"{m['threads']} torch thread" + ("s" if m["threads"] != 1 else "")
    return (
        f"{m['device']}, {threads} on {m['cpus']} CPUs, load average {m['load'][0]:.1f} at the start and "
        f"{m['load'][1]:.1f} at the end (other work on the machine slows the calls)"
    )


def _fmt(key: str, v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3f}" if key in ("deletion_auc", "insertion_auc", "randomization") else f"{v:.1f}"


def run_methods(
    methods: Sequence[str], *, limit: int, device: str = "cpu", models: Sequence[str] = ("gap", "fc")
) -> tuple[dict[str, Any], float]:
    """Load shipped models (the GAP network and the FC-head network by default) and their test split, and
    measure :func:`methods_table`."""
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    dev = torch.device(device)
    nets = {n: zoo.load(n, map_location=device) for n in models}
    ds = dataset_from_meta({"dataset": zoo.entry("gap").dataset}, "test")
    table = methods_table(nets, ds, methods, limit=limit, device=dev)
    table["machine"] = {
        "device": "on the CPU" if dev.type == "cpu" else f"on {dev}",
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }
    return table, time.perf_counter() - t0


def write_methods(table: dict[str, Any], profile: str, seconds: float, out: Path) -> str:
    """Write ``methods_{profile}.md`` and ``.json`` in ``out`` (replacing them); returns the markdown."""
    md = markdown(table, profile, seconds)
    payload = table | {"profile": profile, "seconds": round(seconds, 1), "columns": COLUMNS}
    text = json.dumps(payload, indent=1) + "\n"  # NaN (no defined randomisation score) is written as NaN
    atomic_write(out / f"methods_{profile}.md", lambda tmp: tmp.write_text(md), force=True)
    atomic_write(out / f"methods_{profile}.json", lambda tmp: tmp.write_text(text), force=True)
    return md
