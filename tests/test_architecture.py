"""The house of rooms: no import cycles, no private names across rooms, rooms import only what the map allows.

Every ``import`` of every camlib module is read with ``ast`` (at module level, inside functions and under
``TYPE_CHECKING``). Importing ``camlib.a.b`` from outside ``camlib.a`` also runs ``camlib.a/__init__``, so that
edge counts too; a module never depends on the packages that contain it (they are initialised before it).
The allowed room-to-room imports are the table in ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from camlib.cam import METHODS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def module_files(package_dir: Path, name: str) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package in ``package_dir`` (named ``name``)."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [name, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return name in modules and modules[name].name == "__init__.py"


def imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, str, int]]:
    """``(imported module, imported name or "", line)`` of every import in ``path`` of a module of the tree."""
    package = name if _is_package(name, modules) else name.rpartition(".")[0]
    root = next(iter(modules)).split(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == root:
                    yield alias.name, "", node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] != root:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub, "", node.lineno) if sub in modules else (base, alias.name, node.lineno)


def edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules importing it runs (with the packages that contain them, except its own)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        for target, _, _ in imports(name, path, modules):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                t = ".".join(parts[:i])
                if t in modules and t not in own:
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or ``None``."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                return [*stack[stack.index(t) :], t]
            if t not in state and (found := visit(t)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def room(module: str) -> str:
    """The room of a module: ``camlib.cam.methods.gradcam`` -> ``cam``; the package itself -> ``camlib``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def violations(modules: dict[str, Path]) -> list[str]:
    """Private names imported across rooms, and a module importing its own package's public face."""
    found = []
    top = next(iter(modules)).split(".")[0]
    base = modules[top].parent
    for name, path in modules.items():
        for target, attr, line in imports(name, path, modules):
            where = f"{path.relative_to(base).as_posix()}:{line}"
            if attr.startswith("_") and room(target) != room(name) and attr != "__version__":
                found.append(f"{where} imports the private {target}.{attr} from another room")
            if attr and target != name and name.startswith(target + ".") and target.count("."):
                found.append(
                    f"{where} imports {attr} from its own package {target}: import the sibling module"
                )
    return found


MODULES = module_files(ROOT / "camlib", "camlib")


def test_camlib_has_no_import_cycle() -> None:
    cycle = find_cycle(edges(MODULES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_private_name_crosses_a_room() -> None:
    assert violations(MODULES) == []


def _plant(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        (tmp_path / "pkg" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / rel).write_text(text)
    return module_files(tmp_path / "pkg", "pkg")


def test_the_checks_catch_a_planted_cycle_and_a_private_import(tmp_path: Path) -> None:
    planted = _plant(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "from pkg.a.core import f\n",
            "a/core.py": "def f():\n    from pkg.b import g  # inside a function: still a dependency\n",
            "b.py": "import pkg.a.core\nfrom pkg.a.core import _hidden\ndef g(): ...\n",
        },
    )
    assert find_cycle(edges(planted)) == ["pkg.a", "pkg.a.core", "pkg.b", "pkg.a"]
    assert violations(planted) == ["b.py:2 imports the private pkg.a.core._hidden from another room"]
    ok = _plant(tmp_path / "ok", {"__init__.py": "", "a/__init__.py": "from pkg.a.core import f\n",
                                  "a/core.py": "def f(): ...\n", "b.py": "from pkg.a import f\n"})  # fmt: skip
    assert find_cycle(edges(ok)) is None and violations(ok) == []


# --- the map of the house ---------------------------------------------------------------------------------


def documented_rooms() -> dict[str, set[str]]:
    """``{room: rooms it may import}`` from the table of docs/ARCHITECTURE.md."""
    rows = re.findall(r"^\| `([a-z_]+)(?:/|\.py)` \| [^|]+ \| ([^|]*) \|$", DOC.read_text(), re.M)
    return {r: set(re.findall(r"`([a-z_]+)`", may)) for r, may in rows}


def actual_rooms() -> set[str]:
    return {p.stem if p.is_file() else p.name for p in (ROOT / "camlib").iterdir()} - {
        "__init__", "__main__", "py", "__pycache__"
    }  # fmt: skip


def test_the_architecture_document_lists_every_room() -> None:
    rooms = documented_rooms()
    assert set(rooms) == actual_rooms() - {"py"}, "docs/ARCHITECTURE.md and camlib/ list different rooms"
    for r in rooms:  # a package is written `name/`, a module `name.py`
        kind = "/" if (ROOT / "camlib" / r).is_dir() else ".py"
        assert f"`{r}{kind}`" in DOC.read_text(), f"{r} is a {'package' if kind == '/' else 'module'}"


def test_rooms_import_only_what_the_map_allows() -> None:
    allowed = documented_rooms()
    bad = []
    for module, targets in edges(MODULES).items():
        src = room(module)
        for t in targets:
            dst = room(t)
            if (
                src not in ("camlib", "__main__")
                and dst != src
                and dst != "camlib"
                and dst not in allowed[src]
            ):
                bad.append(f"{module} -> {t}")
    assert not bad, "imports the architecture map does not allow: " + ", ".join(sorted(bad))


def test_the_house_is_small() -> None:
    top = [p for p in (ROOT / "camlib").iterdir() if p.name != "__pycache__"]
    assert len(top) <= 20, f"camlib/ has {len(top)} entries: group them into rooms"
    long = {
        str(p.relative_to(ROOT)): n for p in MODULES.values() if (n := len(p.read_text().splitlines())) > 300
    }
    assert not long, f"modules over 300 lines (split them by concept): {long}"
    for name, path in MODULES.items():
        if path.name == "__init__.py" and name != "camlib":
            tree = ast.parse(path.read_text())
            names = [
                n
                for n in tree.body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"
            ]
            assert names, f"{path.relative_to(ROOT)} has no __all__: list the room's public names"


# --- one registry of map methods ---------------------------------------------------------------------------


def test_every_caller_accepts_exactly_the_registry(tmp_path: Path) -> None:
    import argparse
    import sys

    import torch

    from camlib import reproduce
    from camlib.data import Shapes
    from camlib.explorer import CAMExplorer
    from camlib.localization import localize
    from camlib.models import GAPNet, NetConfig

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_cam  # the benchmark times every registered method, by name

    torch.manual_seed(0)
    net = GAPNet(6, NetConfig(widths=(4, 8), downsample=2)).eval()
    ds = Shapes("val", size=4, image_size=32)
    names = sorted(METHODS)
    assert names == [
        "cam", "eigencam", "gradcam", "gradcampp", "hirescam", "layercam", "saliency", "scorecam", "xgradcam"
    ]  # fmt: skip
    parser = argparse.ArgumentParser()
    reproduce.add_cli(parser.add_subparsers())
    for name in names:
        assert localize(net, ds, name, batch_size=2).method == name
        assert CAMExplorer(net, ds, method=name).state.panels[0].method == name
        assert parser.parse_args(["reproduce", "--methods", name]).methods == [name]
    assert set(bench_cam.CAMLIB_METHODS) == set(names)
    assert set(bench_cam.camlib_calls(net, ds.batch([0]).images)) == {f"camlib {n}" for n in names}
    assert {r.method for r in reproduce.ROWS} <= {*names, reproduce.CENTER}
    for bad in ("grad_cam", "gradient", "center"):  # a spelling of another registry, and the model-free prior
        with pytest.raises(ValueError, match=f"unknown map method '{bad}'"):
            localize(net, ds, bad)
        with pytest.raises(ValueError, match=f"unknown method '{bad}'"):
            CAMExplorer(net, ds, method=bad)
        with pytest.raises(SystemExit):
            parser.parse_args(["reproduce", "--methods", bad])
