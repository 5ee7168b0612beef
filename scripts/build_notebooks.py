"""Build the two versions of every notebook from its one source: the student notebook and the solution notebook.

``course/NN_name.ipynb`` is the ONLY file a maintainer edits (committed without outputs). From it this script builds

- ``notebooks/NN_name.ipynb``, the **student** version (what ``make lab``, Binder and Colab open): in every code
  cell tagged ``exercise``, each region between the marker lines ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  becomes ``raise NotImplementedError("exercise: write the body of <function>")`` at the region's indentation;
  cells tagged ``solution`` (markdown or code: the answers to the questions, a demonstration that calls the
  learner's function) are left out;
- ``solutions/NN_name.ipynb``, the **solution** version: the marker lines are removed, every cell is kept, and a
  note under the title says which version this is.

Both get the title's Colab and Binder badges and the collapsed "On Colab only" set-up cell of
``scripts/course_links.py`` (the solution's badges open the solution), and the source's cell ids. Their ``kernelspec``
and ``language_info`` are what the installed kernel writes: JupyterLab replaces both with the running kernel's when a
notebook opens, and any difference (``"Python 3"`` instead of ``"Python 3 (ipykernel)"``, another Python version)
marks the notebook modified before anything ran (``tests/test_first_screen.py`` keeps them in step). Built
notebooks have no outputs: outputs come only from executing them (``--execute``).

Usage (from the repository root)::

    python scripts/build_notebooks.py               # (re)write the built notebooks that are out of date
    python scripts/build_notebooks.py --check       # exit 1 and list the stale files; write nothing
    python scripts/build_notebooks.py --execute     # build, then execute what it rebuilt (fast profile)
    python scripts/build_notebooks.py --execute 05  # build, then execute notebook 05 (both versions)
    python scripts/build_notebooks.py --execute --all   # execute all twenty (after a change to camlib)
    python scripts/build_notebooks.py --execute --threads 1   # on a machine whose cores other jobs share

``--check`` compares cell types, ids, sources and tags and the notebook metadata, ignoring outputs, execution
counts and what executing a notebook records (``language_info``, widget state, cell timings). A built notebook
that is up to date is never rewritten, so it keeps the outputs of its execution; a stale one is rewritten
without outputs and must be executed again.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.util
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
EXERCISE, SOLUTION = "exercise", "solution"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
RECORDED_BY_EXECUTION = {
    "language_info",
    "widgets",
}  # notebook metadata written by running it, not by the build
DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?def[ \t]+(?P<name>\w+)")
Version = Literal["student", "solution"]
VERSIONS: dict[Version, str] = {"student": "notebooks", "solution": "solutions"}


class SourceError(ValueError):
    """A source notebook breaks the exercise format; the message names the file, the cell and the fix."""


def kernel_language_info(fallback: dict[str, Any]) -> dict[str, Any]:
    """The ``language_info`` that the installed ipykernel reports (and JupyterLab writes on opening a notebook)."""
    try:
        from ipykernel.ipkernel import IPythonKernel
    except ImportError:  # building without Jupyter installed: keep the source's
        return copy.deepcopy(fallback)
    return copy.deepcopy(dict(IPythonKernel.language_info))


def _course_links() -> Any:
    spec = importlib.util.spec_from_file_location("course_links", ROOT / "scripts" / "course_links.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


links = _course_links()


@dataclass(frozen=True)
class Region:
    """One solution region of an exercise cell: lines ``start``..``end`` (the markers), inside ``function``."""

    function: str
    indent: str
    start: int
    end: int
    body: tuple[str, ...]  # the solution's lines, between the markers


def source_text(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def solution_regions(text: str, where: str = "cell") -> list[Region]:
    """The solution regions of an exercise cell's source, checked: markers paired, each inside a function."""
    lines = text.split("\n")
    regions, open_at = [], None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN:
            if open_at is not None:
                raise SourceError(
                    f"{where}, line {i + 1}: {BEGIN} inside another solution region (no {END} yet)"
                )
            open_at = i
        elif marker == END:
            if open_at is None:
                raise SourceError(f"{where}, line {i + 1}: {END} without a {BEGIN} before it")
            indent = lines[open_at][: len(lines[open_at]) - len(lines[open_at].lstrip())]
            if line[: len(line) - len(line.lstrip())] != indent:
                raise SourceError(
                    f"{where}, line {i + 1}: {END} must be indented like its {BEGIN} (line {open_at + 1})"
                )
            function = _enclosing_function(lines, open_at, indent)
            if function is None:
                raise SourceError(
                    f"{where}, line {open_at + 1}: a solution region must be the body of a function "
                    "(put it inside `def name(...):`, after the docstring)"
                )
            regions.append(Region(function, indent, open_at, i, tuple(lines[open_at + 1 : i])))
            open_at = None
    if open_at is not None:
        raise SourceError(f"{where}, line {open_at + 1}: {BEGIN} is never closed by {END}")
    return regions


def _enclosing_function(lines: list[str], at: int, indent: str) -> str | None:
    """The function whose body holds line ``at`` (indented by ``indent``), or ``None`` if it is not in one."""
    threshold = len(indent)
    for line in reversed(lines[:at]):
        width = len(line) - len(line.lstrip())
        if not line.strip() or width >= threshold:
            continue
        m = DEF.match(line)
        if m:
            return m["name"]
        if line.lstrip().startswith(")"):  # the end of a signature written over several lines
            continue
        if line.rstrip().endswith(":"):  # a block inside the function (if, for, with ...)
            threshold = width
            continue
        return None
    return None


def student_source(text: str, where: str = "cell") -> str:
    """The exercise cell with each solution region replaced by ``raise NotImplementedError(...)``."""
    lines = text.split("\n")
    for r in reversed(solution_regions(text, where)):
        stub = f'{r.indent}raise NotImplementedError("exercise: write the body of {r.function}")'
        lines[r.start : r.end + 1] = [stub]
    return "\n".join(lines)


def solution_source(text: str, where: str = "cell") -> str:
    """The exercise cell with the marker lines removed."""
    regions = solution_regions(text, where)
    drop = {r.start for r in regions} | {r.end for r in regions}
    return "\n".join(line for i, line in enumerate(text.split("\n")) if i not in drop)


def _set_source(cell: dict[str, Any], text: str) -> None:
    cell["source"] = text.splitlines(
        keepends=True
    )  # nbformat's own layout, so that executing changes nothing


def validate(nb: dict[str, Any], name: str) -> None:
    """Refuse a source that breaks the format, with the fix in the message."""
    if nb.get("nbformat") != 4 or nb.get("nbformat_minor", 0) < 5:
        raise SourceError(f"{name}: needs nbformat 4.5 or later (cell ids); open and save it in JupyterLab 4")
    seen: set[str] = set()
    for i, cell in enumerate(nb["cells"]):
        where = f"{name}, cell {i} (id {cell.get('id')})"
        if not cell.get("id") or cell["id"] in seen:
            raise SourceError(f"{where}: every cell needs its own id (saving in JupyterLab 4 adds them)")
        seen.add(cell["id"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            raise SourceError(
                f"{where} has outputs: a source is committed without outputs; clear them (JupyterLab: Edit > "
                "Clear Outputs of All Cells) and save"
            )
        t, text = tags(cell), source_text(cell)
        has_markers = any(line.strip() in (BEGIN, END) for line in text.split("\n"))
        if EXERCISE in t and SOLUTION in t:
            raise SourceError(f"{where} is tagged both `{EXERCISE}` and `{SOLUTION}`: keep one")
        if EXERCISE in t:
            if cell["cell_type"] != "code":
                raise SourceError(f"{where}: only code cells can be tagged `{EXERCISE}`")
            if not solution_regions(text, where):
                raise SourceError(f"{where} is tagged `{EXERCISE}` but has no {BEGIN} ... {END} region")
            for version, built in (
                ("student", student_source(text, where)),
                ("solution", solution_source(text, where)),
            ):
                try:
                    ast.parse(
                        "\n".join(ln for ln in built.split("\n") if not ln.lstrip().startswith(("%", "!")))
                    )
                except SyntaxError as err:
                    raise SourceError(
                        f"{where}: the {version} version does not parse ({err.msg}, line {err.lineno})"
                    ) from err
        elif has_markers:
            raise SourceError(f"{where} has solution markers but is not tagged `{EXERCISE}`: add the tag")


def build(nb: dict[str, Any], version: Version, name: str, url: str) -> dict[str, Any]:
    """The student or solution notebook built from the source ``nb`` (named ``name``, e.g. ``05_cams.ipynb``)."""
    validate(nb, f"course/{name}")
    cells = []
    for cell in nb["cells"]:
        t = tags(cell)
        if version == "student" and SOLUTION in t:
            continue
        out: dict[str, Any] = {"cell_type": cell["cell_type"], "id": cell["id"], "metadata": {}}
        out["metadata"] = {
            k: copy.deepcopy(v) for k, v in cell.get("metadata", {}).items() if k != "execution"
        }
        text = source_text(cell)
        if EXERCISE in t:
            where = f"course/{name}, cell id {cell['id']}"
            text = student_source(text, where) if version == "student" else solution_source(text, where)
        _set_source(out, text)
        if cell["cell_type"] == "code":
            out["execution_count"] = None
            out["outputs"] = []
        if "attachments" in cell:
            out["attachments"] = copy.deepcopy(cell["attachments"])
        cells.append(out)
    meta = {k: copy.deepcopy(v) for k, v in nb.get("metadata", {}).items() if k not in RECORDED_BY_EXECUTION}
    meta["kernelspec"] = dict(KERNELSPEC)
    meta["language_info"] = kernel_language_info(
        nb.get("metadata", {}).get("language_info", {"name": "python"})
    )
    built = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": nb["nbformat_minor"]}
    built = links.update_notebook(built, url, name)
    if version == "solution":
        title = built["cells"][0]
        text = source_text(title)
        for student_url in (links.colab_url(url, name), links.binder_url(url, name)):
            text = text.replace(student_url, student_url.replace("/notebooks/", "/solutions/"))
        _set_source(title, text)
        note = {"cell_type": "markdown", "id": "solution-version", "metadata": {}}
        _set_source(
            note,
            f"> **Solutions.** This is the solution version of `notebooks/{name}`: every exercise is solved and the "
            "questions at the end are answered. Learners work in `notebooks/`; both versions are built from "
            f"`course/{name}` by `scripts/build_notebooks.py`.",
        )
        built["cells"].insert(2, note)
    return built


def dumps(nb: dict[str, Any]) -> str:
    """A notebook as nbformat writes it (and as ``scripts/course_links.py`` compares it)."""
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def sources(root: Path = ROOT) -> list[Path]:
    return sorted((root / "course").glob("[0-9][0-9]_*.ipynb"))


def expected(root: Path = ROOT, only: list[str] | None = None) -> dict[Path, dict[str, Any]]:
    """Every built notebook (student and solution), keyed by the path it belongs at."""
    url = links.repository_url(root)
    out: dict[Path, dict[str, Any]] = {}
    for src in sources(root):
        if only and not any(src.name.startswith(o) for o in only):
            continue
        nb = json.loads(src.read_text())
        for version, folder in VERSIONS.items():
            out[root / folder / src.name] = build(nb, version, src.name, url)
    return out


def signature(nb: dict[str, Any]) -> dict[str, Any]:
    """What ``--check`` compares: cells (type, id, source, tags) and metadata, not what execution records."""
    meta = {k: v for k, v in nb.get("metadata", {}).items() if k not in RECORDED_BY_EXECUTION}
    cells = [(c["cell_type"], c.get("id"), source_text(c), tags(c)) for c in nb.get("cells", [])]
    return {"cells": cells, "metadata": meta, "nbformat": (nb.get("nbformat"), nb.get("nbformat_minor"))}


def stale(root: Path = ROOT, only: list[str] | None = None) -> dict[Path, str]:
    """The built notebooks that differ from what the sources build, with the first difference of each."""
    out: dict[Path, str] = {}
    built = expected(root, only)
    for path, nb in built.items():
        if not path.exists():
            out[path] = "missing"
            continue
        have, want = signature(json.loads(path.read_text())), signature(nb)
        if have == want:
            continue
        if have["metadata"] != want["metadata"] or have["nbformat"] != want["nbformat"]:
            out[path] = "notebook metadata differs"
            continue
        for i, (a, b) in enumerate(zip(have["cells"], want["cells"], strict=False)):
            if a != b:
                field = ("cell type", "cell id", "source", "tags")[next(j for j in range(4) if a[j] != b[j])]
                out[path] = f"cell {i} (id {b[1]}): its {field} differs from the source's"
                break
        else:
            out[path] = f"{len(have['cells'])} cells instead of {len(want['cells'])}"
    for folder in VERSIONS.values():  # a built notebook whose source is gone
        for path in sorted((root / folder).glob("[0-9][0-9]_*.ipynb")):
            if path not in built and not only and not (root / "course" / path.name).exists():
                out[path] = f"no source course/{path.name}"
    return out


def executed(path: Path) -> bool:
    """Whether every non-empty code cell of the notebook at ``path`` has been run."""
    cells = json.loads(path.read_text()).get("cells", [])
    return all(c.get("execution_count") for c in cells if c["cell_type"] == "code" and source_text(c).strip())


def execute(path: Path, timeout_s: int = 3600) -> float:
    """Run every cell of ``path`` in place with nbclient, in its own folder; return the seconds it took."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.monotonic()
    client.execute()
    seconds = time.monotonic() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="notebook numbers or name prefixes (default: all)")
    parser.add_argument("--check", action="store_true", help="list the stale built notebooks; write nothing")
    parser.add_argument(
        "--execute",
        action="store_true",
        help="execute built notebooks in place: the named ones, else those just rebuilt or never executed",
    )
    parser.add_argument("--all", action="store_true", help="with --execute: execute every built notebook")
    parser.add_argument("--profile", default="fast", help="CAMLIB_PROFILE for --execute (default: fast)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads of the kernels of --execute (OMP_NUM_THREADS); 1 is much faster when other jobs "
        "share the cores (oversubscribed threads wait on each other)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this script's)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        out_of_date = stale(root, args.only)
    except SourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        for path, why in out_of_date.items():
            print(f"stale: {path.relative_to(root)}: {why} (run: python scripts/build_notebooks.py)")
        if not out_of_date:
            print(f"up to date: {len(expected(root, args.only))} built notebooks match course/")
        return 1 if out_of_date else 0
    for path, nb in expected(root, args.only).items():
        if path in out_of_date and path.parent.name in VERSIONS.values():
            if not (root / "course" / path.name).exists():
                print(f"no source for {path.relative_to(root)}: delete it or add course/{path.name}")
                continue
            path.parent.mkdir(exist_ok=True)
            path.write_text(dumps(nb))
            print(
                f"built {path.relative_to(root)} ({out_of_date[path]}); execute it: --execute {path.name[:2]}"
            )
    if args.execute:
        os.environ["CAMLIB_PROFILE"] = args.profile
        if args.threads:
            os.environ["OMP_NUM_THREADS"] = str(args.threads)
        threads = f", OMP_NUM_THREADS={args.threads}" if args.threads else ""
        todo = [
            p
            for p in expected(root, args.only)
            if args.all or args.only or p in out_of_date or not executed(p)
        ]
        if not todo:
            print("nothing to execute: every built notebook is up to date and executed (name some, or --all)")
        for path in todo:
            seconds = execute(path)
            print(
                f"executed {path.relative_to(root)} in {seconds:.1f} s ({args.profile} profile{threads})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
