"""Where the course's files live, and how they are checked: the ``data/`` folder and sha256 digests.

A leaf of the package (it imports nothing from camlib), so that datasets, downloads, checkpoints and the doctor
can all use it without importing each other.

Data lives under ``data/`` at the repository root, or wherever the environment variable ``CAMLIB_DATA`` points
(a shared folder on a JupyterHub, a USB stick).
"""

from __future__ import annotations

import hashlib
import os
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


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (what ``git checkout`` takes), else as is.

    >>> shown(REPO_ROOT / "data" / "checkpoints")
    'data/checkpoints'
    """
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)
