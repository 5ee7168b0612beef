"""The exercise format (issue 14): one source per notebook in course/, built into notebooks/ and solutions/.

- No student notebook contains a solution, and every student function raises ``NotImplementedError``.
- Every solution, extracted from course/, passes the check its notebook calls (faster than running the solution
  notebooks under nbval; their committed outputs are checked too).
- Every exercise has its two hints and its check cell; every notebook ends with questions, answered only in the
  solution version.
- ``scripts/build_notebooks.py --check`` passes on the repository and names a planted stale file; malformed
  sources are refused with the fix in the message.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from camlib.checks import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
CHECK_CALL = re.compile(r"checks\.(check_\w+)\((\w+)\)")
TRIVIAL = {"else:", "try:", "pass", "return", "continue", "break", "...", "return None", ")", "]", "}"}


def _build() -> Any:
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build = _build()
SOURCES = build.sources(ROOT)


def _cells(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["cells"]


@dataclass(frozen=True)
class Exercise:
    notebook: str  # e.g. "05_class_activation_maps.ipynb"
    cell_id: str
    source: str  # the exercise cell of course/
    regions: tuple[Any, ...]
    check: str  # the check its notebook calls, e.g. "check_cam"
    function: str
    imports: str  # the notebook's import statements before the exercise

    @property
    def key(self) -> str:
        return f"{self.notebook[:2]}-{self.function}"


def _imports(cells: list[dict[str, Any]]) -> str:
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(
            ln for ln in build.source_text(cell).split("\n") if not ln.lstrip().startswith(("%", "!"))
        )
        for node in ast.parse(code).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                lines.append(ast.unparse(node))
    return "\n".join(lines)


def _exercises() -> list[Exercise]:
    out = []
    for path in SOURCES:
        cells = _cells(path)
        for i, cell in enumerate(cells):
            if build.EXERCISE not in build.tags(cell):
                continue
            text = build.source_text(cell)
            regions = tuple(build.solution_regions(text))
            later = [build.source_text(c) for c in cells[i + 1 :] if c["cell_type"] == "code"]
            call = CHECK_CALL.search(later[0]) if later else None
            assert call, (
                f"{path.name}: the code cell after exercise {cell['id']} must call checks.check_*(fn)"
            )
            out.append(Exercise(path.name, cell["id"], text, regions, call[1], call[2], _imports(cells[:i])))
    return out


EXERCISES = _exercises()
IDS = [e.key for e in EXERCISES]


def _run(text: str, imports: str, where: str) -> dict[str, Any]:
    """Execute a cell's code after the notebook's imports; return its namespace."""
    namespace: dict[str, Any] = {}
    exec(compile(imports, f"<{where}: imports>", "exec"), namespace)
    exec(compile(text, f"<{where}>", "exec"), namespace)
    return namespace


def _non_trivial(line: str) -> list[str]:
    """The forms of a solution line that must not appear in a student cell (the line, and its code part)."""
    full, code = line.strip(), line.split("#", 1)[0].strip()
    return [s for s in {full, code} if len(s) >= 6 and s not in TRIVIAL]


def test_there_are_exercises_in_every_notebook() -> None:
    assert [p.name[:2] for p in SOURCES] == [f"{i:02d}" for i in range(11)]
    per_notebook = {e.notebook[:2] for e in EXERCISES}
    assert per_notebook == {p.name[:2] for p in SOURCES}, "every notebook has at least one exercise"
    counts = {p.name[:2]: sum(e.notebook == p.name for e in EXERCISES) for p in SOURCES}
    assert min(counts.values()) >= 2, f"every notebook has at least two exercises: {counts}"
    assert len(EXERCISES) >= 20, f"only {len(EXERCISES)} exercises"


def solution_lines(ex: Exercise) -> int:
    """Non-empty, non-comment lines of an exercise's solution regions."""
    body = [ln.strip() for r in ex.regions for ln in r.body]
    return sum(1 for ln in body if ln and not ln.startswith("#"))


def test_at_least_eight_exercises_are_core_skills_of_five_lines_or_more() -> None:
    core = sorted(f"{e.key} ({solution_lines(e)})" for e in EXERCISES if solution_lines(e) >= 5)
    print("exercises of five solution lines or more:", ", ".join(core))
    assert len(core) >= 8, core


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_no_student_notebook_contains_the_solution(ex: Exercise) -> None:
    student = next(c for c in _cells(ROOT / "notebooks" / ex.notebook) if c["id"] == ex.cell_id)
    lines = {ln.strip() for ln in build.source_text(student).split("\n")}
    lines |= {ln.split("#", 1)[0].strip() for ln in build.source_text(student).split("\n")}
    body = [form for r in ex.regions for ln in r.body for form in _non_trivial(ln)]
    assert body, "a solution with no non-trivial line cannot be checked"
    leaked = [form for form in body if form in lines]
    assert not leaked, f"{ex.notebook}: the student cell holds solution lines {leaked}"
    for r in ex.regions:
        assert f'raise NotImplementedError("exercise: write the body of {r.function}")' in lines


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_the_student_function_raises_not_implemented(ex: Exercise) -> None:
    student = next(c for c in _cells(ROOT / "notebooks" / ex.notebook) if c["id"] == ex.cell_id)
    fn = _run(build.source_text(student), ex.imports, f"notebooks/{ex.notebook}")[ex.function]
    with pytest.raises(NotImplementedError, match=f"write the body of {ex.function}"):
        fn(*CATALOGUE[ex.check].cases[0])
    result = CATALOGUE[ex.check].run(fn, verbose=False)
    assert result.status == "not attempted" and f"write the body of {ex.function}()" in result.message


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_every_solution_passes_the_check_its_notebook_calls(ex: Exercise) -> None:
    assert ex.check in CATALOGUE, f"{ex.notebook} calls checks.{ex.check}, which is not in the catalogue"
    fn = _run(build.solution_source(ex.source), ex.imports, f"course/{ex.notebook}")[ex.function]
    result = CATALOGUE[ex.check].run(fn, verbose=False)
    assert result.status == "correct", result.message


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_every_exercise_has_two_hints_then_its_check(ex: Exercise) -> None:
    cells = _cells(ROOT / "notebooks" / ex.notebook)
    i = next(j for j, c in enumerate(cells) if c["id"] == ex.cell_id)
    hint, check = cells[i + 1], cells[i + 2]
    text = build.source_text(hint)
    assert hint["cell_type"] == "markdown"
    assert "<details><summary>Hint 1: a nudge</summary>" in text
    assert "<details><summary>Hint 2: the approach</summary>" in text and text.count("</details>") == 2
    check_src = build.source_text(check)
    assert check_src.startswith("# NBVAL_CHECK_OUTPUT\n") and f"checks.{ex.check}({ex.function})" in check_src


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_committed_outputs_say_not_attempted_for_students_and_correct_for_solutions(ex: Exercise) -> None:
    for folder, expected in (
        ("notebooks", f"⏳ {ex.check}: not attempted yet"),
        ("solutions", f"✅ {ex.check}"),
    ):
        cells = _cells(ROOT / folder / ex.notebook)
        i = next(j for j, c in enumerate(cells) if c["id"] == ex.cell_id)
        check = next(c for c in cells[i + 1 :] if c["cell_type"] == "code")
        text = "".join("".join(o.get("text", "")) for o in check.get("outputs", []))
        assert expected in text, f"{folder}/{ex.notebook}: {text!r}; execute it: build_notebooks.py --execute"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name[:2] for p in SOURCES])
def test_questions_at_the_end_answered_only_in_the_solutions(path: Path) -> None:
    cells = _cells(path)
    q = next(i for i, c in enumerate(cells) if build.source_text(c).startswith("## Questions"))
    assert q >= len(cells) - 4, "the questions come at the end, before the summary"
    numbered = re.findall(r"^\d+\. ", build.source_text(cells[q]), flags=re.M)
    assert 3 <= len(numbered) <= 6, f"a few questions (3 to 6), not {len(numbered)}"
    answers = cells[q + 1]
    assert build.SOLUTION in build.tags(answers) and build.source_text(answers).startswith("### Answers")
    assert len(re.findall(r"^\d+\. ", build.source_text(answers), flags=re.M)) == len(numbered)
    student_ids = {c["id"] for c in _cells(ROOT / "notebooks" / path.name)}
    solution_ids = {c["id"] for c in _cells(ROOT / "solutions" / path.name)}
    assert (
        cells[q]["id"] in student_ids and answers["id"] not in student_ids and answers["id"] in solution_ids
    )


@pytest.mark.parametrize("path", SOURCES, ids=[p.name[:2] for p in SOURCES])
def test_sources_have_no_outputs_and_built_notebooks_the_installed_kernelspec(path: Path) -> None:
    for cell in _cells(path):
        assert cell["cell_type"] != "code" or (cell["outputs"] == [] and cell["execution_count"] is None)
    for folder in ("notebooks", "solutions"):
        meta = json.loads((ROOT / folder / path.name).read_text())["metadata"]
        assert meta["kernelspec"] == build.KERNELSPEC


def test_solution_notebooks_are_executed_without_errors() -> None:
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        code = [c for c in _cells(path) if c["cell_type"] == "code" and build.source_text(c).strip()]
        assert all(c.get("execution_count") for c in code), f"{path.name} is not executed"
        errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{path.name}: {errors[0].get('ename')}"


# --- the build script ---------------------------------------------------------------------------------------


def test_the_built_notebooks_are_up_to_date() -> None:
    assert build.stale(ROOT) == {}, "run: python scripts/build_notebooks.py, then --execute the rebuilt ones"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"up to date: {2 * len(SOURCES)} built notebooks match course/" in run.stdout


def _copy_repo(tmp: Path) -> Path:
    for folder in ("course", "notebooks", "solutions"):
        shutil.copytree(ROOT / folder, tmp / folder, ignore=shutil.ignore_patterns("*.py", "*.cfg"))
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    return tmp


def test_check_names_a_planted_edit_of_a_student_cell(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    path = root / "notebooks" / "03_building_the_gap_network.ipynb"
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if build.EXERCISE in build.tags(c))
    cell["source"] = build.source_text(cell).replace(
        "raise NotImplementedError", "return features.mean((-2, -1))  #"
    )
    path.write_text(json.dumps(nb))
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_notebooks.py"), "--check", "--root", str(root)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    stale = [ln for ln in run.stdout.splitlines() if ln.startswith("stale:")]
    assert len(stale) == 1 and "notebooks/03_building_the_gap_network.ipynb" in stale[0], run.stdout
    assert f"(id {cell['id']}): its source differs" in stale[0]


def test_check_ignores_outputs_and_what_execution_records(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    path = root / "solutions" / "00_start_here.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            cell["metadata"]["execution"] = {"iopub.status.idle": "2030-01-01T00:00:00Z"}
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.99"}
    path.write_text(json.dumps(nb))
    assert build.stale(root) == {}
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3"  # a kernelspec that makes JupyterLab rewrite it
    path.write_text(json.dumps(nb))
    assert build.stale(root) == {path: "notebook metadata differs"}


def test_a_missing_built_notebook_and_an_orphan_are_stale(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    (root / "solutions" / "01_weak_labels.ipynb").unlink()
    shutil.copy(root / "notebooks" / "02_fc_head_forgets_where.ipynb", root / "notebooks" / "99_old.ipynb")
    assert build.stale(root) == {
        root / "solutions" / "01_weak_labels.ipynb": "missing",
        root / "notebooks" / "99_old.ipynb": "no source course/99_old.ipynb",
    }


def _notebook(*cells: dict[str, Any]) -> dict[str, Any]:
    title = {"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# 42 · Test\n\nText."}
    return {"cells": [title, *cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code(text: str, tags: list[str] | None = None, cid: str = "ex") -> dict[str, Any]:
    meta = {"tags": tags} if tags else {}
    return {
        "cell_type": "code",
        "id": cid,
        "metadata": meta,
        "source": text,
        "outputs": [],
        "execution_count": None,
    }


EXERCISE_CELL = '''def clipped(x: float) -> float:
    """x clipped to [0, 1]."""
    if x is not None:
        ### BEGIN SOLUTION
        return min(max(x, 0.0), 1.0)
        ### END SOLUTION
    return 0.0'''


def test_build_turns_the_region_into_a_stub_at_its_indentation() -> None:
    nb = _notebook(_code(EXERCISE_CELL, ["exercise"]), _code("print('solution only')", ["solution"], "sol"))
    student = build.build(nb, "student", "42_test.ipynb", "https://github.com/o/n")
    solution = build.build(nb, "solution", "42_test.ipynb", "https://github.com/o/n")
    stub = build.source_text(next(c for c in student["cells"] if c["id"] == "ex"))
    assert '        raise NotImplementedError("exercise: write the body of clipped")' in stub.split("\n")
    assert "min(max" not in stub and '"""x clipped to [0, 1]."""' in stub and stub.endswith("return 0.0")
    solved = build.source_text(next(c for c in solution["cells"] if c["id"] == "ex"))
    assert "### " not in solved and "        return min(max(x, 0.0), 1.0)" in solved
    assert "sol" not in {c["id"] for c in student["cells"]} and "sol" in {c["id"] for c in solution["cells"]}
    assert student["cells"][1]["metadata"]["tags"] == [
        "colab-setup"
    ]  # course_links' cell, as in every notebook
    assert "/blob/main/solutions/42_test.ipynb" in build.source_text(solution["cells"][0])
    assert student["metadata"]["kernelspec"] == build.KERNELSPEC


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            _code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", ["exercise"]),
            "must be the body of a function",
        ),
        (_code("def f():\n    ### BEGIN SOLUTION\n    return 1", ["exercise"]), "is never closed"),
        (_code("def f():\n    return 1\n    ### END SOLUTION", ["exercise"]), "without a ### BEGIN SOLUTION"),
        (_code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"), "add the tag"),
        (_code("def f():\n    return 1", ["exercise"]), "has no ### BEGIN SOLUTION"),
        (dict(_code("x = 1"), outputs=[{"output_type": "stream", "text": "1"}]), "Clear Outputs"),
        (
            _code("def f():\n    ### BEGIN SOLUTION\n    return (\n    ### END SOLUTION", ["exercise"]),
            "does not parse",
        ),
    ],
    ids=["outside-function", "unclosed", "unopened", "untagged", "no-region", "outputs", "syntax"],
)
def test_a_malformed_source_is_refused_with_the_fix(cell: dict[str, Any], message: str) -> None:
    with pytest.raises(build.SourceError, match=re.escape(message)):
        build.build(_notebook(cell), "student", "42_test.ipynb", "https://github.com/o/n")


def test_the_build_writes_what_course_links_expects() -> None:
    url = build.links.repository_url(ROOT)
    for path, nb in build.expected(ROOT).items():
        if path.parent.name == "notebooks":  # course_links keeps the student notebooks' badge and Colab cell
            again = build.links.update_notebook(json.loads(build.dumps(nb)), url, path.name)
            assert build.dumps(again) == build.dumps(nb), path.name


def test_a_new_repository_url_makes_every_built_notebook_stale(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    url = build.links.repository_url(ROOT)
    text = (root / "pyproject.toml").read_text().replace(url, "https://github.com/someone/fork", 1)
    (root / "pyproject.toml").write_text(text)
    stale = build.stale(root)
    assert len(stale) == 2 * len(SOURCES) and all(
        "(id " in why and "source differs" in why for why in stale.values()
    )
