"""Notebook 06 in a real browser: JupyterLab + headless Chromium (Playwright), the explorer must render and react.

The committed notebook is copied into a temporary folder that JupyterLab serves (so the browser never saves
into the repository); the kernel imports camlib from the environment and finds the shipped checkpoints next
to the package. Chromium comes from the system (``/usr/bin/chromium``; ``.ci/run`` installs Debian's); no
browser is downloaded. The screenshot is saved in the test's folder and copied to ``test-output/explorer.png``.

Then the controls of issue 19 are driven as a learner would, each by mouse or keyboard, and each must change the
status line to the text that names its effect: the normalisation (min–max), the components (all, by keyboard),
the channels slider (by keyboard), the twin difference, the erased part and the method. Screenshots of the app
after them go to ``test-output/explorer2_*.png`` (the ones in ``docs/img/`` were copied from there).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "06_cam_explorer.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IOU = re.compile(r"IoU = ([0-9.]+)")

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lab_settings(folder: Path) -> Path:
    """A fresh user-settings folder: no pop-ups, no news or update check (nothing goes online), no autosave."""
    settings = {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "docmanager-extension/plugin": {"autosave": False},
        # start the notebook's kernel without asking; attach every cell (no lazy rendering off screen)
        "notebook-extension/tracker": {"autoStartDefaultKernel": True, "windowingMode": "none"},
    }
    for name, values in settings.items():
        path = folder / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


def start_lab(root: Path, work: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start JupyterLab on 127.0.0.1 at a free port with a random token; return (process, base URL, log)."""
    port, token = _free_port(), secrets.token_hex(16)
    for d in ("config", "runtime", "workspaces"):
        (work / d).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CAMLIB_PROFILE": os.environ.get("CAMLIB_PROFILE", "fast")}
    env.update(JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={_lab_settings(work / 'settings')}",
        f"--LabApp.workspaces_dir={work / 'workspaces'}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = work / "jupyterlab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return proc, f"{base}/lab/tree/{{path}}?token={token}", log
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    stop_lab(proc)
    raise RuntimeError(f"JupyterLab did not answer within 90 s:\n{log.read_text()[-3000:]}")


def stop_lab(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server (it shuts its kernels down on SIGTERM); SIGKILL if it does not exit in 15 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _change(page: Any, status: Any, act: Callable[[], None], expect: str, timeout_ms: int = 60_000) -> str:
    """Do ``act``, wait until the status line's text changes AND matches the regex ``expect``; return it."""
    before = status.text_content() or ""
    act()
    page.wait_for_function(
        "([el, before, pat]) => el.textContent !== before && new RegExp(pat).test(el.textContent)",
        arg=[status.element_handle(), before, expect],
        timeout=timeout_ms,
    )
    return status.text_content() or ""


#: the controls of issue 19 the browser drives: (name, the status text that shows its effect)
NEW_CONTROLS = {
    "norm": "min–max normalised",
    "components": "all components",
    "channels": "channels of",
    "twin": "twin difference|has no twin",
    "erase": "erased the part box|has no part box",
    "method": "\\(gradcam\\)",
}


def drive_new_controls(page: Any, explorer: Any, status: Any, work: Path) -> dict[str, Any]:
    """Drive the explorer's new controls one after the other; return each status text and the screenshots."""
    texts: dict[str, str] = {"start": status.text_content() or ""}
    shots: list[Path] = []
    page.set_viewport_size(
        {"width": 1400, "height": 1800}
    )  # the whole app fits: maps, curve, channels, status

    def shot(name: str) -> None:
        shots.append(work / f"explorer2_{name}.png")
        explorer.screenshot(path=str(shots[-1]))

    texts["norm"] = _change(
        page,
        status,
        lambda: explorer.locator(".cam-norm button", has_text="min–max").first.click(),
        NEW_CONTROLS["norm"],
    )

    def components_by_keyboard() -> (
        None
    ):  # a toggle button is reached by focus and pressed with the space bar
        explorer.locator(".cam-components button", has_text="all components").first.focus()
        page.keyboard.press("Space")

    texts["components"] = _change(page, status, components_by_keyboard, NEW_CONTROLS["components"])
    shot("norm_components")

    def channels_by_keyboard() -> None:
        explorer.locator(".cam-channels .noUi-handle").first.focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")

    texts["channels"] = _change(page, status, channels_by_keyboard, NEW_CONTROLS["channels"])
    page.wait_for_function(  # all four presses arrived: four channels named (three separators before the rest)
        "el => (el.querySelector('.cam-channels-text')?.textContent.match(/#\\d+/g) || []).length >= 4",
        arg=status.element_handle(),
        timeout=60_000,
    )
    texts["channels"] = status.text_content() or ""
    shot("channels")
    texts["twin"] = _change(
        page,
        status,
        lambda: explorer.locator(".cam-twin input[type=checkbox]").first.check(),
        NEW_CONTROLS["twin"],
    )
    texts["erase"] = _change(
        page,
        status,
        lambda: explorer.locator(".cam-erase select").first.select_option(label="the part box"),
        NEW_CONTROLS["erase"],
    )
    shot("twin_erase")
    texts["method"] = _change(
        page,
        status,
        lambda: explorer.locator(".cam-method select").first.select_option(label="gradcam"),
        NEW_CONTROLS["method"],
    )
    shot("gradcam")
    return {"texts": texts, "shots": shots}


def drive_explorer_notebook(notebook: Path, work: Path, timeout_s: float = 240) -> dict[str, Any]:
    """Open ``notebook`` (a copy) in JupyterLab in headless Chromium, run all, move the explorer's τ slider.

    Returns:
        ``iou_before``, ``iou_after`` (the IoU texts of the explorer's status line), ``status_before`` /
        ``status_after``, ``errors`` (``"Error displaying widget"`` count), ``tracebacks`` (error outputs),
        ``screenshot`` (PNG path of the explorer) and ``seconds`` per phase.
    """
    from playwright.sync_api import sync_playwright

    root = work / "root"
    root.mkdir(parents=True)
    shutil.copy(notebook, root / notebook.name)
    t0 = time.monotonic()
    proc, url, log = start_lab(root, work)
    timing = {"server": time.monotonic() - t0}
    out: dict[str, Any] = {"log": log}
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                str(work / "chromium-profile"),
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROME_ARGS,
                viewport={"width": 1400, "height": 1000},
            )
            try:
                page = ctx.new_page()
                page.set_default_timeout(timeout_s * 1000)
                page.goto(url.format(path=notebook.name))
                page.wait_for_selector(
                    ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']"
                )
                page.wait_for_selector(".jp-StatusBar-TextItem >> text=/Idle/")  # the kernel is connected
                accept = page.locator(".jp-Dialog .jp-mod-accept")
                if (
                    accept.count()
                ):  # a kernel dialog despite autoStartDefaultKernel: take the preferred kernel
                    accept.first.click()
                timing["kernel"] = time.monotonic() - t0
                page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).first.click()
                page.wait_for_selector(".cam-explorer .widget-slider", state="visible")
                page.wait_for_function(  # every visible prompt numbered (a collapsed cell shows none)
                    """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea .jp-InputPrompt')]
                              .filter(p => p.offsetParent !== null && !p.closest('.jp-Placeholder'))
                              .every(p => /\\[\\d+\\]/.test(p.textContent))"""
                )
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
                timing["run_all"] = time.monotonic() - t0
                explorer = page.locator(".cam-explorer").first
                status = explorer.locator(".cam-status")
                explorer.scroll_into_view_if_needed()
                page.wait_for_function("el => /IoU = /.test(el.textContent)", arg=status.element_handle())
                out["status_before"] = status.text_content() or ""
                out["iou_before"] = IOU.findall(out["status_before"])
                explorer.locator(".cam-tau .noUi-handle").first.click()
                text, presses = out["status_before"], 0
                while presses < 16:  # one step of 0.05 at a time until the IoU moves (at most up to 1.0)
                    page.keyboard.press("ArrowRight")
                    presses += 1
                    page.wait_for_function(
                        "([el, before]) => el.textContent !== before",
                        arg=[status.element_handle(), text],
                        timeout=30_000,
                    )  # the kernel redrew: the status line shows the new τ
                    text = status.text_content() or ""
                    if IOU.findall(text) != out["iou_before"]:
                        break
                out["presses"], out["status_after"], out["iou_after"] = presses, text, IOU.findall(text)
                out["errors"] = page.get_by_text("Error displaying widget").count()
                out["tracebacks"] = page.locator(
                    ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                    has_text="Traceback",
                ).count()
                out["screenshot"] = work / "explorer.png"
                explorer.screenshot(path=str(out["screenshot"]))
                page.screenshot(path=str(work / "lab.png"))
                timing["slider"] = time.monotonic() - t0
                out["new_controls"] = drive_new_controls(page, explorer, status, work)
                out["errors_after"] = page.get_by_text("Error displaying widget").count()
                out["tracebacks_after"] = page.locator(
                    ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                    has_text="Traceback",
                ).count()
                timing["new_controls"] = time.monotonic() - t0
            except Exception:
                page.screenshot(path=str(work / "failure.png"))  # what the browser showed when it failed
                raise
            finally:
                ctx.close()  # closes without saving: the notebook copy is thrown away anyway
    finally:
        stop_lab(proc)
    out["seconds"] = timing
    return out


def test_explorer_in_a_real_browser(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            "no /usr/bin/chromium: install Debian's chromium (apt-get install chromium; .ci/run does)"
        )
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK.relative_to(REPO)} does not exist yet")
    from camlib import zoo

    missing = {"gap", "gmp"} - set(zoo.available())
    if missing:
        pytest.skip(f"notebook 06 needs the shipped checkpoints {sorted(missing)} in {zoo.zoo_dir()}")
    before = NOTEBOOK.read_bytes()
    res = drive_explorer_notebook(NOTEBOOK, tmp_path)
    assert NOTEBOOK.read_bytes() == before, "the browser test must not modify the committed notebook"
    shots = REPO / "test-output"
    shots.mkdir(exist_ok=True)
    shutil.copy(res["screenshot"], shots / "explorer.png")
    assert res["errors"] == 0, "a widget failed to render ('Error displaying widget')"
    assert res["tracebacks"] == 0, f"a cell raised; see {tmp_path / 'lab.png'}"
    assert res["iou_before"] and res["iou_after"], f"no IoU in the status line: {res['status_before']!r}"
    assert res["iou_before"] != res["iou_after"], (
        f"moving τ did not change the IoU: {res['status_before']!r} -> {res['status_after']!r}"
    )
    new = res["new_controls"]
    for shot in new["shots"]:
        shutil.copy(shot, shots / shot.name)
    texts = new["texts"]
    order = ["start", *NEW_CONTROLS]
    for before, control in zip(order, order[1:], strict=False):
        assert texts[control] != texts[before], f"{control}: the status line did not change"
        assert re.search(NEW_CONTROLS[control], texts[control]), f"{control}: {texts[control]!r}"
    assert res["errors_after"] == 0 and res["tracebacks_after"] == 0, (
        f"see {tmp_path / 'explorer2_gradcam.png'}"
    )
    print(f"browser timings (s since start): {res['seconds']}")
    for control in NEW_CONTROLS:
        print(f"{control}: {texts[control]}")
