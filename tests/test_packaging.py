"""One dependency list: pyproject.toml. environment.yml must install the same thing."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import camlib

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _environment(name: str = "environment.yml") -> tuple[list[str], list[str]]:
    """(conda dependencies, pip dependencies) of a conda environment file, parsed without a YAML library."""
    conda: list[str] = []
    pip: list[str] = []
    section = None
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line.startswith(" "):
            section = line.rstrip(":").strip()
            continue
        item = line.strip()
        if section == "dependencies" and item.startswith("- pip:"):
            section = "pip"
        elif section == "dependencies" and item.startswith("- "):
            conda.append(item[2:].strip())
        elif section == "pip" and item.startswith("- "):
            pip.append(item[2:].strip().strip("'\""))
    return conda, pip


def test_pyproject_declares_the_course_dependencies() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {_name(d): d for d in meta["dependencies"]}
    for needed in ("torch", "torchvision", "jupyterlab", "ipywidgets", "matplotlib", "tqdm"):
        assert needed in deps, f"{needed} missing from [project.dependencies]"
    dev = {_name(d) for d in meta["optional-dependencies"]["dev"]}
    assert {"pytest", "nbval", "hypothesis", "ruff", "mypy"} <= dev
    # the ranges admit the versions installed here (torch 2.14.1 / torchvision 0.29.1 on the course machines)
    assert re.fullmatch(r"torch>=2\.\d+", deps["torch"]) and re.fullmatch(
        r"torchvision>=0\.\d+", deps["torchvision"]
    )
    assert meta["version"] == camlib.__version__


def test_environment_yml_installs_the_same_thing_as_pyproject() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda, pip = _environment()
    # conda provides only the interpreter and pip; every library comes from pyproject via `-e .`
    assert sorted(_name(c) for c in conda) == ["pip", "python"], conda
    python = next(c for c in conda if _name(c) == "python")
    minor = int(python.split("=")[1].split(".")[1])
    required = int(re.search(r">=3\.(\d+)", meta["requires-python"]).group(1))  # type: ignore[union-attr]
    assert minor >= required, f"environment.yml pins {python}, pyproject requires {meta['requires-python']}"
    assert pip == ["-e ."], f"environment.yml must install the project itself (pip: - -e .), got {pip}"


def test_binder_environment_is_the_same_project_with_cpu_wheels() -> None:
    conda, pip = _environment()
    binder_conda, binder_pip = _environment("binder/environment.yml")
    assert binder_conda == conda
    # the project itself (paths in a conda pip section are relative to the file), torch from the CPU index
    assert binder_pip == ["--extra-index-url https://download.pytorch.org/whl/cpu", "-e .."], binder_pip


def test_every_camlib_module_is_small_enough_to_read_in_one_sitting() -> None:
    # STYLE.md: "keep camlib modules under ~350 lines; split by concept". The guard allows a little slack.
    sizes = {
        p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines())
        for p in (ROOT / "camlib").rglob("*.py")
    }
    too_long = {name: n for name, n in sizes.items() if n > 400}
    assert not too_long, f"split these modules by concept: {too_long}"
