"""Binder/Colab links and the notebooks' Colab install cell (scripts/course_links.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _links() -> Any:
    spec = importlib.util.spec_from_file_location("course_links", ROOT / "scripts" / "course_links.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


links = _links()
URL = links.repository_url()


def test_everything_derived_from_the_repository_url_is_up_to_date() -> None:
    stale = [p.name for p, text in links.expected().items() if p.read_text() != text]
    assert not stale, f"out of date: {stale}; run: python scripts/course_links.py"


def test_readme_has_binder_and_one_colab_badge_per_notebook() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"https://mybinder.org/v2/gh/{links.github_path(URL)}/main?urlpath=lab/tree/notebooks/" in readme
    badges = re.findall(
        r"\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\("
        r"https://colab\.research\.google\.com/github/([^)\s]+)\)",
        readme,
    )
    targets = sorted(c.split("/blob/main/", 1)[1] for c in badges)
    assert targets == sorted(f"notebooks/{p.name}" for p in NOTEBOOKS)  # one badge per notebook
    for link in re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", readme):
        assert (ROOT / link.split("/blob/main/", 1)[1]).is_file(), link  # every Colab link opens a notebook
    assert (ROOT / "environment.yml").is_file() and (ROOT / "binder" / "environment.yml").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_notebook_opens_with_its_badge_and_the_colab_cell(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    assert links.colab_url(URL, path.name) in "".join(cells[0]["source"])
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert links.COLAB_TAG in first_code["metadata"]["tags"]
    assert "".join(first_code["source"]) == links.colab_cell_source(URL)
    assert first_code["outputs"] == []  # a no-op outside Colab, also when the notebook was executed


def _run_cell(monkeypatch: pytest.MonkeyPatch, *, on_colab: bool, cloned: bool) -> dict[str, Any]:
    calls: dict[str, Any] = {"run": [], "chdir": [], "widgets": 0}

    def fake_run(cmd: list[str], check: bool) -> None:
        assert check
        calls["run"].append(cmd)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr("os.chdir", lambda p: calls["chdir"].append(p))
    monkeypatch.setattr("os.path.isdir", lambda p: cloned)
    monkeypatch.setattr(sys, "path", list(sys.path))
    if on_colab:
        output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.__setitem__("widgets", 1))
        colab = types.ModuleType("google.colab")
        colab.output = output  # type: ignore[attr-defined]
        google = types.ModuleType("google")
        google.colab = colab  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(links.colab_cell_source(URL), {})
    calls["path0"] = sys.path[0]
    return calls


def test_colab_cell_does_nothing_outside_colab(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _run_cell(monkeypatch, on_colab=False, cloned=False)
    assert calls["run"] == [] and calls["chdir"] == [] and calls["widgets"] == 0


def test_colab_cell_clones_installs_and_enters_notebooks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _run_cell(monkeypatch, on_colab=True, cloned=False)
    course = "/content/" + URL.rsplit("/", 1)[1]
    assert calls["run"][0] == ["git", "clone", "--depth", "1", URL, course]
    assert calls["run"][1][1:] == ["-m", "pip", "install", "-q", "--no-deps", "-e", course]
    assert calls["chdir"] == [course + "/notebooks"] and calls["path0"] == course and calls["widgets"] == 1
    again = _run_cell(monkeypatch, on_colab=True, cloned=True)  # a second notebook in the same runtime
    assert again["run"] == [] and again["chdir"] == [course + "/notebooks"]


def test_check_mode_reports_exactly_the_stale_notebook(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "README.md"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS:
        (tmp_path / "notebooks" / path.name).write_text(path.read_text())
    nb = json.loads(NOTEBOOKS[3].read_text())
    nb["cells"][1]["source"] = ["print('an old install cell')\n"]
    (tmp_path / "notebooks" / NOTEBOOKS[3].name).write_text(json.dumps(nb))
    stale = [p for p, text in links.expected(tmp_path).items() if p.read_text() != text]
    assert [p.name for p in stale] == [NOTEBOOKS[3].name]


def test_a_url_that_is_not_a_github_repository_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "pyproject.toml").read_text().replace(URL, "https://example.org/course", 1)
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ValueError, match="https://github.com/OWNER/NAME"):
        links.repository_url(tmp_path)
