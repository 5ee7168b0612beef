"""Doctor checks of the course's own setup: the profile, shipped checkpoints, datasets, ``data/``, DataLoader workers.

Each returns a :class:`~camlib.doctor.env.Diagnosis`; the runner, report and CLI are in :mod:`camlib.doctor`.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from camlib import zoo
from camlib.doctor.env import Diagnosis, ok
from camlib.files import data_dir, sha256_file, shown
from camlib.prefetch import GROUPS, REGISTRY, is_present
from camlib.profile import ENV_VAR, Profile, accelerator_available, get_profile


def diagnose_profile(
    get: Callable[[], Profile] = get_profile, accelerator: Callable[[], bool] = accelerator_available
) -> Diagnosis:
    """The profile in force (``CAMLIB_PROFILE``), and whether it suits this machine."""
    try:
        p = get()
    except ValueError as exc:
        return Diagnosis(
            "profile", False, "error", str(exc).split(":")[0], f"unset {ENV_VAR}, or set it to fast"
        )
    detail = f"{p.name}: {p.image_size} px, {p.train_size} training images, {p.epochs} epochs, batch {p.batch_size}"
    if p.name == "full" and not accelerator():
        return Diagnosis("profile", False, "warning", f"{detail}, on a CPU: hours", f"set {ENV_VAR}=fast")
    return ok("profile", detail)


def _zoo_entries() -> list[tuple[str, Path, str, str]]:
    return [(n, zoo.entry(n).path, zoo.entry(n).sha256, zoo.entry(n).command) for n in zoo.available()]


def diagnose_checkpoints(
    entries: Callable[[], list[tuple[str, Path, str, str]]] = _zoo_entries,
) -> Diagnosis:
    """The shipped checkpoints (``camlib.zoo``) present, each with its sha256 verified."""
    try:
        found = entries()
    except Exception as exc:  # the zoo module is missing, or its manifest is unreadable
        return Diagnosis(
            "checkpoints", False, "warning", f"cannot read the checkpoint zoo: {exc}",
            "git checkout -- camlib/zoo.py data/checkpoints (restore them), or reinstall: pip install -e .",
        )  # fmt: skip
    if not found:
        return ok("checkpoints", "no shipped checkpoints registered: notebooks train their own")
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
            return Diagnosis(
                "checkpoints", False, "error", f"checkpoint {name!r} ({path.name}) {problem}",
                f"git checkout -- {shown(path)}, or rebuild it: {command}",
            )  # fmt: skip
    return ok("checkpoints", f"{len(found)} verified: {', '.join(n for n, *_ in found)}")


def diagnose_datasets(data: Path | None = None) -> Diagnosis:
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
        return Diagnosis(
            "datasets", False, "warning", detail, f"python -m camlib prefetch {' '.join(partial)}"
        )
    return ok("datasets", detail)


def diagnose_data_writable(data: Path | None = None) -> Diagnosis:
    """``data/`` can be written (caches, fetched datasets, new checkpoints)."""
    d = data if data is not None else data_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Diagnosis(
            "data folder", False, "error", f"cannot write to {shown(d)}: {exc.strerror or exc}",
            "run from a folder you own, or set CAMLIB_DATA to a writable folder (export CAMLIB_DATA=~/camlib-data)",
        )  # fmt: skip
    return ok("data folder", f"{shown(d)} is writable")


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


def diagnose_workers(
    workers: int = 2,
    timeout: float = 30.0,
    start_method: str | None = None,
    profile_workers: int | None = None,
    run: Callable[[int, float], None] = _run_loader,
) -> Diagnosis:
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
        return Diagnosis(
            "dataloader", False, level, f"{workers} workers ({method}) failed: {str(exc).splitlines()[0]}",
            "use num_workers=0: get_profile(num_workers=0), or set CAMLIB_PROFILE=fast",
        )  # fmt: skip
    note = "" if method == "fork" else "; scripts need `if __name__ == '__main__':`, notebooks num_workers=0"
    return ok("dataloader", f"{workers} workers ran ({method} start){note}")


__all__ = [
    "diagnose_checkpoints", "diagnose_data_writable", "diagnose_datasets", "diagnose_profile", "diagnose_workers",
]  # fmt: skip
