"""Checkpoints: one file with the weights and everything needed to rebuild, evaluate and reproduce a model.

The file is a ``torch.save`` zip holding plain types only, so ``torch.load(path, weights_only=True)`` reads it
without running any code from the file::

    {"format": "camlib-checkpoint", "format_version": 1,
     "state_dict": {name: tensor}, "model_spec": ModelSpec.to_dict(), "class_names": [str],
     "dataset": {"name": "shapes", "splits": {"train": spec, "val": spec, "test": spec}},
     "profile": "fast", "seed": 0, "metrics": {...}, "history": [{...}], "command": "python -m camlib train ...",
     "camlib_version": "0.1.0", "torch_version": "2.x", "created": "2026-01-01T12:00:00Z",
     "content_sha256": digest of everything above (:func:`content_digest`)}

The file's sha256 (the zoo's manifest, ``--sha256``) is checked before it is read, the recorded
``content_sha256`` after: a file without an outside digest is verified too (an older file without it loads
*unverified*: ``meta.get("content_sha256") is None``). Every way a file can be unusable (missing, truncated,
modified, incomplete, not matching its model) raises :class:`CheckpointError`, which names the fix.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

import camlib
from camlib.files import atomic_write, normalize_sha256, sha256_file
from camlib.models import ModelSpec, build_model

FORMAT = "camlib-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "format_version", "state_dict", "model_spec", "class_names", "dataset", "metrics")

#: dataset names a checkpoint may record -> "module:Class" with ``from_spec(dict)``
DATASETS: dict[str, str] = {
    "shapes": "camlib.data.shapes:Shapes",
    "shortcut": "camlib.data.shapes:ShortcutShapes",
}


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message names the problem and the fix."""


def plain(obj: Any) -> Any:
    """``obj`` with tuples turned into lists and dataclasses/mappings into dicts: types ``weights_only`` loads.

    >>> plain({"a": (1, 2), "b": [(3,)]})
    {'a': [1, 2], 'b': [[3]]}
    """
    if hasattr(obj, "__dataclass_fields__"):
        obj = {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint's metadata: use plain types")


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    spec: ModelSpec,
    *,
    class_names: Sequence[str],
    dataset: Mapping[str, Any] | None = None,
    profile: str | None = None,
    seed: int | None = None,
    metrics: Mapping[str, Any] | None = None,
    history: Sequence[Any] = (),
    command: str | None = None,
    extra: Mapping[str, Any] | None = None,
    force: bool = False,
) -> str:
    """Write ``model``'s weights and metadata to ``path`` atomically; return the file's sha256.

    Args:
        path: the ``.pt`` file to write (folders are created; an existing file is replaced only with ``force``).
        model: the trained model (its ``state_dict`` is copied to the CPU, contiguous).
        spec: the :class:`~camlib.models.ModelSpec` that rebuilds ``model``.
        class_names: one name per output logit.
        dataset: ``{"name": registry name or "module:Class", "splits": {split: dataset.spec()}}``.
        profile: the profile's name (``"fast"``/``"full"``).
        seed: the training seed.
        metrics: measured numbers (e.g. ``test_accuracy`` in percent).
        history: per-epoch records (dataclasses or dicts).
        command: the command line that made the checkpoint.
        extra: any further plain-typed metadata.
        force: replace an existing file.

    Raises:
        camlib.files.DestinationError: ``path`` exists (without ``force``), is a folder, or cannot be written.
    """
    if len(class_names) != spec.num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {spec.num_classes} classes")
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()},
        "model_spec": plain(spec.to_dict()),
        "class_names": [str(c) for c in class_names],
        "dataset": plain(dict(dataset or {})),
        "profile": profile,
        "seed": seed,
        "metrics": plain(dict(metrics or {})),
        "history": plain(list(history)),
        "command": command,
        "camlib_version": camlib.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **plain(dict(extra or {})),
    }
    payload["content_sha256"] = content_digest(payload)
    written = atomic_write(path, lambda tmp: torch.save(payload, tmp), force=force)
    return sha256_file(written)


def content_digest(payload: Mapping[str, Any]) -> str:
    """sha256 of a checkpoint's content: its metadata (as sorted JSON) and every tensor's name, dtype, shape
    and bytes; ``content_sha256`` itself is left out. Equal for a payload before saving and after loading."""
    h = hashlib.sha256()
    meta = {k: v for k, v in payload.items() if k not in ("state_dict", "content_sha256")}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    for name, t in sorted(payload.get("state_dict", {}).items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())  # the raw bytes, whatever the dtype
    return h.hexdigest()


def _device_available(map_location: str | torch.device) -> None:
    dev = torch.device(map_location)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"map_location={str(map_location)!r}, but CUDA is not available on this machine: use "
            f"map_location='cpu' (the checkpoint itself is fine)"
        )


def _fix(command: str | None) -> str:
    if command:
        return f"re-download it or rebuild it with: {command}"
    return "re-download it, or retrain with `python -m camlib train ... --out <path>`"


def read_checkpoint(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    sha256: str | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """The checkpoint's payload dict (tensors and plain types), verified.

    Args:
        path: the ``.pt`` file.
        map_location: where the tensors go.
        sha256: the expected hex digest; checked before anything is unpickled.
        command: the command that rebuilds the file, quoted in error messages.

    Raises:
        CheckpointError: missing, truncated, not a checkpoint, sha256 mismatch, unsafe content, content that
            does not match its recorded digest, missing keys, or an unknown format version.
        ValueError: ``sha256`` is not a hex digest, or ``map_location`` is a device this machine does not have.
    """
    path = Path(path)
    fix = _fix(command)
    _device_available(map_location)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}: check the path, or {fix}")
    if sha256 is not None:
        sha256 = normalize_sha256(sha256)
        actual = sha256_file(path)
        if actual != sha256:
            raise CheckpointError(
                f"sha256 mismatch for {path}: expected {sha256}, file has {actual}. The file is corrupt or was "
                f"modified (a partial download, a disk error, an edit): {fix}"
            )
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise CheckpointError(
            f"{path} is not a camlib checkpoint (not a torch zip file; it starts with {magic!r}): {fix}"
        )
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is truncated or damaged (its zip directory is missing, {path.stat().st_size} bytes; an "
            f"interrupted download or save?): {fix}"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain types, so it is not loaded (weights_only=True). "
            f"Only load files you trust; {fix}. ({str(exc).splitlines()[0]})"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is damaged and cannot be read ({str(exc).splitlines()[0]}): {fix}"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a torch file but not a camlib checkpoint (no format={FORMAT!r} entry): save it with "
            f"camlib.checkpoint.save_checkpoint, or {fix}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise CheckpointError(
            f"{path} lacks the keys {missing}: it is incomplete or from another tool; {fix}"
        )
    if payload["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {payload['format_version']}, newer than this camlib "
            f"({camlib.__version__}, format {FORMAT_VERSION}): upgrade camlib"
        )
    recorded = payload.get("content_sha256")
    if recorded is not None and content_digest(payload) != recorded:
        raise CheckpointError(
            f"{path} is damaged: its content does not match the digest recorded when it was saved (a flipped "
            f"bit, a partial copy, an edit?): {fix}"
        )
    return payload


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    sha256: str | None = None,
    command: str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint, weights loaded, in eval mode.

    Args:
        path: the ``.pt`` file written by :func:`save_checkpoint`.
        map_location: device of the returned model.
        sha256: expected hex digest, verified before the file is unpickled.
        command: the command that rebuilds the file, quoted in error messages.

    Returns:
        ``(model, meta)``: ``meta`` is the payload without ``state_dict``.

    Raises:
        CheckpointError: see :func:`read_checkpoint`; also when the weights do not fit the recorded model.
    """
    payload = read_checkpoint(path, map_location, sha256, command)
    state = payload.pop("state_dict")
    try:
        spec = ModelSpec.from_dict(payload["model_spec"])
        model = build_model(spec)
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"the weights in {path} do not fit its recorded model spec ({str(exc).splitlines()[0]}): "
            f"{_fix(command or payload.get('command'))}"
        ) from exc
    model.to(map_location)
    model.eval()
    return model, payload


def dataset_class(name: str) -> Any:
    """The dataset class a checkpoint names: a key of :data:`DATASETS` or ``"module:Class"``."""
    target = DATASETS.get(name, name)
    module_name, _, attr = target.partition(":")
    if not attr:
        raise CheckpointError(f"unknown dataset {name!r}: use one of {sorted(DATASETS)} or 'module:Class'")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"cannot import dataset {target!r} ({exc}): is camlib up to date?") from exc
    if not hasattr(cls, "from_spec"):
        raise CheckpointError(f"dataset {target!r} has no from_spec(dict) to rebuild it from a checkpoint")
    return cls


def dataset_from_meta(meta: Mapping[str, Any], split: str = "test") -> Any:
    """Rebuild the ``split`` of the dataset a checkpoint was trained and measured on."""
    info = meta.get("dataset") or {}
    splits = info.get("splits") or {}
    if split not in splits:
        raise CheckpointError(
            f"the checkpoint records no {split!r} split (it has {sorted(splits)}); pass the dataset yourself"
        )
    return dataset_class(str(info.get("name", "shapes"))).from_spec(splits[split])
