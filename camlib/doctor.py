"""Preflight for the course: ``python -m camlib doctor [--json]``, also run from notebook 00.

Each check is a small function returning a :class:`CheckResult`; everything it looks at comes in through
its parameters (versions, probes, paths), so each failure can be simulated in a test. A result is ``ok``,
or a problem of level ``"error"`` (the course will not run: exit code 1) or ``"warning"`` (it runs, with a
caveat), with a one-line ``fix``. ``"info"`` results are facts worth knowing (no GPU: the fast profile).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import multiprocessing
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from camlib.data.folder import data_dir
from camlib.prefetch import GROUPS, REGISTRY, is_present, sha256_file
from camlib.profile import ENV_VAR, Profile, accelerator_available, get_profile

WIDGETS_EXT = "@jupyter-widgets/jupyterlab-manager"
# ipywidgets major -> (jupyterlab_widgets major, jupyterlab-manager front-end major) that render its widgets
WIDGET_PAIRS = {8: (3, 5), 7: (1, 3)}
TORCH_FIX = (
    "pip install torch=={torch} torchvision=={vision}.* (a matching pair; the venv of `make install` has one)"
)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: short name of what was checked.
        ok: True when nothing needs doing.
        level: ``"error"`` (the course will not run), ``"warning"`` (it will, with a caveat) or ``"info"``.
        detail: what was found.
        fix: one line that fixes the problem (empty when ``ok``).
    """

    name: str
    ok: bool
    level: str
    detail: str
    fix: str = ""


def _ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, True, "info", detail)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _major(version: str) -> int:
    return int(version.split(".")[0])


def check_python(version: Sequence[int] = tuple(sys.version_info[:3])) -> CheckResult:
    """Python 3.11 or newer (tomllib, the typing the course uses)."""
    text = ".".join(map(str, version))
    if tuple(version[:2]) < (3, 11):
        return CheckResult(
            "python", False, "error", f"Python {text} is too old", "install Python 3.11 or newer"
        )
    return _ok("python", f"Python {text}")


def expected_torchvision(torch_version: str) -> str | None:
    """The torchvision minor series built for a torch release (torch 2.N pairs with torchvision 0.(N+15)).

    >>> expected_torchvision("2.14.1+cu130"), expected_torchvision("1.13.1")
    ('0.29', None)
    """
    parts = torch_version.split("+")[0].split(".")
    return f"0.{int(parts[1]) + 15}" if parts[0] == "2" and len(parts) > 1 else None


def _nms() -> None:
    import torchvision

    torchvision.ops.nms(torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1]]), torch.tensor([0.9, 0.8]), 0.5)


def check_torch(
    torch_version: str | None = None,
    torchvision_version: str | None = None,
    run_op: Callable[[], None] = _nms,
    lookup: Callable[[str], str | None] = _version,
) -> CheckResult:
    """torch and torchvision installed as a pair: torchvision's compiled ``nms`` operator must run."""
    t = torch_version or torch.__version__
    tv = torchvision_version or lookup("torchvision")
    want = expected_torchvision(t) or "0.x"
    fix = TORCH_FIX.format(torch=t.split("+")[0], vision=want)
    if tv is None:
        return CheckResult("torch", False, "error", f"torch {t}, torchvision not installed", fix)
    try:
        run_op()
    except Exception as exc:  # ImportError or RuntimeError "operator torchvision::nms does not exist"
        detail = (
            f"torch {t} and torchvision {tv} do not match: {str(exc).splitlines()[0] if str(exc) else exc!r}"
        )
        return CheckResult("torch", False, "error", detail, fix)
    if not tv.startswith(want + "."):
        return CheckResult(
            "torch", False, "warning", f"torch {t} usually pairs with torchvision {want}, not {tv}", fix
        )
    return _ok("torch", f"torch {t}, torchvision {tv} (torchvision::nms runs)")


def detect_accelerator() -> tuple[str, str, float | None] | None:
    """``(device, name, memory in GiB)`` of the first CUDA or MPS device, or ``None``."""
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return "cuda", props.name, props.total_memory / 2**30
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        rec = getattr(getattr(torch, "mps", None), "recommended_max_memory", None)
        return "mps", "Apple GPU (MPS)", rec() / 2**30 if rec else None
    return None


def _tiny_op(device: str) -> None:
    x = torch.randn(2, 3, 16, 16, device=device)
    w = torch.randn(4, 3, 3, 3, device=device)
    y = torch.nn.functional.conv2d(x, w).flatten(1) @ torch.randn(4 * 14 * 14, 5, device=device)  # (2, 5)
    float(y.sum())  # forces the kernels to run


def check_accelerator(
    detect: Callable[[], tuple[str, str, float | None] | None] = detect_accelerator,
    run_op: Callable[[str], None] = _tiny_op,
    nvidia_smi: str | None = None,
) -> CheckResult:
    """A GPU (CUDA or MPS), its name and memory, and a convolution + matmul that actually run on it."""
    found = detect()
    if found is None:
        smi = nvidia_smi if nvidia_smi is not None else (shutil.which("nvidia-smi") or "")
        if smi and torch.version.cuda is None:
            return CheckResult(
                "gpu", False, "warning", f"an NVIDIA GPU is here but torch {torch.__version__} is a CPU-only build",
                "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu126 (match your driver)",
            )  # fmt: skip
        return _ok("gpu", "no GPU: training runs on the CPU and the fast profile is used")
    device, name, memory = found
    mem = f", {memory:.1f} GiB" if memory else ""
    try:
        run_op(device)
    except Exception as exc:
        return CheckResult(
            "gpu", False, "error", f"{name}{mem}: a tiny {device} op failed: {str(exc).splitlines()[0]}",
            "install the torch build for this driver (see `nvidia-smi`), or use the CPU: "
            f"CUDA_VISIBLE_DEVICES= {ENV_VAR}=fast",
        )  # fmt: skip
    return _ok("gpu", f"{device}: {name}{mem}; conv + matmul ran")


def check_jupyterlab(
    version: str | None = None, *, lookup: Callable[[str], str | None] = _version
) -> CheckResult:
    """JupyterLab 4 (the course's notebooks run elsewhere too, so its absence is only a warning)."""
    v = version or lookup("jupyterlab")
    fix = "pip install 'jupyterlab>=4.1' (or use VS Code / Colab)"
    if v is None:
        return CheckResult("jupyterlab", False, "warning", "JupyterLab is not installed", fix)
    if _major(v) < 4:
        return CheckResult("jupyterlab", False, "warning", f"JupyterLab {v} is older than 4", fix)
    return _ok("jupyterlab", f"JupyterLab {v}")


def find_labextension(dirs: Sequence[Path], name: str = WIDGETS_EXT) -> tuple[Path, str] | None:
    """The first ``<dir>/<name>/package.json`` in JupyterLab's search order, with its version."""
    for d in dirs:
        pkg = Path(d) / name / "package.json"
        if pkg.is_file():
            return pkg.parent, str(json.loads(pkg.read_text()).get("version", "0"))
    return None


def disabled_labextensions(config_dirs: Sequence[Path]) -> set[str]:
    """Extensions disabled in any ``labconfig/page_config.json`` (what ``jupyter labextension disable`` writes)."""
    out: set[str] = set()
    for d in config_dirs:
        page = Path(d) / "labconfig" / "page_config.json"
        if page.is_file():
            disabled = json.loads(page.read_text()).get("disabledExtensions", {})
            out |= {k for k, v in disabled.items() if v} if isinstance(disabled, dict) else set(disabled)
    return out


def _jupyter_dirs(kind: str) -> list[Path]:
    try:
        from jupyter_core.paths import jupyter_config_path, jupyter_path
    except ImportError:
        return []
    return [Path(p) for p in (jupyter_path("labextensions") if kind == "ext" else jupyter_config_path())]


def check_widgets(
    versions: Mapping[str, str | None] | None = None,
    labextension_dirs: Sequence[Path] | None = None,
    config_dirs: Sequence[Path] | None = None,
    in_colab: bool | None = None,
) -> CheckResult:
    """ipywidgets in the kernel and a front end that renders it (else: "Error displaying widget")."""
    v = {p: _version(p) for p in ("ipywidgets", "jupyterlab_widgets")} if versions is None else versions
    ipw, jlw = v.get("ipywidgets"), v.get("jupyterlab_widgets")
    err = partial(CheckResult, "widgets", False, "error")
    if ipw is None or _major(ipw) not in WIDGET_PAIRS:
        return err(f"ipywidgets {ipw or 'is not installed'}", "pip install 'ipywidgets>=8.1'")
    if "google.colab" in sys.modules if in_colab is None else in_colab:
        return _ok("widgets", f"ipywidgets {ipw}; Colab renders widgets itself")
    want_jlw, want_ext = WIDGET_PAIRS[_major(ipw)]
    fix = f"pip install 'ipywidgets=={ipw}' 'jupyterlab_widgets>={want_jlw},<{want_jlw + 1}', then restart JupyterLab"
    if jlw is None or _major(jlw) != want_jlw:
        return err(f"ipywidgets {ipw} needs jupyterlab_widgets {want_jlw}.x, found {jlw}", fix)
    ext = find_labextension(labextension_dirs if labextension_dirs is not None else _jupyter_dirs("ext"))
    if ext is None:
        no_ext = f"the front end {WIDGETS_EXT} is not in any labextensions folder: widgets will not display"
        return err(no_ext, "pip install --force-reinstall jupyterlab_widgets")
    where, ext_version = ext
    if _major(ext_version) != want_ext:
        return err(
            f"front end {WIDGETS_EXT} {ext_version} cannot render ipywidgets {ipw}",
            f"remove {where}, then {fix}",
        )
    configs = config_dirs if config_dirs is not None else _jupyter_dirs("config")
    if WIDGETS_EXT in disabled_labextensions(configs):
        return err(f"{WIDGETS_EXT} is disabled", f"jupyter labextension enable {WIDGETS_EXT}")
    return _ok(
        "widgets", f"ipywidgets {ipw}, jupyterlab_widgets {jlw}, front end {WIDGETS_EXT} {ext_version}"
    )


def check_profile(
    get: Callable[[], Profile] = get_profile, accelerator: Callable[[], bool] = accelerator_available
) -> CheckResult:
    """The profile in force (``CAMLIB_PROFILE``), and whether it suits this machine."""
    try:
        p = get()
    except ValueError as exc:
        return CheckResult(
            "profile", False, "error", str(exc).split(":")[0], f"unset {ENV_VAR}, or set it to fast"
        )
    detail = f"{p.name}: {p.image_size} px, {p.train_size} training images, {p.epochs} epochs, batch {p.batch_size}"
    if p.name == "full" and not accelerator():
        return CheckResult("profile", False, "warning", f"{detail}, on a CPU: hours", f"set {ENV_VAR}=fast")
    return _ok("profile", detail)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (what ``git checkout`` takes)."""
    try:
        return path.resolve().relative_to(Path(__file__).resolve().parents[1]).as_posix()
    except ValueError:
        return str(path)


def _zoo_entries() -> list[tuple[str, Path, str, str]]:
    from camlib import zoo

    return [(n, zoo.entry(n).path, zoo.entry(n).sha256, zoo.entry(n).command) for n in zoo.available()]


def check_checkpoints(
    entries: Callable[[], list[tuple[str, Path, str, str]]] = _zoo_entries,
) -> CheckResult:
    """The shipped checkpoints (``camlib.zoo``) present, each with its sha256 verified."""
    try:
        found = entries()
    except Exception as exc:  # the zoo module is missing, or its manifest is unreadable
        return CheckResult(
            "checkpoints", False, "warning", f"cannot read the checkpoint zoo: {exc}",
            "git checkout -- camlib/zoo.py data/checkpoints (restore them), or reinstall: pip install -e .",
        )  # fmt: skip
    if not found:
        return _ok("checkpoints", "no shipped checkpoints registered: notebooks train their own")
    for name, path, sha, command in found:
        problem = "is missing" if not path.is_file() else None
        if problem is None and sha256_file(path) != sha:
            lfs = path.read_bytes()[:40].startswith(b"version https://git-lfs")
            problem = (
                "is a Git LFS pointer (run `git lfs pull`)"
                if lfs
                else "fails its sha256 (damaged or modified)"
            )
        if problem:
            return CheckResult(
                "checkpoints", False, "error", f"checkpoint {name!r} ({path.name}) {problem}",
                f"git checkout -- {_shown(path)}, or rebuild it: {command}",
            )  # fmt: skip
    return _ok("checkpoints", f"{len(found)} verified: {', '.join(n for n, *_ in found)}")


def check_datasets(data: Path | None = None) -> CheckResult:
    """The optional real datasets and weights: which are there (a half-fetched group is a warning)."""
    parts, partial = [], []
    for group, names in GROUPS.items():
        present = [is_present(REGISTRY[n], data=data) for n in names]
        parts.append(
            f"{group} {'present' if all(present) else 'partly there' if any(present) else 'not fetched'}"
        )
        if any(present) and not all(present):
            partial.append(group)
    detail = "; ".join(parts) + " (optional: the course runs on its embedded dataset)"
    if partial:
        return CheckResult(
            "datasets", False, "warning", detail, f"python -m camlib prefetch {' '.join(partial)}"
        )
    return _ok("datasets", detail)


def check_data_writable(data: Path | None = None) -> CheckResult:
    """``data/`` can be written (caches, fetched datasets, new checkpoints)."""
    d = data if data is not None else data_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".doctor-"):
            pass
    except OSError as exc:
        return CheckResult(
            "data folder", False, "error", f"cannot write to {_shown(d)}: {exc.strerror or exc}",
            "run from a folder you own, or set CAMLIB_DATA to a writable folder (export CAMLIB_DATA=~/camlib-data)",
        )  # fmt: skip
    return _ok("data folder", f"{_shown(d)} is writable")


class _Tiny(torch.utils.data.Dataset[torch.Tensor]):
    """Eight scalars, importable by spawned workers."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor(float(i))


def _run_loader(workers: int, timeout: float) -> None:
    loader = torch.utils.data.DataLoader(_Tiny(), batch_size=4, num_workers=workers, timeout=timeout)
    total = sum(float(b.sum()) for b in loader)
    if total != 28.0:
        raise RuntimeError(f"workers returned wrong data (sum {total}, expected 28)")


def check_workers(
    workers: int = 2,
    timeout: float = 30.0,
    start_method: str | None = None,
    profile_workers: int | None = None,
    run: Callable[[int, float], None] = _run_loader,
) -> CheckResult:
    """A DataLoader with worker processes runs here (on spawn platforms, scripts need a ``__main__`` guard)."""
    method = (
        start_method
        or multiprocessing.get_start_method(allow_none=True)
        or ("fork" if sys.platform.startswith("linux") else "spawn")
    )
    needed = profile_workers if profile_workers is not None else get_profile().num_workers
    try:
        run(workers, timeout)
    except Exception as exc:
        level = "error" if needed > 0 else "warning"
        return CheckResult(
            "dataloader", False, level, f"{workers} workers ({method}) failed: {str(exc).splitlines()[0]}",
            "use num_workers=0: get_profile(num_workers=0), or set CAMLIB_PROFILE=fast",
        )  # fmt: skip
    note = "" if method == "fork" else "; scripts need `if __name__ == '__main__':`, notebooks num_workers=0"
    return _ok("dataloader", f"{workers} workers ran ({method} start){note}")


DEFAULT_CHECKS: tuple[Callable[[], CheckResult], ...] = (
    check_python, check_torch, check_accelerator, check_jupyterlab, check_widgets, check_profile,
    check_checkpoints, check_datasets, check_data_writable, check_workers,
)  # fmt: skip


def run_checks(checks: Sequence[Callable[[], CheckResult]] = DEFAULT_CHECKS) -> list[CheckResult]:
    """Run every check; a check that crashes becomes an error result instead of stopping the others."""
    results = []
    for check in checks:
        try:
            results.append(check())
        except Exception as exc:
            name = getattr(check, "__name__", "check").removeprefix("check_")
            results.append(
                CheckResult(name, False, "error", f"the check crashed: {exc!r}", "report this output")
            )
    return results


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 when the course will run (no errors; warnings allowed), else 1."""
    return 1 if any(not r.ok and r.level == "error" for r in results) else 0


def format_report(results: Sequence[CheckResult], encoding: str | None = None) -> str:
    """A human-readable table: one line per check, the fix under each problem, a verdict."""
    enc = encoding or getattr(sys.stdout, "encoding", None) or "ascii"
    fancy = "✓✗⚠".encode(enc, errors="replace").decode(enc) == "✓✗⚠"
    sym = {"ok": "✓", "error": "✗", "warning": "⚠"} if fancy else {"ok": "ok", "error": "XX", "warning": "!!"}
    width = max(len(r.name) for r in results) if results else 0
    lines = ["camlib doctor: is this machine ready for the CAM course?"]
    for r in results:
        lines.append(f"  {sym['ok' if r.ok else r.level]} {r.name:<{width}}  {r.detail}")
        if not r.ok and r.fix:
            lines.append(f"    {' ' * width}  fix: {r.fix}")
    errors = sum(not r.ok and r.level == "error" for r in results)
    warnings = sum(not r.ok and r.level == "warning" for r in results)
    verdict = "READY" if errors == 0 else f"NOT READY: {errors} error{'s' * (errors != 1)}"
    lines.append(f"{verdict} ({warnings} warning{'s' * (warnings != 1)})")
    return "\n".join(lines)


def report(checks: Sequence[Callable[[], CheckResult]] = DEFAULT_CHECKS) -> list[CheckResult]:
    """Run the checks and print the table (for notebook 00)."""
    results = run_checks(checks)
    print(format_report(results))
    return results


def _cli(args: argparse.Namespace) -> int:
    results = run_checks(DEFAULT_CHECKS)  # looked up now, so tests can swap the list
    print(json.dumps([asdict(r) for r in results], indent=2) if args.json else format_report(results))
    return exit_code(results)


def add_cli(subparsers: Any) -> None:
    """Register ``doctor`` with the course CLI."""
    p = subparsers.add_parser("doctor", help="check this machine for the course; each problem with its fix")
    p.add_argument("--json", action="store_true", help="print the results as a JSON list")
    p.set_defaults(func=_cli)


__all__ = ["CheckResult", "DEFAULT_CHECKS", "exit_code", "format_report", "report", "run_checks"]
