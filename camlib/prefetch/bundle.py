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

from camlib.files import atomic_write, check_destination, data_dir, sha256_file
from camlib.prefetch.download import PrefetchError, safe_extract

MANIFEST = "camlib-bundle.json"


def pack(bundle: Path, data: Path | None = None, *, force: bool = False, how: str = "force=True") -> Path:
    """Write every file of the data dir into one tar (``.tar.gz``/``.tgz`` compresses), with a sha256 manifest.

    The bundle is written atomically; an existing file is replaced only with ``force`` (``how`` says how the
    caller asks for it, e.g. ``--force``).

    Raises:
        PrefetchError: the data dir does not exist.
        camlib.files.DestinationError: ``bundle`` exists (without ``force``), is a folder, or cannot be written.
    """
    data = data if data is not None else data_dir()
    if not data.is_dir():
        raise PrefetchError(
            f"no data folder at {data}", "fetch something first, or pass --data with the right folder"
        )
    bundle = check_destination(Path(bundle).resolve(), force=force, how=how)
    files = sorted(
        p for p in data.rglob("*")
        if p.is_file() and p.resolve() != bundle
        and not any(part.startswith(".") for part in p.relative_to(data).parts)
    )  # fmt: skip
    manifest = {
        p.relative_to(data).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in files
    }
    gz = bundle.name.endswith((".gz", ".tgz"))

    def write(tmp: Path) -> None:
        with tarfile.open(tmp, "w:gz") if gz else tarfile.open(tmp, "w") as tar:
            text = json.dumps({"files": manifest}, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
            for p in files:
                tar.add(p, arcname=p.relative_to(data).as_posix())

    return atomic_write(bundle, write, force=force, how=how)


def unpack(bundle: Path, data: Path | None = None, *, force: bool = False) -> list[str]:
    """Verify a bundle made by :func:`pack` against its manifest, then merge its files into the data dir.

    A file already in the data dir with the same content is left as it is; one with different content is
    replaced only with ``force`` (otherwise nothing is merged and the error lists them).

    Returns:
        The files written, relative to the data dir.

    Raises:
        PrefetchError: the bundle is missing, damaged, not a camlib bundle, a file fails its sha256, or it
            would replace different files without ``force``.
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
        differ = [
            rel for rel, meta in manifest.items()
            if (data / rel).is_file() and sha256_file(data / rel) != meta["sha256"]
        ]  # fmt: skip
        if differ and not force:
            shown = ", ".join(differ[:3]) + (f" and {len(differ) - 3} more" if len(differ) > 3 else "")
            raise PrefetchError(
                f"{bundle} would replace {len(differ)} different file(s) in {data}: {shown}",
                "pass --force (force=True) to replace them, or unpack into another folder with --data",
            )
        for rel in manifest:
            target = data / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, target)
        return sorted(manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
