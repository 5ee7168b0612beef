"""What the notebooks claim, checked: the files they cite exist, their figures are legible, their stated run times
are the measured ones.

- A notebook (``course/``, ``notebooks/``, ``solutions/``) may cite a repository file only if a learner has it: every
  markdown link and every backticked repository path (``camlib/boxes.py``, ``data/checkpoints/manifest.json``,
  ``PAPER.md``) must exist, relative to the repository or to the notebook's folder.
- No notebook sets a figure dpi below 100.
- Every stated duration (the ``**Duration**`` sentence of each notebook, the README's notebook table, the instructor
  guide's timings table) is within 50% of ``benchmarks/results/notebooks.json``, and ``scripts/durations.py --check``
  finds nothing to rewrite.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("course", "notebooks", "solutions")
NOTEBOOKS = [p for f in FOLDERS for p in sorted((ROOT / f).glob("[0-9][0-9]_*.ipynb"))]
IDS = [f"{p.parent.name}/{p.name[:2]}" for p in NOTEBOOKS]
LINK = re.compile(r"\]\(([^)\s]+)\)")
TICK = re.compile(r"`([^`\s]+)`")
FILE_ENDINGS = (
    ".md",
    ".py",
    ".json",
    ".png",
    ".ipynb",
    ".pt",
    ".toml",
    ".cfg",
    ".txt",
    ".yml",
    ".yaml",
    ".csv",
)
REPO_PATH = re.compile(r"(\.\./|\./)?[\w\-]+(/[\w.\-]+)+/?")
DPI = re.compile(
    r"""(?:\bdpi\s*=\s*|["']figure\.dpi["']\s*\]\s*=\s*|["'](?:figure|savefig)\.dpi["']\s*:\s*)(\d+(?:\.\d+)?)"""
)
DURATION = re.compile(r"\*\*Duration\*\*:\s*≈?\s*(\d+(?:\.\d+)?)\s*(s|min)\b")
#: a path that a command *writes* (an output, a download folder) is named after one of these words, in the same
#: sentence: "It writes `reports/x.md`", "fetches them once into `data/weights`"
WRITTEN_BY = re.compile(
    r"\b(writes|written|saves|saved|creates|created|fills|into|--out)\b[^.`]*(`[^`]*`[^.`]*)*$"
)
TABLE_TIME = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|min)\b")


def _cells(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["cells"])


def _text(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def cited_paths(markdown: str) -> list[str]:
    """The repository paths a piece of markdown cites: link targets, and backticked names that look like files.

    >>> cited_paths("see [the guide](../docs/INSTRUCTORS.md#x), `camlib/boxes.py`, `PAPER.md`, `x.shape`, [w](https://a.b)")
    ['../docs/INSTRUCTORS.md', 'camlib/boxes.py', 'PAPER.md']
    """
    out = []
    for m in LINK.finditer(markdown):
        target = m.group(1)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#"):
            out.append(target.split("#")[0])
    for m in TICK.finditer(markdown):
        name = m.group(1)
        if WRITTEN_BY.search(markdown[max(0, m.start() - 100) : m.start()]):
            continue  # an output of a command, not a file of the repository
        looks_like_file = (
            re.fullmatch(r"[\w.\-/]+", name) and re.search(r"\w\.\w+$", name) and name.endswith(FILE_ENDINGS)
        )
        if looks_like_file or (REPO_PATH.fullmatch(name) and not name.startswith(".")):
            out.append(name)
    return [p for p in out if p]


def test_cited_paths_finds_links_and_backticked_files() -> None:
    found = cited_paths(
        "[a](notebooks/00_start_here.ipynb) `camlib/data/shapes_classes.py` `torch.load` `a.b`"
    )
    assert found == ["notebooks/00_start_here.ipynb", "camlib/data/shapes_classes.py"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_notebook_cites_only_files_that_exist(path: Path) -> None:
    missing = []
    for i, cell in enumerate(_cells(path)):
        text = _text(cell)
        if cell["cell_type"] == "code":  # only what the comments say
            text = "\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
        for cited in cited_paths(text):
            if not any((base / cited).exists() for base in (ROOT, path.parent)):
                missing.append(f"cell {i}: {cited}")
    assert not missing, f"{path.relative_to(ROOT)} cites files that are not in the repository: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_figure_below_100_dpi(path: Path) -> None:
    low = [
        f"cell {i}: dpi {m.group(1)}"
        for i, cell in enumerate(_cells(path))
        if cell["cell_type"] == "code"
        for m in DPI.finditer(_text(cell))
        if float(m.group(1)) < 100
    ]
    assert not low, f"{path.relative_to(ROOT)} sets figures below 100 dpi (illegible): {low}"


def test_the_dpi_pattern_sees_the_usual_spellings() -> None:
    for code in (
        "fig.savefig(p, dpi=72)",
        'plt.rcParams["figure.dpi"] = 72',
        "mpl.rcParams.update({'figure.dpi': 72})",
    ):
        assert [m.group(1) for m in DPI.finditer(code)] == ["72"], code


# --- durations ------------------------------------------------------------------------------------------------


def _durations() -> Any:
    spec = importlib.util.spec_from_file_location("durations", ROOT / "scripts" / "durations.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["durations"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


durations = _durations()
MEASURED = {k: m.seconds for k, m in durations.load()[0].items()}


def _seconds(value: str, unit: str) -> float:
    return float(value) * (60 if unit == "min" else 1)


def _within_half(stated: float, measured: float) -> bool:
    return abs(stated - measured) <= 0.5 * measured


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_notebook_states_the_measured_duration(path: Path) -> None:
    stated = [m for cell in _cells(path) for m in DURATION.finditer(_text(cell))]
    assert stated, f"{path.relative_to(ROOT)} states no '**Duration**: N s' (run scripts/durations.py)"
    measured = MEASURED[path.name[:2]]
    for m in stated:
        s = _seconds(m.group(1), m.group(2))
        assert _within_half(s, measured), (
            f"{path.relative_to(ROOT)} says {m.group(0)!r}, but benchmarks/results/notebooks.json measured "
            f"{measured:.1f} s: run scripts/durations.py"
        )


def _table_times(markdown: str, header: str, column: int) -> dict[str, float]:
    """Notebook number -> the seconds in ``column`` of the table under ``header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|") and header in line)
    out = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        m = TABLE_TIME.match(cells[column])
        assert m, f"no duration in {line!r}"
        out[cells[0][:2]] = _seconds(m.group(1), m.group(2))
    return out


@pytest.mark.parametrize(
    ("doc", "header", "column"),
    [("README.md", "run time, fast profile", -1), ("docs/INSTRUCTORS.md", "suggested teaching time", 1)],
)
def test_documented_durations_are_the_measured_ones(doc: str, header: str, column: int) -> None:
    times = _table_times((ROOT / doc).read_text(), header, column)
    assert set(times) == set(MEASURED), (doc, sorted(times))
    wrong = {k: (s, round(MEASURED[k], 1)) for k, s in times.items() if not _within_half(s, MEASURED[k])}
    assert not wrong, f"{doc}: stated vs measured seconds {wrong}: run scripts/durations.py"


def test_a_duration_off_by_more_than_half_is_caught() -> None:
    assert _within_half(13.8, 11.0) and not _within_half(25, 11.0) and not _within_half(60, 13.0)
    assert [m.group(1) for m in DURATION.finditer("**Duration**: ≈ 25 s to run")] == ["25"]


def test_durations_script_is_in_step_with_the_measured_file() -> None:
    assert durations.main(["--check"]) == 0, "run: python scripts/durations.py"
