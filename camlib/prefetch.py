"""Fetch the optional real datasets and pretrained weights into ``data/`` once, and carry them offline.

``python -m camlib prefetch pets cub weights`` downloads each archive or file, checks its size and digests
(sha256 and md5), and only then puts it in place; a failed download (HTTP error, server down, truncated
file, wrong checksum) leaves nothing behind and says how to fix it. For a workshop, fetch once and copy::

    python -m camlib prefetch pets weights        # on a machine with internet
    python -m camlib prefetch --pack bundle.tar   # one archive of data/, with a sha256 manifest
    python -m camlib prefetch --unpack bundle.tar # on each laptop or the JupyterHub: verified, then merged

``CAMLIB_MIRROR`` (or ``--mirror``) replaces the servers with one base URL that holds the same file names
(``http://10.0.0.2:8000/``, ``file:///media/usb/camlib/``); ``CAMLIB_DATA`` moves ``data/``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from tqdm.auto import tqdm

from camlib.data.folder import data_dir

MIRROR_ENV = "CAMLIB_MIRROR"
MANIFEST = "camlib-bundle.json"
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


_PETS = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
_TORCH = "https://download.pytorch.org/models/"
# fmt: off
REGISTRY: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "pets-images", _PETS + "images.tar.gz", "pets", "oxford-iiit-pet",
            "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
            "5c4f3ee8e5d25df40f4fd59a7f44e54c", 791_918_971, produces=("images",),
        ),
        Resource(
            "pets-annotations", _PETS + "annotations.tar.gz", "pets", "oxford-iiit-pet",
            "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
            "95a8c909bbe2e81eed6a22bccdf3f68f", 19_173_078,
            produces=("annotations/trainval.txt", "annotations/test.txt", "annotations/trimaps"),
        ),
        Resource(
            "cub-images", "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",
            "cub", "", "0c685df5597a8b24909f6a7c9db6d11e008733779a671760afef78feb49bf081",
            "97eceeb196236b17998738112f37df78", 1_150_585_339,
            produces=("CUB_200_2011/images.txt", "CUB_200_2011/bounding_boxes.txt", "CUB_200_2011/images"),
        ),
        Resource(
            "cub-segmentations", "https://data.caltech.edu/records/w9d68-gec53/files/segmentations.tgz?download=1",
            "cub", "", "dc77f6cffea0cbe2e41d4201115c8f29a6320ecb04fffd2444f51b8066e4b84f",
            "4d47ba1228eae64f2fa547c47bc65255", 39_272_883, produces=("segmentations",),
        ),
        Resource(
            "resnet18", _TORCH + "resnet18-f37072fd.pth", "weights", "checkpoints",
            "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec", None, 46_830_571,
            extract=False, produces=("resnet18-f37072fd.pth",),
        ),
        Resource(
            "vgg16", _TORCH + "vgg16-397923af.pth", "weights", "checkpoints",
            "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0", None, 553_433_881,
            extract=False, produces=("vgg16-397923af.pth",),
        ),
    )
}
# fmt: on
GROUPS: dict[str, tuple[str, ...]] = {
    "pets": ("pets-images", "pets-annotations"),
    "cub": ("cub-images", "cub-segmentations"),
    "weights": ("resnet18", "vgg16"),
}


class PrefetchError(RuntimeError):
    """A fetch, pack or unpack failed; ``fix`` is the one-line remedy (also in the message)."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}\n  fix: {fix}")


def resolve(names: list[str] | tuple[str, ...]) -> list[Resource]:
    """Resources for group names (``pets``, ``cub``, ``weights``, ``all``) and resource names, in order."""
    out: list[Resource] = []
    for name in names:
        keys = list(REGISTRY) if name == "all" else GROUPS.get(name, (name,))
        for key in keys:
            if key not in REGISTRY:
                raise PrefetchError(f"unknown resource {name!r}", f"use one of {[*GROUPS, 'all', *REGISTRY]}")
            if REGISTRY[key] not in out:
                out.append(REGISTRY[key])
    return out


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


def _extract(archive: Path, into: Path) -> None:
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
        resource: what to fetch (see :data:`REGISTRY`).
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
            _extract(tmp, staging)
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


def fetch_group(name: str, root: Path | None = None, **kwargs: Any) -> list[Path]:
    """Fetch every resource of a group (``pets``, ``cub``, ``weights``) or one resource by name."""
    return [fetch(r, root, **kwargs) for r in resolve([name])]


def use_weights(data: Path | None = None) -> Path:
    """Point ``torch.hub`` at ``data/weights`` so torchvision's pretrained weights load from prefetched files.

    After this, ``torchvision.models.resnet18(weights="IMAGENET1K_V1")`` reads
    ``data/weights/checkpoints/resnet18-f37072fd.pth`` instead of downloading it.
    """
    import torch.hub

    hub = (data if data is not None else data_dir()) / "weights"
    torch.hub.set_dir(str(hub))
    return hub


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
            _extract(Path(bundle), staging)
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


def _size(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.0f} MB"


def _cli(args: argparse.Namespace) -> int:
    data = Path(args.data) if args.data else None
    try:
        if args.pack:
            print(f"wrote {pack(Path(args.pack), data)}")
            return 0
        if args.unpack:
            files = unpack(Path(args.unpack), data)
            print(f"unpacked {len(files)} files into {data if data is not None else data_dir()}")
            return 0
        resources = resolve(args.names or ["all"])
    except PrefetchError as exc:
        print(f"✗ {exc}")
        return 1
    if not args.names:
        for r in resources:
            state = "present" if is_present(r, data=data) else "missing"
            print(f"{r.name:<18} {_size(r.size):>9}  {state:<8} {destination(r, data=data)}")
        print("fetch with: python -m camlib prefetch pets cub weights")
        return 0
    failed = 0
    for r in resources:
        try:
            dest = fetch(r, data=data, mirror=args.mirror, force=args.force)
            print(f"✓ {r.name}: {dest}")
        except PrefetchError as exc:
            failed += 1
            print(f"✗ {exc}")
    return 1 if failed else 0


def add_cli(subparsers: Any) -> None:
    """Register ``prefetch`` with the course CLI."""
    p = subparsers.add_parser(
        "prefetch", help="fetch real datasets and pretrained weights; pack/unpack a bundle"
    )
    p.add_argument(
        "names", nargs="*", help=f"{', '.join([*GROUPS, 'all', *REGISTRY])}; none: list what is there"
    )
    p.add_argument("--data", help="data dir (default: $CAMLIB_DATA or the repo's data/)")
    p.add_argument("--mirror", help=f"base URL serving the same file names (default: ${MIRROR_ENV})")
    p.add_argument("--force", action="store_true", help="fetch again even when present")
    p.add_argument("--pack", metavar="BUNDLE", help="write data/ into one archive (.tar, or .tar.gz)")
    p.add_argument("--unpack", metavar="BUNDLE", help="verify a bundle and merge it into data/")
    p.set_defaults(func=_cli)
