"""Training speed and accuracy of the GAP network on the embedded dataset (issue 4, acceptance 1 and 5).

Fast profile on the CPU with 2 threads: images/s and seconds per epoch, test accuracy after every epoch (measured
outside the timed phase), and the training time to reach 97% test accuracy. When CUDA is available, the full
profile once more on the GPU (its name recorded); otherwise that section says it was not measured.

Run: ``python benchmarks/bench_train.py`` (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import write_result  # noqa: E402
from camlib.data.shapes import Shapes  # noqa: E402
from camlib.models import GAPNet, count_parameters  # noqa: E402
from camlib.profile import get_profile  # noqa: E402
from camlib.train import EpochStats, evaluate, fit, seed_everything  # noqa: E402

TARGET = 97.0


def run(profile_name: str, device: str, seed: int = 0) -> dict[str, Any]:
    """Train GAPNet with the profile's sizes and the CLI's defaults; test accuracy after each epoch."""
    prof = get_profile(profile_name)
    data = {
        s: Shapes(s, image_size=prof.image_size, size=getattr(prof, f"{s}_size"), seed=0)
        for s in ("train", "val", "test")
    }
    seed_everything(seed)
    model = GAPNet(data["train"].num_classes)
    rows: list[dict[str, Any]] = []
    elapsed = 0.0

    def after_epoch(stats: EpochStats, m: torch.nn.Module) -> None:
        nonlocal elapsed
        elapsed += stats.seconds
        test = evaluate(m, data["test"], batch_size=500, device=device)
        rows.append({**stats.__dict__, "train_seconds_total": elapsed, "test_acc": test["accuracy"]})

    t0 = time.perf_counter()
    fit(
        model,
        data["train"],
        data["val"],
        epochs=prof.epochs,
        batch_size=prof.batch_size,
        device=device,
        seed=seed,
        progress=False,
        on_epoch=after_epoch,
    )
    wall = time.perf_counter() - t0
    reached = next((r for r in rows if r["test_acc"] >= TARGET), None)
    return {
        "profile": prof.name,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "threads": torch.get_num_threads(),
        "parameters": count_parameters(model),
        "image_size": prof.image_size,
        "train_size": prof.train_size,
        "batch_size": prof.batch_size,
        "epochs": rows,
        "final_test_acc": rows[-1]["test_acc"],
        "train_seconds": elapsed,
        "fit_wall_seconds": wall,  # includes generating the splits and the per-epoch validation and test passes
        "seconds_to_target": None if reached is None else reached["train_seconds_total"],
        "epoch_to_target": None if reached is None else reached["epoch"],
    }


def table(r: dict[str, Any]) -> str:
    lines = [
        "| epoch | train loss | train acc % | val acc % | test acc % | images/s | epoch s | training s (cum.) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in r["epochs"]:
        lines.append(
            f"| {e['epoch']} | {e['train_loss']:.3f} | {e['train_acc']:.1f} | {e['val_acc']:.1f} | {e['test_acc']:.2f} "
            f"| {e['images_per_s']:.0f} | {e['seconds']:.1f} | {e['train_seconds_total']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    torch.set_num_threads(2)
    cpu = run("fast", "cpu")
    target = (
        f"{TARGET:.0f}% test accuracy after {cpu['seconds_to_target']:.0f} s of training (epoch {cpu['epoch_to_target']})"
        if cpu["seconds_to_target"] is not None
        else f"{TARGET:.0f}% test accuracy NOT reached in {cpu['train_seconds']:.0f} s ({cpu['final_test_acc']:.2f}%)"
    )
    md = [
        f"GAPNet ({cpu['parameters']:,} parameters), fast profile ({cpu['train_size']:,} training images of "
        f"{cpu['image_size']} px, batch {cpu['batch_size']}), CPU with {cpu['threads']} threads, AdamW + warm-up/cosine, "
        f"channels_last, the CLI's defaults (`python -m camlib train --model gap --profile fast`).",
        "",
        table(cpu),
        "",
        f"**{target}**; fit's wall time with data generation and evaluation passes: {cpu['fit_wall_seconds']:.0f} s. "
        "Test accuracy is measured after each epoch outside the timed phase (2,000 test images).",
        "",
    ]
    data: dict[str, Any] = {"cpu_fast": cpu}
    if torch.cuda.is_available():
        gpu = run("full", "cuda")
        data["gpu_full"] = gpu
        md += [f"### GPU, full profile: {gpu['gpu']}", "", table(gpu), ""]
    else:
        md += ["GPU (full profile): not measured — no CUDA device on the machine that ran this benchmark."]
    path = write_result("train", "Training: GAPNet on the embedded dataset", "\n".join(md), data)
    print("\n".join(md))
    print(f"wrote {path.relative_to(Path(__file__).resolve().parent.parent)}")


if __name__ == "__main__":
    main()
