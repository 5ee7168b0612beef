"""Where the course's files live, how they are checked, and how they are written: ``data/``, sha256, safe writes.

A leaf of the package (it imports nothing from camlib), so that datasets, downloads, checkpoints and the doctor
can all use it without importing each other.

Data lives under ``data/`` at the repository root, or wherever the environment variable ``CAMLIB_DATA`` points
(a shared folder on a JupyterHub, a USB stick).

Every writer of the course (checkpoints, the zoo, bundles) goes through :func:`atomic_write`: the destination is
checked first (:func:`check_destination`), an existing file is replaced only when asked (``force``), and the
file appears in one step or not at all.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

DATA_ENV = "CAMLIB_DATA"
REPO_ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1 << 20


def data_dir() -> Path:
    """The folder that holds datasets, weights and checkpoints: ``$CAMLIB_DATA``, else the repo's ``data/``."""
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env).expanduser() if env else REPO_ROOT / "data"


def sha256_file(path: str | os.PathLike[str], chunk: int = CHUNK) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> sha256_file(f.name)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def normalize_sha256(text: str) -> str:
    """A hex sha256 as pasted (with a trailing newline, in capitals) in canonical form; else a ValueError.

    >>> normalize_sha256(" AB" + "0" * 62 + "\\n")[:4]
    'ab00'
    """
    digest = str(text).strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{text!r} is not a sha256 digest (64 hex digits): copy it again (`sha256sum FILE`)")
    return digest


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (what ``git checkout`` takes), else as is.

    >>> shown(REPO_ROOT / "data" / "checkpoints")
    'data/checkpoints'
    """
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


# --- safe writes: checked before the work, never over an existing file unless asked, atomic ---------------


class DestinationError(ValueError):
    """A file cannot be written where asked (it exists, it is a folder, its folder is missing or read-only).

    The message names the fix; nothing has been written.
    """


def check_destination(
    path: str | os.PathLike[str], *, force: bool = False, how: str = "force=True", create_folder: bool = True
) -> Path:
    """``path`` as a :class:`~pathlib.Path` when a file can be written there; else :class:`DestinationError`.

    Call it BEFORE the work that produces the file (a training run), so that a bad destination costs nothing.

    Args:
        path: the file to write.
        force: an existing file may be replaced.
        how: how the caller asks for ``force`` (``"--force"`` on the command line), quoted in the message.
        create_folder: missing parent folders will be created; ``False``: the folder must exist.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_destination(folder / "new.pt").name
    'new.pt'
    >>> check_destination(folder)
    Traceback (most recent call last):
    ...
    camlib.files.DestinationError: ... is a folder: give a file name inside it, e.g. .../model.pt
    """
    path = Path(path)
    if path.is_dir():
        raise DestinationError(f"{path} is a folder: give a file name inside it, e.g. {path / 'model.pt'}")
    if path.exists() and not force:
        raise DestinationError(
            f"{path} already exists: pass {how} to replace it, or choose another file name"
        )
    folder = path.parent
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == Path(p.anchor or "."))
    if existing.exists() and not existing.is_dir():
        raise DestinationError(
            f"{existing} is a file, not a folder, so {path} cannot be written: fix the path"
        )
    if not folder.is_dir() and not create_folder:
        raise DestinationError(
            f"the folder {folder} does not exist: create it first (mkdir -p {folder}) or fix the path"
        )
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise DestinationError(
            f"cannot write in {existing} (permission denied): choose a folder you can write to"
        )
    return path


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[Path], object],
    *,
    force: bool = False,
    how: str = "force=True",
    create_folder: bool = True,
) -> Path:
    """Write a file atomically: ``write(tmp)`` fills a hidden temporary file next to ``path``, which then
    takes its place in one step. A failure (an exception in ``write``, a full disk) leaves ``path`` as it
    was and no temporary file behind. Without ``force`` an existing file is never replaced, even one that
    appeared while ``write`` ran.

    Raises:
        DestinationError: see :func:`check_destination`.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(p, lambda tmp: tmp.write_text("hello")).read_text()
    'hello'
    >>> atomic_write(p, lambda tmp: tmp.write_text("again"))
    Traceback (most recent call last):
    ...
    camlib.files.DestinationError: .../a.txt already exists: pass force=True to replace it, or choose another file name
    """
    path = check_destination(path, force=force, how=how, create_folder=create_folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path, how)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _link_new(tmp: Path, path: Path, how: str) -> None:
    """Move ``tmp`` to ``path`` only if ``path`` does not exist (a hard link fails on an existing name)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise DestinationError(
            f"{path} appeared while it was being written: pass {how} to replace it, or choose another file name"
        ) from None
    except OSError:  # a file system without hard links (FAT): check, then move
        if path.exists():
            raise DestinationError(f"{path} already exists: pass {how} to replace it") from None
        os.replace(tmp, path)
