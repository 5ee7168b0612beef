"""Screenshot of a student notebook in JupyterLab (headless Chromium): an unsolved exercise, its first hint opened
and the check's "not attempted" message, for docs/img/student_exercise.png.

It serves a COPY of ``notebooks/00_start_here.ipynb`` from a temporary folder (the committed notebook is never
touched: autosave is off as well), runs all cells, opens "Hint 1" under the softmax exercise and photographs the
exercise's cells. It reuses the JupyterLab launcher of ``tests/test_browser.py`` (127.0.0.1, a random token, no
pop-ups); it needs Debian's ``/usr/bin/chromium`` and the ``playwright`` package (no browser download).

Usage (from the repository root)::

    python scripts/exercise_screenshot.py [--out docs/img/student_exercise.png]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
EXERCISE = "def softmax("


def _browser_helpers() -> Any:
    spec = importlib.util.spec_from_file_location("test_browser", ROOT / "tests" / "test_browser.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def screenshot(out: Path, timeout_s: float = 300) -> Path:
    """Run the student notebook 00 in JupyterLab, open the exercise's first hint, save the picture to ``out``."""
    from playwright.sync_api import sync_playwright

    helpers = _browser_helpers()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = work / "root"
        root.mkdir()
        shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
        proc, url, _log = helpers.start_lab(root, work)
        try:
            with sync_playwright() as pw:
                ctx = pw.chromium.launch_persistent_context(
                    str(work / "chromium-profile"),
                    executable_path=str(helpers.CHROMIUM),
                    headless=True,
                    args=helpers.CHROME_ARGS,
                    viewport={"width": 1500, "height": 1500},
                )
                try:
                    page = ctx.new_page()
                    page.set_default_timeout(timeout_s * 1000)
                    page.goto(url.format(path=NOTEBOOK.name))
                    page.wait_for_selector(".jp-StatusBar-TextItem >> text=/Idle/")
                    accept = page.locator(".jp-Dialog .jp-mod-accept")
                    if accept.count():
                        accept.first.click()
                    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).first.click()
                    page.wait_for_function(
                        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                                  .every(p => /\\[\\d+\\]/.test(p.textContent))"""
                    )
                    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
                    cells = page.locator(".jp-Notebook .jp-Cell")
                    texts = cells.all_inner_texts()
                    i = next(k for k, t in enumerate(texts) if EXERCISE in t)
                    prompt, code, hint, check = (cells.nth(k) for k in (i - 1, i, i + 1, i + 2))
                    hint.locator("summary", has_text="Hint 1").click()
                    page.wait_for_timeout(300)
                    prompt.scroll_into_view_if_needed()
                    page.evaluate("el => el.scrollIntoView({block: 'start'})", prompt.element_handle())
                    page.wait_for_timeout(300)
                    top, bottom = prompt.bounding_box(), check.bounding_box()
                    assert top is not None and bottom is not None
                    out.parent.mkdir(parents=True, exist_ok=True)
                    clip = {
                        "x": top["x"],
                        "y": top["y"],
                        "width": top["width"],
                        "height": bottom["y"] + bottom["height"] - top["y"],
                    }
                    page.screenshot(path=str(out), clip=clip)
                    message = check.inner_text()
                    assert "not attempted yet" in message, message
                finally:
                    ctx.close()
        finally:
            helpers.stop_lab(proc)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "student_exercise.png")
    args = parser.parse_args(argv)
    print(f"saved {screenshot(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
