"""``python -m camlib reproduce --wsol``: the WSOL table (CAM, Hide-and-Seek, CutMix, ADL x 3 seeds) from the
shipped checkpoints in ``data/checkpoints/wsol/`` (each sha256-checked; nothing is chosen again: each keeps the
epoch and threshold chosen on validation when it was trained), or, with ``--train``, trained again first
(:func:`camlib.train.wsol_run.run_wsol`: about 70 min on one CPU thread: the ``train_seconds`` of
``reports/wsol_fast.json`` add up to 71 min) and shipped in their place.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from camlib.files import REPO_ROOT
from camlib.train.wsol import WSOL_METHODS
from camlib.train.wsol_report import WSOL_ZOO, measure_zoo, write_report
from camlib.train.wsol_run import run_wsol, ship

SEEDS = (0, 1, 2)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path.name


def reproduce_wsol(
    out: Path, *, profile: str = "fast", train: bool = False, device: str = "cpu", root: Path | None = None
) -> str:
    """Write ``out/wsol_PROFILE.{md,json}`` from the WSOL zoo ``root`` (default :data:`WSOL_ZOO`); the markdown."""
    base = WSOL_ZOO if root is None else Path(root)
    t0 = time.perf_counter()
    if train:
        with tempfile.TemporaryDirectory() as tmp:
            run_wsol(WSOL_METHODS, SEEDS, profile=profile, checkpoints=Path(tmp), device=device)
            ship(sorted(Path(tmp).glob("wsol_*.pt")), base)
    results = measure_zoo(base, device)
    source = f"the {len(results)} {'re-trained' if train else 'shipped'} checkpoints in {_shown(base)}"
    md, _ = write_report(results, profile, time.perf_counter() - t0, out, source=source)
    return md
