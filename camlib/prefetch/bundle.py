"""Offline bundles: :func:`pack` the data dir into one tar with a sha256 manifest, :func:`unpack` it verified.

For a workshop, fetch once on a machine with internet, pack, copy the bundle to each laptop or the JupyterHub
and unpack it there: every file is checked against the manifest before anything is merged into ``data/``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from camlib.files import data_dir, sha256_file
from camlib.prefetch.download import PrefetchError, safe_extract

MANIFEST = "camlib-bundle.json"


def pack(bundle: Path, data: Path | None = None) -> Path:
    """Write every file of the data dir into one tar (``.tar.gz``/``.tgz`` compresses), with a sha256 manifest."""
    data = data if data is not None else data_dir()
    bundle = Path(bundle).resolve()
    files = sorted(
        p for p in data.rglob("*")
        if p.is_file() and p.resolve() != bundle
        and not any(part.startswith(".") for part in p.relative_to(data).parts)
    )  # fmt: skip
    manifest = {
        p.relative_to(data).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in files
    }
    fd, name = tempfile.mkstemp(prefix=f".{bundle.name}.", suffix=".part", dir=bundle.parent)
    os.close(fd)
    try:
        gz = bundle.name.endswith((".gz", ".tgz"))
        with tarfile.open(name, "w:gz") if gz else tarfile.open(name, "w") as tar:
            text = json.dumps({"files": manifest}, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
            for p in files:
                tar.add(p, arcname=p.relative_to(data).as_posix())
        os.replace(name, bundle)
    finally:
        Path(name).unlink(missing_ok=True)
    return bundle


def unpack(bundle: Path, data: Path | None = None) -> list[str]:
    """Verify a bundle made by :func:`pack` against its manifest, then merge its files into the data dir.

    Returns:
        The files written, relative to the data dir.

    Raises:
        PrefetchError: the bundle is missing, damaged, not a camlib bundle, or a file fails its sha256.
    """
    data = data if data is not None else data_dir()
    fix = "copy the bundle again (the copy is damaged or incomplete), or make it with `prefetch --pack`"
    if not Path(bundle).is_file():
        raise PrefetchError(f"no bundle at {bundle}", "give the path of the file `prefetch --pack` wrote")
    data.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=data))
    try:
        try:
            safe_extract(Path(bundle), staging)
            manifest: dict[str, dict[str, Any]] = json.loads((staging / MANIFEST).read_text())["files"]
        except (tarfile.TarError, EOFError, OSError, ValueError, KeyError) as exc:
            raise PrefetchError(f"{bundle} is not a readable camlib bundle: {exc}", fix) from exc
        for rel, meta in manifest.items():
            path = staging / rel
            if (
                not path.is_file()
                or path.stat().st_size != meta["size"]
                or sha256_file(path) != meta["sha256"]
            ):
                raise PrefetchError(f"{bundle}: {rel} is missing or fails its sha256", fix)
        for rel in manifest:
            target = data / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, target)
        return sorted(manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
