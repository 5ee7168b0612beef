"""Figure 5: how long each course notebook takes to run top to bottom in the fast profile.

Copies ``notebooks/`` to a temporary folder, executes every ``NN_*.ipynb`` there with nbclient (a fresh
kernel per notebook, ``CAMLIB_PROFILE=fast``, the notebook's folder as working directory) and records the wall
seconds per notebook (kernel start included: what a learner waits for after "Run All") and the slowest cell.
The committed notebooks are never written. Run: ``.venv/bin/python benchmarks/bench_notebooks.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from common import write_result

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATTERN = re.compile(r"^\d\d_.*\.ipynb$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CELL_TIMEOUT_S = 900


@dataclass(frozen=True)
class Run:
    """One executed notebook: wall seconds, code cells, the slowest cell (index, seconds), error if any."""

    notebook: str
    seconds: float
    cells: int
    slowest_cell: int | None
    slowest_s: float | None
    error: str | None


def find_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The course notebooks ``NN_*.ipynb`` of ``folder``, in order."""
    return sorted(p for p in folder.glob("*.ipynb") if PATTERN.match(p.name)) if folder.is_dir() else []


def _cell_seconds(cell: Any) -> float | None:
    """Seconds between a cell's execute_input and its execute_reply, from nbclient's timing metadata."""
    ex = cell.get("metadata", {}).get("execution", {})
    start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def execute(path: Path, cwd: Path) -> Run:
    """Execute one notebook in ``cwd`` with a fresh kernel; never raises for a failing cell."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    kernel = nb.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}}
    )
    error = None
    t0 = time.perf_counter()
    try:
        client.execute()
    except Exception as exc:  # a failing cell (CellExecutionError), a timeout, a dead kernel
        lines = [ln for ln in ANSI.sub("", str(exc)).splitlines() if ln.strip()]
        error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:300]
    seconds = time.perf_counter() - t0
    nbformat.write(nb, path)  # the executed copy, inside the temporary folder
    code = [c for c in nb.cells if c.cell_type == "code"]
    timed = [(i, s) for i, c in enumerate(code) if (s := _cell_seconds(c)) is not None]
    slow = max(timed, key=lambda t: t[1]) if timed else (None, None)
    return Run(path.name, seconds, len(code), slow[0], slow[1], error)


def previous_runs(exclude: set[str]) -> list[Run]:
    """The runs of the last ``results/notebooks.json`` for the notebooks not in ``exclude`` (a partial re-run)."""
    path = Path(__file__).parent / "results" / "notebooks.json"
    if not path.exists():
        return []
    old = json.loads(path.read_text())["data"]["runs"]
    return [Run(**r) for r in old if r["notebook"] not in exclude and (NOTEBOOKS / r["notebook"]).exists()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        help="run only these notebooks (file names or NN prefixes); the others keep their last measurement",
    )
    args = parser.parse_args()
    os.environ.setdefault("CAMLIB_PROFILE", "fast")
    profile = os.environ["CAMLIB_PROFILE"]
    found = find_notebooks()
    if args.names:
        found = [p for p in found if any(p.name == n or p.name.startswith(n) for n in args.names)]
    runs: list[Run] = []
    if found:
        with tempfile.TemporaryDirectory(prefix="camlib-nb-") as tmp:
            work = Path(tmp) / "notebooks"
            shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            for path in found:
                run = execute(work / path.name, work)
                runs.append(run)
                print(f"{run.notebook}: {run.seconds:.1f} s" + (f"  FAILED {run.error}" if run.error else ""))
    kept = previous_runs(exclude={r.notebook for r in runs}) if args.names else []
    runs = sorted(kept + runs, key=lambda r: r.notebook)
    total = sum(r.seconds for r in runs)
    if not runs:
        markdown = (
            "No course notebooks yet (`notebooks/NN_*.ipynb`): nothing to time. This section fills itself in "
            "once they exist."
        )
    else:
        rows = [
            f"| {r.notebook} | {r.seconds:.1f} | {r.cells} | "
            + (f"{r.slowest_cell} ({r.slowest_s:.1f} s)" if r.slowest_s is not None else "–")
            + f" | {'ok' if r.error is None else 'FAILED: ' + r.error.replace('|', '/')} |"
            for r in runs
        ]
        failed = sum(r.error is not None for r in runs)
        markdown = "\n".join(
            [
                f"`CAMLIB_PROFILE={profile}`, a fresh kernel per notebook (its start included), executed with "
                f"nbclient in a temporary copy of `notebooks/`; one run each."
                + (
                    f" Re-measured in this run: {', '.join(sorted(set(names)))}; the others are kept from the "
                    "previous run of this benchmark."
                    if (names := [r.notebook for r in runs if r not in kept]) and kept
                    else ""
                ),
                "",
                "| notebook | wall s | code cells | slowest cell (index, s) | status |",
                "|---|---|---|---|---|",
                *rows,
                f"| **total** | **{total:.1f}** ({total / 60:.1f} min) | {sum(r.cells for r in runs)} | | "
                f"{len(runs) - failed} ok, {failed} failed |",
            ]
        )
    data = {"profile": profile, "total_s": total, "runs": runs}
    path = write_result("notebooks", "Notebook execution time (fast profile)", markdown, data)
    print(markdown)
    print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
