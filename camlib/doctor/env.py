"""Doctor checks of the software and hardware: Python, the torch/torchvision pair, the GPU, JupyterLab, widgets.

Also :class:`Diagnosis`, what every check returns (the course's own checks are in :mod:`camlib.doctor.course`;
the runner, report and CLI in :mod:`camlib.doctor`).
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from camlib.profile import ENV_VAR

WIDGETS_EXT = "@jupyter-widgets/jupyterlab-manager"
# ipywidgets major -> (jupyterlab_widgets major, jupyterlab-manager front-end major) that render its widgets
WIDGET_PAIRS = {8: (3, 5), 7: (1, 3)}
TORCH_FIX = (
    "pip install torch=={torch} torchvision=={vision}.* (a matching pair; the venv of `make install` has one)"
)


@dataclass(frozen=True)
class Diagnosis:
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


def ok(name: str, detail: str) -> Diagnosis:
    """A passed diagnosis: nothing to fix."""
    return Diagnosis(name, True, "info", detail)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _major(version: str) -> int:
    return int(version.split(".")[0])


def diagnose_python(version: Sequence[int] = tuple(sys.version_info[:3])) -> Diagnosis:
    """Python 3.11 or newer (tomllib, the typing the course uses)."""
    text = ".".join(map(str, version))
    if tuple(version[:2]) < (3, 11):
        return Diagnosis(
            "python", False, "error", f"Python {text} is too old", "install Python 3.11 or newer"
        )
    return ok("python", f"Python {text}")


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


def diagnose_torch(
    torch_version: str | None = None,
    torchvision_version: str | None = None,
    run_op: Callable[[], None] = _nms,
    lookup: Callable[[str], str | None] = _version,
) -> Diagnosis:
    """torch and torchvision installed as a pair: torchvision's compiled ``nms`` operator must run."""
    t = torch_version or torch.__version__
    tv = torchvision_version or lookup("torchvision")
    want = expected_torchvision(t) or "0.x"
    fix = TORCH_FIX.format(torch=t.split("+")[0], vision=want)
    if tv is None:
        return Diagnosis("torch", False, "error", f"torch {t}, torchvision not installed", fix)
    try:
        run_op()
    except Exception as exc:  # ImportError or RuntimeError "operator torchvision::nms does not exist"
        detail = (
            f"torch {t} and torchvision {tv} do not match: {str(exc).splitlines()[0] if str(exc) else exc!r}"
        )
        return Diagnosis("torch", False, "error", detail, fix)
    if not tv.startswith(want + "."):
        return Diagnosis(
            "torch", False, "warning", f"torch {t} usually pairs with torchvision {want}, not {tv}", fix
        )
    return ok("torch", f"torch {t}, torchvision {tv} (torchvision::nms runs)")


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


def diagnose_accelerator(
    detect: Callable[[], tuple[str, str, float | None] | None] = detect_accelerator,
    run_op: Callable[[str], None] = _tiny_op,
    nvidia_smi: str | None = None,
) -> Diagnosis:
    """A GPU (CUDA or MPS), its name and memory, and a convolution + matmul that actually run on it."""
    found = detect()
    if found is None:
        smi = nvidia_smi if nvidia_smi is not None else (shutil.which("nvidia-smi") or "")
        if smi and torch.version.cuda is None:
            return Diagnosis(
                "gpu", False, "warning", f"an NVIDIA GPU is here but torch {torch.__version__} is a CPU-only build",
                "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu126 (match your driver)",
            )  # fmt: skip
        return ok("gpu", "no GPU: training runs on the CPU and the fast profile is used")
    device, name, memory = found
    mem = f", {memory:.1f} GiB" if memory else ""
    try:
        run_op(device)
    except Exception as exc:
        return Diagnosis(
            "gpu", False, "error", f"{name}{mem}: a tiny {device} op failed: {str(exc).splitlines()[0]}",
            "install the torch build for this driver (see `nvidia-smi`), or use the CPU: "
            f"CUDA_VISIBLE_DEVICES= {ENV_VAR}=fast",
        )  # fmt: skip
    return ok("gpu", f"{device}: {name}{mem}; conv + matmul ran")


def diagnose_jupyterlab(
    version: str | None = None, *, lookup: Callable[[str], str | None] = _version
) -> Diagnosis:
    """JupyterLab 4 (the course's notebooks run elsewhere too, so its absence is only a warning)."""
    v = version or lookup("jupyterlab")
    fix = "pip install 'jupyterlab>=4.1' (or use VS Code / Colab)"
    if v is None:
        return Diagnosis("jupyterlab", False, "warning", "JupyterLab is not installed", fix)
    if _major(v) < 4:
        return Diagnosis("jupyterlab", False, "warning", f"JupyterLab {v} is older than 4", fix)
    return ok("jupyterlab", f"JupyterLab {v}")


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


def diagnose_widgets(
    versions: Mapping[str, str | None] | None = None,
    labextension_dirs: Sequence[Path] | None = None,
    config_dirs: Sequence[Path] | None = None,
    in_colab: bool | None = None,
) -> Diagnosis:
    """ipywidgets in the kernel and a front end that renders it (else: "Error displaying widget")."""
    v = {p: _version(p) for p in ("ipywidgets", "jupyterlab_widgets")} if versions is None else versions
    ipw, jlw = v.get("ipywidgets"), v.get("jupyterlab_widgets")
    err = partial(Diagnosis, "widgets", False, "error")
    if ipw is None or _major(ipw) not in WIDGET_PAIRS:
        return err(f"ipywidgets {ipw or 'is not installed'}", "pip install 'ipywidgets>=8.1'")
    if "google.colab" in sys.modules if in_colab is None else in_colab:
        return ok("widgets", f"ipywidgets {ipw}; Colab renders widgets itself")
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
    return ok("widgets", f"ipywidgets {ipw}, jupyterlab_widgets {jlw}, front end {WIDGETS_EXT} {ext_version}")


__all__ = [
    "Diagnosis", "TORCH_FIX", "WIDGETS_EXT", "WIDGET_PAIRS", "diagnose_accelerator", "diagnose_jupyterlab",
    "diagnose_python", "diagnose_torch", "diagnose_widgets", "detect_accelerator", "disabled_labextensions",
    "expected_torchvision", "find_labextension",
]  # fmt: skip
