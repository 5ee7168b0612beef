"""Keep the course's Binder and Colab links in step with the repository URL.

The public repository URL lives in ONE place, ``[project.urls] Repository`` in ``pyproject.toml``. This script
writes everything derived from it:

- the README's Binder badge and its per-notebook Colab badges (between the ``course-links`` markers);
- the last line of every notebook's title cell: "Or run it in the cloud:" with a Colab and a Binder badge (below
  the objectives, so that the first screen is the course's; the alt texts read as links when the images cannot load);
- the first code cell of every notebook, "On Colab only: install the course": on Colab (and only there) it clones
  the repository, installs ``camlib`` from it and moves into ``notebooks/``. It is collapsed in JupyterLab
  (``metadata.jupyter.source_hidden``) and shown as a titled form on Colab (``cellView: form``).

Usage (from the repository root)::

    python scripts/course_links.py            # rewrite README and notebooks
    python scripts/course_links.py --check    # exit 1 and list what is out of date (tests/test_links.py)

After moving the repository, change the URL in ``pyproject.toml`` and run the first command; only cell *sources*
change, so the notebooks' executed outputs stay valid.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BRANCH = "main"
COLAB_TAG = "colab-setup"
BEGIN, END = "<!-- course-links:begin -->", "<!-- course-links:end -->"
BADGE_RE = re.compile(r"\n?\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\n?")  # the old place, under the heading
CLOUD = "Or run it in the cloud:"
CLOUD_RE = re.compile(r"\n*^" + re.escape(CLOUD) + r".*$", re.MULTILINE)
COLAB_TITLE = "On Colab only: install the course (elsewhere this cell does nothing)"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"


def repository_url(root: Path = ROOT) -> str:
    """``[project.urls] Repository`` of ``pyproject.toml``: ``https://github.com/OWNER/NAME``."""
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    url = str(meta["project"]["urls"]["Repository"]).rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/NAME, got {url!r}")
    return url


def github_path(url: str) -> str:
    """``OWNER/NAME`` of a GitHub URL."""
    return url.removeprefix("https://github.com/")


def colab_url(url: str, notebook: str) -> str:
    """Colab link that opens ``notebooks/<notebook>`` from the repository's main branch."""
    return f"https://colab.research.google.com/github/{github_path(url)}/blob/{BRANCH}/notebooks/{notebook}"


def binder_url(url: str, notebook: str = "00_start_here.ipynb") -> str:
    """Binder link that builds ``environment.yml`` and opens ``notebook`` in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{github_path(url)}/{BRANCH}?urlpath=lab/tree/notebooks/{notebook}"


def colab_badge(url: str, notebook: str) -> str:
    """Markdown badge for one notebook."""
    return f"[![Open In Colab]({COLAB_BADGE})]({colab_url(url, notebook)})"


def title_badges(url: str, notebook: str) -> str:
    """The last line of a notebook's title cell: its Colab and Binder badges, alt texts that read offline."""
    colab = f"[![Open this notebook in Colab]({COLAB_BADGE})]({colab_url(url, notebook)})"
    binder = f"[![Launch the course on Binder]({BINDER_BADGE})]({binder_url(url, notebook)})"
    return f"{CLOUD} {colab} {binder}"


def colab_cell_source(url: str) -> str:
    """The first code cell of every notebook: a no-op except on Colab (Colab already has torch, numpy, scipy,
    matplotlib and ipywidgets, so camlib is installed without its dependencies)."""
    name = url.rsplit("/", 1)[-1]
    return f'''# @title {COLAB_TITLE}
import sys

if "google.colab" in sys.modules:  # fetch the course once per session, install camlib, work in its notebooks/
    import os
    import subprocess

    from google.colab import output

    COURSE = "/content/{name}"
    if not os.path.isdir(COURSE):
        subprocess.run(["git", "clone", "--depth", "1", "{url}", COURSE], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", COURSE], check=True)
    sys.path.insert(0, COURSE)
    os.chdir(COURSE + "/notebooks")
    output.enable_custom_widget_manager()'''


def readme_block(url: str, notebooks: list[str]) -> str:
    """The README section between the markers."""
    lines = [
        BEGIN,
        "",
        f"[![Binder]({BINDER_BADGE})]({binder_url(url)}) runs the whole course in the browser on a CPU "
        "(fast profile; the first build takes several minutes). Colab, one notebook at a time, with a free GPU "
        "(*Runtime → Change runtime type*); the first cell of each notebook installs `camlib` there:",
        "",
    ]
    lines += [f"- {colab_badge(url, nb)} `{nb}`" for nb in notebooks]
    return "\n".join([*lines, "", END])


def _source(cell: dict[str, Any]) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else str(src)


def _set_source(cell: dict[str, Any], text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]


def update_notebook(nb: dict[str, Any], url: str, name: str) -> dict[str, Any]:
    """Return ``nb`` with its title badge and Colab cell up to date (outputs untouched)."""
    cells = nb["cells"]
    title = cells[0]
    if title["cell_type"] != "markdown" or not _source(title).startswith("# "):
        raise ValueError(f"{name}: the first cell must be the markdown title")
    heading, _, rest = _source(title).partition("\n")
    rest = CLOUD_RE.sub("", BADGE_RE.sub("\n", "\n" + rest)).strip("\n")
    _set_source(title, f"{heading}\n\n{rest}\n\n{title_badges(url, name)}")
    colab = [i for i, c in enumerate(cells) if COLAB_TAG in c.get("metadata", {}).get("tags", [])]
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [COLAB_TAG]},
        "outputs": [],
        "source": [],
    }
    if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) >= 5:
        cell["id"] = COLAB_TAG  # nbformat 4.5 requires cell ids
    if colab:
        cell = cells[colab[0]]
    _set_source(cell, colab_cell_source(url))
    cell["metadata"].setdefault("jupyter", {})["source_hidden"] = True  # collapsed in JupyterLab
    cell["metadata"]["cellView"] = "form"  # Colab shows the @title line instead of the code
    if not colab:
        cells.insert(1, cell)
    elif colab[0] != 1:
        raise ValueError(
            f"{name}: the Colab cell must be the first code cell (cell 1), it is cell {colab[0]}"
        )
    return nb


def expected(root: Path = ROOT) -> dict[Path, str]:
    """Every file this script writes, with the text it should have."""
    url = repository_url(root)
    names = sorted(p.name for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    out: dict[Path, str] = {}
    for name in names:
        path = root / "notebooks" / name
        nb = update_notebook(json.loads(path.read_text()), url, name)
        out[path] = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    readme = (root / "README.md").read_text()
    if BEGIN not in readme or END not in readme:
        raise ValueError(f"README.md needs the markers {BEGIN} and {END} where the badges go")
    head, _, tail = readme.partition(BEGIN)
    _, _, tail = tail.partition(END)
    out[root / "README.md"] = head + readme_block(url, names) + tail
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="report files that are out of date; write nothing"
    )
    args = parser.parse_args(argv)
    stale = [p for p, text in expected().items() if p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(ROOT)} (run: python scripts/course_links.py)")
        return 1 if stale else 0
    for p, text in expected().items():
        if p in stale:
            p.write_text(text)
            print(f"updated {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
