"""The first five minutes (issue 22): ``make lab`` opens notebook 00 with nothing to dismiss.

Two parts:

- the built notebooks, read as files: the kernel metadata that JupyterLab would rewrite on opening (any difference
  marks a notebook modified before anything ran), the collapsed "On Colab only" cell, a title cell that shows text
  first and its badges last;
- ``make lab`` itself, started once for the module exactly as a learner starts it (the Makefile's recipe and
  ``.jupyter-course/``), with a fresh Jupyter configuration, data and runtime folder (so a fresh JupyterLab
  profile, and nothing of this machine's own Jupyter settings) and serving a temporary copy of ``notebooks/`` (the
  last one marked as executed with another Python version, which must not mark it modified either): its
  output must hold one URL, to notebook 00, on 127.0.0.1, with a token; then headless Chromium (``/usr/bin/chromium``
  through Playwright, no browser download) opens every notebook in turn and finds no dialog, no notification, no
  modified marker, the title as the first cell on screen, the learning objectives on the first screen and the
  Colab cell collapsed. Screenshots of 00 and 06 go to ``test-output/`` (``docs/img/first_screen_*.png`` are copies).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BUILT = sorted(
    [*(REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"), *(REPO / "solutions").glob("[0-9][0-9]_*.ipynb")]
)
STUDENT = [p for p in BUILT if p.parent.name == "notebooks"]
CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 800}  # a laptop's first screen
URL = re.compile(r"https?://[^\s\"'<>]+")
sys.path.insert(0, str(REPO / "scripts"))
import course_links  # noqa: E402  (scripts/ is not a package)


def _cells(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["cells"])


def _src(cell: dict[str, Any]) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else str(src)


# ---------------------------------------------------------------------------------------------- the files


def test_built_notebooks_carry_the_metadata_the_installed_kernel_writes() -> None:
    """JupyterLab sets ``kernelspec`` and ``language_info`` from the kernel when a notebook opens: they must match."""
    jupyter_client = pytest.importorskip("jupyter_client.kernelspec")
    ipkernel = pytest.importorskip("ipykernel.ipkernel")
    spec = jupyter_client.KernelSpecManager().get_kernel_spec("python3")
    want_spec = {"display_name": spec.display_name, "language": spec.language, "name": "python3"}
    want_info = dict(ipkernel.IPythonKernel.language_info)
    versions = set()
    for path in BUILT:
        nb = json.loads(path.read_text())
        where = f"{path.parent.name}/{path.name}"
        # "Python 3" instead of "Python 3 (ipykernel)" is enough to mark a notebook modified on opening
        assert nb["metadata"]["kernelspec"] == want_spec, where
        info = dict(nb["metadata"]["language_info"])
        versions.add(info.pop("version", None))
        assert info == {k: v for k, v in want_info.items() if k != "version"}, where
        assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5), where  # what JupyterLab 4 writes
        assert all(c.get("id") for c in nb["cells"]), f"{where}: a cell without an id gets one on opening"
    assert len(versions) == 1, f"the notebooks record different Python versions {sorted(map(str, versions))}"
    # The version is the one they were executed with; make lab serves them with this Python's (its contents
    # manager in .jupyter-course/; the browser test opens one notebook recorded with another version).


@pytest.mark.parametrize("path", BUILT, ids=lambda p: f"{p.parent.name[0]}{p.name[:2]}")
def test_the_colab_cell_is_one_collapsed_cell_that_says_what_it_is(path: Path) -> None:
    cells = _cells(path)
    colab = [c for c in cells if course_links.COLAB_TAG in c["metadata"].get("tags", [])]
    assert len(colab) == 1 and colab[0] is cells[1], "one Colab cell, right under the title"
    cell = colab[0]
    assert _src(cell).split("\n")[0] == f"# @title {course_links.COLAB_TITLE}"
    assert "On Colab only: install the course" in course_links.COLAB_TITLE
    assert cell["metadata"]["jupyter"]["source_hidden"] is True  # collapsed in JupyterLab
    assert cell["metadata"]["cellView"] == "form"  # Colab shows the title instead of the code
    assert len(_src(cell).split("\n")) <= 16


@pytest.mark.parametrize("path", BUILT, ids=lambda p: f"{p.parent.name[0]}{p.name[:2]}")
def test_the_title_shows_text_first_and_its_badges_last(path: Path) -> None:
    lines = _src(_cells(path)[0]).split("\n")
    assert lines[0].startswith(f"# {path.name[:2]} ")
    first_text = next(line for line in lines[1:] if line.strip())
    assert not first_text.lstrip().startswith(("[![", "![", "<img")), (
        f"an image before the text: {first_text}"
    )
    assert lines[-1].startswith(course_links.CLOUD), "the badges are the title cell's last line"
    assert sum(course_links.CLOUD in line for line in lines) == 1 and "colab-badge" not in "".join(lines[:-1])
    alts = re.findall(r"!\[([^\]]*)\]", lines[-1])
    assert alts == ["Open this notebook in Colab", "Launch the course on Binder"]  # what shows offline
    folder = path.parent.name
    assert f"/blob/main/{folder}/{path.name}" in lines[-1] and f"lab/tree/{folder}/{path.name}" in lines[-1]
    assert lines.index(lines[-1]) > next(i for i, line in enumerate(lines) if "Learning objectives" in line)


# ---------------------------------------------------------------------------------------------- make lab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``make lab`` on a free port, serving a copy of notebooks/, with fresh Jupyter folders; stopped at the end."""
    make, bindir = shutil.which("make"), Path(sys.executable).parent
    if make is None:
        pytest.skip("no `make` on PATH")
    if not (bindir / "jupyter").exists():
        pytest.skip(f"no jupyter next to {sys.executable} (make lab runs $(BIN)/jupyter)")
    work = tmp_path_factory.mktemp("lab")
    root = work / "root"
    root.mkdir()
    for path in STUDENT:
        shutil.copy(path, root / path.name)
    other = (
        root / STUDENT[-1].name
    )  # as if executed with another Python: make lab must still open it unmodified
    nb = json.loads(other.read_text())
    nb["metadata"]["language_info"]["version"] = "3.99.0"
    other.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    env = {**os.environ}
    for name in ("config", "data", "runtime"):  # none of this machine's Jupyter set-up: a fresh profile
        (work / name).mkdir()
        env[f"JUPYTER_{name.upper()}_DIR"] = str(work / name)
    env.pop("JUPYTER_TOKEN", None)
    port = _free_port()
    cmd = [
        make, "-s", "-C", str(REPO), "-o", ".venv/.installed-dev", "-o", ".venv/.doctor-ready",  # no install here
        "lab", f"PORT={port}", f"BIN={bindir}",
        f"LAB_ARGS=--ServerApp.root_dir={root} --LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    log = work / "make_lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline, url = time.monotonic() + 120, None
        while url is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"make lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            url = next((u for u in URL.findall(log.read_text()) if "token=" in u), None)
            time.sleep(0.3)
        if url is None:
            raise RuntimeError(f"make lab printed no URL within 120 s:\n{log.read_text()[-3000:]}")
        time.sleep(1.0)  # let the start-up messages finish
        yield {"url": url, "port": port, "log": log, "work": work, "root": root, "runtime": work / "runtime"}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # make and jupyter; jupyter shuts its kernels down
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_make_lab_prints_one_url_to_notebook_00_on_localhost_with_a_token(lab: dict[str, Any]) -> None:
    text = lab["log"].read_text()
    urls = set(URL.findall(text))
    assert len(urls) == 1, f"make lab printed {len(urls)} URLs: {sorted(urls)}\n{text}"
    url = urllib.parse.urlsplit(urls.pop())
    token = urllib.parse.parse_qs(url.query).get("token", [""])[0]
    assert (url.scheme, url.hostname, url.port) == ("http", "127.0.0.1", lab["port"])
    assert url.path == "/lab/tree/00_start_here.ipynb" and len(token) >= 32
    assert len(text.strip().splitlines()) <= 12, f"the URL is lost among the messages:\n{text}"
    (info,) = [json.loads(p.read_text()) for p in lab["runtime"].glob("jpserver-*.json")]
    assert info["url"].startswith(f"http://127.0.0.1:{lab['port']}/") and info["root_dir"] == str(lab["root"])
    base = f"http://127.0.0.1:{lab['port']}"
    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=10) as r:
        assert r.status == 200
    with pytest.raises(urllib.error.HTTPError) as err:  # the token is required
        urllib.request.urlopen(f"{base}/api/contents", timeout=10)
    assert err.value.code == 403


OPEN_ALL = """async (paths) => {
    // open every notebook at once (their kernels start side by side), then wait until each has settled
    const app = window.jupyterapp;
    const sleep = ms => new Promise(r => setTimeout(r, ms));
    const widgets = [];
    for (const path of paths) { widgets.push(await app.commands.execute('docmanager:open', {path, factory: 'Notebook'})); }
    const settle = async (w) => {
        const deadline = Date.now() + 150000;
        await w.context.ready; await w.sessionContext.ready;
        const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
        if (kernel) { await kernel.info; await kernel.spec; }
        while (kernel && kernel.status !== 'idle' && Date.now() < deadline) { await sleep(100); }
        return {id: w.id, path: w.context.path, kernel: kernel ? kernel.name : null, status: kernel ? kernel.status : null};
    };
    const states = await Promise.all(widgets.map(settle));
    await sleep(1000);  // JupyterLab applies the kernel's metadata right after its info reply
    return states.map((s, i) => ({...s, dirty: widgets[i].context.model.dirty}));
}"""

FIRST_SCREEN = """async (ids) => {
  // each notebook's tab in turn: bring it to the front, let it lay out, read what is on the screen
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const out = [];
  for (const id of ids) {
    window.jupyterapp.shell.activateById(id);
    await frame(); await frame(); await new Promise(r => setTimeout(r, 100));
    out.push((() => {
    const panel = document.getElementById(id);
    const height = window.innerHeight;
    const cells = [...panel.querySelectorAll('.jp-Notebook .jp-Cell')];
    const shown = cells.filter(c => { const b = c.getBoundingClientRect(); return b.height > 0 && b.bottom > 0; });
    const first = shown[0];
    const h1 = first.querySelector('h1');
    const objectives = [...first.querySelectorAll('strong, p')].find(e => /Learning objectives/.test(e.textContent));
    const colab = cells[1];
    const input = colab.querySelector('.jp-Cell-inputArea');
    return {
        firstIsMarkdown: first.classList.contains('jp-MarkdownCell'), firstIndex: cells.indexOf(first),
        heading: h1 ? h1.textContent : null,
        headingOnScreen: h1 ? h1.getBoundingClientRect().top >= 0 && h1.getBoundingClientRect().bottom <= height : false,
        objectivesOnScreen: objectives ? objectives.getBoundingClientRect().bottom <= height : false,
        colabHidden: !input || input.offsetParent === null || input.getBoundingClientRect().height === 0,
        colabPlaceholder: (colab.querySelector('.jp-InputPlaceholder') || {}).textContent || '',
        dirtyTabs: [...document.querySelectorAll('.lm-TabBar-tab.jp-mod-dirty .lm-TabBar-tabLabel')]
            .map(t => t.textContent),
        dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.textContent.slice(0, 200)),
        toasts: [...document.querySelectorAll('.Toastify__toast')].map(t => t.textContent.slice(0, 200)),
        notifications: (document.querySelector('.jp-Notification-Status') || {}).textContent || '',
    };
    })());
  }
  return out;
}"""


@pytest.mark.browser
def test_every_notebook_opens_clean_in_a_fresh_browser(lab: dict[str, Any]) -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            "no /usr/bin/chromium: install Debian's chromium (apt-get install chromium; .ci/run does)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (no browser download)"
    )
    before = {p: p.read_bytes() for p in STUDENT}
    shots = REPO / "test-output"
    shots.mkdir(exist_ok=True)
    seen: dict[str, dict[str, Any]] = {}
    timing: dict[str, float] = {}
    t0 = time.monotonic()
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(lab["work"] / "chromium-profile"),  # a fresh browser profile
            executable_path=str(CHROMIUM), headless=True, args=CHROME_ARGS, viewport=VIEWPORT,
        )  # fmt: skip
        try:
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            timing["browser"] = time.monotonic() - t0
            page.goto(lab["url"])  # the URL make lab printed: it opens notebook 00 by itself
            page.wait_for_function(
                "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                " && window.jupyterapp.shell.currentWidget.title.label === '00_start_here.ipynb'"
            )
            timing["lab"] = time.monotonic() - t0
            # notebook 00 alone first, as the learner sees it; then the others, their kernels starting side by side
            first = page.evaluate(OPEN_ALL, [STUDENT[0].name])
            page.screenshot(path=str(shots / "first_screen_00.png"))
            timing["00"] = time.monotonic() - t0
            states = first + page.evaluate(OPEN_ALL, [p.name for p in STUDENT[1:]])
            timing["all"] = time.monotonic() - t0
            screens = page.evaluate(FIRST_SCREEN, [state["id"] for state in states])
            seen = {state["path"]: {**state, **screen} for state, screen in zip(states, screens, strict=True)}
            six = next(state["id"] for state in states if state["path"].startswith("06"))
            page.evaluate("id => window.jupyterapp.shell.activateById(id)", six)
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "first_screen_06.png"))
            timing["checked"] = time.monotonic() - t0
        except Exception:
            page.screenshot(path=str(shots / "first_screen_failure.png"))
            raise
        finally:
            ctx.close()
    seconds = time.monotonic() - t0
    for name, s in seen.items():
        assert s["path"] == name and s["kernel"] == "python3" and s["status"] == "idle", s
        assert not s["dialogs"], f"{name}: a dialog: {s['dialogs']}"
        assert not s["toasts"] and s["notifications"].strip() in {"", "0"}, f"{name}: a pop-up: {s}"
        assert not s["dirty"] and name not in s["dirtyTabs"], f"{name} shows as modified on opening"
        assert s["firstIsMarkdown"] and s["firstIndex"] == 0 and s["headingOnScreen"], s
        assert (s["heading"] or "").startswith(name[:2]), s
        assert s["objectivesOnScreen"], f"{name}: the learning objectives are not on the first screen"
        assert s["colabHidden"], f"{name}: the Colab cell is not collapsed"
    assert list(seen) == [p.name for p in STUDENT]
    assert all(p.read_bytes() == b for p, b in before.items()), (
        "the browser test modified a committed notebook"
    )
    steps = ", ".join(f"{k} {v:.1f}" for k, v in timing.items())
    print(f"{len(seen)} notebooks opened clean in {seconds:.1f} s (s since the browser's start: {steps})")
