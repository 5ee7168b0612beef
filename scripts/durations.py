"""Write the notebooks' stated run times from their one measured source, ``benchmarks/results/notebooks.json``.

``benchmarks/bench_notebooks.py`` executes every student notebook (fast profile, a fresh kernel each) and records
its wall seconds there. This script copies those numbers, and nothing else, into

- the ``**Duration**: ... GPU: not measured.`` sentence of every course source ``course/NN_*.ipynb`` (the built
  ``notebooks/`` and ``solutions/`` follow with ``scripts/build_notebooks.py``),
- the run-time column of the README's notebook table and the sentence under it,
- the run-time column of the table under *Timings (measured)* in ``docs/INSTRUCTORS.md`` (its teaching-time
  estimates are kept).

``tests/test_claims.py`` fails when a stated duration differs from the file by more than 50%, and when this
script would change anything (``--check``).

Usage (from the repository root)::

    python scripts/durations.py           # write the durations
    python scripts/durations.py --check   # exit 1 and list what is out of step; write nothing
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "notebooks.json"
SOURCE = "`benchmarks/results/notebooks.json`"
SENTENCE = re.compile(r"\*\*Duration\*\*:.*?GPU: not measured\.", re.DOTALL)
README_HEAD = "| run time, fast profile, 2-core CPU |"
README_NOTE = re.compile(r"^Run times: .*?(?=\n\n)", re.DOTALL | re.MULTILINE)
INSTRUCTORS_SECTION = "## Timings (measured)"
INSTRUCTORS_INTRO = re.compile(r"(?<=## Timings \(measured\)\n\n).*?(?=\n\n\|)", re.DOTALL)


@dataclass(frozen=True)
class Measured:
    """One notebook's run in the result file: wall seconds (kernel start included) and its slowest cell."""

    number: str  # "04"
    seconds: float
    slowest_s: float | None


def load(path: Path = RESULTS) -> tuple[dict[str, Measured], dict[str, object]]:
    """The measured runs by notebook number, and the file's machine record (date, cores)."""
    payload = json.loads(path.read_text())
    runs = {}
    for run in payload["data"]["runs"]:
        if run.get("error"):
            raise SystemExit(f"{path.name}: {run['notebook']} failed in that run: re-run the benchmark")
        number = run["notebook"][:2]
        runs[number] = Measured(number, float(run["seconds"]), run.get("slowest_s"))
    return runs, dict(payload.get("machine", {}))


def fmt(seconds: float) -> str:
    """A duration as the course writes it.

    >>> fmt(8.08), fmt(93.8), fmt(224.5)
    ('8.1 s', '94 s', '3.7 min')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def stated(m: Measured) -> str:
    """The run time of one notebook with, when one cell takes most of it, that cell's share.

    >>> stated(Measured("04", 93.8, 78.2)), stated(Measured("00", 8.1, 4.2))
    ('94 s (78 s of it in one cell)', '8.1 s')
    """
    return fmt(m.seconds) + (f" ({fmt(m.slowest_s)} of it in one cell)" if _one_cell(m) else "")


def _one_cell(m: Measured) -> bool:
    """One cell takes most of the run (a training run), so the notebook says which share."""
    return m.slowest_s is not None and m.slowest_s > 0.6 * m.seconds


def sentence(m: Measured) -> str:
    return (
        f"**Duration**: {fmt(m.seconds)} to run top to bottom on a 2-core CPU (fast profile"
        + (f"; {fmt(m.slowest_s or 0)} of it in one cell" if _one_cell(m) else "")
        + f"; measured: {SOURCE}; longer when other programs share the cores); GPU: not measured."
    )


def course_text(text: str, m: Measured, where: str) -> str:
    """``text`` (a notebook's JSON) with its Duration sentence rewritten; the rest byte for byte."""
    nb = json.loads(text)
    hits = [c for c in nb["cells"] if c["cell_type"] == "markdown" and SENTENCE.search("".join(c["source"]))]
    if len(hits) != 1:
        raise SystemExit(f"{where}: expected one markdown cell with '**Duration**: ... GPU: not measured.'")
    cell = hits[0]
    new = SENTENCE.sub(lambda _: sentence(m), "".join(cell["source"]), count=1)
    cell["source"] = new.splitlines(keepends=True)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _replace_column(lines: list[str], start: int, column: int, values: dict[str, str]) -> None:
    """In the table whose header is ``lines[start]``, set cell ``column`` of each row ``| NN ...`` to its value."""
    i = start + 2
    while i < len(lines) and lines[i].startswith("|"):
        cells = lines[i].split("|")
        key = cells[1].strip()[:2]
        if key in values:
            cells[column + 1] = f" {values[key]} "
            lines[i] = "|".join(cells)
        i += 1


def readme_text(text: str, runs: dict[str, Measured]) -> str:
    lines = text.split("\n")
    head = next(i for i, line in enumerate(lines) if line.startswith("|") and line.endswith(README_HEAD))
    _replace_column(lines, head, lines[head].count("|") - 2, {k: stated(m) for k, m in runs.items()})
    total = sum(m.seconds for m in runs.values())
    note = (
        f"Run times: each student notebook executed top to bottom with a fresh kernel "
        f"(`benchmarks/bench_notebooks.py`, recorded in {SOURCE}) on the course's 2-core test machine (no GPU), "
        f"{fmt(total)} for all {len(runs)}; written here by `scripts/durations.py`. GPU (full profile): not "
        "measured yet."
    )
    return README_NOTE.sub(lambda _: note, "\n".join(lines), count=1)


def instructors_text(text: str, runs: dict[str, Measured], machine: dict[str, object]) -> str:
    intro = (
        f"From {SOURCE} (`benchmarks/bench_notebooks.py`: each student notebook top to bottom, a fresh kernel, fast "
        f"profile, on the course's {machine.get('cpu_count', 2)}-core test machine with no GPU, "
        f"{machine.get('date', 'date not recorded')}); written by `scripts/durations.py`:"
    )
    text = INSTRUCTORS_INTRO.sub(lambda _: intro, text, count=1)
    lines = text.split("\n")
    section = lines.index(INSTRUCTORS_SECTION)
    head = next(i for i in range(section, len(lines)) if lines[i].startswith("| notebook |"))
    _replace_column(lines, head, 1, {k: stated(m) for k, m in runs.items()})
    return "\n".join(lines)


def targets(runs: dict[str, Measured], machine: dict[str, object]) -> dict[Path, str]:
    """Every file this script writes and the text it should hold."""
    out: dict[Path, str] = {}
    for path in sorted((ROOT / "course").glob("[0-9][0-9]_*.ipynb")):
        number = path.name[:2]
        if number not in runs:
            raise SystemExit(f"{RESULTS.name} has no run of {path.name}: run benchmarks/bench_notebooks.py")
        out[path] = course_text(path.read_text(), runs[number], path.name)
    readme = ROOT / "README.md"
    out[readme] = readme_text(readme.read_text(), runs)
    guide = ROOT / "docs" / "INSTRUCTORS.md"
    out[guide] = instructors_text(guide.read_text(), runs, machine)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="list what is out of step and exit 1; write nothing"
    )
    args = parser.parse_args(argv)
    runs, machine = load()
    stale = [p for p, text in targets(runs, machine).items() if p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"out of step with {RESULTS.name}: {p.relative_to(ROOT)} (run scripts/durations.py)")
        return 1 if stale else 0
    for p in stale:  # read again right before writing: other people edit these files too
        new = targets(runs, machine)[p]
        p.write_text(new)
        print(f"wrote {p.relative_to(ROOT)}")
    if any(p.suffix == ".ipynb" for p in stale):
        print("now rebuild the notebooks: python scripts/build_notebooks.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
