"""Download one :class:`Resource` into place: where it comes from, where it lands, verified and atomic.

A download streams into a hidden temp file next to its destination, is checked against the expected size and
digests (sha256 and md5), and only then replaces the target (or is extracted into a staging folder that is
moved in); a failure (HTTP error, server down, truncated file, wrong checksum, damaged archive) raises
:class:`PrefetchError` with a one-line fix and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from tqdm.auto import tqdm

from camlib.files import data_dir

MIRROR_ENV = "CAMLIB_MIRROR"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Resource:
    """One file to fetch.

    Attributes:
        name: short name, e.g. ``"pets-images"``.
        url: the official URL; its last path component is the file name a mirror must serve.
        root: folder under the data dir (``"pets"``); a dataset's ``root`` argument.
        into: sub-folder of ``root`` the archive is extracted into (or the file saved in).
        sha256: expected sha256 hex digest, or ``None`` when unknown.
        md5: expected md5 hex digest, or ``None``.
        size: expected size in bytes, or ``None``.
        extract: a tar archive to unpack (``True``) or a file to keep as is.
        produces: paths relative to ``root/into`` that exist once the resource is in place.
    """

    name: str
    url: str
    root: str
    into: str = ""
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    extract: bool = True
    produces: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return PurePosixPath(urlparse(self.url).path).name


class PrefetchError(RuntimeError):
    """A fetch, pack or unpack failed; ``fix`` is the one-line remedy (also in the message)."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}\n  fix: {fix}")


def destination(resource: Resource, root: Path | None = None, data: Path | None = None) -> Path:
    """The folder the resource lands in: ``root/into``, with ``root`` defaulting to ``data/<resource.root>``."""
    base = root if root is not None else (data if data is not None else data_dir()) / resource.root
    return base / resource.into if resource.into else base


def is_present(resource: Resource, root: Path | None = None, data: Path | None = None) -> bool:
    """True when every path the resource produces exists."""
    dest = destination(resource, root, data)
    return bool(resource.produces) and all((dest / p).exists() for p in resource.produces)


def source_url(resource: Resource, mirror: str | None = None) -> str:
    """The URL to fetch from: ``<mirror>/<file name>`` when a mirror is set (argument, then ``CAMLIB_MIRROR``).

    >>> from camlib.prefetch import REGISTRY
    >>> source_url(REGISTRY["resnet18"], "http://127.0.0.1:8000/")
    'http://127.0.0.1:8000/resnet18-f37072fd.pth'
    """
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV, "").strip() or None
    return f"{mirror.rstrip('/')}/{resource.filename}" if mirror else resource.url


def _fix(resource: Resource, dest: Path, url: str) -> str:
    how = f"extract it into {dest}" if resource.extract else f"save it as {dest / resource.filename}"
    mirror = (
        f"check that the mirror serving {url} is up, or unset {MIRROR_ENV}; " if url != resource.url else ""
    )
    return (
        f"{mirror}retry later; or unpack an offline bundle (`python -m camlib prefetch --unpack bundle.tar`); "
        f"or download {resource.url} by hand and {how}"
    )


def _download(resource: Resource, url: str, dest: Path, timeout: float, progress: bool) -> Path:
    """Stream ``url`` to a hidden temp file in ``dest``, verified; the caller owns (and removes) the file."""
    fd, name = tempfile.mkstemp(prefix=f".{resource.filename}.", suffix=".part", dir=dest)
    tmp, fix = Path(name), _fix(resource, dest, url)
    sha, md5, got = hashlib.sha256(), hashlib.md5(), 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length is not None else None
            with tqdm(total=expected or resource.size, unit="B", unit_scale=True, desc=resource.name,
                      disable=not progress) as bar:  # fmt: skip
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    sha.update(chunk)
                    md5.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        if expected is not None and got != expected:
            raise PrefetchError(
                f"{resource.name}: truncated download: {got} of {expected} bytes from {url}", fix
            )
        if resource.size is not None and got != resource.size:
            raise PrefetchError(
                f"{resource.name}: got {got} bytes from {url}, expected {resource.size} (an error page?)", fix
            )
        for algo, want, have in (("sha256", resource.sha256, sha), ("md5", resource.md5, md5)):
            if want is not None and have.hexdigest() != want.lower():
                raise PrefetchError(
                    f"{resource.name}: wrong {algo} for {url}: got {have.hexdigest()}, expected {want}", fix
                )
        return tmp
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, urllib.error.HTTPError):
            raise PrefetchError(f"{resource.name}: HTTP {exc.code} {exc.reason} from {url}", fix) from exc
        if isinstance(exc, urllib.error.URLError):
            raise PrefetchError(f"{resource.name}: cannot reach {url}: {exc.reason}", fix) from exc
        if isinstance(exc, http.client.IncompleteRead):
            raise PrefetchError(f"{resource.name}: truncated download from {url}", fix) from exc
        if isinstance(exc, (TimeoutError, ConnectionError, http.client.HTTPException)):
            raise PrefetchError(f"{resource.name}: download from {url} failed: {exc!r}", fix) from exc
        raise


def safe_extract(archive: Path, into: Path) -> None:
    """Unpack a tar archive into ``into``, refusing absolute paths, ``..`` and links (the "data" filter)."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if member.name.startswith("/") or ".." in parts or member.issym() or member.islnk():
                raise tarfile.TarError(f"unsafe member {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Python < 3.10.12 / 3.11.4: members checked above
            tar.extractall(into)


def _move_into(staging: Path, dest: Path) -> None:
    """Move each top-level entry of ``staging`` into ``dest``, replacing what is there."""
    for entry in staging.iterdir():
        target = dest / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(entry, target)


def fetch(
    resource: Resource,
    root: Path | None = None,
    *,
    data: Path | None = None,
    mirror: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Download, verify and put one resource in place, unless it is already there.

    Args:
        resource: what to fetch (see :data:`camlib.prefetch.REGISTRY`).
        root: the dataset root (default ``data/<resource.root>``).
        data: the data dir (default :func:`camlib.data.folder.data_dir`).
        mirror: base URL serving the same file names (default ``$CAMLIB_MIRROR``, else the official URL).
        timeout: seconds without data before giving up.
        progress: show a progress bar.
        force: fetch even when present.

    Returns:
        The destination folder.

    Raises:
        PrefetchError: HTTP error, server unreachable, truncated download, wrong size or checksum, damaged
            archive; nothing half-written is left in the destination.
    """
    dest = destination(resource, root, data)
    if is_present(resource, root, data) and not force:
        return dest
    url = source_url(resource, mirror)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PrefetchError(
            f"cannot create {dest}: {exc}", "set CAMLIB_DATA to a folder you can write"
        ) from exc
    tmp = _download(resource, url, dest, timeout, progress)
    try:
        if not resource.extract:
            os.replace(tmp, dest / resource.filename)
            return dest
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
        try:
            safe_extract(tmp, staging)
            _move_into(staging, dest)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise PrefetchError(
                f"{resource.name}: cannot extract {url}: {exc}", _fix(resource, dest, url)
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
