"""camlib doctor: every check passes on a good setup and fails, with its fix, on a simulated bad one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from camlib import doctor
from camlib.__main__ import main
from camlib.doctor import Diagnosis
from camlib.doctor import env as doctor_env
from camlib.profile import get_profile


def fail(message: str) -> Callable[..., Any]:
    """A probe that raises ``RuntimeError(message)`` whatever it is given."""

    def run(*_args: object) -> Any:
        raise RuntimeError(message)

    return run


def test_python() -> None:
    assert doctor.diagnose_python((3, 11, 7)) == Diagnosis("python", True, "info", "Python 3.11.7")
    r = doctor.diagnose_python((3, 9, 18))
    assert (r.ok, r.level) == (False, "error") and r.fix == "install Python 3.11 or newer"


def test_torch_pair() -> None:
    ok = doctor.diagnose_torch("2.14.1", "0.29.1", run_op=lambda: None)
    assert ok.ok and "torchvision 0.29.1" in ok.detail
    assert doctor.diagnose_torch().ok  # this venv's real pair runs nms


def test_torch_mismatch_is_an_error_with_the_matching_pair() -> None:
    r = doctor.diagnose_torch("2.13.0+cpu", "0.29.1", run_op=fail("operator torchvision::nms does not exist"))
    assert (r.ok, r.level) == (False, "error")
    assert "torchvision::nms does not exist" in r.detail
    assert "pip install torch==2.13.0 torchvision==0.28.*" in r.fix
    missing = doctor.diagnose_torch("2.14.1", run_op=lambda: None, lookup=lambda _: None)
    assert (
        missing.level == "error"
        and "not installed" in missing.detail
        and "torchvision==0.29.*" in missing.fix
    )
    odd = doctor.diagnose_torch("2.14.1", "0.25.0", run_op=lambda: None)  # runs, but not the documented pair
    assert (odd.ok, odd.level) == (False, "warning") and "torchvision==0.29.*" in odd.fix


def test_gpu_absent_is_info() -> None:
    r = doctor.diagnose_accelerator(detect=lambda: None, nvidia_smi="")
    assert r.ok and r.level == "info" and "fast profile" in r.detail


def test_gpu_present_and_working() -> None:
    seen: list[str] = []
    r = doctor.diagnose_accelerator(detect=lambda: ("cuda", "NVIDIA H100", 79.1), run_op=seen.append)
    assert r.ok and r.detail == "cuda: NVIDIA H100, 79.1 GiB; conv + matmul ran" and seen == ["cuda"]
    doctor_env._tiny_op("cpu")  # the real op is valid code


def test_gpu_op_failing_is_an_error() -> None:
    r = doctor.diagnose_accelerator(
        detect=lambda: ("cuda", "Tesla K80", 11.2), run_op=fail("CUDA error: no kernel image is available")
    )
    assert (r.ok, r.level) == (False, "error") and "no kernel image" in r.detail
    assert "CAMLIB_PROFILE=fast" in r.fix and "nvidia-smi" in r.fix


def test_gpu_unused_by_a_cpu_only_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.version, "cuda", None)
    r = doctor.diagnose_accelerator(detect=lambda: None, nvidia_smi="/usr/bin/nvidia-smi")
    assert (r.ok, r.level) == (False, "warning") and "--index-url https://download.pytorch.org/whl/" in r.fix


def test_jupyterlab() -> None:
    assert doctor.diagnose_jupyterlab("4.6.6").ok
    for r in (doctor.diagnose_jupyterlab(lookup=lambda _: None), doctor.diagnose_jupyterlab("3.6.7")):
        assert (r.ok, r.level) == (False, "warning") and "pip install 'jupyterlab>=4.1'" in r.fix


def labext(tmp_path: Path, version: str) -> list[Path]:
    d = tmp_path / "labextensions"
    (d / doctor.WIDGETS_EXT).mkdir(parents=True)
    (d / doctor.WIDGETS_EXT / "package.json").write_text(json.dumps({"version": version}))
    return [tmp_path / "empty", d]


GOOD = {"ipywidgets": "8.1.9", "jupyterlab_widgets": "3.0.17"}


def test_widgets_good(tmp_path: Path) -> None:
    r = doctor.diagnose_widgets(GOOD, labext(tmp_path, "5.0.16"), [], in_colab=False)
    assert r.ok and "jupyterlab-manager 5.0.16" in r.detail
    assert doctor.diagnose_widgets().ok  # this venv
    assert doctor.diagnose_widgets({"ipywidgets": "8.1.9"}, [], [], in_colab=True).ok


def test_widgets_missing_or_mismatched_packages(tmp_path: Path) -> None:
    dirs = labext(tmp_path, "5.0.16")
    none = doctor.diagnose_widgets({"ipywidgets": None}, dirs, [], in_colab=False)
    assert none.level == "error" and none.fix == "pip install 'ipywidgets>=8.1'"
    old_lab = doctor.diagnose_widgets(
        {"ipywidgets": "8.1.9", "jupyterlab_widgets": "1.1.11"}, dirs, [], in_colab=False
    )
    assert old_lab.level == "error" and "needs jupyterlab_widgets 3.x" in old_lab.detail
    assert "'jupyterlab_widgets>=3,<4'" in old_lab.fix and "restart JupyterLab" in old_lab.fix


def test_widgets_front_end_missing_old_or_disabled(tmp_path: Path) -> None:
    r = doctor.diagnose_widgets(GOOD, [tmp_path], [], in_colab=False)
    assert r.level == "error" and "not in any labextensions folder" in r.detail
    assert r.fix == "pip install --force-reinstall jupyterlab_widgets"
    old = doctor.diagnose_widgets(GOOD, labext(tmp_path / "a", "3.1.0"), [], in_colab=False)
    assert (
        old.level == "error"
        and "cannot render ipywidgets 8.1.9" in old.detail
        and old.fix.startswith("remove ")
    )
    config = tmp_path / "etc"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {doctor.WIDGETS_EXT: True}})
    )
    off = doctor.diagnose_widgets(GOOD, labext(tmp_path / "b", "5.0.16"), [config], in_colab=False)
    assert off.level == "error" and off.fix == f"jupyter labextension enable {doctor.WIDGETS_EXT}"


def test_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    r = doctor.diagnose_profile(lambda: get_profile("fast"))
    assert r.ok and r.detail.startswith("fast: 64 px")
    slow = doctor.diagnose_profile(lambda: get_profile("full"), accelerator=lambda: False)
    assert (slow.ok, slow.level, slow.fix) == (False, "warning", "set CAMLIB_PROFILE=fast")
    monkeypatch.setenv("CAMLIB_PROFILE", "turbo")
    bad = doctor.diagnose_profile()
    assert bad.level == "error" and "unknown profile 'turbo'" in bad.detail and "CAMLIB_PROFILE" in bad.fix


def test_checkpoints(tmp_path: Path) -> None:
    good = tmp_path / "gap.pt"
    good.write_bytes(b"weights")
    sha = doctor.sha256_file(good)
    assert doctor.diagnose_checkpoints(lambda: []).ok
    r = doctor.diagnose_checkpoints(lambda: [("gap", good, sha, "python -m camlib train --zoo gap")])
    assert r.ok and "1 verified: gap" in r.detail
    gone = doctor.diagnose_checkpoints(
        lambda: [("gap", tmp_path / "x.pt", sha, "python -m camlib train --zoo gap")]
    )
    assert gone.level == "error" and "is missing" in gone.detail
    assert "git checkout" in gone.fix and "python -m camlib train --zoo gap" in gone.fix
    changed = doctor.diagnose_checkpoints(lambda: [("gap", good, "0" * 64, "cmd")])
    assert changed.level == "error" and "fails its sha256" in changed.detail
    good.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n")
    lfs = doctor.diagnose_checkpoints(lambda: [("gap", good, sha, "cmd")])
    assert "git lfs pull" in lfs.detail
    broken = doctor.diagnose_checkpoints(fail("No module named 'camlib.zoo'"))
    assert (broken.ok, broken.level) == (False, "warning") and "pip install -e ." in broken.fix


def test_datasets(tmp_path: Path) -> None:
    r = doctor.diagnose_datasets(tmp_path)
    assert r.ok and "pets not fetched" in r.detail
    pets = tmp_path / "pets" / "oxford-iiit-pet"
    (pets / "images").mkdir(parents=True)
    half = doctor.diagnose_datasets(tmp_path)
    assert (half.ok, half.level) == (False, "warning") and half.fix == "python -m camlib prefetch pets"
    (pets / "annotations" / "trimaps").mkdir(parents=True)
    for name in ("trainval.txt", "test.txt"):
        (pets / "annotations" / name).write_text("")
    assert "pets present" in doctor.diagnose_datasets(tmp_path).detail


def test_data_writable(tmp_path: Path) -> None:
    assert doctor.diagnose_data_writable(tmp_path / "data").ok
    (tmp_path / "file").write_text("")
    r = doctor.diagnose_data_writable(tmp_path / "file" / "data")  # a file where a folder should be
    assert (r.ok, r.level) == (False, "error") and "CAMLIB_DATA" in r.fix


def test_workers() -> None:
    r = doctor.diagnose_workers(workers=2, timeout=60)  # really starts two worker processes
    assert r.ok and "2 workers ran" in r.detail
    spawn = doctor.diagnose_workers(start_method="spawn", run=lambda w, t: None)
    assert spawn.ok and "__main__" in spawn.detail


def test_workers_failing() -> None:
    crash = fail("DataLoader worker (pid 4242) exited unexpectedly")
    r = doctor.diagnose_workers(start_method="spawn", profile_workers=0, run=crash)
    assert (r.ok, r.level) == (False, "warning") and "num_workers=0" in r.fix
    assert doctor.diagnose_workers(profile_workers=4, run=crash).level == "error"


def test_run_checks_report_and_exit_code() -> None:
    def crash() -> Diagnosis:
        raise KeyError("boom")

    warn = Diagnosis("w", False, "warning", "meh", "do this")
    results = doctor.run_diagnoses([lambda: Diagnosis("a", True, "info", "fine"), crash])
    assert results[1].name == "crash" and results[1].level == "error" and "boom" in results[1].detail
    assert doctor.exit_code(results) == 1 and doctor.exit_code([results[0], warn]) == 0
    text = doctor.format_report([results[0], warn], encoding="utf-8")
    assert "✓ a" in text and "⚠ w" in text and "fix: do this" in text and text.endswith("READY (1 warning)")
    ascii_text = doctor.format_report(results, encoding="cp1252")  # a Windows console
    assert "XX crash" in ascii_text and "NOT READY: 1 error" in ascii_text
    ascii_text.encode("cp1252")


def test_cli_exit_code_and_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fine = Diagnosis("a", True, "info", "fine")
    bad = Diagnosis("b", False, "error", "broken", "fix it")
    monkeypatch.setattr(doctor, "DIAGNOSES", (lambda: fine,))
    assert main(["doctor"]) == 0
    assert "READY" in capsys.readouterr().out
    monkeypatch.setattr(doctor, "DIAGNOSES", (lambda: fine, lambda: bad))
    assert main(["doctor", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {"name": "a", "ok": True, "level": "info", "detail": "fine", "fix": ""},
        {"name": "b", "ok": False, "level": "error", "detail": "broken", "fix": "fix it"},
    ]


def test_brief_is_the_verdict_then_only_the_problems(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fine = Diagnosis("a", True, "info", "fine")
    warn = Diagnosis("w", False, "warning", "meh", "do this")
    bad = Diagnosis("b", False, "error", "broken", "fix it")
    monkeypatch.setattr(doctor, "DIAGNOSES", (lambda: fine, lambda: fine))
    assert main(["doctor", "--brief"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "camlib doctor: READY (2 checks passed, 0 warnings; details: python -m camlib doctor)"
    ]
    monkeypatch.setattr(doctor, "DIAGNOSES", (lambda: fine, lambda: warn, lambda: bad))
    assert main(["doctor", "--brief"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("camlib doctor: NOT READY: 1 error (1 check passed, 1 warning; details:")
    assert len(lines) == 5 and "fine" not in "\n".join(lines)  # the two problems, each with its fix
    assert "broken" in lines[3] and "fix: fix it" in lines[4] and "fix: do this" in lines[2]
