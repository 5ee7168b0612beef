"""Notebook hygiene: what every committed notebook must hold (nbval runs them; this checks what they contain).

Both built versions are held to it: the student notebooks in notebooks/ and the solution notebooks in solutions/
(both built from course/ by scripts/build_notebooks.py; tests/test_exercises.py checks the exercise format).
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest

import camlib

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions")
NOTEBOOKS = [p for folder in FOLDERS for p in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))]
IDS = [f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS]
ABSOLUTE = re.compile(r"(?<![\w.])/(?:root|work|tmp|home|Users|private|var/folders)/|[A-Za-z]:\\\\Users\\\\")
EXPECTED = [f"{i:02d}" for i in range(11)]


def _cells(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["cells"]


def _src(cell: dict[str, Any]) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _camlib_public_names() -> set[str]:
    names: set[str] = set()
    for mod in pkgutil.walk_packages(camlib.__path__, "camlib."):
        if mod.name.endswith("__main__"):
            continue
        module = importlib.import_module(mod.name)
        names |= {
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", "") == mod.name
        }
    return names


@pytest.mark.parametrize("folder", FOLDERS)
def test_all_ten_notebooks_exist(folder: str) -> None:
    found = [p.name[:2] for p in NOTEBOOKS if p.parent.name == folder]
    assert found == EXPECTED, found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_hygiene(path: Path) -> None:
    cells = _cells(path)
    code = [c for c in cells if c["cell_type"] == "code"]
    first = _src(cells[0]).lower()
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# " + path.name[:2]), "title first"
    assert "learning objectives" in first and "duration" in first and "prerequisites" in first
    assert "summary" in _src(cells[-1]).lower() and "going further" in _src(cells[-1]).lower()
    assert all(c.get("execution_count") for c in code if _src(c).strip()), "every code cell executed"
    assert sum(1 for c in code if c.get("outputs")) >= len(code) // 2, "outputs committed"
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"], (
        "error output"
    )
    text = json.dumps([c.get("outputs", []) for c in code]) + json.dumps([_src(c) for c in cells])
    assert not ABSOLUTE.findall(text), f"absolute machine paths: {set(ABSOLUTE.findall(text))}"
    checked = [c for c in code if _src(c).lstrip().startswith("# NBVAL_CHECK_OUTPUT")]
    assert len(checked) >= 3, f"only {len(checked)} NBVAL_CHECK_OUTPUT cells"
    assert any("checks.check_" in _src(c) for c in code), "no camlib.checks exercise"
    assert path.stat().st_size < 2_500_000, (
        f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"
    )  # 08: a gallery of all eleven methods
    assert any(o.get("data", {}).get("image/png") for c in code for o in c.get("outputs", [])) or path.name[
        :2
    ] in {"00"}, "no figure"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebooks_define_only_exercises(path: Path) -> None:
    """A function or class defined in a notebook must be an exercise (followed by its check), never camlib's."""
    public = _camlib_public_names()
    code = [_src(c) for c in _cells(path) if c["cell_type"] == "code"]
    for i, src in enumerate(code):
        tree = ast.parse("\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))))
        defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        for name in defined:
            assert name not in public, f"{path.name} redefines camlib's {name}"
            after = "\n".join(code[i + 1 : i + 3])
            assert "checks.check_" in after and name in after, (
                f"{path.name}: {name} is not an exercise with a check"
            )
