"""Issue 16, the command line: a user error is one or two lines on stderr, exit status 2, never a traceback.

Every case of tests/error_cases.py's CLI_CASES runs in-process (an uncaught exception fails the test: that is
the traceback a learner would see); one bad command per sub-command also runs as a real ``python -m camlib``
process, which checks the exit status and that stderr holds no ``Traceback``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from error_cases import CLI_CASES, CliCase

from camlib.__main__ import main
from camlib.train import run

REPO = Path(__file__).resolve().parents[1]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``python -m camlib ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code) if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def _prepare(case: CliCase, tmp: Path) -> list[str]:
    for name, data in case.files.items():
        (tmp / name).write_bytes(data)
    return [a.replace("{tmp}", str(tmp)) for a in case.argv]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.bad for c in CLI_CASES])
def test_bad_command_is_one_line_exit_2(
    case: CliCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)

    def no_training(*_args: object) -> int:
        raise AssertionError("the command was not refused: training started")

    monkeypatch.setattr(run, "_train", no_training)
    argv = _prepare(case, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, out, err = run_cli(argv, capsys)
    assert code == 2, (code, out[-500:], err)
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2 and "Traceback" not in err, err
    assert case.fix in err, err
    assert {
        p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
    } == before  # nothing written or lost


# one bad command per sub-command, as a learner types it
SUBPROCESS = [
    ["train", "--epochs", "0"],
    ["evaluate", "gapp"],
    ["reproduce", "--limit", "abc"],
    ["doctor", "--fix"],
    ["prefetch", "imagenet"],
]


@pytest.mark.parametrize("argv", SUBPROCESS, ids=[a[0] for a in SUBPROCESS])
def test_python_m_camlib_exits_2_without_a_traceback(argv: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "CAMLIB_PROFILE": "fast"}
    proc = subprocess.run(
        [sys.executable, "-m", "camlib", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and 1 <= len(lines) <= 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[-1].startswith(("error:", "python -m camlib")), proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_help_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["train", "--help"], capsys)
    text = " ".join(out.split())  # argparse wraps the help
    assert (
        code == 0
        and "--force" in text
        and "checked before training: an existing file is replaced only" in text
    )
