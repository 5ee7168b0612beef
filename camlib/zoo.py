"""The checkpoints the course ships in ``data/checkpoints/``, so every notebook can start from a trained model.

``manifest.json`` maps a name (``"gap"``, ``"gmp"``, ``"fc"``) to the file, its sha256 and size, the exact command
that trained it, the test metrics measured when it was made, and the model and dataset specs. :func:`load`
verifies the sha256 before anything is unpickled. ``python -m camlib train ... --zoo NAME`` trains, evaluates,
copies the checkpoint here and writes its manifest entry. ``CAMLIB_ZOO_DIR`` (or ``root=``) points at another
folder, e.g. a copy carried offline.

>>> sorted(ZooEntry.__dataclass_fields__)[:3]
['camlib_version', 'command', 'dataset']
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from camlib.checkpoint import (
    CheckpointError,
    dataset_from_meta,
    load_checkpoint,
    read_checkpoint,
)
from camlib.files import REPO_ROOT, DestinationError, atomic_write, check_destination, sha256_file

ENV_VAR = "CAMLIB_ZOO_DIR"
MANIFEST = "manifest.json"
MAX_BYTES = 5 * 1024 * 1024
DEFAULT_DIR = REPO_ROOT / "data" / "checkpoints"
ARCHS = ("gap", "gmp", "fc")  # what `python -m camlib train --model` builds
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


class ZooError(KeyError):
    """No checkpoint of that name in the zoo; the message lists the names there are and how to build one."""

    def __str__(self) -> str:  # a KeyError would quote its message
        return str(self.args[0]) if self.args else ""


def validate_name(name: str) -> str:
    """``name`` when it can name a zoo checkpoint (letters, digits, ``_``, ``-``; no ``.pt``); else ValueError.

    >>> validate_name("gap_fast")
    'gap_fast'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        hint = f": use {Path(name).stem!r}" if isinstance(name, str) and name.endswith(".pt") else ""
        raise ValueError(
            f"a zoo name is letters, digits, '_' and '-' (like 'gap' or 'gap_fast'), got {name!r}{hint}"
        )
    return name


@dataclass(frozen=True)
class ZooEntry:
    """One shipped checkpoint, as the manifest records it.

    Attributes:
        name: the zoo name (``"gap"``, ``"gmp"``, ``"fc"``).
        file: the file name, relative to the zoo folder.
        sha256: hex digest of the file.
        size_bytes: file size.
        command: the command line that trained it (rerun it to rebuild the file).
        metrics: numbers measured on the test split when it was made (``test_accuracy`` in percent, ...).
        model_spec: :meth:`camlib.models.ModelSpec.to_dict` of the model.
        dataset: ``{"name": ..., "splits": {split: spec}}`` of the data it was trained and tested on.
        camlib_version: camlib's version when it was made.
        date: ISO date it was registered.
        root: the zoo folder this entry was read from.
    """

    name: str
    file: str
    sha256: str
    size_bytes: int
    command: str
    metrics: dict[str, Any] = field(default_factory=dict)
    model_spec: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    camlib_version: str = ""
    date: str = ""
    root: str = ""

    @property
    def path(self) -> Path:
        """Where the checkpoint file lives."""
        return Path(self.root) / self.file


def zoo_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The zoo folder: ``root``, else ``$CAMLIB_ZOO_DIR``, else the repository's ``data/checkpoints``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env) if env else DEFAULT_DIR


def _read_manifest(root: Path) -> dict[str, dict[str, Any]]:
    path = root / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc}): restore it from git (`git checkout {MANIFEST}`)"
        ) from exc
    entries = data.get("checkpoints", {}) if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise CheckpointError(f"{path} has no 'checkpoints' object: restore it from git")
    return entries


def available(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the checkpoints in the manifest, sorted (empty when there is no manifest)."""
    return sorted(_read_manifest(zoo_dir(root)))


def entry(name: str, root: str | os.PathLike[str] | None = None) -> ZooEntry:
    """The manifest entry of ``name``.

    Raises:
        ZooError: (a ``KeyError``) for an unknown name, listing the known ones and how to build one.
    """
    base = zoo_dir(root)
    entries = _read_manifest(base)
    if name not in entries:
        raise ZooError(unknown_name(name, sorted(entries), base))
    d = entries[name]
    known = {f for f in ZooEntry.__dataclass_fields__ if f not in ("name", "root")}
    return ZooEntry(name=name, root=str(base), **{k: v for k, v in d.items() if k in known})


def unknown_name(name: str, known: list[str], base: Path) -> str:
    """Why ``name`` is not in the zoo at ``base``: the names there are, the closest one, how to build it."""
    where = f"in {base / MANIFEST} (available: {', '.join(known) or 'none'})"
    stem = Path(str(name)).stem
    if str(name).endswith(".pt") or "/" in str(name) or os.sep in str(name):
        if stem in known:
            return f"{name!r} is a file name, not a zoo name {where}: use {stem!r}"
        return (
            f"{name!r} is a file name, not a zoo name {where}: load a file with "
            f"camlib.checkpoint.load_checkpoint({str(name)!r})"
        )
    close = difflib.get_close_matches(str(name), known, n=1)
    if close:
        return f"no checkpoint named {name!r} {where}: did you mean {close[0]!r}?"
    arch = name if name in ARCHS else "gap"
    return (
        f"no checkpoint named {name!r} {where}; build it with "
        f"`python -m camlib train --model {arch} --zoo {name}`"
    )


def load_with_meta(
    name: str, map_location: str = "cpu", root: str | os.PathLike[str] | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Like :func:`load`, also returning the checkpoint's metadata (class names, specs, history, ...)."""
    e = entry(name, root)
    return load_checkpoint(e.path, map_location=map_location, sha256=e.sha256, command=e.command)


def load(name: str, map_location: str = "cpu", root: str | os.PathLike[str] | None = None) -> nn.Module:
    """The shipped model ``name`` in eval mode, ready for :func:`camlib.cam.class_activation_maps`.

    The file's sha256 is checked against the manifest before it is read.

    Raises:
        ZooError: (a ``KeyError``) unknown name.
        CheckpointError: missing, truncated, modified or otherwise unusable file (the message has the fix).
    """
    return load_with_meta(name, map_location, root)[0]


def dataset(name: str, split: str = "test", root: str | os.PathLike[str] | None = None) -> Any:
    """The ``split`` of the dataset that checkpoint ``name`` was trained and measured on."""
    return dataset_from_meta({"dataset": entry(name, root).dataset}, split)


def register(
    name: str,
    checkpoint: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    command: str | None = None,
    max_bytes: int = MAX_BYTES,
    *,
    force: bool = False,
) -> ZooEntry:
    """Copy ``checkpoint`` into the zoo as ``<name>.pt`` and write its manifest entry.

    A name already in the zoo (or a file ``<name>.pt`` already there) is replaced only with ``force=True``;
    when ``checkpoint`` IS ``<zoo>/<name>.pt`` (written there by ``train --zoo``), it is registered in place.

    Args:
        name: the zoo name.
        checkpoint: a file written by :func:`camlib.checkpoint.save_checkpoint`, with test metrics.
        root: the zoo folder (see :func:`zoo_dir`).
        command: the command that made it (default: the one the checkpoint records).
        max_bytes: the largest file the zoo accepts (5 MB: the repository ships them).
        force: replace an existing entry and file of that name.

    Raises:
        CheckpointError: the file is not a valid checkpoint.
        DestinationError: the name is taken and ``force`` is false.
        ValueError: the file is larger than ``max_bytes``, or ``name`` is not a valid zoo name.
    """
    validate_name(name)
    src = Path(checkpoint)
    meta = read_checkpoint(src)
    size = src.stat().st_size
    if size > max_bytes:
        raise ValueError(
            f"{src} is {size / 1e6:.1f} MB, over the zoo's {max_bytes / 1e6:.1f} MB limit: use smaller widths"
        )
    base = zoo_dir(root)
    dst = base / f"{name}.pt"
    in_place = dst.exists() and src.resolve() == dst.resolve()
    check_name_free(name, base, force=force, written=src if in_place else None)
    if not in_place:
        atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp), force=True)
    e = ZooEntry(
        name=name,
        file=dst.name,
        sha256=sha256_file(dst),
        size_bytes=size,
        command=command or str(meta.get("command") or ""),
        metrics=dict(meta.get("metrics") or {}),
        model_spec=dict(meta["model_spec"]),
        dataset=dict(meta.get("dataset") or {}),
        camlib_version=str(meta.get("camlib_version", "")),
        date=time.strftime("%Y-%m-%d"),
        root=str(base),
    )
    entries = _read_manifest(base)
    entries[name] = {k: v for k, v in asdict(e).items() if k not in ("name", "root")}
    _write_manifest(base, entries)
    return e


def check_name_free(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    how: str = "force=True",
    written: Path | None = None,
) -> Path:
    """``<zoo>/<name>.pt`` when ``name`` can be registered (checked BEFORE a training run): the name is free,
    or ``force``; ``written`` is a checkpoint just written at that very path (registered in place).

    Raises:
        DestinationError: the name is taken and ``force`` is false (``how`` says how to ask), or the folder
            cannot be written. ValueError: not a valid zoo name.
    """
    validate_name(name)
    base = zoo_dir(root)
    dst = base / f"{name}.pt"
    if not force and (name in _read_manifest(base) or (dst.exists() and written is None)):
        raise DestinationError(
            f"the zoo in {base} already has a checkpoint named {name!r}: pass {how} to replace it, "
            f"or choose another name"
        )
    return dst if written is not None else check_destination(dst, force=True)


def _write_manifest(base: Path, entries: Mapping[str, Any]) -> None:
    doc = {
        "about": "Checkpoints shipped with the CAM course; rebuild one with its command. See camlib/zoo.py.",
        "checkpoints": dict(sorted(entries.items())),
    }
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    atomic_write(base / MANIFEST, lambda tmp: tmp.write_text(text), force=True)  # the zoo's own index


__all__ = [
    "CheckpointError",
    "ZooEntry",
    "ZooError",
    "available",
    "check_name_free",
    "dataset",
    "entry",
    "load",
    "load_with_meta",
    "register",
    "unknown_name",
    "validate_name",
    "zoo_dir",
]
