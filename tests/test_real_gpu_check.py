"""benchmarks/gpu_check.sh: the CPU dry run runs every step (throughput x4, the full-profile train command) and
writes its JSON; without a GPU the real mode refuses at once instead of measuring a CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def run(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "CAMLIB_DATA": str(tmp / "data")}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_dry_run_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    done = run("--dry-run", "--out", str(out), tmp=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["mode"].startswith("dry-run") and result["device"] != "cuda"
    speeds = result["throughput"]["images_per_s"]
    assert set(speeds) == {f"amp={a},channels_last={c}" for a in ("off", "on") for c in ("off", "on")}
    assert all(v > 0 for v in speeds.values())
    assert result["throughput"]["amp_gain"] == round(
        speeds["amp=on,channels_last=off"] / speeds["amp=off,channels_last=off"], 3
    )
    train = result["full_profile_training"]
    assert (
        train["status"] == 0
        and "--profile full" in train["command"]
        and "not_sampled" in train["gpu_utilisation"]
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["gpu.json"]  # no temporary left


@pytest.mark.skipif(
    torch.cuda.is_available() or shutil.which("nvidia-smi") is not None, reason="a GPU is here"
)
def test_without_a_gpu_the_real_mode_refuses(tmp_path: Path) -> None:
    done = run("--out", str(tmp_path / "gpu.json"), tmp=tmp_path)
    assert done.returncode == 2 and "--dry-run" in done.stdout and not (tmp_path / "gpu.json").exists()
