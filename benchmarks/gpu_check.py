"""The GPU path, measured: the full profile trained on the embedded dataset, images/s with and without AMP and
channels_last, GPU utilisation sampled with nvidia-smi while it trains, and the notebooks in the full profile.

Run by ``benchmarks/gpu_check.sh`` (which installs the project first); ``--dry-run`` runs every step on the CPU
at tiny sizes, without nvidia-smi and without the notebooks, in a few seconds (a test of ``make test`` does).
Writes ``benchmarks/results/gpu.json`` (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from camlib.data.shapes import Shapes  # noqa: E402
from camlib.models import GAPNet  # noqa: E402
from camlib.train import fit, seed_everything  # noqa: E402
from camlib.train.cli import main as train_main  # noqa: E402

#: (image side, images per timing run, batch, epochs of the full-profile run's sizes) per mode
SIZES = {
    "gpu": {"image_size": 128, "images": 20_000, "batch": 256},
    "dry": {"image_size": 32, "images": 32, "batch": 16},
}


class Sampler:
    """``nvidia-smi`` polled every ``period_ms`` in the background: utilisation % and memory MiB per sample."""

    def __init__(self, period_ms: int = 200) -> None:
        self.samples: list[tuple[float, float]] = []
        cmd = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits",
               f"-lms={period_ms}"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 2 and parts[0].replace(".", "").isdigit():
                self.samples.append((float(parts[0]), float(parts[1])))

    def stop(self) -> dict[str, Any]:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        util = sorted(s[0] for s in self.samples)
        if not util:
            return {"samples": 0}
        return {"samples": len(util), "mean_util_pct": round(sum(util) / len(util), 1),
                "median_util_pct": util[len(util) // 2], "max_memory_mib": max(s[1] for s in self.samples)}  # fmt: skip


def throughput(device: str, amp: bool, channels_last: bool, size: dict[str, int]) -> float:
    """Training images/s of the default GAPNet over one epoch of ``images`` (after a short warm-up epoch)."""
    ds = Shapes("train", image_size=size["image_size"], size=size["images"], seed=0)
    seed_everything(0)
    model = GAPNet(ds.num_classes)
    kw = {"batch_size": size["batch"], "device": device, "amp": amp, "channels_last": channels_last,
          "progress": False}  # fmt: skip
    fit(model, ds, epochs=1, **kw)  # warm-up: cuDNN autotuning, allocator, pregenerating the split
    return fit(model, ds, epochs=1, **kw)[-1].images_per_s


def train_full(device: str, dry: bool, out: Path) -> dict[str, Any]:
    """``python -m camlib train --model gap --profile full`` (dry run: tiny sizes), timed, GPU sampled."""
    argv = [
        "train",
        "--model",
        "gap",
        "--profile",
        "full",
        "--device",
        device,
        "--out",
        str(out),
        "--no-progress",
    ]
    if dry:
        argv += ["--train-size", "64", "--val-size", "16", "--test-size", "16", "--image-size", "32",
                 "--epochs", "1", "--batch-size", "16"]  # fmt: skip
    sampler = None if dry else Sampler()
    t0 = time.perf_counter()
    status = train_main(argv)
    seconds = time.perf_counter() - t0
    util = {"not_sampled": "dry run (no nvidia-smi)"} if sampler is None else sampler.stop()
    return {"command": "python -m camlib " + " ".join(a if a != str(out) else "gap.pt" for a in argv),
            "status": status, "seconds": round(seconds, 1), "gpu_utilisation": util}  # fmt: skip


def notebooks_full() -> list[dict[str, Any]]:
    """Every built notebook executed with ``CAMLIB_PROFILE=full`` in a temporary copy (never the committed one)."""
    from bench_notebooks import NOTEBOOKS, execute, find_notebooks

    os.environ["CAMLIB_PROFILE"] = "full"
    runs = []
    with tempfile.TemporaryDirectory(prefix="camlib-gpu-nb-") as tmp:
        work = Path(tmp) / "notebooks"
        shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for path in find_notebooks():
            r = execute(work / path.name, work)
            runs.append({"notebook": r.notebook, "seconds": round(r.seconds, 1), "error": r.error})
            print(f"{r.notebook}: {r.seconds:.1f} s" + (f"  FAILED {r.error}" if r.error else ""), flush=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, no nvidia-smi, no notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu.json")
    parser.add_argument("--no-notebooks", action="store_true", help="skip executing the notebooks")
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available here; run with --dry-run to check the script on a CPU")
        return 2
    mode, device = ("dry", "cpu") if args.dry_run else ("gpu", "cuda")
    size = SIZES[mode]
    t0 = time.perf_counter()
    speeds = {}
    for amp in (False, True):
        for cl in (False, True):
            key = f"amp={'on' if amp else 'off'},channels_last={'on' if cl else 'off'}"
            speeds[key] = round(throughput(device, amp, cl, size), 1)
            print(f"{key}: {speeds[key]:.0f} images/s", flush=True)
    base = speeds["amp=off,channels_last=off"]
    with tempfile.TemporaryDirectory() as tmp:
        full = train_full(device, args.dry_run, Path(tmp) / "gap.pt")
    nbs = [] if args.dry_run or args.no_notebooks else notebooks_full()
    result = {
        "mode": "dry-run (CPU, tiny sizes: not a measurement of any GPU)" if args.dry_run else "gpu",
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "throughput": {"model": "GAPNet 16-32-64-128 (default)", **size, "images_per_s": speeds,
                       "amp_gain": round(speeds["amp=on,channels_last=off"] / base, 3),
                       "channels_last_gain": round(speeds["amp=off,channels_last=on"] / base, 3),
                       "both_gain": round(speeds["amp=on,channels_last=on"] / base, 3)},
        "full_profile_training": full,
        "notebooks_full_profile": nbs or "not run (dry run or --no-notebooks)",
        "seconds": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp_out, args.out)
    print(f"wrote {args.out} in {result['seconds']} s")
    return 0 if full["status"] == 0 and all(r["error"] is None for r in nbs) else 1


if __name__ == "__main__":
    sys.exit(main())
