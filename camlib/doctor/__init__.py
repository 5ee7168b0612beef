"""Preflight for the course: ``python -m camlib doctor [--json]``, also run from notebook 00.

Each check is a small function returning a :class:`Diagnosis`; everything it looks at comes in through
its parameters (versions, probes, paths), so each failure can be simulated in a test. A result is ``ok``,
or a problem of level ``"error"`` (the course will not run: exit code 1) or ``"warning"`` (it runs, with a
caveat), with a one-line ``fix``. ``"info"`` results are facts worth knowing (no GPU: the fast profile).

What lives where:

- :mod:`camlib.doctor.env`: :class:`Diagnosis` and the checks of the software and hardware (Python, the
  torch/torchvision pair, the GPU, JupyterLab, widgets).
- :mod:`camlib.doctor.course`: the checks of the course's own setup (profile, checkpoints, datasets, ``data/``,
  DataLoader workers).
- here: the default list of checks, the runner, the report and the ``doctor`` command; every name above is
  importable from here too (notebook 00 does ``from camlib import doctor``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from camlib.doctor.course import (
    diagnose_checkpoints,
    diagnose_data_writable,
    diagnose_datasets,
    diagnose_profile,
    diagnose_workers,
)
from camlib.doctor.env import (
    TORCH_FIX,
    WIDGET_PAIRS,
    WIDGETS_EXT,
    Diagnosis,
    detect_accelerator,
    diagnose_accelerator,
    diagnose_jupyterlab,
    diagnose_python,
    diagnose_torch,
    diagnose_widgets,
    disabled_labextensions,
    expected_torchvision,
    find_labextension,
)
from camlib.doctor.env import _tiny_op as _tiny_op  # tests run the real op: doctor._tiny_op
from camlib.files import sha256_file

DIAGNOSES: tuple[Callable[[], Diagnosis], ...] = (
    diagnose_python, diagnose_torch, diagnose_accelerator, diagnose_jupyterlab, diagnose_widgets, diagnose_profile,
    diagnose_checkpoints, diagnose_datasets, diagnose_data_writable, diagnose_workers,
)  # fmt: skip


def run_diagnoses(checks: Sequence[Callable[[], Diagnosis]] = DIAGNOSES) -> list[Diagnosis]:
    """Run every check; a check that crashes becomes an error result instead of stopping the others."""
    results = []
    for check in checks:
        try:
            results.append(check())
        except Exception as exc:
            name = getattr(check, "__name__", "check").removeprefix("check_")
            results.append(
                Diagnosis(name, False, "error", f"the check crashed: {exc!r}", "report this output")
            )
    return results


def exit_code(results: Sequence[Diagnosis]) -> int:
    """0 when the course will run (no errors; warnings allowed), else 1."""
    return 1 if any(not r.ok and r.level == "error" for r in results) else 0


def format_report(results: Sequence[Diagnosis], encoding: str | None = None) -> str:
    """A human-readable table: one line per check, the fix under each problem, a verdict."""
    enc = encoding or getattr(sys.stdout, "encoding", None) or "ascii"
    fancy = "✓✗⚠".encode(enc, errors="replace").decode(enc) == "✓✗⚠"
    sym = {"ok": "✓", "error": "✗", "warning": "⚠"} if fancy else {"ok": "ok", "error": "XX", "warning": "!!"}
    width = max(len(r.name) for r in results) if results else 0
    lines = ["camlib doctor: is this machine ready for the CAM course?"]
    for r in results:
        lines.append(f"  {sym['ok' if r.ok else r.level]} {r.name:<{width}}  {r.detail}")
        if not r.ok and r.fix:
            lines.append(f"    {' ' * width}  fix: {r.fix}")
    errors = sum(not r.ok and r.level == "error" for r in results)
    warnings = sum(not r.ok and r.level == "warning" for r in results)
    verdict = "READY" if errors == 0 else f"NOT READY: {errors} error{'s' * (errors != 1)}"
    lines.append(f"{verdict} ({warnings} warning{'s' * (warnings != 1)})")
    return "\n".join(lines)


def format_brief(results: Sequence[Diagnosis], encoding: str | None = None) -> str:
    """The verdict in a few lines (``doctor --brief``, the end of ``make install``): only problems are listed.

    >>> print(format_brief([Diagnosis("python", True, "info", "Python 3.11.7")], encoding="ascii"))
    camlib doctor: READY (1 check passed, 0 warnings; details: python -m camlib doctor)
    """
    problems = [r for r in results if not r.ok]
    if problems:
        full = format_report(problems, encoding).split("\n")
        lines = full[1:-1]  # the problems' lines and fixes, without the header
        verdict = full[-1]
    else:
        lines, verdict = [], "READY"
    passed = len(results) - len(problems)
    warnings = sum(r.level == "warning" for r in problems)
    tail = f"{passed} check{'s' * (passed != 1)} passed, {warnings} warning{'s' * (warnings != 1)}"
    head = verdict.split(" (")[0] if problems else verdict
    return "\n".join([f"camlib doctor: {head} ({tail}; details: python -m camlib doctor)", *lines])


def report(checks: Sequence[Callable[[], Diagnosis]] = DIAGNOSES) -> list[Diagnosis]:
    """Run the checks and print the table (for notebook 00)."""
    results = run_diagnoses(checks)
    print(format_report(results))
    return results


def _cli(args: argparse.Namespace) -> int:
    results = run_diagnoses(DIAGNOSES)  # looked up now, so tests can swap the list
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print(format_brief(results) if args.brief else format_report(results))
    return exit_code(results)


def add_cli(subparsers: Any) -> None:
    """Register ``doctor`` with the course CLI."""
    p = subparsers.add_parser("doctor", help="check this machine for the course; each problem with its fix")
    p.add_argument("--json", action="store_true", help="print the results as a JSON list")
    p.add_argument("--brief", action="store_true", help="the verdict in one line, then only the problems")
    p.set_defaults(func=_cli)


__all__ = [
    "Diagnosis", "DIAGNOSES", "TORCH_FIX", "WIDGETS_EXT", "WIDGET_PAIRS", "add_cli", "diagnose_accelerator",
    "diagnose_checkpoints", "diagnose_data_writable", "diagnose_datasets", "diagnose_jupyterlab", "diagnose_profile",
    "diagnose_python", "diagnose_torch", "diagnose_widgets", "diagnose_workers", "detect_accelerator", "disabled_labextensions",
    "exit_code", "expected_torchvision", "find_labextension", "format_brief", "format_report", "report", "run_diagnoses", "sha256_file",
]  # fmt: skip
