"""The metric kernels still work from a read-only install: numba then caches in its user cache directory, and
where no cache directory can be written at all, camlib warns (naming NUMBA_CACHE_DIR) and compiles anyway.

Read-only is simulated so that it holds for root too (CI runs as root, which may write anywhere): a FILE named
``__pycache__`` next to the module, and ``XDG_CACHE_HOME`` pointing at a file, make both directories impossible
to create. The module is loaded on its own (no torch) and one small kernel is compiled, to keep this quick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TREE = Path(__file__).resolve().parents[1] / "camlib" / "metrics" / "levels.py"  # njit and a small kernel

SCRIPT = """
import importlib.util, sys, warnings
import numpy as np
spec = importlib.util.spec_from_file_location("tree", sys.argv[1])
tree = importlib.util.module_from_spec(spec)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    spec.loader.exec_module(tree)
starts = np.empty(9, np.int64)
tree.lookup_table(np.array([0.0, 0.5]), starts)
print(tree.count_le(0.7, np.array([0.0, 0.5]), starts, 0.0, 4.0), [str(w.message) for w in caught])
"""


def run(folder: Path, cache_home: Path) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env |= {"XDG_CACHE_HOME": str(cache_home), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder / "levels.py")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout, out.stderr


def test_a_read_only_install_caches_in_numbas_user_cache(tmp_path: Path) -> None:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    shutil.copy(TREE, folder / "levels.py")
    (folder / "__pycache__").write_text("")  # next to the module, nothing can be cached
    stdout, _ = run(folder, tmp_path / "cache")
    assert stdout.startswith("2 []"), stdout  # the right answer, no warning
    cached = list((tmp_path / "cache" / "numba").rglob("levels.*.nbi"))
    assert cached, "numba did not fall back to its user cache directory"


def test_no_writable_cache_warns_and_still_works(tmp_path: Path) -> None:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    shutil.copy(TREE, folder / "levels.py")
    (folder / "__pycache__").write_text("")
    (tmp_path / "not-a-folder").write_text("")
    stdout, _ = run(folder, tmp_path / "not-a-folder")
    assert stdout.startswith("2 ") and "NUMBA_CACHE_DIR" in stdout, stdout


def test_numba_is_a_dependency_and_opencv_an_extra() -> None:
    import re
    import tomllib
    from importlib.metadata import version

    meta = tomllib.loads((TREE.parents[2] / "pyproject.toml").read_text())["project"]
    deps = {re.split(r"[<>=]", d)[0]: d for d in meta["dependencies"]}
    extras = meta["optional-dependencies"]
    assert "numba" in deps and not any(d.startswith("opencv") for d in meta["dependencies"])
    for extra in ("wsol", "dev"):  # the dev extra so that CI runs the wsolevaluation comparison
        assert any(d.startswith("opencv-python-headless") for d in extras[extra]), extra

    def admits(requirement: str, installed: str) -> bool:  # ">=a.b" ranges only
        low = tuple(int(x) for x in requirement.split(">=")[1].split("."))
        return tuple(int(x) for x in installed.split(".")[: len(low)]) >= low

    assert admits(deps["numba"], version("numba"))
    opencv = next(d for d in extras["wsol"] if d.startswith("opencv"))
    assert admits(opencv, version("opencv-python-headless"))
